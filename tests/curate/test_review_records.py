"""`review_records`: the records `ftdata push` sends (bench/review.py logs the same ones through the raw SDK), and
what it leaves out and why, built without a server."""

from pathlib import Path

from review_helpers import make_review_project

from ftdata.lint import lint
from ftdata.review import SUGGESTION_AGENT, review_records
from ftdata.store import Store

STYLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "style.yaml"
KEY = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documentation example
ROWS = [
    {"question": "Tom has 3 apples and buys 2. How many now?", "answer": "3+2 = <<3+2=5>>5\n#### 5"},
    {"question": "tom has 3 apples and  buys 2. how many now?", "answer": "3+2 = <<3+2=5>>5\n#### 5"},  # a copy
    {"question": f"Use key {KEY}. What is 2+2?", "answer": "2+2 = <<2+2=4>>4\n#### 4"},
    {"question": "What is 6 times 7?", "answer": "Great question! It is 42."},  # off the house format
]


def test_review_records_leave_out_secrets_and_copies_and_carry_the_lints_suggestions(tmp_path):
    project = make_review_project(tmp_path, ROWS, f"style={STYLE}", "export.min_examples=1")
    examples = Store(project.store_path).read().examples
    by_question = {e.messages[0].content: e.id for e in examples}
    first, copy, secret, chatty = (by_question[row["question"]] for row in ROWS)
    report = lint(project)

    items, skipped = review_records(report, examples, {"issues": "q-issues"}, {"source", "lint_flags"})
    assert sorted(item["external_id"] for item in items) == sorted([first, chatty])
    assert skipped == {
        "contains a secret (push with --include-secrets to review it anyway)": [secret],
        "exact copy of an example already pushed": [copy],
    }
    pushed = {item["external_id"]: item for item in items}
    assert pushed[chatty]["suggestions"] == [
        {"question_id": "q-issues", "value": ["wrong-format"], "score": [1.0], "agent": SUGGESTION_AGENT,
         "type": "model"}
    ]  # fmt: skip
    assert pushed[chatty]["metadata"] == {"source": pushed[chatty]["metadata"]["source"], "lint_flags": ["style"]}
    assert pushed[first]["suggestions"] == []  # the copy that is kept is no duplicate to its annotator
    assert pushed[first]["metadata"]["lint_flags"] == ["exact_duplicate"]

    items, skipped = review_records(report, examples, {"issues": "q-issues"}, {"source"}, include_secrets=True)
    assert sorted(item["external_id"] for item in items) == sorted([first, secret, chatty])
    assert skipped == {"exact copy of an example already pushed": [copy]}
    assert all(set(item["metadata"]) == {"source"} for item in items)  # what the dataset does not know is dropped
