"""The project's local store: every imported example, every row rejected at import, every import.

Layout (a folder the project config names):

    CURRENT              the name of the live version, replaced atomically
    v000003/examples/    a Hugging Face `datasets` Arrow dataset: id, messages, metadata (JSON text)
    v000003/rejected.jsonl   rows that broke the contract: source, row, problems, the raw text
    v000003/imports.jsonl    one line per imported file: what, when, its sha256 and the counts

A change writes a complete new version folder and only then points CURRENT at it, so a crash or a
bad file mid-import leaves the store exactly as it was.

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
from pathlib import Path
from typing import Any

from ftcore.atomic import atomic_write
from ftcore.errors import FtdataError, Problem
from ftcore.example import Example, Message

CURRENT = "CURRENT"
RAW_PREVIEW_CHARS = 2000


class StoreError(FtdataError):
    """The store folder is damaged or locked by another ftdata process."""


@dataclass(frozen=True)
class RejectedRow:
    """An input row that broke the contract: kept, with why, so `ftdata check` can report it."""

    source: str
    row: int
    problems: tuple[tuple[str | None, str], ...]
    raw: str

    def as_problems(self) -> list[Problem]:
        return [Problem(self.source, self.row, f, r) for f, r in self.problems]

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.source, self.row, self.raw)


@dataclass
class StoreSnapshot:
    examples: list[Example] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    version: str | None = None


class Store:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def current_version(self) -> str | None:
        pointer = self.path / CURRENT
        if not pointer.is_file():
            return None
        version = pointer.read_text(encoding="utf-8").strip()
        if not (self.path / version / "examples").is_dir():
            raise StoreError(f"{pointer}: points at {version!r}, which is missing: the store is damaged")
        return version

    def read(self) -> StoreSnapshot:
        """Everything in the store (an empty snapshot when nothing was imported yet)."""
        version = self.current_version()
        if version is None:
            return StoreSnapshot()
        import datasets  # heavy import: only when a store is actually read

        folder = self.path / version
        rows = [] if _saved_empty(folder / "examples") else datasets.load_from_disk(str(folder / "examples")).to_list()
        examples = [
            Example(
                id=row["id"],
                messages=tuple(Message(m["role"], m["content"]) for m in row["messages"]),
                metadata=json.loads(row["metadata"]),
            )
            for row in rows
        ]
        rejected = [
            RejectedRow(r["source"], r["row"], tuple((p[0], p[1]) for p in r["problems"]), r["raw"])
            for r in _read_jsonl(folder / "rejected.jsonl")
        ]
        return StoreSnapshot(examples, rejected, list(_read_jsonl(folder / "imports.jsonl")), version)

    def commit(self, snapshot: StoreSnapshot) -> str:
        """Write `snapshot` as a new version and make it current; returns the version name."""
        import datasets

        self.path.mkdir(parents=True, exist_ok=True)
        previous = self.current_version()
        number = int(previous[1:]) + 1 if previous else 1
        version = f"v{number:06d}"
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
        os.replace(staging, self.path / version)
        with atomic_write(self.path / CURRENT) as handle:
            handle.write(version + "\n")
        self._remove_old_versions(keep=version)
        snapshot.version = version
        return version

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
        for child in self.path.iterdir():
            stale_version = child.name.startswith("v") and child.name != keep
            if child.is_dir() and (stale_version or child.name.endswith(".staging")):
                shutil.rmtree(child, ignore_errors=True)


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
