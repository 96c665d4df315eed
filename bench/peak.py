"""Run a command and measure the peak memory of that process alone.

`os.wait4` on a child we start reports a max RSS that is at least *our* RSS when we started it: Linux carries a
process's high-water mark across fork and exec, so a bench that built a million rows first would see its own
memory in every child it measures. A small trampoline process (a fresh interpreter, ~10 MiB) starts the command
instead and reports that grandchild's own wait4 rusage, which begins from the trampoline's mark, not ours.

Usage:
    returncode, seconds, peak_mib = run_measured(["ftdata", "check"], cwd=project, stdout=out, stderr=err)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

TRAMPOLINE = """
import json, os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as report:
    json.dump({"returncode": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss}, report)
"""


def run_measured(
    command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, stdout: IO | None = None,
    stderr: IO | None = None,
) -> tuple[int, float, float]:  # fmt: skip
    """Run `command` to its end: its exit code, wall seconds and its own peak memory (max RSS) in MiB."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "usage.json"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", TRAMPOLINE, str(report), *command], cwd=cwd, env=env, stdout=stdout, stderr=stderr
        )
        seconds = time.perf_counter() - started
        usage: dict[str, Any] = json.loads(report.read_text())
    return usage["returncode"], seconds, usage["maxrss_kib"] / 1024  # Linux reports KiB
