"""`ftdata export` under faults: killed (SIGKILL) at many points while writing, and a disk that fills up.

Whatever happens, the export folder is absent, the complete previous export, or the complete new one —
never half of one — and no temporary file or staging folder outlives a failed run.
"""

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftcore.atomic import sha256_file
from ftcore.manifest import MANIFEST_NAME, ExportManifest
from ftdata.cli import main
from ftdata.project import init_project
from ftdata.snapshot import Response, SnapshotRecord, _record_to_row, _write_snapshot

FTDATA = str(Path(sys.executable).parent / "ftdata")
OLD, NEW = "20260101T000000Z-old", "20260102T000000Z-new"


def write_snapshot(project: Path, snapshot_id: str, rows: list[dict]) -> None:
    """A snapshot on disk as `ftdata pull` leaves it: every record accepted by two reviewers."""
    accepted = tuple(Response(name, "submitted", {"verdict": "accept"}) for name in ("ana", "ben"))
    records = [
        SnapshotRecord(f"ex_{i:016x}", f"00000000-0000-0000-0000-{i:012d}", "completed",
                       [{"role": "user", "content": row["question"]}], row["answer"], {"source": "gsm8k"}, [], accepted)
        for i, row in enumerate(rows)
    ]  # fmt: skip
    info = {"id": snapshot_id, "workspace": "ftkit", "dataset": "faults", "content_sha256": "0" * 64,
            "guideline_version": "", "pulled_at": "2026-01-01T00:00:00+00:00", "review_design": {}}  # fmt: skip
    _write_snapshot(project / ".ftdata" / "snapshots", snapshot_id, [_record_to_row(r) for r in records], info)


@pytest.fixture
def project(tmp_path, gsm8k_rows) -> Path:
    """A project with two snapshots: OLD (30 records) and NEW (120), so the two exports differ."""
    root = tmp_path / "project"
    init_project(root, dataset="faults")
    write_snapshot(root, OLD, gsm8k_rows[:30])
    write_snapshot(root, NEW, gsm8k_rows[:120])
    return root


def export_args(project: Path, snapshot: str, out: Path) -> list[str]:
    return ["export", "--project", str(project), "--snapshot", snapshot, "--out", str(out), "--allow-small", "--json"]


def file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def complete_export(folder: Path) -> str:
    """The manifest's sha256 when `folder` is a whole export: every file the manifest lists, with its hash,
    and nothing else. Fails the test otherwise."""
    manifest = ExportManifest.read(folder)
    manifest.verify(folder)
    listed = {s.path for s in manifest.splits.values()} | set(manifest.files) | {MANIFEST_NAME}
    present = file_hashes(folder)
    assert set(present) == listed, f"{folder}: files {sorted(set(present) ^ listed)} differ from the manifest"
    for name, sha in manifest.files.items():
        assert present[name] == sha, f"{folder / name}: not the file the manifest describes"
    return sha256_file(folder / MANIFEST_NAME)


def leftovers(parent: Path) -> list[str]:
    """Staging folders, retired exports and temporary files beside or inside the exports."""
    return sorted(str(p.relative_to(parent)) for p in parent.rglob(".*"))


@pytest.mark.slow
def test_export_killed_mid_write_is_never_half_there(project, tmp_path):
    # Reference exports of both snapshots, to tell the old from the new by their manifests.
    references = {}
    for snapshot in (OLD, NEW):
        reference = tmp_path / f"reference-{snapshot}"
        assert CliRunner().invoke(main, export_args(project, snapshot, reference)).exit_code == 0
        references[complete_export(reference)] = snapshot
    out = tmp_path / "exports" / "current"
    staging = out.parent / f".{out.name}.staging"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def start(snapshot: str) -> subprocess.Popen:
        command = [FTDATA, *export_args(project, snapshot, out)]
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)  # fmt: skip

    def wait_for_staging(process: subprocess.Popen, launched: int) -> float:
        """Wait for this run's staging folder (a killed run leaves its own behind: that one is older)."""
        deadline = time.monotonic() + 120
        while process.poll() is None:
            with contextlib.suppress(FileNotFoundError):
                if staging.stat().st_ctime_ns >= launched:
                    break
            assert time.monotonic() < deadline, "the export never started writing"
            time.sleep(0.002)
        return time.monotonic()

    def uncut(snapshot: str) -> float:
        """Export `snapshot` to the end; returns the seconds from its first staged file to the final rename."""
        launched = time.time_ns()
        process = start(snapshot)
        began = wait_for_staging(process, launched)
        while staging.exists():
            time.sleep(0.002)
        renamed = time.monotonic() - began
        assert process.wait(timeout=120) == 0, process.stderr.read().decode()[-2000:]
        assert references[complete_export(out)] == snapshot
        return renamed

    writing = {NEW: uncut(NEW), OLD: uncut(OLD)}
    previous, outcomes, kills = OLD, [], 10
    for attempt in range(kills):
        target = NEW if previous == OLD else OLD
        launched = time.time_ns()
        process = start(target)
        wait_for_staging(process, launched)
        # Kill points spread from the first staged file to past the final rename.
        delay = writing[target] * 1.5 * attempt / (kills - 1)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        state = references[complete_export(out)] if out.exists() else "absent"
        assert state in (previous, target, "absent"), state
        assert state != "absent" or (out.parent / f".{out.name}.replaced").is_dir()  # the old one is kept aside
        outcomes.append(f"{delay:.2f}s {'new' if state == target else 'old' if state == previous else state}")
        previous = state if state != "absent" else previous
    print(f"\nwriting takes {writing[NEW]:.2f} s ({writing[OLD]:.2f} s); killed at: {', '.join(outcomes)}")

    # The next run completes and clears whatever the killed ones left behind.
    final = subprocess.run([FTDATA, *export_args(project, NEW, out)], env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr[-2000:]
    assert references[complete_export(out)] == NEW
    assert leftovers(out.parent) == []


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class FullFile:
    """A file opened for writing on a full disk: the first write fails with ENOSPC."""

    def __init__(self, handle):
        self.handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def write(self, data):
        full_disk()


def fill_at(point: str, monkeypatch) -> None:
    """Make the disk fill up at one point of writing an export."""
    import datasets
    import pyarrow.parquet

    import ftcore.atomic
    import ftdata.export

    if point == "split file":

        def full_open(path, mode="r", *args, **kwargs):
            handle = open(path, mode, *args, **kwargs)  # noqa: SIM115 (the caller's `with` closes it)
            return FullFile(handle) if "w" in mode else handle

        monkeypatch.setattr(ftdata.export, "open", full_open, raising=False)
    elif point == "parquet":
        monkeypatch.setattr(pyarrow.parquet, "write_table", full_disk)
    elif point == "datasets folder":
        monkeypatch.setattr(datasets.DatasetDict, "save_to_disk", full_disk)
    elif point == "fsync of an atomic write":
        monkeypatch.setattr(ftcore.atomic.os, "fsync", full_disk)


@pytest.mark.parametrize("point", ["split file", "parquet", "datasets folder", "fsync of an atomic write"])
def test_disk_full_while_exporting_keeps_the_previous_export(project, tmp_path, monkeypatch, point):
    out = tmp_path / "exports" / "current"
    assert CliRunner().invoke(main, export_args(project, OLD, out)).exit_code == 0
    before = file_hashes(out)

    with monkeypatch.context() as patch:
        fill_at(point, patch)
        result = CliRunner().invoke(main, export_args(project, NEW, out))

    assert result.exit_code == 2, result.output[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.rstrip("\n").splitlines()
    assert lines[-1].startswith("Error: ") and sum(line.startswith("Error:") for line in lines) == 1, result.output
    assert str(out) in lines[-1] and "the disk is full" in lines[-1], lines[-1]
    assert file_hashes(out) == before  # the previous export, byte for byte
    assert leftovers(out.parent) == []  # no staging folder, no temporary file


def test_disk_full_in_an_atomic_write_names_the_file(tmp_path, monkeypatch):
    from ftcore.atomic import atomic_write

    target = tmp_path / "manifest.json"
    target.write_text("previous")
    monkeypatch.setattr("ftcore.atomic.os.fsync", full_disk)
    with pytest.raises(OSError) as raised, atomic_write(target) as handle:
        handle.write("new")
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(target)
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


# Run inside a user and mount namespace over a 1 MiB tmpfs: the real kernel's ENOSPC, at whatever write it hits.
DRIVER = r"""
import hashlib, json, os, subprocess, sys
ftdata, project, small, old, new = sys.argv[1:6]
out = os.path.join(small, "export")

def export(snapshot):
    args = ["export", "--project", project, "--snapshot", snapshot, "--out", out, "--allow-small", "--json"]
    return subprocess.run([ftdata, *args], capture_output=True, text=True)

def hashes():
    found = {}
    for folder, _, files in os.walk(out):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                found[os.path.relpath(os.path.join(folder, name), out)] = hashlib.sha256(handle.read()).hexdigest()
    return found

report = {"first": export(old).returncode, "cases": []}
before = hashes()
filler = os.path.join(small, "filler")
for free in (0, 4096, 16384, 65536, 131072):
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    os.close(fd)
    os.truncate(filler, max(0, os.path.getsize(filler) - free))
    result = export(new)
    report["cases"].append({"free": free, "returncode": result.returncode, "stderr": result.stderr,
                            "intact": hashes() == before, "listing": sorted(os.listdir(small))})
os.unlink(filler)
report["after_freeing"] = export(new).returncode
print(json.dumps(report))
"""


def small_filesystems_available(folder: Path) -> bool:
    probe = ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs '{folder}'"]
    try:
        return shutil.which("unshare") is not None and subprocess.run(probe, capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.slow
def test_disk_full_on_a_real_small_filesystem(project, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    if not small_filesystems_available(small):
        pytest.skip("no unprivileged user+mount namespaces here (unshare -rm): the injected ENOSPC tests stand in")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    mount = f'mount -t tmpfs -o size=1m tmpfs \'{small}\' && exec "$0" "$@"'
    command = ["unshare", "-rm", "sh", "-c", mount, sys.executable, str(script), FTDATA, str(project), str(small)]
    run = subprocess.run([*command, OLD, NEW], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["first"] == 0
    print(f"\nreal ENOSPC: {[(c['free'], c['returncode']) for c in report['cases']]}")
    failed = [case for case in report["cases"] if case["returncode"] != 0]
    assert failed, "the disk never filled up: make the tmpfs smaller"
    for case in failed:
        lines = case["stderr"].rstrip("\n").splitlines()
        assert case["returncode"] == 2 and lines[-1].startswith("Error: "), case["stderr"][-2000:]
        assert "the disk is full" in lines[-1] and str(small / "export") in lines[-1], lines[-1]
        assert case["intact"], f"the previous export changed with {case['free']} bytes free"
        assert case["listing"] == ["export", "filler"], case["listing"]  # no staging folder left on the full disk
    assert report["after_freeing"] == 0
