"""`ftdata import`: read raw examples from JSONL, CSV, Parquet or a saved `datasets` folder into the store.

Rows are mapped to the contract (chat `messages`, `prompt`/`completion`, or columns named with
`--map user=question,assistant=answer`); provenance goes into metadata (the source file, the data
`row` and, for text files, the `line` it starts on: a CSV cell may span lines), other columns too.
A row that breaks the contract is kept aside with its reasons for `ftdata check`, as a rejection of
this import: importing the same source again replaces them. A file that is not what it claims, or
whose columns do not map to the contract at all, aborts the whole import and leaves the store as it
was. Examples from fteval's `review_queue.jsonl` hold *test* prompts: they are marked
(`metadata.holdout = "test"`) so that export never puts them in train.

Reading rows into the contract lives in the core (`ftcore.importers`), so that fteval reads a golden set the
same way; its names are re-exported here.

Usage:
    results = import_files(Project.open("."), ["raw/support.csv"], mapping=ColumnMap.parse("user=q,assistant=a"))
    results[0].added
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftcore.atomic import sha256_file
from ftcore.example import InvalidExample
from ftcore.importers import (
    CSV_FIELD_LIMIT,
    FORMATS,
    PARQUET_MAGIC,
    ROLE_KEYS,
    ColumnMap,
    Format,
    Position,
    UnmappedRow,
    _unmapped_reason,
    detect_format,
    read_rows,
    row_to_example,
)
from ftcore.jsonl import UnreadableFile
from ftdata.project import Project
from ftdata.store import RAW_PREVIEW_CHARS, RejectedRow, Store

__all__ = [
    "CSV_FIELD_LIMIT",
    "FORMATS",
    "PARQUET_MAGIC",
    "ROLE_KEYS",
    "ColumnMap",
    "Format",
    "ImportResult",
    "Position",
    "UnmappedRow",
    "detect_format",
    "import_files",
    "read_rows",
    "row_to_example",
]


@dataclass
class ImportResult:
    source: str
    format: str
    rows: int = 0
    added: int = 0
    already_present: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)  # this file's rejected rows (all of them)
    superseded: int = 0  # rejections of an earlier import of this source that this one replaced
    test_prompts: int = 0  # examples marked as test prompts (from an fteval review queue)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "rows": self.rows,
            "added": self.added,
            "already_present": self.already_present,
            "rejected": len(self.rejected),
            "superseded_rejections": self.superseded,
            "test_prompts": self.test_prompts,
        }


def import_files(
    project: Project,
    sources: Sequence[str | os.PathLike],
    fmt: Format = "auto",
    mapping: ColumnMap | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ImportResult]:
    """Import `sources` into the project's store in one all-or-nothing step; re-importing adds nothing.

    Each file's rejected rows replace those of an earlier import of the same source: after a fixed file is
    imported again, `ftdata check` reports only what is still wrong in it."""
    store = Store(project.store_path, project.config.store_history)
    with store.lock():
        snapshot = store.read()
        known_ids = {e.id for e in snapshot.examples}
        results = []
        changed = False
        for source in sources:
            path = Path(source)
            shown = _display_path(path, project.root)
            file_format = detect_format(path) if fmt == "auto" else fmt
            result = ImportResult(source=shown, format=file_format)
            import_id = snapshot.next_import_id()
            rejected: list[RejectedRow] = []
            unmapped, columns = 0, []
            for position, row, problems in read_rows(path, file_format, mapping):
                result.rows += 1
                if progress is not None:
                    progress(1)
                provenance = {"source": shown, "row": position.row}
                if position.line is not None and position.line != position.row:
                    provenance["line"] = position.line  # a CSV after its header, or a cell over several lines
                try:
                    if problems:
                        raise InvalidExample([(p.field, p.reason) for p in problems])
                    example = row_to_example(row, mapping, provenance)
                except InvalidExample as invalid:
                    if isinstance(invalid, UnmappedRow):
                        unmapped += 1
                        columns = invalid.columns
                    raw = json.dumps(row, ensure_ascii=False, default=str) if row is not None else ""
                    issues = tuple(invalid.issues)
                    preview = raw[:RAW_PREVIEW_CHARS]
                    rejected.append(RejectedRow(shown, position.row, issues, preview, position.line, import_id))
                    continue
                result.test_prompts += example.metadata.get("holdout") == "test"
                if example.id in known_ids:
                    result.already_present += 1
                    continue
                known_ids.add(example.id)
                snapshot.examples.append(example)
                result.added += 1
            if unmapped and unmapped == result.rows:
                # Not one row has the contract's columns: the file needs --map, not 621 rejections in the store.
                raise UnreadableFile(path, f"{_unmapped_reason(columns)}; nothing was imported")
            result.rejected = rejected
            # This import's rejections replace the earlier ones of the same source (kept as they were when
            # nothing changed, so the store keeps its version).
            earlier = [r for r in snapshot.rejected if r.source == shown]
            rejections_changed = {r.key for r in earlier} != {r.key for r in rejected}
            if rejections_changed:
                result.superseded = len(earlier)
                snapshot.rejected = [r for r in snapshot.rejected if r.source != shown] + rejected
            if result.added or rejections_changed:
                changed = True
                snapshot.imports.append(
                    {
                        "id": import_id,
                        **result.to_dict(),
                        "sha256": sha256_file(path) if path.is_file() else None,
                        "at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "version": store.next_version(),
                    }
                )
            results.append(result)
        if changed:
            detail = ", ".join(f"{r.source} (+{r.added}, {len(r.rejected)} rejected)" for r in results)
            store.commit(snapshot, "import", detail)
    return results


def _display_path(path: Path, root: Path) -> str:
    """Provenance as a path relative to the project when inside it, so stores can be moved."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
