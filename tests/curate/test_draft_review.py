"""Drafts through the review against the real local Argilla: `ftdata draft` with the tiny local model, `push` sends
each draft as the pre-filled suggestion for `corrected` (agent: the model, score: its style pass rate; read back
through the API) with the other candidates in a field and `origin` as filterable metadata; a lead's bulk accept
passes drafts by; annotators accept or correct them; export trains only on reviewed drafts and says how many of
each kind it holds."""

import json
import re
import uuid

import pytest
from draft_helpers import STYLE, house_rows, write_prompts
from review_helpers import make_review_project, remove_review_project

from ftdata import load_split
from ftdata.accept import accept_unflagged
from ftdata.annotators import add_annotators
from ftdata.draft import agent_name, chosen_candidate, draft_prompts
from ftdata.export import UNREVIEWED_DRAFT, export_dataset
from ftdata.importers import ColumnMap
from ftdata.review import OTHER_DRAFTS_FIELD, answer_record, find_dataset, push
from ftdata.snapshot import pull
from ftdata.store import Store

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


@pytest.fixture
def drafted(tmp_path, gsm8k_rows, tiny_model_dir, argilla_connection):
    """6 human-written examples and 3 drafts by the tiny model (3 candidates each), in a workspace of its own."""
    overrides = (f"style={STYLE}", "export.min_examples=1", "draft.max_new_tokens=12", "draft.n=3")
    project = make_review_project(tmp_path / "project", house_rows(gsm8k_rows, 0, 6), *overrides)
    prompts = write_prompts(tmp_path / "questions.jsonl", [r["question"] for r in gsm8k_rows[800:803]])
    mapping = ColumnMap.parse("user=question", answer_required=False)
    result = draft_prompts(project, [prompts], mapping=mapping, model=str(tiny_model_dir))
    assert result.drafted == 3
    yield project
    remove_review_project(project, argilla_connection)


def test_drafts_are_pre_filled_suggestions_that_reviewers_accept_or_correct(drafted, argilla_connection, tmp_path):
    project = drafted
    examples = Store(project.store_path).read().examples
    drafts = {e.id: e for e in examples if e.metadata.get("origin") == "drafted"}
    result = push(project, argilla_connection)
    assert (result.pushed, result.drafted, result.notes) == (9, 3, [])

    dataset = find_dataset(project, argilla_connection.client())
    records = {r.id: r for r in dataset.records(with_suggestions=True)}
    assert {r.metadata["origin"] for r in records.values()} == {"human", "drafted"}
    for example_id, example in drafts.items():
        record = records[example_id]
        suggestion = record.suggestions["corrected"]
        draft = example.metadata["draft"]
        assert suggestion.value == example.completion == record.fields["answer"]
        assert suggestion.agent == agent_name(draft["model"]) and suggestion.type == "model"
        assert suggestion.score == pytest.approx(chosen_candidate(example.metadata)["pass_rate"])
        assert record.metadata["origin"] == "drafted"
        shown = record.fields[OTHER_DRAFTS_FIELD]
        assert shown.startswith(f'The draft (pre-filled in "corrected") is candidate {draft["chosen"] + 1} of 3')
        for number, candidate in enumerate(draft["candidates"], start=1):
            if number - 1 != draft["chosen"] and candidate["text"].strip() and candidate["text"] != example.completion:
                assert candidate["text"] in shown
    for record in records.values():
        if record.id not in drafts:
            assert "corrected" not in record.suggestions and record.metadata["origin"] == "human"
            assert not record.fields.get(OTHER_DRAFTS_FIELD)
    assert push(project, argilla_connection).drafted == 3  # pushing again updates in place
    assert len(list(dataset.records())) == 9

    # A lead's bulk accept never takes a draft: a reviewer's own verdict is needed.
    bulk = accept_unflagged(project, argilla_connection)
    assert bulk.skipped.get("a model's draft (a reviewer's own verdict is needed)") == 3

    suffix = uuid.uuid4().hex[:6]
    _, path = add_annotators(project, argilla_connection, [f"ann-a-{suffix}", f"ann-b-{suffix}"], out=tmp_path / "c")
    keys = [entry["api_key"] for entry in json.loads(path.read_text())]
    snapshot = pull(project, argilla_connection)
    by_id = {r.external_id: r for r in snapshot.records}
    accepted_id, corrected_id, untouched_id = sorted(drafts)
    fixed = "Twelve in all: 5 + 7 = <<5+7=12>>12\n#### 12"
    for key in keys:
        answer_record(argilla_connection, key, by_id[accepted_id].server_id, {"verdict": "accept", "style_score": 2})
        answer_record(
            argilla_connection,
            key,
            by_id[corrected_id].server_id,
            {"verdict": "needs-edit", "style_score": 1, "corrected": fixed},
        )
    snapshot = pull(project, argilla_connection)
    export = export_dataset(project, out=tmp_path / "export", allow_small=True)
    manifest = export.manifest
    # Human-written: accepted in bulk by the lead (enough alone when nobody disagrees); the corrected draft kept
    # with its correction; the accepted draft breaks the style spec, as a 135 M model's drafts do (dropped by the
    # export's own style check); the untouched one had no reviewer.
    assert manifest.origins == {"human-written": 6, "drafted-accepted": 0, "drafted-corrected": 1}
    assert manifest.drops == {UNREVIEWED_DRAFT: 1, "breaks the style spec after review": 1}
    assert json.loads((tmp_path / "export" / "manifest.json").read_text())["origins"] == manifest.origins
    trained = {e.completion for split in manifest.splits for e in load_split(tmp_path / "export", split)}
    assert fixed in trained
    assert not trained & {drafts[i].completion for i in (accepted_id, corrected_id, untouched_id)}


def test_the_annotator_sees_the_draft_pre_filled_in_the_ui(tmp_path, gsm8k_rows, tiny_model_dir, argilla_connection):
    from playwright.sync_api import expect
    from test_review_browser import browser_page

    overrides = (f"style={STYLE}", "draft.max_new_tokens=12", "draft.n=2")
    project = make_review_project(tmp_path / "project", [], *overrides)
    try:
        prompts = write_prompts(tmp_path / "questions.jsonl", [r["question"] for r in gsm8k_rows[900:902]])
        mapping = ColumnMap.parse("user=question", answer_required=False)
        model = draft_prompts(project, [prompts], mapping=mapping, model=str(tiny_model_dir)).model
        drafts = {e.completion.strip() for e in Store(project.store_path).read().examples}
        assert len(drafts) == 2
        push(project, argilla_connection)
        username = f"ann-ui-{uuid.uuid4().hex[:6]}"
        _, path = add_annotators(project, argilla_connection, [username], out=tmp_path / "creds.json")
        (credentials,) = json.loads(path.read_text())
        dataset = find_dataset(project, argilla_connection.client())
        url = argilla_connection.api_url
        with browser_page(tmp_path / "failure.png") as page:
            page.goto(f"{url}/sign-in")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(credentials["password"])
            page.get_by_role("button", name="Sign in").click()
            # Signed in only once the app has left the sign-in page (a loaded machine takes seconds).
            expect(page).not_to_have_url(re.compile(r"/sign-in"), timeout=30_000)
            page.goto(f"{url}/dataset/{dataset.id}/annotation-mode")
            corrected = page.get_by_label("Question: corrected")
            expect(corrected).to_contain_text("Corrected answer", timeout=30_000)
            # The suggestion fills the text box (a rich editor, not a <textarea>), marked with the drafting model.
            box = corrected.get_by_role("textbox")
            expect(box).not_to_be_empty()
            assert box.inner_text().strip() in drafts
            expect(corrected).to_contain_text(re.compile(r"Suggestion\s*" + re.escape(agent_name(model))))
            title = page.get_by_text("The model's other drafts (a drafted answer only)", exact=True)
            others = page.locator(".text_field_component").filter(has=title).locator(".content-area")
            expect(others).to_contain_text('The draft (pre-filled in "corrected") is candidate')
            page.screenshot(path=tmp_path / "draft-pre-filled.png")
    finally:
        remove_review_project(project, argilla_connection)
