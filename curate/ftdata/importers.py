"""`ftdata import`: read raw examples from JSONL, CSV, Parquet or a saved `datasets` folder into the store.

Rows are mapped to the contract (chat `messages`, `prompt`/`completion`, or columns named with
`--map user=question,assistant=answer`); provenance goes into metadata (the source file, the data
`row` and, for text files, the `line` it starts on: a CSV cell may span lines), other columns too.
A row that breaks the contract is kept aside with its reasons for `ftdata check`, as a rejection of
this import: importing the same source again replaces them. A file that is not what it claims, or
whose columns do not map to the contract at all, aborts the whole import and leaves the store as it
was. Examples from fteval's `review_queue.jsonl` hold *test* prompts: they are marked
(`metadata.holdout = "test"`) so that export never puts them in train.

Usage:
    results = import_files(Project.open("."), ["raw/support.csv"], mapping=ColumnMap.parse("user=q,assistant=a"))
    results[0].added
"""

from __future__ import annotations

import csv
import io
import json
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ftcore.atomic import sha256_file
from ftcore.errors import FtdataError, Problem
from ftcore.example import Example, InvalidExample
from ftcore.jsonl import UnreadableFile, iter_json_lines, loads, open_maybe_gzip
from ftdata.project import Project
from ftdata.store import RAW_PREVIEW_CHARS, RejectedRow, Store

Format = Literal["auto", "jsonl", "csv", "parquet", "hf"]
FORMATS: tuple[str, ...] = ("auto", "jsonl", "csv", "parquet", "hf")
PARQUET_MAGIC = b"PAR1"
# csv's default field limit (128 KiB) is smaller than a long answer; anything past this is not text data.
CSV_FIELD_LIMIT = 32 * 1024 * 1024
ROLE_KEYS = ("system", "user", "assistant")


@dataclass(frozen=True)
class ColumnMap:
    """Which source columns hold the user turn, the assistant answer and (optionally) a system prompt."""

    user: str
    assistant: str | None  # None only for prompts to draft answers for (`ftdata draft`)
    system: str | None = None

    @classmethod
    def parse(cls, text: str, answer_required: bool = True) -> ColumnMap:
        """`"user=question,assistant=answer[,system=sys]"` → ColumnMap (`ftdata draft`: the answer is optional)."""
        pairs: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            role, sep, column = item.partition("=")
            role, column = role.strip(), column.strip()
            if not sep or not column:
                raise FtdataError(f"--map {text!r}: {item!r} is not ROLE=COLUMN")
            if role not in ROLE_KEYS:
                raise FtdataError(f"--map {text!r}: {role!r} is not one of {', '.join(ROLE_KEYS)}")
            pairs[role] = column
        missing = [role for role in ("user", "assistant")[: 2 if answer_required else 1] if role not in pairs]
        if missing:
            raise FtdataError(f"--map {text!r}: needs {' and '.join(missing)}=COLUMN")
        return cls(pairs["user"], pairs.get("assistant"), pairs.get("system"))

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.system, self.user, self.assistant) if c is not None]


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


def detect_format(path: Path) -> str:
    """By extension, then by content; a folder is a `datasets.save_to_disk` output."""
    if path.is_dir():
        if any((path / marker).exists() for marker in ("dataset_dict.json", "state.json", "dataset_info.json")):
            return "hf"
        raise UnreadableFile(path, "a folder, but not one saved by `datasets` (no dataset_dict.json or state.json)")
    if not path.exists():
        raise UnreadableFile(path, "not found")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    by_suffix = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "csv"}
    if suffix == ".parquet":
        return "parquet"
    if suffix in by_suffix:
        return by_suffix[suffix]
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == PARQUET_MAGIC:
        return "parquet"
    if head[:1] in (b"{", b"["):
        return "jsonl"
    raise UnreadableFile(path, "cannot tell its format from the name or content: pass --format")


class Position(NamedTuple):
    """Where a row is: its data row (1 = the first record after a CSV header) and the file line it starts on
    (None for Parquet and `datasets` folders, which have no lines)."""

    row: int
    line: int | None


class UnmappedRow(InvalidExample):
    """A row without the contract's columns and no --map: when every row of a file is one, the file is refused."""

    def __init__(self, columns: list[str]):
        self.columns = columns
        super().__init__([(None, _unmapped_reason(columns))])


def _unmapped_reason(columns: Sequence[str]) -> str:
    shown = ", ".join(map(str, columns)) or "none"
    return f"no 'messages' or 'prompt'/'completion' columns (has: {shown}): pass --map user=COL,assistant=COL"


def read_rows(
    path: Path, file_format: str, mapping: ColumnMap | None
) -> Iterator[tuple[Position, dict[str, Any] | None, list[Problem]]]:
    """Yield `(position, row as a dict or None, problems)`; raise `UnreadableFile` for the file itself."""
    readers = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows, "hf": _hf_rows}
    if file_format not in readers:
        raise FtdataError(f"--format {file_format!r}: expected one of {', '.join(FORMATS)}")
    first = True
    for position, row, problems in readers[file_format](path):
        if first and row is not None:
            if mapping is not None:
                # A mapped column that the data lacks is a wrong --map (or a wrong file), not a bad row.
                missing = [c for c in mapping.columns if c not in row]
                if missing:
                    raise UnreadableFile(
                        path, f"no column {missing[0]!r} named in --map (columns: {', '.join(map(str, row))})"
                    )
            elif file_format != "jsonl" and not _has_contract_columns(row):
                # Columnar files share one header: the first row speaks for all (JSONL is judged at its end).
                raise UnreadableFile(path, f"{_unmapped_reason(list(row))}; nothing was imported")
            first = False
        yield position, row, problems


def _has_contract_columns(row: dict[str, Any]) -> bool:
    return "messages" in row or "prompt" in row or "completion" in row


def row_to_example(row: dict[str, Any], mapping: ColumnMap | None, provenance: dict[str, Any]) -> Example:
    """One source row → an Example; unmapped columns are kept in metadata. Raises `InvalidExample`."""
    row = dict(row)
    metadata = row.pop("metadata", None)
    if metadata is None:
        metadata = {}
    elif isinstance(metadata, str):  # CSV and Parquet carry nested data as JSON text
        metadata = _json_or_issue(metadata, "metadata")
    if not isinstance(metadata, dict):
        raise InvalidExample([("metadata", "must be an object")])
    row.pop("id", None)  # ids are derived from content, never taken from the source

    if mapping is not None:
        messages = []
        for role in ROLE_KEYS:
            column = getattr(mapping, role)
            if column is None:
                continue
            if column not in row:
                raise InvalidExample([(column, f"missing (mapped to the {role} turn)")])
            messages.append({"role": role, "content": row.pop(column)})
        record: dict[str, Any] = {"messages": messages}
    elif "messages" in row:
        messages = row.pop("messages")
        record = {"messages": _json_or_issue(messages, "messages") if isinstance(messages, str) else messages}
    elif "prompt" in row or "completion" in row:
        record = {key: row.pop(key) for key in ("system", "prompt", "completion") if key in row}
    else:
        raise UnmappedRow([str(column) for column in row])
    extras = {str(k): _jsonable(v) for k, v in row.items() if v not in (None, "")}
    record["metadata"] = {**extras, **metadata, **_review_queue_marks(metadata), **provenance}
    return Example.from_dict(record)


def _review_queue_marks(metadata: dict[str, Any]) -> dict[str, Any]:
    """What an example of fteval's `review_queue.jsonl` keeps of its origin: it holds a *test* prompt.

    fteval writes `source: "fteval:<contestant>"` and the prompt's `test_id`; the file's own provenance
    replaces `source`, so the marks are kept under their own keys and export keeps such examples out of train.
    """
    source = metadata.get("source")
    if not (isinstance(source, str) and source.startswith("fteval:")) and "test_id" not in metadata:
        return {}
    return {"holdout": "test", "origin": source if isinstance(source, str) else "fteval"}


def _jsonl_rows(path: Path) -> Iterator[tuple[Position, dict[str, Any] | None, list[Problem]]]:
    for line_number, value, problems in iter_json_lines(path, fatal_encoding_errors=True):
        position = Position(line_number, line_number)  # a JSONL row is named by its line
        if problems:
            yield position, None, problems
        elif not isinstance(value, dict):
            yield position, None, [Problem(str(path), line_number, None, "expected a JSON object per line")]
        else:
            yield position, value, []


def _csv_rows(path: Path) -> Iterator[tuple[Position, dict[str, Any] | None, list[Problem]]]:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    try:
        with open_maybe_gzip(path) as binary:
            if b"\x00" in binary.peek(8192)[:8192]:
                raise UnreadableFile(path, "binary data (NUL bytes), not a CSV text file")
            # utf-8-sig: Excel writes a byte-order mark that would otherwise stick to the first column's name.
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="strict", newline="")
            reader = csv.reader(text, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise UnreadableFile(path, "empty CSV: no header row")
            data_row, lines_read = 0, reader.line_num
            for cells in reader:
                # The record began on the line after the previous one ended: its cells may span several lines.
                line, lines_read = lines_read + 1, reader.line_num
                if not cells:
                    continue  # a blank line (csv.DictReader skips these too)
                data_row += 1
                position = Position(data_row, line)
                if len(cells) > len(header):  # (the row as far as the header names it: its id column, mostly)
                    problem = Problem(str(path), line, None, f"{len(cells)} cells, the header names {len(header)}: "
                                      "a cell with a comma and no quotes around it?")  # fmt: skip
                    yield position, dict(zip(header, cells, strict=False)), [problem]
                    continue
                yield position, dict(zip(header, cells + [None] * (len(header) - len(cells)), strict=True)), []
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            path, f"not UTF-8 (byte 0x{error.object[error.start]:02x}): re-encode it, e.g. iconv -f latin1 -t utf-8"
        ) from None
    except csv.Error as error:
        raise UnreadableFile(path, f"not a valid CSV: {error}") from None
    except EOFError:
        raise UnreadableFile(path, "truncated gzip file (ends before its last block)") from None
    except zlib.error as error:  # a damaged block inside a gzip file
        raise UnreadableFile(path, f"corrupt gzip data: {error}") from None
    except OSError as error:
        raise UnreadableFile(path, f"cannot read: {error.strerror or error}") from None


def _parquet_rows(path: Path) -> Iterator[tuple[Position, dict[str, Any] | None, list[Problem]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        row_number = 0
        for batch in parquet.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                row_number += 1
                yield Position(row_number, None), row, []
    except (pa.ArrowException, OSError) as error:
        raise UnreadableFile(path, f"not a readable Parquet file: {error}") from None


def _hf_rows(path: Path) -> Iterator[tuple[Position, dict[str, Any] | None, list[Problem]]]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as error:
        raise UnreadableFile(path, f"not a readable `datasets` folder: {error}") from None
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    row_number = 0
    for split, table in splits:
        for row in table:
            row_number += 1
            yield Position(row_number, None), ({**row, "hf_split": split} if split is not None else row), []


def _json_or_issue(text: str, field_name: str) -> Any:
    try:
        return loads(text)
    except json.JSONDecodeError as error:
        raise InvalidExample([(field_name, f"not valid JSON text: {error.msg}")]) from None
    except ValueError as error:
        raise InvalidExample([(field_name, f"not usable JSON text: {error}")]) from None


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def _display_path(path: Path, root: Path) -> str:
    """Provenance as a path relative to the project when inside it, so stores can be moved."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
