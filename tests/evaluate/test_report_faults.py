"""`fteval report` killed (SIGKILL) while writing: every report file is the whole previous one or the whole new one."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_helpers import make_eval_folder

from fteval.report import write_report

FTEVAL = str(Path(sys.executable).parent / "fteval")
CONTESTANTS = ("base", "base+prompt", "finetuned")
REPORT_FILES = ("report.md", "report.html", "plots/pass_rates.png", "plots/lengths.png")


def answers(version: str) -> dict[str, list[str]]:
    """Two runs' answers that give different reports (text, lengths, pass rates)."""
    if version == "old":
        return {name: [f"Answer {i}: " + "word " * (i % 7) for i in range(40)] for name in CONTESTANTS}
    return {name: [f"Step {i}: <<{i}*2={2 * i}>>{2 * i}\n#### {2 * i}" + " more" * i for i in range(40)]
            for name in CONTESTANTS}  # fmt: skip


def report_bytes(folder: Path) -> dict[str, bytes | None]:
    return {name: (folder / name).read_bytes() if (folder / name).is_file() else None for name in REPORT_FILES}


def whole_html(content: bytes) -> None:
    text = content.decode("utf-8")
    parser = HTMLParser()
    parser.feed(text)
    parser.close()
    assert text.rstrip().endswith("</html>"), text[-200:]


@pytest.mark.slow
def test_report_killed_mid_write_is_never_half_there(tmp_path):
    # Reference reports of both runs, written in this process.
    references = {}
    for version in ("old", "new"):
        folder = make_eval_folder(tmp_path / f"reference-{version}", answers(version))
        write_report(folder)
        references[version] = report_bytes(folder)
        whole_html(references[version]["report.html"])
    assert all(references["old"][name] != references["new"][name] for name in REPORT_FILES)

    folder = tmp_path / "eval"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def launch(version: str) -> tuple[subprocess.Popen, int]:
        shutil.rmtree(folder / "answers", ignore_errors=True)
        make_eval_folder(folder, answers(version))  # the run's outputs change; its report is rewritten
        launched = time.time_ns()
        command = [FTEVAL, "report", str(folder)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)  # fmt: skip
        return process, launched

    def wait_for_first_write(process: subprocess.Popen, launched: int) -> None:
        """Until this run's first temporary file (a plot) appears: its writes come in the next tens of ms."""
        deadline = time.monotonic() + 120
        while process.poll() is None:
            for directory in (folder, folder / "plots"):
                with contextlib.suppress(FileNotFoundError):
                    for entry in os.scandir(directory):
                        if entry.name.endswith(".tmp") and entry.stat().st_ctime_ns >= launched:
                            return
            assert time.monotonic() < deadline, "the report was never written"
            time.sleep(0.0005)

    def state() -> dict[str, str]:
        found = report_bytes(folder)
        versions = {}
        for name, content in found.items():
            matches = [v for v in ("old", "new") if references[v][name] == content]
            assert matches, f"{folder / name}: neither the old nor the new file (half-written?)"
            versions[name] = matches[0]
        whole_html(found["report.html"])
        return versions

    process, _ = launch("old")
    assert process.wait(timeout=120) == 0, process.stderr.read().decode()[-2000:]
    assert state() == dict.fromkeys(REPORT_FILES, "old")

    kills, outcomes, previous = 16, [], "old"
    for attempt in range(kills):
        target = "new" if previous == "old" else "old"
        process, launched = launch(target)
        wait_for_first_write(process, launched)
        delay = 0.04 * attempt / (kills - 1)  # over the plots, report.md and report.html writes
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        found = state()
        outcomes.append(f"{delay * 1000:.0f}ms {''.join('N' if found[n] == target else 'o' for n in REPORT_FILES)}")
        if found["report.html"] == target:  # the last file written: the run had finished writing
            previous = target
    # Each outcome shows, per file (md, html, pass_rates, lengths), N for the new version and o for the old.
    print(f"\nkilled at: {', '.join(outcomes)}")
