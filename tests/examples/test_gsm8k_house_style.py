"""The bundled example project: its data is rebuilt byte for byte from GSM8K, and the linter finds what was planted."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from ftcore import read_examples
from ftdata.importers import import_files
from ftdata.lint import lint
from ftdata.project import Project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gsm8k-house-style"


@pytest.fixture(scope="module")
def build_module():
    spec = importlib.util.spec_from_file_location("gsm8k_house_style_build", EXAMPLE / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_data_is_rebuilt_byte_for_byte_from_gsm8k(build_module, gsm8k_path):
    examples, planted, reviews = build_module.build(gsm8k_path)
    written = "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in examples)
    assert written == (EXAMPLE / "candidates.jsonl").read_text(encoding="utf-8")
    assert json.loads((EXAMPLE / "planted.json").read_text()) == planted
    recorded = [json.loads(line) for line in (EXAMPLE / "recorded_reviews.jsonl").read_text().splitlines()]
    assert recorded == reviews
    assert len(examples) >= 600 and {r["annotator"] for r in reviews} == {"ana", "ben", "chen"}
    assert {r["values"]["verdict"] for r in reviews} == {"accept", "reject", "needs-edit"}
    corrections = [r for r in reviews if r["values"].get("corrected")]
    assert corrections and all(r["values"]["verdict"] == "needs-edit" for r in corrections)


def test_the_linter_finds_every_planted_problem(tmp_path):
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    for name in ("ftdata.yaml", "style.yaml", "train.yaml"):
        shutil.copy(EXAMPLE / name, project_dir / name)
    config = (project_dir / "ftdata.yaml").read_text()
    (project_dir / "ftdata.yaml").write_text(
        config.replace("../../annotation_guidelines", str(EXAMPLE.parents[1] / "annotation_guidelines"))
    )
    project = Project.open(project_dir, ("lint.tokenizer=null",))
    [imported] = import_files(project, [EXAMPLE / "candidates.jsonl"])
    planted = json.loads((EXAMPLE / "planted.json").read_text())
    candidates = read_examples(EXAMPLE / "candidates.jsonl")
    # Exact copies share their id (a content hash): the store keeps one, the import counts the rest.
    assert imported.added == len({e.id for e in candidates}) == len(candidates) - len(planted["exact_duplicate"])
    report = lint(project)
    flagged = {kind: {i for issue in report.issues[kind] for i in issue.ids} for kind in report.issues}
    assert set(planted["near_duplicate"]) <= flagged["near_duplicate"]
    assert set(planted["pii"]) <= flagged["pii"] and set(planted["secret"]) == flagged["secret"]
    assert set(planted["off_format"]) | set(planted["chatter"]) <= flagged["style"]
