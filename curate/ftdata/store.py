"""The project's local store: every imported example, every row rejected at import, every import.

Layout (a folder the project config names):

    CURRENT              the name of the live version, replaced atomically
    v000003/examples/    a Hugging Face `datasets` Arrow dataset: id, messages, metadata (JSON text)
    v000003/rejected.jsonl   rows that broke the contract: source, row and line, problems, the raw text, and
                             the import they came from
    v000003/imports.jsonl    one line per import of a file: its number, what, when, its sha256, the counts,
                             and the version it made
    v000003/version.json     what made this version: an import, a rollback, rejected rows dropped

A change writes a complete new version folder and only then points CURRENT at it, so a crash or a
bad file mid-import leaves the store exactly as it was. The last `store_history` versions are kept:
`ftdata store list` shows them and `ftdata store rollback` makes an older one current again (as a
new version, so the rollback itself can be undone).

Usage:
    store = Store(project.store_path)
    snapshot = store.read()
    len(snapshot.examples)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftcore.atomic import atomic_write
from ftcore.errors import FtdataError
from ftcore.example import Example, Message

CURRENT = "CURRENT"
VERSION_INFO = "version.json"
RAW_PREVIEW_CHARS = 2000
DEFAULT_HISTORY = 20


class StoreError(FtdataError):
    """The store folder is damaged or locked by another ftdata process."""


@dataclass(frozen=True)
class RejectedRow:
    """An input row that broke the contract: kept, with why, so `ftdata check` can report it.

    `row` is the data row (1 = the first record after a CSV header), `line` the file line it starts on
    (a CSV cell may span lines; None for Parquet and `datasets` folders). `import_id` names the import it
    came from: a later import of the same source replaces it.
    """

    source: str
    row: int
    problems: tuple[tuple[str | None, str], ...]
    raw: str
    line: int | None = None
    import_id: int | None = None

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.source, self.row, self.raw)

    @property
    def location(self) -> str:
        """`tickets.csv:302` (the file line, as editors and grep count) or `data.parquet row 300`."""
        return f"{self.source}:{self.line}" if self.line is not None else f"{self.source} row {self.row}"


@dataclass
class StoreSnapshot:
    examples: list[Example] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    version: str | None = None

    def next_import_id(self) -> int:
        return max((int(entry.get("id") or 0) for entry in self.imports), default=0) + 1


@dataclass(frozen=True)
class VersionInfo:
    """One version of the store, as `ftdata store list` shows it."""

    version: str
    current: bool
    action: str  # import | rollback | drop-rejected (unknown: made before versions were described)
    detail: str
    at: str | None
    examples: int
    rejected: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Store:
    def __init__(self, path: str | os.PathLike, history: int = DEFAULT_HISTORY):
        self.path = Path(path)
        self.history = max(1, history)

    def current_version(self) -> str | None:
        pointer = self.path / CURRENT
        if not pointer.is_file():
            return None
        version = pointer.read_text(encoding="utf-8").strip()
        if not (self.path / version / "examples").is_dir():
            raise StoreError(f"{pointer}: points at {version!r}, which is missing: the store is damaged")
        return version

    def read(self, version: str | None = None) -> StoreSnapshot:
        """Everything in the store (an empty snapshot when nothing was imported yet); `version`: an older one."""
        if version is None:
            version = self.current_version()
            if version is None:
                return StoreSnapshot()
        elif version not in self.versions():
            kept = ", ".join(self.versions()) or "none"
            raise StoreError(f"{self.path}: no version {version!r} (kept: {kept})")
        folder = self.path / version
        examples = [] if _saved_empty(folder / "examples") else _read_examples(folder / "examples")
        rejected = [
            RejectedRow(
                r["source"],
                r["row"],
                tuple((p[0], p[1]) for p in r["problems"]),
                r["raw"],
                r.get("line"),
                r.get("import_id"),
            )
            for r in _read_jsonl(folder / "rejected.jsonl")
        ]
        return StoreSnapshot(examples, rejected, list(_read_jsonl(folder / "imports.jsonl")), version)

    def versions(self) -> list[str]:
        """The versions kept, oldest first."""
        if not self.path.is_dir():
            return []
        names = (child.name for child in self.path.iterdir() if (child / "examples").is_dir())
        return sorted(name for name in names if name.startswith("v") and name[1:].isdigit())

    def next_version(self) -> str:
        """The name the next commit gets (after every version kept, current or not)."""
        kept = self.versions()
        return f"v{int(kept[-1][1:]) + 1 if kept else 1:06d}"

    def describe(self) -> list[VersionInfo]:
        """Every version kept, oldest first: what made it, when, and its counts."""
        current = self.current_version()
        described = []
        for version in self.versions():
            folder = self.path / version
            try:
                info = json.loads((folder / VERSION_INFO).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                info = {}
            examples = info.get("examples")
            if examples is None:  # a version written before version.json existed: count its rows
                examples = len(self.read(version).examples)
            described.append(
                VersionInfo(
                    version=version,
                    current=version == current,
                    action=str(info.get("action", "unknown")),
                    detail=str(info.get("detail", "")),
                    at=info.get("at"),
                    examples=int(examples),
                    rejected=sum(1 for _ in _read_jsonl(folder / "rejected.jsonl")),
                )
            )
        return described

    def commit(self, snapshot: StoreSnapshot, action: str = "import", detail: str = "") -> str:
        """Write `snapshot` as a new version and make it current; returns the version name.

        `action` and `detail` say what made it (`ftdata store list` shows them)."""
        import datasets

        self.path.mkdir(parents=True, exist_ok=True)
        version = self.next_version()
        staging = self.path / f".{version}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        rows = {
            "id": [e.id for e in snapshot.examples],
            "messages": [[m.to_dict() for m in e.messages] for e in snapshot.examples],
            "metadata": [json.dumps(e.metadata, ensure_ascii=False, sort_keys=True) for e in snapshot.examples],
        }
        features = datasets.Features(
            {
                "id": datasets.Value("string"),
                "messages": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
                "metadata": datasets.Value("string"),
            }
        )
        table = datasets.Dataset.from_dict(rows, features=features)
        bars_were_on = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()  # the CLI draws its own progress
        try:
            table.save_to_disk(str(staging / "examples"))
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
        _write_jsonl(staging / "rejected.jsonl", [_rejected_to_dict(r) for r in snapshot.rejected])
        _write_jsonl(staging / "imports.jsonl", snapshot.imports)
        info = {
            "action": action,
            "detail": detail,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "examples": len(snapshot.examples),
            "rejected": len(snapshot.rejected),
        }
        (staging / VERSION_INFO).write_text(json.dumps(info, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(staging, self.path / version)
        with atomic_write(self.path / CURRENT) as handle:
            handle.write(version + "\n")
        self._remove_old_versions(keep=version)
        snapshot.version = version
        return version

    def rollback(self, version: str) -> str:
        """Make `version`'s content current again, as a new version (so the rollback can be undone too)."""
        with self.lock():
            current = self.current_version()
            if version == current:
                raise StoreError(f"{self.path}: {version} is already the current version")
            snapshot = self.read(version)
            return self.commit(snapshot, "rollback", f"content of {version} (was {current})")

    def drop_rejected(self, source: str | None = None) -> tuple[str | None, int]:
        """Forget the rows rejected at import (of one `source`, or all): returns the new version and how many."""
        with self.lock():
            snapshot = self.read()
            keep = [r for r in snapshot.rejected if source is not None and r.source != source]
            dropped = len(snapshot.rejected) - len(keep)
            if not dropped:
                return None, 0
            snapshot.rejected = keep
            scope = f"of {source}" if source is not None else "of every source"
            return self.commit(snapshot, "drop-rejected", f"{dropped} rejected row(s) {scope} dropped"), dropped

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive use of the store for a read-modify-commit (two imports at once would lose one)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(f"{self.path}: another ftdata command is writing this store") from None
            yield

    def _remove_old_versions(self, keep: str) -> None:
        """Delete all but the newest `history` versions (never `keep`), and staging folders left by a crash."""
        stale = [v for v in self.versions()[: -self.history] if v != keep]
        for child in self.path.iterdir():
            if child.is_dir() and (child.name in stale or child.name.endswith(".staging")):
                shutil.rmtree(child, ignore_errors=True)


# Rows converted from Arrow per batch: the store's million rows never sit in memory twice (Arrow's Python rows and
# the Examples made of them), only the Examples and one batch.
READ_BATCH = 10_000


def _read_examples(folder: Path) -> list[Example]:
    import datasets  # heavy import: only when a store is actually read

    table = datasets.load_from_disk(str(folder))  # memory-mapped: nothing is read until a batch is asked for
    examples = []
    for batch in table.iter(batch_size=READ_BATCH):
        for id_, messages, metadata in zip(batch["id"], batch["messages"], batch["metadata"], strict=True):
            turns = tuple(Message(m["role"], m["content"]) for m in messages)
            examples.append(Example(id=id_, messages=turns, metadata=json.loads(metadata)))
    return examples


def _saved_empty(folder: Path) -> bool:
    """A Dataset of zero rows: `datasets` 5 saves it with no data file and cannot load it back (IndexError),
    as after a first import whose every row was rejected."""
    if any(folder.glob("*.arrow")):
        return False
    try:
        return json.loads((folder / "state.json").read_text(encoding="utf-8"))["_data_files"] == []
    except (OSError, ValueError, KeyError, TypeError):
        return False  # not the empty case: let load_from_disk report what is wrong


def _rejected_to_dict(row: RejectedRow) -> dict[str, Any]:
    record = asdict(row)
    record["problems"] = [list(p) for p in row.problems]
    return record


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
