"""The annotator's path through Argilla's real web UI: sign in, read the guidelines and the record,
answer it with clicks, submit; `ftdata pull` then holds exactly that answer. Drives Debian's
chromium (scripts/install-browser.sh) with Playwright against the real local Argilla."""

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from review_helpers import GUIDELINES, make_review_project, remove_review_project

from ftdata.annotators import add_annotators
from ftdata.review import find_dataset, push
from ftdata.snapshot import pull

pytestmark = [pytest.mark.argilla, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
# The closed network refuses the browser's own background connections; without these flags it
# waits on them. Each launch gets a fresh temporary profile (user-data dir) from Playwright.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STYLE_SCORE = 4  # not 5, so a click that lands on a neighbour shows in the snapshot


@pytest.fixture(scope="module")
def review_project(tmp_path_factory, gsm8k_rows, argilla_connection):
    rows = [dict(r) for r in gsm8k_rows[100:130] if "<<" in r["answer"]][:4]
    project = make_review_project(tmp_path_factory.mktemp("review-browser"), rows)
    push(project, argilla_connection)
    yield project
    remove_review_project(project, argilla_connection)


@pytest.fixture
def annotator(review_project, argilla_connection, tmp_path):
    """One annotator of the project's workspace: (username, password), deleted afterwards."""
    username = f"ann-ui-{uuid.uuid4().hex[:6]}"
    (created,), path = add_annotators(review_project, argilla_connection, [username], out=tmp_path / "creds.json")
    (credentials,) = json.loads(path.read_text())
    yield username, credentials["password"]
    argilla_connection.request("DELETE", f"/api/v1/users/{created.user_id}")


@contextmanager
def browser_page(screenshot_on_failure: Path) -> Iterator[Page]:
    """A page in a fresh headless chromium; on an error, what it showed is saved to `screenshot_on_failure`."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh (as root) to install Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            # Tall enough that the filled form, the record and the open guidelines fit in one screenshot.
            context = browser.new_context(viewport={"width": 1400, "height": 1600})
            context.set_default_timeout(15_000)
            page = context.new_page()
            try:
                yield page
            except BaseException:
                with suppress(Exception):  # never hide the real error behind a failed screenshot
                    page.screenshot(path=screenshot_on_failure)
                raise
        finally:
            browser.close()


def test_annotator_submits_through_the_ui(review_project, annotator, argilla_connection, argilla_client, tmp_path):
    username, password = annotator
    url = argilla_connection.api_url
    dataset = find_dataset(review_project, argilla_client)
    guidelines = GUIDELINES.read_text(encoding="utf-8")
    raw = (review_project.root / "raw.jsonl").read_text().splitlines()
    pushed_answers = {json.loads(line)["answer"].strip() for line in raw}

    with browser_page(tmp_path / "failure.png") as page:
        page.goto(f"{url}/sign-in")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).not_to_have_url(re.compile(r"/sign-in"), timeout=30_000)  # seconds on a loaded machine

        page.goto(f"{url}/dataset/{dataset.id}/annotation-mode")
        verdict = page.get_by_label("Question: verdict")
        style = page.get_by_label("Question: style_score")
        expect(verdict).to_contain_text("Verdict")
        expect(style).to_contain_text("Style (1-5)")

        # The guidelines sit in a collapsed panel below the record.
        page.get_by_role("button", name="Expand Panel").filter(has_text="Guidelines").click()
        for heading in re.findall(r"^#{1,2} (.+)$", guidelines, flags=re.MULTILINE):
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()

        # Argilla gives a text field's content no role or label of its own: found by its title.
        title = page.get_by_text("Candidate answer", exact=True)
        shown = page.locator(".text_field_component").filter(has=title).locator(".content-area")
        expect(shown).to_contain_text("####")
        shown_answer = shown.inner_text().strip()
        assert shown_answer in pushed_answers, f"the UI shows an answer that was never pushed: {shown_answer[:200]!r}"

        verdict.get_by_role("button", name="accept", exact=True).click()
        style.get_by_role("button", name=str(STYLE_SCORE), exact=True).click()
        expect(verdict.get_by_role("checkbox", name="accept")).to_be_checked()
        expect(style.get_by_role("checkbox", name=str(STYLE_SCORE), exact=True)).to_be_checked()
        submit = page.get_by_role("button", name="Submit")
        expect(submit).to_be_enabled()
        page.screenshot(path=tmp_path / "annotator-submits.png")

        with page.expect_response(
            lambda r: r.request.method == "POST" and re.search(r"/api/v1/records/[^/]+/responses$", r.url) is not None
        ) as posted:
            submit.click()
        assert posted.value.status == 201, posted.value.text()
        record_id = posted.value.url.split("/")[-2]

    snapshot = pull(review_project, argilla_connection)
    mine = [(record, r) for record in snapshot.records for r in record.responses if r.username == username]
    assert [(record.server_id, r.status, r.values) for record, r in mine] == [
        (record_id, "submitted", {"verdict": "accept", "style_score": STYLE_SCORE})
    ]
    assert mine[0][0].answer.strip() == shown_answer
