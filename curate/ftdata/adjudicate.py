"""`ftdata adjudicate`: the records the consensus cannot settle go to a senior reviewer, and back.

The adjudication queue (no majority verdict, different corrections, needs-edit without a correction,
corrections to confirm) of the latest snapshot is pushed into a second Argilla dataset,
`<dataset>-adjudication`, in the senior review's own workspace (`<workspace>-senior`, or
`review.senior_workspace`), so annotators of the main review never see it; its members are the senior
reviewers (`ftdata annotators add NAME --senior`). Each record shows the conversation, the candidate
answer and every review it got; the senior answers `verdict` and, with needs-edit, `corrected`.
`ftdata pull` copies their decisions into the snapshot and `ftdata export` applies them: a senior's
decision overrides the consensus. Pushing again upserts (decisions kept) and adds what is newly queued.

Usage:
    result = push_adjudication(Project.open("."), ArgillaConnection.from_env())
    result.pushed, result.reasons
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ftcore import __version__
from ftdata.argilla_client import ArgillaConnection
from ftdata.project import Project
from ftdata.review import (
    MAX_BULK_RECORDS,
    VERDICTS,
    find_senior_dataset,
    guidelines_text,
    quietly,
    senior_dataset_name,
    senior_workspace,
    user_columns,
)

if TYPE_CHECKING:
    import argilla as rg

    from ftdata.snapshot import SnapshotRecord

SUGGESTION_AGENT = f"ftdata adjudicate {__version__}"
# What the senior reads first in the Argilla UI; the project's own guidelines follow it.
SENIOR_INSTRUCTIONS = """# Adjudication: the final word

These records came back from the review without a decision: the reviewers split, wrote different
corrections, or asked for an edit without writing one. Each shows every review it got. Your answer is
final: the next `ftdata export` applies it in place of the reviewers' votes.

- **accept**: the candidate answer goes into the training set as it is.
- **needs-edit**: write the answer to train on in **corrected** (a reviewer's correction is suggested
  when there is one); without a correction the record stays in the queue.
- **reject**: the record is left out.

Judge by the house style and rules below, exactly as the reviewers were asked to.

---

"""


@dataclass
class AdjudicationPushResult:
    dataset_id: str
    url: str
    workspace: str
    pushed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # why each pushed record needs a decision

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "url": self.url,
            "workspace": self.workspace,
            "pushed": self.pushed,
            "reasons": self.reasons,
        }


def senior_settings(project: Project, client: rg.Argilla | None = None) -> rg.Settings:
    """The adjudication dataset's design: what the senior sees and answers. One decision per record is enough."""
    import argilla as rg

    metadata = [
        rg.TermsMetadataProperty("reason", title="Why it needs a decision", client=client),
        rg.TermsMetadataProperty("source", title="Source file", client=client),
        *(rg.TermsMetadataProperty(name, title=name, client=client) for name in user_columns(project)),
    ]
    return rg.Settings(
        fields=[
            rg.ChatField(name="conversation", title="Conversation (up to the last user turn)"),
            rg.TextField(name="answer", title="Candidate answer", use_markdown=False),
            rg.TextField(name="reviews", title="What the reviewers said", use_markdown=True),
        ],
        questions=[
            rg.LabelQuestion(name="verdict", labels=list(VERDICTS), title="Your decision"),
            rg.TextQuestion(
                name="corrected", title="The answer to train on (with needs-edit)", required=False, use_markdown=False
            ),
        ],
        metadata=metadata,
        guidelines=SENIOR_INSTRUCTIONS + guidelines_text(project),
        distribution=rg.TaskDistribution(min_submitted=1),
    )


def push_adjudication(
    project: Project, connection: ArgillaConnection, snapshot_id: str | None = None
) -> AdjudicationPushResult:
    """Push the adjudication queue of a snapshot (default: the latest) into the senior review's dataset."""
    from ftdata.export import decide  # export imports review; this module is only loaded by the command
    from ftdata.snapshot import Snapshot
    from ftdata.store import Store

    snapshot = Snapshot.load(project, snapshot_id)
    guidelines_text(project)  # a missing guidelines file fails here, before the server is touched
    client = connection.client()
    config = project.config
    queue = [d for d in (decide(record, config.export) for record in snapshot.records) if d.outcome == "adjudicate"]
    dataset = _ensure_senior_dataset(project, client)
    result = AdjudicationPushResult(
        dataset_id=str(dataset.id),
        url=f"{connection.api_url}/dataset/{dataset.id}/annotation-mode",
        workspace=senior_workspace(project),
    )
    provenance = {e.id: e.metadata for e in Store(project.store_path).read().examples}
    question_ids = {question.name: str(question.id) for question in dataset.settings.questions}
    items = [
        _senior_item(d.record, d.reason, provenance.get(d.record.external_id, {}), user_columns(project), question_ids)
        for d in queue
    ]
    for start in range(0, len(items), MAX_BULK_RECORDS):
        batch = items[start : start + MAX_BULK_RECORDS]
        connection.request("PUT", f"/api/v1/datasets/{dataset.id}/records/bulk", json={"items": batch})
    result.pushed = len(items)
    result.reasons = dict(Counter(d.reason for d in queue).most_common())
    return result


def _ensure_senior_dataset(project: Project, client: rg.Argilla) -> rg.Dataset:
    import argilla as rg

    name = senior_workspace(project)
    workspace = quietly(lambda: client.workspaces(name=name))
    if workspace is None:
        workspace = rg.Workspace(name=name, client=client).create()
    dataset = find_senior_dataset(project, client)
    if dataset is None:
        settings = senior_settings(project, client)
        dataset = rg.Dataset(name=senior_dataset_name(project), workspace=workspace, settings=settings, client=client)
        dataset = dataset.create()
    return dataset


def _senior_item(
    record: SnapshotRecord,
    reason: str,
    provenance: dict[str, Any],
    columns: list[str],
    question_ids: dict[str, str],
) -> dict[str, Any]:
    metadata = {"reason": reason, "source": str(provenance.get("source", record.metadata.get("source", "(unknown)")))}
    for column in columns:
        value = provenance.get(column, record.metadata.get(column))
        if value not in (None, ""):
            metadata[column] = str(value)
    submitted = record.submitted()
    corrections = Counter(
        (r.values.get("corrected") or "").strip() for r in submitted if r.values.get("verdict") == "needs-edit"
    )
    corrections.pop("", None)
    suggestions = []
    if corrections:  # the correction most reviewers wrote (the first one on a tie): a starting point, not a vote
        suggestions.append(
            {
                "question_id": question_ids["corrected"],
                "value": corrections.most_common(1)[0][0],
                "agent": SUGGESTION_AGENT,
                "type": "human",
            }
        )
    return {
        "external_id": record.external_id,
        "fields": {
            "conversation": record.conversation,
            "answer": record.answer,
            "reviews": _reviews_markdown(submitted),
        },
        "metadata": metadata,
        "suggestions": suggestions,
    }


def _reviews_markdown(responses) -> str:
    """Each submitted review as a short markdown block: who, verdict, issues, score, correction."""
    blocks = []
    for response in responses:
        values = response.values
        line = f"**{response.username}**: {values.get('verdict', '?')}"
        if values.get("style_score") is not None:
            line += f", style {values['style_score']}/5"
        if values.get("issues"):
            line += f", issues: {', '.join(values['issues'])}"
        block = [line]
        if (values.get("corrected") or "").strip():
            block.append("Correction:\n\n```\n" + values["corrected"].strip().replace("```", "ʼʼʼ") + "\n```")
        blocks.append("\n\n".join(block))
    return "\n\n---\n\n".join(blocks) or "(no submitted review)"
