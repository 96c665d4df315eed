"""`ftdata pull`: an immutable, timestamped local copy of every record with all its responses.

Export reads snapshots only, so it never depends on the server being up, and the same snapshot
always gives the same export. A snapshot is a folder under `.ftdata/snapshots/`:

    records.parquet   one row per record: ids, status, fields, metadata, suggestions, responses
    senior.parquet    the same for the adjudication dataset (`ftdata adjudicate`), when there is one:
                      the senior reviewers' decisions, which export applies
    snapshot.json     where and when it was pulled, counts, the review design, the guideline version

Its files are made read-only once written; a new pull makes a new snapshot.

Usage:
    snapshot = pull(project, connection)
    Snapshot.load(project).records[0].responses
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftcore import __version__
from ftcore.atomic import atomic_write
from ftcore.errors import FtdataError
from ftcore.example import Example
from ftdata.argilla_client import ArgillaConnection
from ftdata.project import Project
from ftdata.review import ReviewError, find_dataset, find_senior_dataset, guideline_version, settings_json

PAGE_SIZE = 1000  # Argilla's largest page for listing records
RECORDS_FILE = "records.parquet"
SENIOR_FILE = "senior.parquet"
INFO_FILE = "snapshot.json"
# What export reads from snapshot.json (`review_design` is optional).
INFO_KEYS = ("workspace", "dataset", "content_sha256", "guideline_version", "pulled_at")


class SnapshotError(FtdataError):
    """No snapshot yet, or the one asked for is missing or damaged."""


@dataclass(frozen=True)
class Response:
    username: str
    status: str  # submitted | draft | discarded
    values: dict[str, Any]


@dataclass(frozen=True)
class SnapshotRecord:
    external_id: str  # the example id
    server_id: str
    status: str  # Argilla's: pending | completed
    conversation: list[dict[str, str]]
    answer: str
    metadata: dict[str, Any]
    suggestions: list[dict[str, Any]]
    responses: tuple[Response, ...]

    def submitted(self) -> list[Response]:
        return [r for r in self.responses if r.status == "submitted"]

    def example(self, answer: str | None = None, metadata: dict[str, Any] | None = None) -> Example:
        """The reviewed example, with `answer` (an annotator's correction) in place of the candidate."""
        messages = [*self.conversation, {"role": "assistant", "content": self.answer if answer is None else answer}]
        return Example.create(messages, metadata if metadata is not None else self.metadata)


@dataclass
class Snapshot:
    id: str
    info: dict[str, Any]
    records: list[SnapshotRecord] = field(default_factory=list)
    unchanged: bool = False  # `pull` found nothing new since this (existing) snapshot
    senior: list[SnapshotRecord] = field(default_factory=list)  # the adjudication dataset's records

    @classmethod
    def load(cls, project: Project, snapshot_id: str | None = None) -> Snapshot:
        """A snapshot by id, or the latest one."""
        ids = list_snapshots(project)
        if not ids:
            raise SnapshotError(f"{project.snapshots_path}: no snapshot yet: run `ftdata pull`")
        chosen = snapshot_id or ids[-1]
        folder = project.snapshots_path / chosen
        if chosen not in ids:
            raise SnapshotError(f"{folder}: no such snapshot (have: {', '.join(ids[-5:])})")
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = folder / INFO_FILE  # the file being read: the one an error names
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(info, dict):
                raise ValueError(f"expected a JSON object, got {type(info).__name__}")
            missing = [key for key in INFO_KEYS if key not in info]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            path = folder / RECORDS_FILE
            records = [_record_from_row(row) for row in pq.read_table(path).to_pylist()]
            path = folder / SENIOR_FILE
            senior = [_record_from_row(row) for row in pq.read_table(path).to_pylist()] if path.is_file() else []
        except (OSError, ValueError, KeyError, TypeError, RecursionError, pa.ArrowException) as error:
            # ValueError holds JSONDecodeError, UnicodeDecodeError and pyarrow's ArrowInvalid
            if isinstance(error, FileNotFoundError):
                reason = "missing"
            elif isinstance(error, KeyError):
                reason = f"no {error.args[0]} column"
            else:
                reason = " ".join(str(error).split())[:200] or type(error).__name__
            raise SnapshotError(f"{path}: damaged ({reason}): run `ftdata pull` again") from None
        return cls(id=chosen, info=info, records=records, senior=senior)


def list_snapshots(project: Project) -> list[str]:
    """Snapshot ids, oldest first (ids start with their UTC time)."""
    root = project.snapshots_path
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / INFO_FILE).is_file())


def pull(
    project: Project, connection: ArgillaConnection, progress: Callable[[str, int, int], None] | None = None
) -> Snapshot:
    """Copy every record of the project's dataset, with all responses and suggestions, into a new snapshot."""
    client = connection.client()
    dataset = find_dataset(project, client)
    if dataset is None:
        raise ReviewError(
            f"no Argilla dataset {project.config.dataset!r} in workspace {project.config.workspace!r}: "
            "run `ftdata push` first"
        )
    usernames = {u["id"]: u["username"] for u in connection.request("GET", "/api/v1/users")["items"]}
    pulled_at = datetime.now(UTC)
    min_submitted = getattr(dataset.settings.distribution, "min_submitted", None)
    records = list(fetch_records(connection, str(dataset.id), usernames, progress, min_submitted))
    senior_dataset = find_senior_dataset(project, client)
    senior = list(fetch_records(connection, str(senior_dataset.id), usernames, None)) if senior_dataset else []
    statuses = Counter(r.status for record in records for r in record.responses)
    design = settings_json(dataset.settings)
    rows = [_record_to_row(record) for record in records]
    senior_rows = [_record_to_row(record) for record in senior]
    hashed = rows if not senior_rows else {"records": rows, "senior": senior_rows}  # (old snapshots: rows only)
    content = hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()
    snapshot_id = f"{pulled_at.strftime('%Y%m%dT%H%M%SZ')}-{content[:8]}"
    info = {
        "id": snapshot_id,
        "dataset": project.config.dataset,
        "workspace": project.config.workspace,
        "dataset_id": str(dataset.id),
        "server": connection.api_url,
        "pulled_at": pulled_at.isoformat(timespec="seconds"),
        "records": len(records),
        "responses": dict(sorted(statuses.items())),
        "senior_decisions": sum(len(record.submitted()) for record in senior),
        "content_sha256": content,
        "guideline_version": guideline_version(dataset.settings.guidelines or ""),
        "min_submitted": min_submitted,
        "review_design": json.loads(design),
        "tool_version": __version__,
    }
    latest = _latest_info(project)
    same = ("dataset_id", "content_sha256", "guideline_version", "min_submitted", "review_design")
    if latest is not None and all(latest.get(key) == info[key] for key in same):
        # Nothing changed on the server: the latest snapshot is this one, so an export of it stays byte-identical.
        return Snapshot(id=latest["id"], info=latest, records=records, unchanged=True, senior=senior)
    _write_snapshot(project.snapshots_path, snapshot_id, rows, info, senior_rows)
    return Snapshot(id=snapshot_id, info=info, records=records, senior=senior)


def _latest_info(project: Project) -> dict[str, Any] | None:
    ids = list_snapshots(project)
    if not ids:
        return None
    try:
        info = json.loads((project.snapshots_path / ids[-1] / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged latest snapshot: a new one is written
    return info if isinstance(info, dict) else None


def fetch_records(
    connection: ArgillaConnection,
    dataset_id: str,
    usernames: dict[str, str],
    progress: Callable[[str, int, int], None] | None,
    min_submitted: int | None = None,
) -> Iterator[SnapshotRecord]:
    """Every record of a dataset with its responses and suggestions, page by page.

    With `min_submitted` (the dataset's task distribution), a record's status is worked out from the
    responses read with it, by Argilla's own rule: Argilla commits a response before the record's new
    status, so a record read between the two would otherwise say "pending" beside its last review.
    """
    offset = 0
    while True:
        page = connection.request(
            "GET",
            f"/api/v1/datasets/{dataset_id}/records",
            params={"include": ["responses", "suggestions"], "offset": offset, "limit": PAGE_SIZE},
        )
        items = page["items"]
        for item in items:
            submitted = sum(1 for r in item.get("responses") or [] if r["status"] == "submitted")
            yield SnapshotRecord(
                external_id=item.get("external_id") or item["id"],
                server_id=item["id"],
                status=item["status"] if min_submitted is None else _overlap_status(submitted, min_submitted),
                conversation=item["fields"].get("conversation") or [],
                answer=item["fields"].get("answer") or "",
                metadata=item.get("metadata") or {},
                suggestions=item.get("suggestions") or [],
                responses=tuple(
                    Response(
                        username=usernames.get(r["user_id"], r["user_id"]),
                        status=r["status"],
                        values={name: v.get("value") for name, v in (r.get("values") or {}).items()},
                    )
                    for r in sorted(item.get("responses") or [], key=lambda r: r["user_id"])
                ),
            )
        if progress is not None:
            progress("pulling records", len(items), page.get("total") or len(items))
        offset += len(items)
        if not items or offset >= page.get("total", 0):
            return


def _overlap_status(submitted: int, min_submitted: int) -> str:
    """Argilla's record status under its (only) distribution strategy, overlap."""
    return "completed" if submitted >= min_submitted else "pending"


def _record_to_row(record: SnapshotRecord) -> dict[str, Any]:
    return {
        "external_id": record.external_id,
        "server_id": record.server_id,
        "status": record.status,
        "conversation": json.dumps(record.conversation, ensure_ascii=False),
        "answer": record.answer,
        "metadata": json.dumps(record.metadata, ensure_ascii=False, sort_keys=True),
        "suggestions": json.dumps(record.suggestions, ensure_ascii=False, sort_keys=True),
        "responses": json.dumps(
            [{"username": r.username, "status": r.status, "values": r.values} for r in record.responses],
            ensure_ascii=False,
            sort_keys=True,
        ),
    }


def _record_from_row(row: dict[str, Any]) -> SnapshotRecord:
    return SnapshotRecord(
        external_id=row["external_id"],
        server_id=row["server_id"],
        status=row["status"],
        conversation=json.loads(row["conversation"]),
        answer=row["answer"],
        metadata=json.loads(row["metadata"]),
        suggestions=json.loads(row["suggestions"]),
        responses=tuple(Response(**r) for r in json.loads(row["responses"])),
    )


def _write_snapshot(
    root: Path,
    snapshot_id: str,
    rows: list[dict[str, Any]],
    info: dict[str, Any],
    senior_rows: list[dict[str, Any]] = (),
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    staging = root / f".{snapshot_id}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    columns = ["external_id", "server_id", "status", "conversation", "answer", "metadata", "suggestions", "responses"]
    written = [RECORDS_FILE, INFO_FILE]
    for name, table_rows in ((RECORDS_FILE, rows), (SENIOR_FILE, senior_rows)):
        if name == SENIOR_FILE and not table_rows:
            continue
        table = pa.table({c: pa.array([row[c] for row in table_rows], type=pa.string()) for c in columns})
        pq.write_table(table, staging / name)
        written += [name] if name == SENIOR_FILE else []
    with atomic_write(staging / INFO_FILE) as handle:
        handle.write(json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    for name in written:
        os.chmod(staging / name, 0o444)  # a snapshot is evidence: never edited in place
    if (root / snapshot_id).exists():  # pulled twice within a second with the same content: the same snapshot
        shutil.rmtree(staging)
        return
    os.replace(staging, root / snapshot_id)
