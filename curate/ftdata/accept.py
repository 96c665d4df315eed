"""`ftdata accept --unflagged`: a reviewer-lead accepts, in bulk, the records nothing flagged.

Which records: no lint flag (`ftdata check` found no style break, PII, duplicate or length problem),
no submitted review other than accept, no answer yet from the lead, and not a model's draft (`origin`:
export trains on a draft only with a reviewer's own verdict). Each gets the lead's own
response (verdict accept, style score 5: every style check passed) and the record is marked with
metadata `bulk_accepted_by: <lead>`: a filter in the Argilla UI, and how `ftdata status` and
`ftdata export` tell a bulk accept from a review. How it counts is `export.bulk_accept`: with
`meets-quorum` (the default) it is enough on its own as long as no reviewer submits another verdict
(then it is one vote among theirs); with `one-vote` it is always one vote. Agreement figures leave
bulk accepts out. Each run is logged to `.ftdata/bulk_accepts/<time>.json` (which records, by whom).

Usage:
    result = accept_unflagged(Project.open("."), ArgillaConnection.from_env(), lead="lena")
    result.accepted, result.skipped
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftcore.atomic import atomic_write
from ftcore.errors import FtdataError
from ftdata.annotators import workspace_id
from ftdata.argilla_client import ArgillaConnection
from ftdata.origin import is_model_written
from ftdata.project import Project
from ftdata.review import BULK_ACCEPT_KEY, MAX_BULK_RECORDS, STYLE_SCORES, ReviewError, find_dataset
from ftdata.snapshot import fetch_records

BULK_VALUES = {"verdict": {"value": "accept"}, "style_score": {"value": max(STYLE_SCORES)}}


@dataclass
class AcceptResult:
    lead: str
    accepted: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # why a record was not accepted -> how many
    log: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"lead": self.lead, "accepted": self.accepted, "skipped": self.skipped, "log": str(self.log or "")}


def accept_unflagged(
    project: Project,
    connection: ArgillaConnection,
    lead: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> AcceptResult:
    """Accept every unflagged, undisputed record as `lead` (default: the connected user), marked as a bulk accept."""
    client = connection.client()
    dataset = find_dataset(project, client)
    if dataset is None:
        raise ReviewError(f"no Argilla dataset {project.config.dataset!r} yet: run `ftdata push` first")
    lead = lead or client.me.username
    users = connection.request("GET", "/api/v1/users")["items"]
    ws_id = workspace_id(connection, project.config.workspace)
    members = {u["username"] for u in connection.request("GET", f"/api/v1/workspaces/{ws_id}/users")["items"]}
    member = next((u for u in users if u["username"] == lead), None)
    if member is None or (lead not in members and member["role"] != "owner"):  # an owner may answer anywhere
        raise FtdataError(
            f"{lead!r} is not a member of workspace {project.config.workspace!r}: a lead reviews in the workspace "
            "(`ftdata annotators add` adds annotators; an admin is added in Argilla)"
        )
    usernames = {u["id"]: u["username"] for u in users}
    result = AcceptResult(lead=lead)
    skipped: Counter[str] = Counter()
    items = []
    for record in fetch_records(connection, str(dataset.id), usernames, progress):
        reason = _why_not(record, lead)
        if reason:
            skipped[reason] += 1
            continue
        items.append(
            {
                "id": record.server_id,
                # The upsert validates fields even for an existing record: sent back as they are.
                "fields": {"conversation": record.conversation, "answer": record.answer},
                "metadata": {**record.metadata, BULK_ACCEPT_KEY: lead},
                "responses": [{"user_id": member["id"], "status": "submitted", "values": BULK_VALUES}],
            }
        )
    result.skipped = dict(skipped.most_common())
    result.accepted = len(items)
    if dry_run or not items:
        return result
    for start in range(0, len(items), MAX_BULK_RECORDS):
        batch = items[start : start + MAX_BULK_RECORDS]
        connection.request("PUT", f"/api/v1/datasets/{dataset.id}/records/bulk", json={"items": batch})
        if progress is not None:
            progress("accepting in bulk", len(batch), len(items))
    result.log = _write_log(project, lead, [item["id"] for item in items], dataset.name)
    return result


def _why_not(record, lead: str) -> str | None:
    """Why a record is not for a bulk accept (None: it is)."""
    if is_model_written(record.metadata):
        return "a model's draft (a reviewer's own verdict is needed)"
    if record.metadata.get("lint_flags"):
        return "flagged by the lint (review it)"
    if any(r.username == lead for r in record.responses):
        return f"{lead} answered it already"
    if any(r.values.get("verdict") not in (None, "accept") for r in record.submitted()):
        return "a reviewer did not accept it (review it)"
    return None


def _write_log(project: Project, lead: str, record_ids: list[str], dataset: str) -> Path:
    at = datetime.now(UTC)
    path = project.resolve(f".ftdata/bulk_accepts/{at.strftime('%Y%m%dT%H%M%SZ')}-{lead}.json")
    entry = {"lead": lead, "at": at.isoformat(timespec="seconds"), "dataset": dataset, "records": record_ids}
    with atomic_write(path) as handle:
        handle.write(json.dumps(entry, indent=2) + "\n")
    return path
