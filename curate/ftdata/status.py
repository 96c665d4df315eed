"""`ftdata status`: how far the review is, per annotator, and how much the annotators agree.

Agreement (Argilla computes none) uses submitted answers only: Krippendorff's alpha on `verdict`
(nominal) and `style_score` (ordinal), pairwise Cohen's kappa, and the records they disagree on.

Usage:
    status = review_status(project, connection)
    status.verdict.alpha
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ftdata.agreement import AgreementReport, Answer, agreement
from ftdata.argilla_client import ArgillaConnection
from ftdata.project import Project
from ftdata.review import STYLE_SCORES, VERDICTS, ReviewError, find_dataset
from ftdata.snapshot import SnapshotRecord, fetch_records


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "completed": self.completed,
            "pending": self.records - self.completed,
            "annotators": [asdict(a) for a in self.annotators],
            "agreement": {"verdict": self.verdict.to_dict(), "style_score": self.style_score.to_dict()},
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
    return status_from_records(records, workspace_members)


def status_from_records(records: Sequence[SnapshotRecord], annotators: Sequence[str] = ()) -> ReviewStatus:
    """Progress and agreement from records (live or from a snapshot); `annotators` adds those with no answer yet."""
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
    for record in records:
        for response in record.submitted():
            for question in answers:
                if response.values.get(question) is not None:
                    answers[question].append(Answer(record.external_id, response.username, response.values[question]))
    return ReviewStatus(
        records=len(records),
        completed=sum(1 for record in records if record.status == "completed"),
        annotators=progress,
        verdict=agreement(answers["verdict"], "verdict", "nominal", list(VERDICTS)),
        style_score=agreement(answers["style_score"], "style_score", "ordinal", list(STYLE_SCORES)),
    )


def _workspace_annotators(connection: ArgillaConnection, workspace_id: str) -> list[str]:
    users = connection.request("GET", f"/api/v1/workspaces/{workspace_id}/users")["items"]
    return [u["username"] for u in users if u["role"] == "annotator"]
