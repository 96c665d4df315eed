"""A pytest plugin: no test reads outside the repository, its temporary folders and the Python installation.

A user's bare clone has nothing beside it (no shared data folder, no hub cache), so a test that opens a file there
passes on a developer's machine and fails for everyone else. An audit hook (PEP 578) sees every `open`
(Python's, io's, the import system's), every directory listing, and the paths on every command line a
test starts; a path outside the allowed places fails the test that touched it, in the phase (set-up,
call, tear-down) that touched it, whether the file exists or not. The hook itself never raises: a
library that catches the error of a missing file cannot hide the read.

Allowed: the repository, the temporary folders (pytest's included), the Python installation (prefixes,
site-packages, the import path as the session started), the operating system's folders, and the caches
libraries write for themselves on first use (Hugging Face `evaluate` modules and metrics, `datasets`,
matplotlib, fontconfig). Not allowed: the Hugging Face hub cache, whose models a bare clone lacks.

A checkout inside the temporary folder has temporary files for neighbours: there, a read beside the repository is
not told apart from a temporary file (tests/test_read_guard.py plants its reads in the home folder instead).

Loaded by tests/conftest.py; `-p read_guard` loads it into any pytest run (tests/test_read_guard.py does).
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Read by Python, libc, the C libraries and the tools every test starts; the same on any Linux machine.
SYSTEM = ("/dev", "/proc", "/sys", "/etc", "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/run", "/var/lib")
# Libraries' own caches, created on first use (so a bare clone makes them too), as (where, what inside): Hugging
# Face's `evaluate` modules and metrics and `datasets`' cache (never its hub cache: models a bare clone lacks),
# matplotlib's and fontconfig's. {cache} and {config} are the XDG folders (~/.cache and ~/.config by default).
CACHES = (
    ("$HF_HOME", ("metrics", "modules", "datasets")),
    ("{cache}/huggingface", ("metrics", "modules", "datasets")),
    ("$HF_DATASETS_CACHE", ("",)),
    ("$HF_MODULES_CACHE", ("",)),
    ("$MPLCONFIGDIR", ("",)),
    ("{config}/matplotlib", ("",)),
    ("{cache}/matplotlib", ("",)),
    ("{cache}/fontconfig", ("",)),
    ("~/.fontconfig", ("",)),
)
# Optional settings files in the home folder that tools look for (doctest's pdb, requests, git): absent on a
# bare machine, they change nothing.
HOME_SETTINGS = (".pdbrc", ".netrc", ".gitconfig", ".config/git")
# Audit events that name a path (the first argument) a test reads or lists.
PATH_EVENTS = {"open", "os.listdir", "os.scandir", "os.chdir"}
# Audit events of a started process: (executable, argv, ...). The child's reads are out of this hook's
# sight, so the paths handed to it are checked instead.
PROCESS_EVENTS = {"subprocess.Popen", "os.exec", "os.posix_spawn"}
KEY = pytest.StashKey["ReadGuard"]()


def allowed_places() -> list[str]:
    home = Path.home()
    places = [str(REPO), tempfile.gettempdir(), "/tmp", "/var/tmp", *SYSTEM]
    places += [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(sys.executable)]
    places += [sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")]
    places += [*site.getsitepackages(), site.getusersitepackages()]
    places += [entry for entry in sys.path if entry and os.path.isdir(entry)]  # the import path (editable installs)
    xdg = {
        "cache": os.environ.get("XDG_CACHE_HOME") or str(home / ".cache"),
        "config": os.environ.get("XDG_CONFIG_HOME") or str(home / ".config"),
    }
    for where, folders in CACHES:
        root = os.environ.get(where[1:]) if where.startswith("$") else os.path.expanduser(where.format(**xdg))
        if root:
            places += [os.path.join(root, folder) if folder else root for folder in folders]
    places += [str(home / name) for name in HOME_SETTINGS]
    return places


class ReadGuard:
    """The audit hook: collects the paths outside `places` that the running test touched."""

    def __init__(self, places: list[str]):
        self.places = tuple(sorted({os.path.realpath(p) for p in places}))
        self.found: list[str] = []
        self.watching = False
        self.missing_ok = False  # see the `read_guard` fixture
        self._inside = threading.local()  # realpath and the checks must not re-enter the hook

    def allow(self, place: str | os.PathLike) -> None:
        self.places = tuple(sorted({*self.places, os.path.realpath(place)}))

    def outside(self, path: str) -> bool:
        real = os.path.realpath(path)
        return not any(real == place or real.startswith(place.rstrip("/") + "/") for place in self.places)

    def __call__(self, event: str, args: tuple) -> None:
        if not self.watching or (event not in PATH_EVENTS and event not in PROCESS_EVENTS):
            return
        if getattr(self._inside, "busy", False):
            return
        self._inside.busy = True
        try:
            if event in PATH_EVENTS:
                self._check(event, args[0] if args else None)
            else:
                for argument in _process_arguments(args):
                    self._check(f"{event} argument", argument, only_absolute=True)
        except Exception as error:  # the hook must never break the code under test; it reports instead
            self.found.append(f"read guard failed on {event}: {type(error).__name__}: {error}")
        finally:
            self._inside.busy = False

    def _check(self, event: str, path: object, only_absolute: bool = False) -> None:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str) or not path:  # a file descriptor, or the current folder
            return
        if only_absolute:
            # `--data=/x/y` as well as `/x/y`; "/v1/models" (a URL path) is no file on this machine: it names a
            # place only when its first folder exists, as REPO's parent does on every machine.
            path = path.split("=", 1)[1] if path.startswith("-") and "=" in path else path
            if not path.startswith("/") or "\n" in path or not os.path.isdir("/" + path.split("/")[1]):
                return
        if self.outside(path) and not (self.missing_ok and not os.path.lexists(path)):
            self.found.append(f"{event}: {path}")


def _process_arguments(args: tuple) -> list[object]:
    """subprocess.Popen: (executable, args, cwd, env); os.exec and os.posix_spawn: (path, args, env)."""
    executable, argv = args[0], args[1] if len(args) > 1 else ()
    if isinstance(argv, (str, bytes, os.PathLike)):
        argv = [argv]
    cwd = args[2] if len(args) == 4 else None
    return [executable, *(argv or ()), cwd]


@pytest.fixture(scope="module")
def read_guard(request: pytest.FixtureRequest) -> ReadGuard:
    """The guard, for a test module whose inputs name made-up paths (fuzzed configs): there, with
    `read_guard.missing_ok = True`, a path that does not exist is no read of this machine's files; every
    existing one outside is still a failure."""
    return request.config.stash[KEY]


def pytest_configure(config: pytest.Config) -> None:
    guard = ReadGuard(allowed_places())
    config.stash[KEY] = guard
    sys.addaudithook(guard)  # cannot be removed; `watching` turns it off between tests


def pytest_sessionstart(session: pytest.Session) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        session.config.stash[KEY].allow(factory.getbasetemp())  # --basetemp may be anywhere


def _watching(guard: ReadGuard):
    """Wraps one hook call: the paths touched outside during it are left in `guard.found`."""
    guard.found, guard.watching = [], True
    try:
        return (yield)
    finally:
        guard.watching = False


def _watch(item: pytest.Item, phase: str):
    guard = item.config.stash[KEY]
    result = yield from _watching(guard)
    if guard.found:
        pytest.fail(_message(phase, guard.found), pytrace=False)
    return result


def _message(phase: str, found: list[str]) -> str:
    seen = list(dict.fromkeys(found))
    listing = "\n  ".join(seen[:20]) + (f"\n  ... and {len(seen) - 20} more" if len(seen) > 20 else "")
    return (
        f"{phase} touched {len(seen)} path(s) outside the repository, its temporary folders and the Python "
        f"installation (a bare clone has none of them; see tests/read_guard.py):\n  {listing}"
    )


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """Module-level reads happen while a test file is collected: they fail its collection."""
    guard = collector.config.stash[KEY]
    report = yield from _watching(guard)
    if guard.found and report.outcome != "failed":
        report.outcome, report.longrepr = "failed", _message("collecting " + collector.nodeid, guard.found)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    return (yield from _watch(item, "set-up"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    return (yield from _watch(item, "the test"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    return (yield from _watch(item, "tear-down"))
