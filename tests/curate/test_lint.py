"""`ftdata check` on planted problems: each kind is found, and not found in clean data."""

import json

import pytest
from click.testing import CliRunner

from ftcore.style import StyleSpec
from ftdata import Example
from ftdata.cli import main
from ftdata.importers import ColumnMap, import_files
from ftdata.lint import lint, lint_snapshot
from ftdata.project import LintConfig, Project, init_project
from ftdata.store import StoreSnapshot

REPO_STYLE = "examples/quickstart/style.yaml"


@pytest.fixture(scope="module")
def clean_examples(gsm8k_rows):
    return [
        Example.from_prompt_completion(r["question"], r["answer"], metadata={"source": "gsm8k.jsonl", "row": i})
        for i, r in enumerate(gsm8k_rows[:300], start=1)
    ]


@pytest.fixture(scope="module")
def spec():
    from pathlib import Path

    return StyleSpec.load(Path(__file__).resolve().parents[2] / REPO_STYLE)


def config(**changes):
    return LintConfig(**{"min_examples_error": 5, "min_examples_warning": 10, **changes})


def run(examples, spec=None, tokenizer=None, rejected=(), **changes):
    return lint_snapshot(StoreSnapshot(list(examples), list(rejected)), config(**changes), spec, tokenizer)


def test_clean_gsm8k_has_no_problems(clean_examples, spec, tiny_tokenizer_dir):
    from ftdata.tokens import load_tokenizer

    report = run(clean_examples, spec, load_tokenizer(str(tiny_tokenizer_dir)), max_seq_len=4096)
    # Real GSM8K: a few answers carry no <<expr=value>> note at all; the style check must find exactly those.
    without_notes = {e.id for e in clean_examples if "<<" not in e.completion}
    assert 0 < len(without_notes) < 15
    assert {i for issue in report.issues["style"] for i in issue.ids} == without_notes
    assert report.style_failures["calculator-notes"] == len(without_notes)
    others = {kind: n for kind, n in report.counts().items() if kind != "style"}
    assert others == dict.fromkeys(others, 0), {k: v[:2] for k, v in report.issues.items() if v}
    assert report.usable == 300
    assert report.skipped == {"split_leakage": "no splits yet (`ftdata export` assigns them)"}


def _variant(example, question=None, answer=None, **metadata):
    return Example.from_prompt_completion(
        question if question is not None else example.messages[0].content,
        answer if answer is not None else example.completion,
        metadata={**example.metadata, **metadata},
    )


def test_exact_and_near_duplicates(clean_examples):
    base = clean_examples[:50]
    exact = _variant(base[0], question=base[0].messages[0].content.upper() + "  ", row=901)
    words = base[1].messages[0].content.split()
    near = _variant(base[1], question=" ".join([*words[:-2], "please", "answer", words[-1]]), row=902)
    report = run([*base, exact, near])
    [group] = report.issues["exact_duplicate"]
    assert set(group.ids) == {base[0].id, exact.id} and "gsm8k.jsonl:901" in group.locations
    [cluster] = report.issues["near_duplicate"]
    assert set(cluster.ids) == {base[1].id, near.id}
    assert report.usable == 51  # the extra exact copy does not count


def test_leakage_once_splits_exist(clean_examples):
    train = [_variant(e, split="train") for e in clean_examples[:40]]
    test = [_variant(e, split="test") for e in clean_examples[40:50]]
    leaked = _variant(clean_examples[3], answer="A different answer.\n#### 1", split="test")
    report = run([*train, *test, leaked])
    [leak] = report.issues["split_leakage"]
    assert leak.ids == [leaked.id, train[3].id] and "repeats a train prompt" in leak.message
    assert "split_leakage" not in report.skipped


def test_pii_and_secrets(clean_examples):
    base = clean_examples[:20]
    email = _variant(base[0], question=base[0].messages[0].content + " Reply to ana.garcia@example.org.", row=7)
    card = _variant(base[1], answer="Card 4111 1111 1111 1111 was charged.\n#### 4")
    key = _variant(base[2], answer="Use key AKIAIOSFODNN7EXAMPLE to upload.\n#### 1")
    report = run([*base, email, card, key])
    pii_ids = {i for issue in report.issues["pii"] for i in issue.ids}
    assert pii_ids == {email.id, card.id}
    assert [issue.ids for issue in report.issues["secret"]] == [[key.id]]
    assert report.severity("secret") == "error"
    text = json.dumps(report.to_dict())
    assert "ana.garcia@example.org" not in text and "4111 1111 1111 1111" not in text  # masked in reports
    assert "AKIAIOSFODNN7EXAMPLE" not in text


def test_length_with_the_tokenizer(clean_examples, tiny_tokenizer_dir):
    from ftdata.tokens import load_tokenizer

    long_answer = "Step. " * 400 + "\n#### 1"
    long = _variant(clean_examples[0], answer=long_answer, row=77)
    report = run([*clean_examples[:20], long], tokenizer=load_tokenizer(str(tiny_tokenizer_dir)), max_seq_len=512)
    [issue] = report.issues["too_long"]
    assert issue.ids == [long.id] and "> max_seq_len 512" in issue.message
    assert report.token_summary["max"] > 512


def test_style_failures_counted_per_check(clean_examples, spec):
    off_format = _variant(clean_examples[0], answer="Great question! The answer is 72.")
    no_notes = _variant(clean_examples[1], answer="She sold 72 clips.\n#### 72")
    report = run([*clean_examples[:20], off_format, no_notes], spec)
    assert {tuple(i.ids) for i in report.issues["style"]} == {(off_format.id,), (no_notes.id,)}
    assert report.style_failures == {
        "final-answer-line": 1,
        "calculator-notes": 2,
        "no-chatter": 1,
        "length:max_words": 0,
    }


def test_count_guardrails(clean_examples):
    assert run(clean_examples[:4]).severity("example_count") == "error"
    assert run(clean_examples[:7]).severity("example_count") == "warning"
    assert run(clean_examples[:12]).counts()["example_count"] == 0


def test_schema_rows_from_import(tmp_path):
    init_project(tmp_path)
    project = Project.open(tmp_path)
    source = tmp_path / "raw.jsonl"
    good = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}
    bad = {"messages": [{"role": "assistant", "content": "A"}, {"role": "user", "content": "Q"}]}
    source.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    import_files(project, [source])
    report = lint(project)
    [issue] = report.issues["schema"]
    assert issue.locations == ["raw.jsonl:2"] and "messages[0].role: expected 'user'" in issue.message


def test_cli_check_exit_codes_and_json(tmp_path, gsm8k_rows):
    init_project(tmp_path)
    source = tmp_path / "gsm8k.jsonl"
    rows = gsm8k_rows[:60] + gsm8k_rows[:1]  # one exact duplicate
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    project = Project.open(tmp_path)
    import_files(project, [source], mapping=ColumnMap.parse("user=question,assistant=answer"))
    runner = CliRunner()
    args = ["check", "--project", str(tmp_path)]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 1  # duplicate + fewer than 500 examples: warnings
    report = json.loads(result.stdout)
    assert report["counts"]["exact_duplicate"] == 0  # re-import of the same row adds nothing: ids are stable
    assert report["counts"]["example_count"] == 1 and report["usable"] == 60
    assert runner.invoke(main, [*args, "--fail-on", "error"]).exit_code == 0
    text = runner.invoke(main, args)
    assert "example_count" in text.output and "60 usable" in text.output
    bad_style = runner.invoke(main, [*args, "--style", "missing.yaml"])
    assert bad_style.exit_code == 2 and "missing.yaml: not found" in bad_style.output
