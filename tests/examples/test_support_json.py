"""The second example, a team's own JSON support project (examples/support-json): its data rebuilds byte for byte,
the linter finds exactly what was planted, the README's first steps run as written on it, and its loop runs cut
down against the tests' own Argilla (import, check, push, reviews, status, pull, export) and on the tiny model
(a few training steps, an evaluation of a handful of prompts, the regression gate on a planted regression)."""

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ftdata.cli import main
from ftdata.duplicates import near_duplicate_clusters
from ftdata.export import load_export
from ftdata.project import Project
from ftdata.review import find_dataset

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "support-json"
BIN = Path(sys.executable).parent
MAP = "user=customer_message,assistant=agent_reply"
README_MARKER = "<!-- first steps: run as written by tests/examples/test_support_json.py -->"
STYLE_CHECKS = ("json", "ticket-fields", "category", "priority", "reply-length")  # style.yaml's check ids
BROKEN_BY = {  # planted.json's off_format_how -> the checks each such answer fails
    "plain text, no JSON": set(STYLE_CHECKS),
    "wrapped in a ``` fence": set(STYLE_CHECKS),
    "text after the JSON": set(STYLE_CHECKS),
    "a Python dict, not JSON": set(STYLE_CHECKS),
    "a category outside the list": {"category"},
    "priority in capitals": {"priority"},
    "priority missing": {"ticket-fields", "priority"},
    "an empty reply": {"ticket-fields"},
}


@pytest.fixture(scope="module")
def planted():
    return json.loads((EXAMPLE / "planted.json").read_text())


def copy_example(tmp_path: Path, workspace: str | None = None) -> Path:
    project = tmp_path / "support-json"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".ftdata", "exports", "__pycache__"))
    if workspace:
        config = (project / "ftdata.yaml").read_text()
        (project / "ftdata.yaml").write_text(config.replace("workspace: ftkit-support", f"workspace: {workspace}"))
    return project


def test_the_example_data_is_rebuilt_byte_for_byte():
    spec = importlib.util.spec_from_file_location("support_json_build", EXAMPLE / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    csv_text, planted, reviews = build.build()
    assert csv_text.encode("utf-8") == (EXAMPLE / "tickets.csv").read_bytes()
    assert planted == json.loads((EXAMPLE / "planted.json").read_text())
    assert reviews == [json.loads(line) for line in (EXAMPLE / "recorded_reviews.jsonl").read_text().splitlines()]
    raw = (EXAMPLE / "tickets.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # as Excel saves it
    assert {r["annotator"] for r in reviews} == {"ana", "ben"}


def lint_report(project: Path) -> dict:
    runner = CliRunner()
    imported = runner.invoke(main, ["import", "--project", str(project), "--map", MAP, str(project / "tickets.csv")])
    assert imported.exit_code == 1, imported.output  # rows rejected: two empty answers' worth of problems
    checked = runner.invoke(main, ["check", "--project", str(project), "--json"])
    assert checked.exit_code == 1, checked.output
    return json.loads(checked.stdout)


def assert_planted_found(report: dict, planted: dict) -> None:
    flagged = {kind: {i for issue in issues for i in issue["ids"]} for kind, issues in report["issues"].items()}
    for kind in ("exact_duplicate", "near_duplicate", "pii", "secret"):
        assert flagged[kind] == set(planted[kind]), kind
    assert flagged["style"] == set(planted["off_format"])
    # Each planted fault breaks the checks that read it, and only those: the field checks fail (never pass) on an
    # answer that is not JSON.
    for issue in report["issues"]["style"]:
        [example] = issue["ids"]
        failed = {c for c in STYLE_CHECKS if re.search(rf"(?:style: |; ){re.escape(c)}: ", issue["message"])}
        assert failed == BROKEN_BY[planted["off_format_how"][example]], issue["message"]
    assert not set(planted["look_alikes"]) & (flagged["pii"] | flagged["secret"])  # build numbers, dates, refs
    places = [location for issue in report["issues"]["schema"] for location in issue["locations"]]
    assert sorted(re.search(r"ticket_id (T-\d+)", place)[1] for place in places) == planted["schema"]
    assert all(re.match(r".*tickets\.csv:\d+ \(row \d+, ticket_id T-\d+\)$", place) for place in places)


def test_the_linter_finds_what_was_planted_and_nothing_else(tmp_path, planted):
    project = copy_example(tmp_path)
    report = lint_report(project)
    assert_planted_found(report, planted)
    assert report["examples"] == 618 - len(planted["exact_copy_rows"]) - len(planted["schema"])


def readme_first_steps() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split(README_MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


@pytest.mark.argilla
@pytest.mark.slow
def train_evaluate_and_gate(tmp_path: Path, export: Path, project: Path, base_model: Path) -> None:
    """A few training steps on the tiny model, scored on a handful of test prompts by the `evaluate:` hook; then a
    second run with a planted regression (a learning rate 100,000 times too small: it learns nothing) fails the
    gate, and an unchanged rerun of the first evaluation passes it."""
    from fteval.cli import main as fteval
    from fttrain.cli import main as fttrain

    eval_config = {
        "data": str(export), "style": str(project / "style.yaml"), "limit": 6, "max_new_tokens": 24,
        "batch_size": 6, "capability_tasks": [],
        "system_prompt": 'Answer as one JSON object {"category", "priority", "reply"}, nothing else.',
    }  # fmt: skip
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump(eval_config))
    train_config = {
        "base_model": str(base_model), "data": str(export), "output_dir": "v1", "method": "lora",
        "max_seq_len": 256, "epochs": 1, "train_limit": 48, "batch_size": 8, "gradient_accumulation": 1,
        "learning_rate": 1e-2, "lora": {"r": 8, "alpha": 16, "dropout": 0.0,
        "modules_to_save": ["embed_tokens", "lm_head"]}, "evaluate": "eval.yaml",
    }  # fmt: skip
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(train_config))
    runner = CliRunner()
    trained = runner.invoke(fttrain, ["run", str(tmp_path / "train.yaml")])
    assert trained.exit_code == 0, trained.output
    v1 = tmp_path / "v1" / "eval" / "results.json"
    results = json.loads(v1.read_text())
    assert results["data"]["n"] == 6
    assert list(results["contestants"]) == ["base", "base+prompt", "base+fewshot", "finetuned"]
    assert {f"pass_rate/{check}" for check in STYLE_CHECKS} <= set(results["contestants"]["finetuned"]["scores"])
    card = (tmp_path / "v1" / "README.md").read_text()
    assert "- Licence: apache-2.0\n" in card and results["verdict"] in card  # the data's licence, the verdict

    planted = ["--set", f"output_dir={tmp_path / 'v2'}", "--set", "learning_rate=1e-7"]
    assert runner.invoke(fttrain, ["run", str(tmp_path / "train.yaml"), *planted]).exit_code == 0
    v2 = tmp_path / "v2" / "eval" / "results.json"
    gated = runner.invoke(fteval, ["compare", str(v1), str(v2)])
    assert gated.exit_code == 1, gated.output
    assert re.search(r"REGRESSION  finetuned loss: [\d.]+ -> [\d.]+ \(lower is better, \+\d", gated.stdout)

    rerun = ["--set", f"run={tmp_path / 'v1'}", "--set", f"output_dir={tmp_path / 'rerun'}"]
    assert runner.invoke(fteval, ["run", str(tmp_path / "eval.yaml"), *rerun]).exit_code == 0
    unchanged = runner.invoke(fteval, ["compare", str(v1), str(tmp_path / "rerun" / "results.json")])
    assert unchanged.exit_code == 0, unchanged.output
    assert "REGRESSION" not in unchanged.stdout and "passed: 0 regression(s)" in unchanged.stderr


def test_the_readme_first_steps_work_as_written(tmp_path, argilla_connection):
    """The README's first steps, line by line, from a folder beside the repository's examples, as a new user would
    type them on this project (import exits 1: rows were rejected; check exits 1: problems were found)."""
    (tmp_path / "examples").symlink_to(REPO / "examples")
    workspace = f"readme-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ARGILLA_API_URL": argilla_connection.api_url,
           "ARGILLA_API_KEY": argilla_connection.api_key}  # fmt: skip
    cwd, outputs = tmp_path, {}
    steps = readme_first_steps()
    assert [s.split()[:2] for s in steps] == [["ftdata", "init"], ["cd", "my-project"], ["ftdata", "import"],
                                              ["ftdata", "check"], ["ftdata", "stats"], ["ftdata", "push"]]  # fmt: skip
    try:
        for step in steps:
            words = shlex.split(step)
            if words[0] == "cd":
                cwd = cwd / words[1]
                config = (cwd / "ftdata.yaml").read_text()  # a workspace of this test's own
                (cwd / "ftdata.yaml").write_text(config.replace("workspace: ftkit\n", f"workspace: {workspace}\n"))
                continue
            done = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
            allowed = (0, 1) if words[1] in ("import", "check") else (0,)
            assert done.returncode in allowed, f"{step}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stderr and "Error" not in done.stderr, f"{step}\n{done.stderr}"
            outputs[words[1]] = done
        assert (cwd / "guidelines.md").is_file()
        assert "618" in outputs["import"].stdout and "secret" in outputs["check"].stdout
        assert "estimates" in outputs["stats"].stderr and "training tokens" in outputs["stats"].stdout
        assert re.search(r"pushed \d+ record\(s\)", outputs["push"].stdout)
    finally:
        project = Project.open(cwd) if (cwd / "ftdata.yaml").is_file() else None
        client = argilla_connection.client()
        dataset = find_dataset(project, client) if project else None
        if dataset is not None:
            dataset.delete()
        if project and (ws := client.workspaces(name=workspace)) is not None:
            ws.delete()


@pytest.mark.argilla
@pytest.mark.slow
def test_the_loop_cut_down(tmp_path, argilla_connection, planted, tiny_model_dir):
    """import -> check -> push -> two annotators' reviews -> status -> pull -> export -> train -> evaluate ->
    compare, on the team's own CSV: the lint finds what was planted, no cluster of near-duplicates (by prompt or by
    answer: the canned replies) straddles two splits of the export, and the regression gate fails on a planted
    regression and passes on an unchanged rerun."""
    workspace = f"support-{uuid.uuid4().hex[:8]}"
    project = copy_example(tmp_path, workspace)
    env = {"ARGILLA_API_URL": argilla_connection.api_url, "ARGILLA_API_KEY": argilla_connection.api_key}
    runner = CliRunner(env=env)
    args = ["--project", str(project)]
    try:
        assert_planted_found(lint_report(project), planted)
        pushed = runner.invoke(main, ["push", *args, "--json"])
        assert pushed.exit_code == 0, pushed.output
        assert json.loads(pushed.stdout)["skipped"] == {
            "contains a secret (push with --include-secrets to review it anyway)": len(planted["secret"]),
            "exact copy of an example already pushed": len(planted["exact_duplicate"]) // 2,
        }
        played = subprocess.run(
            [sys.executable, str(project / "play_reviews.py"), "--project", str(project), "--ui-answers", "2"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert played.returncode == 0, played.stderr
        status = json.loads(runner.invoke(main, ["status", *args, "--json"]).stdout)
        disagreements = status["agreement"]["verdict"]["disagreements"]
        assert disagreements and all(d["record_id"] in status["labels"] for d in disagreements)
        assert all(label.startswith("ticket_id T-") for label in status["labels"].values())
        pulled = runner.invoke(main, ["pull", *args, "--json"])
        assert pulled.exit_code == 0, pulled.output
        out = tmp_path / "export"
        exported = runner.invoke(main, ["export", *args, "--out", str(out), "--json"])
        assert exported.exit_code == 0, exported.output
        manifest = json.loads(exported.stdout)
        assert sum(s["examples"] for s in manifest["splits"].values()) >= 300  # export.min_examples
        # The split kept every cluster whole: its last guard found nothing to drop...
        assert not [reason for reason in manifest["drops"] if "nearly repeats" in reason], manifest["drops"]
        # ...and no cluster, by prompt or by answer, has members in two splits (found here independently).
        splits = load_export(out)
        where = {e.id: name for name, members in splits.items() for e in members}
        everything = [e for members in splits.values() for e in members]
        for text_of in (lambda e: e.messages[-2].content, lambda e: e.completion):
            for cluster in near_duplicate_clusters([(e.id, text_of(e)) for e in everything], threshold=0.8):
                assert len({where[i] for i in cluster.ids}) == 1, cluster
        canned = [cluster for cluster in planted["macro_reply_clusters"] if all(i in where for i in cluster)]
        assert canned and all(len({where[i] for i in cluster}) == 1 for cluster in canned)
        checked = json.loads(runner.invoke(main, ["check", *args, "--json"]).stdout)
        assert "split_leakage" not in checked["skipped"] and checked["counts"]["split_leakage"] == 0
        train_evaluate_and_gate(tmp_path, out, project, tiny_model_dir)
    finally:
        client = argilla_connection.client()
        dataset = find_dataset(Project.open(project), client)
        if dataset is not None:
            dataset.delete()
        ws = client.workspaces(name=workspace)
        if ws is not None:
            for user in argilla_connection.request("GET", f"/api/v1/workspaces/{ws.id}/users")["items"]:
                if user["role"] == "annotator":
                    argilla_connection.request("DELETE", f"/api/v1/users/{user['id']}")
            ws.delete()
