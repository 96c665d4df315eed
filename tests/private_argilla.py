"""The tests' own Argilla: a private `scripts/argilla-local.sh` instance, never the server a user works in.

Its state folder is a temporary one, its three ports (API, search backend, Redis) are free ones picked at
start, so that several test sessions can run side by side on one machine, and it shares the server's
virtualenv (no pip install: seconds to start). `purge` and removing the folder leave nothing behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ftdata.argilla_client import ArgillaConnection

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "argilla-local.sh"
PORT_VARIABLES = ("FTKIT_ARGILLA_PORT", "FTKIT_ARGILLA_ES_PORT", "FTKIT_ARGILLA_REDIS_PORT")


def server_venv() -> Path:
    """The virtualenv with argilla-server: FTKIT_ARGILLA_VENV, else the local server's (`.argilla-local/venv`) of
    this checkout or of the checkout whose .venv runs the tests (a git worktree shares its main one's); else
    this checkout's, which `argilla-local.sh up` installs once."""
    if os.environ.get("FTKIT_ARGILLA_VENV"):
        return Path(os.environ["FTKIT_ARGILLA_VENV"])
    candidates = [REPO / ".argilla-local" / "venv", Path(sys.prefix).resolve().parent / ".argilla-local" / "venv"]
    return next((venv for venv in candidates if (venv / "bin" / "python").exists()), candidates[0])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateArgilla:
    """One private instance: `up()` starts it (or restarts what died), `remove()` stops it and deletes its state."""

    def __init__(self, home: Path):
        self.home = home
        ports = {name: str(free_port()) for name in PORT_VARIABLES}
        self.script_env = {**os.environ, "FTKIT_ARGILLA_HOME": str(home), "FTKIT_ARGILLA_VENV": str(server_venv())}
        self.script_env |= ports
        self.connection: ArgillaConnection | None = None

    def script(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), command], env=self.script_env, capture_output=True, text=True, timeout=600
        )

    def up(self) -> ArgillaConnection:
        result = self.script("up")
        if result.returncode != 0:
            raise RuntimeError(
                f"argilla-local.sh up (private instance in {self.home}) failed:\n{result.stderr[-3000:]}"
            )
        lines = result.stdout.splitlines()
        exports = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
        self.connection = ArgillaConnection.from_env(exports)
        return self.connection

    def remove(self) -> None:
        """Stop exactly what `up` started, then delete the state folder (never the shared virtualenv)."""
        self.script("purge")
        shutil.rmtree(self.home, ignore_errors=True)

    def kill(self, component: str) -> None:
        """SIGKILL a component's whole process group (its pid file names the group leader), as a crash would."""
        pid = int((self.home / f"{component}.pid").read_text())
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while group_runs(pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{component} (process group {pid}) still runs 30 s after SIGKILL")
            time.sleep(0.1)

    def cli_env(self) -> dict[str, str]:
        assert self.connection is not None
        return {**os.environ, "ARGILLA_API_URL": self.connection.api_url, "ARGILLA_API_KEY": self.connection.api_key}


def group_runs(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies, which nobody may reap here, do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # gone while we looked
        if state != "Z" and int(group) == pgid:
            return True
    return False
