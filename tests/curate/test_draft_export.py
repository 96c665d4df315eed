"""What export and stats make of drafted examples, without a server (the loop against Argilla is in
test_draft_review.py): a draft is trained on only with a reviewer's own verdict, the manifest counts human-written,
drafted-accepted and drafted-corrected examples, and both warn when unedited drafts are most of the set."""

import pytest
from draft_helpers import STYLE, drafting_project, house_rows
from test_draft import reviewed, write_snapshot

from ftcore.example import Message
from ftcore.generate import Answer, Candidate
from ftcore.style import StyleSpec
from ftdata import load_split
from ftdata.draft import PromptRow, _draft_example
from ftdata.export import UNREVIEWED_DRAFT, ExportError, export_dataset
from ftdata.stats import compute_stats
from ftdata.store import Store


def add_drafts(project, rows):
    """`rows` drafted (each answer the model's only candidate), through drafting's own example maker."""
    spec = StyleSpec.load(STYLE)
    drafts = []
    for number, row in enumerate(rows, start=1):
        prompt = PromptRow((Message("user", row["question"]),), None, {"source": "questions.jsonl", "row": number})
        answer = Answer((Candidate(row["answer"], 40, "stop"),), 30, 0.1)
        drafts.append(_draft_example(prompt, answer, spec, {"model": "teacher", "backend": "endpoint"}))
    store = Store(project.store_path)
    with store.lock():
        snapshot = store.read()
        snapshot.examples.extend(drafts)
        store.commit(snapshot, "draft", f"{len(drafts)} drafted by teacher")
    return drafts


@pytest.fixture
def reviewed_project(tmp_path, gsm8k_rows):
    """6 human-written examples and 5 drafts, reviewed: every human one accepted by two reviewers; drafts accepted,
    corrected, bulk-accepted by a lead only, accepted by one reviewer only, and not reviewed at all."""
    project = drafting_project(tmp_path / "p", house_rows(gsm8k_rows, 0, 6), "export.min_examples=1")
    humans = Store(project.store_path).read().examples
    accepted, corrected, bulk, single, untouched = add_drafts(project, house_rows(gsm8k_rows, 300, 5))
    fixed = corrected.completion.replace("####", "So the answer is:\n####")
    write_snapshot(project, [
        *(reviewed(h, "accept", "accept") for h in humans),
        reviewed(accepted, "accept", "accept"),
        reviewed(corrected, "needs-edit", "needs-edit", corrected=fixed),
        reviewed(bulk, "accept", bulk_by="r0"),  # a lead's bulk accept: enough for a human answer, not for a draft
        reviewed(single, "accept"),
        reviewed(untouched),
    ])  # fmt: skip
    return project, {"accepted": accepted, "corrected": corrected, "bulk": bulk, "fixed": fixed}


def test_export_trains_on_a_draft_only_with_a_reviewers_verdict_and_counts_origins(reviewed_project, tmp_path):
    project, drafts = reviewed_project
    result = export_dataset(project, out=tmp_path / "export")
    manifest = result.manifest
    assert manifest.origins == {"human-written": 6, "drafted-accepted": 1, "drafted-corrected": 1}
    assert sum(manifest.counts().values()) == 8
    # The bulk-accepted and the untouched draft: no reviewer's own verdict; the single review: below the quorum.
    assert manifest.drops == {UNREVIEWED_DRAFT: 2, "fewer than 2 submitted verdicts (quorum)": 1}
    answers = {e.completion for split in manifest.splits for e in load_split(tmp_path / "export", split)}
    assert drafts["accepted"].completion in answers and drafts["fixed"] in answers
    assert drafts["corrected"].completion not in answers and drafts["bulk"].completion not in answers
    assert not any("unedited" in w for w in result.warnings)  # 1 of 8


def test_export_and_stats_warn_when_unedited_drafts_are_most_of_the_set(reviewed_project, tmp_path):
    project, _ = reviewed_project
    project.config.export.max_unedited_drafts = 0.1  # 1 of 8 (12.5 %) is more
    result = export_dataset(project, out=tmp_path / "export")
    [warning] = [w for w in result.warnings if "unedited" in w]
    assert warning.startswith("12 % of the set (1 of 8) is model drafts accepted unedited, more than 10 %")

    stats = compute_stats(project)
    assert stats.origins == {"human": 6, "drafted": 5}
    assert stats.reviewed == {"human-written": 6, "drafted-accepted": 1, "drafted-corrected": 1}
    assert stats.snapshot == "20260101T000000Z-draft"
    assert [w.split(": ", 1)[1][:40] for w in stats.warnings] == [warning[:40]]


def test_a_set_of_nothing_but_unreviewed_drafts_does_not_export(tmp_path, gsm8k_rows):
    project = drafting_project(tmp_path / "p", [], "export.min_examples=1")
    drafts = add_drafts(project, house_rows(gsm8k_rows, 300, 3))
    write_snapshot(project, [reviewed(d, "accept", bulk_by="r0") for d in drafts])
    with pytest.raises(ExportError, match="only 0 examples to export"):
        export_dataset(project, out=tmp_path / "export")
    assert not (tmp_path / "export").exists()
