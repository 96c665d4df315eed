"""`ftdata status`: how far the review is, per annotator, and how much the annotators agree.

Agreement (Argilla computes none) uses submitted answers only: Krippendorff's alpha on `verdict`
(nominal) and `style_score` (ordinal), pairwise Cohen's kappa, and the records they disagree on
(named by the project's own id column too, e.g. `ticket_id T-0300`, when it has one). A lead's bulk
accepts (`ftdata accept`) are counted apart and left out of agreement: they are one decision about
many records, not a reviewer's judgement of each.

Usage:
    status = review_status(project, connection)
    status.verdict.alpha
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ftdata.agreement import AgreementReport, Answer, agreement
from ftdata.argilla_client import ArgillaConnection
from ftdata.project import Project
from ftdata.review import BULK_ACCEPT_KEY, STYLE_SCORES, VERDICTS, ReviewError, find_dataset
from ftdata.snapshot import Response, SnapshotRecord, fetch_records


@dataclass(frozen=True)
class AnnotatorProgress:
    username: str
    submitted: int
    discarded: int
    draft: int
    pending: int  # records still open for review that this annotator has not answered


@dataclass
class ReviewStatus:
    records: int
    completed: int  # records with as many submitted reviews as the distribution asks for
    annotators: list[AnnotatorProgress]
    verdict: AgreementReport
    style_score: AgreementReport
    labels: dict[str, str] = field(default_factory=dict)  # record id -> "ticket_id T-0300" (the id column)
    bulk_accepts: dict[str, int] = field(default_factory=dict)  # lead -> records accepted in bulk

    def label(self, record_id: str) -> str:
        """`ex_1a2b… (ticket_id T-0300)`: how status names a record."""
        return f"{record_id} ({self.labels[record_id]})" if record_id in self.labels else record_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "completed": self.completed,
            "pending": self.records - self.completed,
            "annotators": [asdict(a) for a in self.annotators],
            "agreement": {"verdict": self.verdict.to_dict(), "style_score": self.style_score.to_dict()},
            "labels": self.labels,
            "bulk_accepts": self.bulk_accepts,
        }


def review_status(project: Project, connection: ArgillaConnection) -> ReviewStatus:
    """The live state of the project's review on the server."""
    dataset = find_dataset(project, connection.client())
    if dataset is None:
        raise ReviewError(f"no Argilla dataset {project.config.dataset!r} yet: run `ftdata push` first")
    users = connection.request("GET", "/api/v1/users")["items"]
    usernames = {u["id"]: u["username"] for u in users}
    workspace_members = _workspace_annotators(connection, str(dataset.workspace.id))
    min_submitted = getattr(dataset.settings.distribution, "min_submitted", None)
    records = list(fetch_records(connection, str(dataset.id), usernames, progress=None, min_submitted=min_submitted))
    return status_from_records(records, workspace_members, project.config.id_column)


def status_from_records(
    records: Sequence[SnapshotRecord], annotators: Sequence[str] = (), id_column: str | None = None
) -> ReviewStatus:
    """Progress and agreement from records (live or from a snapshot); `annotators` adds those with no answer yet;
    `id_column` names the metadata that labels a record for people (the user's own id, e.g. ticket_id)."""
    names = sorted({r.username for record in records for r in record.responses} | set(annotators))
    progress = []
    open_records = [record for record in records if record.status != "completed"]
    for name in names:
        answered = [r for record in records for r in record.responses if r.username == name]
        statuses = [r.status for r in answered]
        answered_open = sum(1 for record in open_records if any(r.username == name for r in record.responses))
        progress.append(
            AnnotatorProgress(
                username=name,
                submitted=statuses.count("submitted"),
                discarded=statuses.count("discarded"),
                draft=statuses.count("draft"),
                pending=len(open_records) - answered_open,
            )
        )
    answers = {"verdict": [], "style_score": []}
    bulk: Counter[str] = Counter()
    for record in records:
        for response in record.submitted():
            if is_bulk_accept(record, response):
                bulk[response.username] += 1
                continue
            for question in answers:
                if response.values.get(question) is not None:
                    answers[question].append(Answer(record.external_id, response.username, response.values[question]))
    labels = {}
    if id_column:
        labels = {
            r.external_id: f"{id_column} {r.metadata[id_column]}"
            for r in records
            if r.metadata.get(id_column) not in (None, "")
        }
    return ReviewStatus(
        records=len(records),
        completed=sum(1 for record in records if record.status == "completed"),
        annotators=progress,
        verdict=agreement(answers["verdict"], "verdict", "nominal", list(VERDICTS)),
        style_score=agreement(answers["style_score"], "style_score", "ordinal", list(STYLE_SCORES)),
        labels=labels,
        bulk_accepts=dict(sorted(bulk.items())),
    )


def is_bulk_accept(record: SnapshotRecord, response: Response) -> bool:
    """Whether a response is a lead's bulk accept (`ftdata accept` marks the record with the lead's name)."""
    return record.metadata.get(BULK_ACCEPT_KEY) == response.username and response.values.get("verdict") == "accept"


def _workspace_annotators(connection: ArgillaConnection, workspace_id: str) -> list[str]:
    users = connection.request("GET", f"/api/v1/workspaces/{workspace_id}/users")["items"]
    return [u["username"] for u in users if u["role"] == "annotator"]
