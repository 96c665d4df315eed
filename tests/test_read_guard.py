"""The read guard (tests/read_guard.py) fails a test that reads beside the repository, and only such a test."""

import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Where the planted reads go: beside the repository, as the shared data folder was; or, for a checkout inside the
# temporary folder (whose neighbours are temporary files, which tests may read), the home folder, outside every
# allowed place.
TEMPORARY = Path(tempfile.gettempdir()).resolve()
BESIDE = Path.home() if REPO.parent == TEMPORARY or TEMPORARY in REPO.parent.parents else REPO.parent

PLANTED = """
import os
import subprocess
import sys
from pathlib import Path

REPO = Path({repo!r})
BESIDE = Path({beside!r})
SHARED = BESIDE.joinpath("shared", "data", "gsm8k", "train.jsonl")  # what the tests read before the bundle


def test_reads_the_shared_folder_beside_the_repository():
    try:
        SHARED.open(encoding="utf-8").close()
    except OSError:
        pass  # a bare clone has no such file: the guard fails the test all the same


def test_lists_the_folder_beside_the_repository():
    os.listdir(BESIDE)


def test_hands_a_path_beside_the_repository_to_a_process():
    subprocess.run([sys.executable, "-c", "pass", f"--data={{SHARED.parent}}"], check=True)


def test_reads_the_hugging_face_hub_cache():
    try:
        open(Path.home() / ".cache" / "huggingface" / "hub" / "models--x" / "config.json").close()
    except OSError:
        pass


def test_reads_inside_the_repository_tmp_and_python(tmp_path):
    (tmp_path / "data.txt").write_text("x")
    assert (tmp_path / "data.txt").read_text() == "x"
    assert (REPO / "tests" / "data" / "gsm8k" / "LICENSE").read_text().startswith("MIT License")
    import email.mime.text  # the standard library, imported here for the first time

    subprocess.run([sys.executable, "-c", "pass", str(tmp_path)], check=True)
"""

MODULE_LEVEL = """
from pathlib import Path

try:
    open(Path({beside!r}).joinpath("shared", "STYLE.md")).close()
except OSError:
    pass


def test_nothing():
    pass
"""


def test_reads_outside_the_repository_fail_and_reads_inside_pass(tmp_path):
    (tmp_path / "test_planted.py").write_text(textwrap.dedent(PLANTED).format(repo=str(REPO), beside=str(BESIDE)))
    (tmp_path / "test_module_level.py").write_text(textwrap.dedent(MODULE_LEVEL).format(beside=str(BESIDE)))
    report = tmp_path / "report.xml"
    options = ["-p", "read_guard", "-p", "no:cacheprovider", "-q", "--continue-on-collection-errors"]
    command = [sys.executable, "-m", "pytest", *options, f"--junitxml={report}", "--rootdir", str(tmp_path)]
    command.append(str(tmp_path))
    env = {"PYTHONPATH": f"{REPO / 'tests'}", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]

    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        # The failure's message: a first line saying why, then one path per line.
        message = None if failure is None else failure.get("message", "")
        paths = None if message is None else [line.strip() for line in message.splitlines()[1:]]
        outcomes[case.get("name") or case.get("classname")] = paths
    shared = str(BESIDE.joinpath("shared"))
    home = Path.home()
    expected = {  # test -> the paths its failure lists, exactly
        "test_reads_the_shared_folder_beside_the_repository": [f"open: {shared}/data/gsm8k/train.jsonl"],
        "test_lists_the_folder_beside_the_repository": [f"os.listdir: {BESIDE}"],
        "test_hands_a_path_beside_the_repository_to_a_process": [f"subprocess.Popen argument: {shared}/data/gsm8k"],
        "test_reads_the_hugging_face_hub_cache": [f"open: {home}/.cache/huggingface/hub/models--x/config.json"],
        "test_reads_inside_the_repository_tmp_and_python": None,
    }
    assert {name: outcomes[name] for name in expected} == expected
    # A read while the module is imported fails its collection (its test never runs).
    assert "test_nothing" not in outcomes
    assert "collecting test_module_level.py touched 1 path(s) outside the repository" in result.stdout
    assert f"open: {shared}/STYLE.md" in result.stdout, result.stdout[-3000:]
