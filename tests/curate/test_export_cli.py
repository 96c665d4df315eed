"""`ftdata export` from the command line: a refusal that says why, and `ftdata check` reading the export's splits."""

import json
import shutil

import pytest
from click.testing import CliRunner

from ftdata import Example
from ftdata.cli import main
from ftdata.importers import ColumnMap, import_files
from ftdata.lint import lint_snapshot
from ftdata.project import LintConfig, Project, init_project
from ftdata.snapshot import Response, SnapshotRecord, _record_to_row, _write_snapshot
from ftdata.store import StoreSnapshot

SNAPSHOT = "20260101T000000Z-review"


def accepted(*names):
    return tuple(Response(name, "submitted", {"verdict": "accept"}) for name in names)


def write_snapshot(root, rows, responses):
    """A snapshot as `ftdata pull` leaves it, each row with its own responses; ids are the stored examples'."""
    records = [
        SnapshotRecord(
            Example.from_prompt_completion(row["question"], row["answer"]).id,
            f"00000000-0000-0000-0000-{i:012d}",
            "completed",
            [{"role": "user", "content": row["question"]}],
            row["answer"],
            {"source": "raw.jsonl"},
            [],
            answers,
        )
        for i, (row, answers) in enumerate(zip(rows, responses, strict=True))
    ]
    info = {"id": SNAPSHOT, "workspace": "ftkit", "dataset": "cli", "content_sha256": "0" * 64,
            "guideline_version": "", "pulled_at": "2026-01-01T00:00:00+00:00", "review_design": {}}  # fmt: skip
    _write_snapshot(root / ".ftdata" / "snapshots", SNAPSHOT, [_record_to_row(r) for r in records], info)


@pytest.fixture
def reviewed(tmp_path, gsm8k_rows):
    """60 GSM8K rows in the store: 19 accepted by two reviewers, 35 with one review only, 4 rejected, 2 tied."""
    root = tmp_path / "project"
    init_project(root, dataset="cli")
    rows = [dict(r) for r in gsm8k_rows[:60]]
    (root / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_files(Project.open(root), [root / "raw.jsonl"], mapping=ColumnMap.parse("user=question,assistant=answer"))
    rejected = tuple(Response(n, "submitted", {"verdict": "reject"}) for n in ("ana", "ben"))
    tie = (*accepted("ana"), Response("ben", "submitted", {"verdict": "reject"}))
    responses = [accepted("ana", "ben")] * 19 + [accepted("ana")] * 35 + [rejected] * 4 + [tie] * 2
    write_snapshot(root, rows, responses)
    return root


def test_a_refused_export_says_why_counts_each_reason_and_exits_1(reviewed, tmp_path):
    runner = CliRunner()
    args = ["export", "--project", str(reviewed), "--out", str(tmp_path / "export"), "--set", "export.min_examples=50"]
    text = runner.invoke(main, args)
    assert text.exit_code == 1, text.output
    message = text.stderr
    assert "only 19 examples to export, fewer than export.min_examples (50)" in message
    assert "35 fewer than 2 submitted verdicts (export.quorum is 2)" in message
    assert "4 rejected by reviewers" in message and "2 await adjudication (`ftdata adjudicate`)" in message
    assert "--allow-small" in message and "nothing was written" in message and text.stdout == ""
    as_json = runner.invoke(main, [*args, "--json"])
    assert as_json.exit_code == 1
    refusal = json.loads(as_json.stdout)
    assert refusal["exported"] == 19 and refusal["awaiting_adjudication"] == 2
    assert refusal["left_out"] == {"fewer than 2 submitted verdicts (quorum)": 35, "rejected by reviewers": 4}
    assert refusal["settings"] == {"export.min_examples": 50, "export.quorum": 2}
    assert "export.quorum" in refusal["error"]
    assert not (tmp_path / "export").exists()


def test_check_reads_the_splits_of_the_latest_export(reviewed, tmp_path):
    runner = CliRunner()
    check = ["check", "--project", str(reviewed), "--json"]
    before = json.loads(runner.invoke(main, check).stdout)
    assert "split_leakage" in before["skipped"] and "no export yet" in before["skipped"]["split_leakage"]
    export = tmp_path / "export"
    result = runner.invoke(main, ["export", "--project", str(reviewed), "--out", str(export), "--allow-small"])
    assert result.exit_code == 0, result.output
    after = json.loads(runner.invoke(main, check).stdout)
    assert "split_leakage" not in after["skipped"] and after["counts"]["split_leakage"] == 0
    recorded = json.loads((reviewed / ".ftdata" / "last_export.json").read_text())
    assert recorded["folder"] == str(export.resolve()) and recorded["snapshot"] == SNAPSHOT
    shutil.rmtree(export)
    gone = json.loads(runner.invoke(main, check).stdout)
    assert gone["skipped"]["split_leakage"] == f"the latest export, {export.resolve()}, is gone"


def test_leakage_in_splits_is_found_on_prompts_and_on_answers(gsm8k_rows):
    """An export's splits as check sees them: a test answer that repeats a train answer (a canned reply) is a
    leak, as is a test prompt that nearly repeats a train prompt; locations say which split and which row."""
    train = [
        Example.from_prompt_completion(r["question"], r["answer"], metadata={"source": "t.csv", "row": i})
        for i, r in enumerate(gsm8k_rows[:30])
    ]
    macro = train[0].completion
    same_answer = Example.from_prompt_completion(
        "An unrelated question?", macro, metadata={"source": "t.csv", "row": 99}
    )
    near_prompt = Example.from_prompt_completion(train[1].messages[0].content + "!", "Another answer.")
    report = lint_snapshot(
        StoreSnapshot(), LintConfig(), splits={"train": train, "test": [same_answer, near_prompt]}, id_column=None
    )
    messages = sorted(issue.message for issue in report.issues["split_leakage"])
    assert messages[0].startswith("test answer repeats a train answer (similarity 1.00)")
    assert messages[1].startswith("test prompt nearly repeats a train prompt")
    answer_issue = next(i for i in report.issues["split_leakage"] if "answer" in i.message)
    assert answer_issue.ids == [same_answer.id, train[0].id]
    assert answer_issue.locations == ["test: t.csv:99", "train: t.csv:0"]
