"""The whole review against the real local Argilla: push, three annotators answering the way the UI
does, status and agreement, pull, export. Agreement figures are checked against hand computations."""

import json
import stat
import uuid
from pathlib import Path

import pytest
from review_helpers import make_review_project, remove_review_project

from ftdata import load_split
from ftdata.annotators import add_annotators, list_annotators
from ftdata.export import ExportError, export_dataset
from ftdata.review import answer_record, find_dataset, push
from ftdata.snapshot import Snapshot, list_snapshots, pull
from ftdata.status import review_status

pytestmark = pytest.mark.argilla
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def review_project(tmp_path_factory, gsm8k_rows, argilla_connection):
    rows = [dict(r) for r in gsm8k_rows[100:200] if "<<" in r["answer"]][:12]  # all in the house format
    rows.append({"question": gsm8k_rows[200]["question"], "answer": "Great question! It is 12."})  # off-format
    with_email = gsm8k_rows[201]["question"] + " Mail me at kim.lee@example.org."
    rows.append({"question": with_email, "answer": gsm8k_rows[201]["answer"]})
    style = REPO / "examples" / "quickstart" / "style.yaml"
    project = make_review_project(tmp_path_factory.mktemp("review"), rows, f"style={style}", "export.min_examples=5")
    yield project
    remove_review_project(project, argilla_connection)


def test_push_is_an_idempotent_upsert_with_suggestions(review_project, argilla_connection):
    first = push(review_project, argilla_connection)
    again = push(review_project, argilla_connection)
    assert first.pushed == again.pushed == 14
    dataset = find_dataset(review_project, argilla_connection.client())
    records = {r.id: r for r in dataset.records(with_suggestions=True)}
    assert len(records) == 14
    off_format = next(r for r in records.values() if r.fields["answer"].startswith("Great question"))
    assert off_format.suggestions["issues"].value == ["wrong-format"]
    assert "style" in off_format.metadata["lint_flags"]
    with_pii = next(r for r in records.values() if "kim.lee@" in str(r.fields["conversation"]))
    assert with_pii.suggestions["issues"].value == ["contains-PII"]
    assert dataset.settings.guidelines == (REPO / "annotation_guidelines" / "review.md").read_text().strip()
    assert dataset.settings.distribution.min_submitted == 2


def test_review_status_agreement_and_export(review_project, argilla_connection, tmp_path):
    push(review_project, argilla_connection)
    suffix = uuid.uuid4().hex[:6]
    names = [f"ann-a-{suffix}", f"ann-b-{suffix}", f"ann-c-{suffix}"]
    credentials_path = tmp_path / "credentials.json"
    created, path = add_annotators(review_project, argilla_connection, names, out=credentials_path)
    assert path == credentials_path and all(a.created for a in created)
    assert stat.S_IMODE(credentials_path.stat().st_mode) == 0o600
    keys = {c["username"]: c["api_key"] for c in json.loads(credentials_path.read_text())}
    a, b, c = (keys[n] for n in names)
    assert {m.username for m in list_annotators(review_project, argilla_connection)} >= set(names)

    snapshot = pull(review_project, argilla_connection)
    by_answer = sorted(snapshot.records, key=lambda r: r.answer)
    clean = [r for r in snapshot.records if not r.answer.startswith("Great") and "kim.lee@" not in str(r.conversation)]
    clean.sort(key=lambda r: r.external_id)
    off_format = next(r for r in by_answer if r.answer.startswith("Great"))
    r0, r1, r2, r3, r4, r5, *rest = clean
    corrected = r2.answer.replace("####", "So the answer is:\n####")

    def answer(key, record, status="submitted", **values):
        answer_record(argilla_connection, key, record.server_id, values, status)

    answer(a, r0, verdict="accept", style_score=5)
    answer(b, r0, verdict="accept", style_score=4)
    answer(c, r0, verdict="accept", style_score=5)
    answer(a, r1, verdict="accept", style_score=4)  # the disagreement: a tie goes to adjudication
    answer(b, r1, verdict="reject", style_score=2, issues=["factually-wrong"])
    answer(a, r2, verdict="needs-edit", style_score=3, issues=["off-style"], corrected=corrected)
    answer(b, r2, verdict="needs-edit", style_score=3, corrected=corrected)
    answer(a, r3, verdict="reject", style_score=1)
    answer(b, r3, verdict="reject", style_score=2)
    answer(a, r4, "draft", verdict="accept")  # a draft counts for nothing
    answer(a, r5, "discarded")
    answer(b, r5, verdict="accept", style_score=5)
    answer(c, r5, verdict="accept", style_score=5)
    for record in [*rest, off_format]:
        answer(a, record, verdict="accept", style_score=5)
        answer(b, record, verdict="accept", style_score=5)

    status = review_status(review_project, argilla_connection)
    progress = {p.username: p for p in status.annotators}
    assert (progress[names[0]].submitted, progress[names[0]].discarded, progress[names[0]].draft) == (11, 1, 1)
    assert (progress[names[1]].submitted, progress[names[2]].submitted) == (12, 2)
    # Verdict coincidences (nominal): accept-accept 19 (r0: 3, r5: 2, seven more pairs: 14), accept-reject
    # 1+1 (r1), needs-edit 2 (r2), reject 2 (r3); n = 25, n_accept 20, n_reject 3, n_needs-edit 2.
    # D_o = 2/25; D_e = 2(20*3 + 20*2 + 3*2)/(25*24) = 212/600; alpha = 1 - D_o/D_e = 41/53.
    assert status.verdict.alpha == pytest.approx(41 / 53)
    # a and b share 11 records and agree on 10: p_o = 10/11; a: 9 accept, 1 reject, 1 needs-edit;
    # b: 8 accept, 2 reject, 1 needs-edit; p_e = (72 + 2 + 1)/121; kappa = (110 - 75)/(121 - 75) = 35/46.
    kappa_ab = next(k for k in status.verdict.pairwise_kappa if {k.first, k.second} == {names[0], names[1]})
    assert kappa_ab.kappa == pytest.approx(35 / 46) and kappa_ab.shared_records == 11
    assert [d.record_id for d in status.verdict.disagreements] == [r1.external_id]
    assert status.completed == 12  # every record with two submitted reviews: all but r4 and the PII one

    snapshot = pull(review_project, argilla_connection)
    assert list_snapshots(review_project)[-1] == snapshot.id
    assert snapshot.info["responses"] == {"discarded": 1, "draft": 1, "submitted": 25}
    assert stat.S_IMODE((review_project.snapshots_path / snapshot.id / "records.parquet").stat().st_mode) == 0o444
    # Nothing changed on the server: pulling again keeps the latest snapshot (so exports stay byte-identical).
    again = pull(review_project, argilla_connection)
    assert again.unchanged and again.id == snapshot.id == list_snapshots(review_project)[-1]

    out = tmp_path / "export"
    result = export_dataset(review_project, out=out)
    manifest = result.manifest
    assert sum(manifest.counts().values()) == 9  # r0, r2 (corrected), r5 and the six others
    assert manifest.drops == {
        "breaks the style spec after review": 1,
        "fewer than 2 submitted verdicts (quorum)": 2,  # r4 (a draft only) and the unanswered PII record
        "rejected by reviewers": 1,
    }
    assert [entry["id"] for entry in result.adjudication] == [r1.external_id]
    assert result.adjudication[0]["reason"] == "no majority verdict"
    assert manifest.guideline_version == snapshot.info["guideline_version"]
    assert manifest.agreement["verdict"]["alpha"] == pytest.approx(41 / 53)
    assert manifest.source_snapshot.endswith(f"@{snapshot.id} (sha256 {snapshot.info['content_sha256'][:16]})")

    everything = [e for split in manifest.splits for e in load_split(out, split)]
    answers = {e.completion for e in everything}
    assert corrected.strip() in answers and r2.answer not in answers
    assert all(e.metadata == {} for e in everything)  # JSONL carries messages only (OpenAI format)
    for line in (out / "train.jsonl").read_text().splitlines():
        assert list(json.loads(line)) == ["messages"]
    assert {p.name for p in out.iterdir()} == {
        "train.jsonl", "validation.jsonl", "test.jsonl", "dataset", "parquet", "adjudication.jsonl",
        "review_design.json", "ftdata.resolved.yaml", "manifest.json",
    }  # fmt: skip

    import datasets

    saved = datasets.load_from_disk(str(out / "dataset"))
    train_row = saved["train"][0]
    assert json.loads(train_row["metadata"])["review"]["outcome"] in {"accepted", "corrected"}
    assert "source" in json.loads(train_row["metadata"])

    again = tmp_path / "export-again"
    export_dataset(review_project, snapshot_id=snapshot.id, out=again)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((out / f).read_bytes() == (again / f).read_bytes() for f in files), "export is not reproducible"

    review_project.config.export.min_examples = 100
    with pytest.raises(ExportError, match="only 9 examples to export"):
        export_dataset(review_project, out=tmp_path / "too-small")
    assert not (tmp_path / "too-small").exists()
    assert Snapshot.load(review_project).id == snapshot.id
