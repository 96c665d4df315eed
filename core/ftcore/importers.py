"""Reading raw examples from JSONL, CSV, Parquet or a saved `datasets` folder into the contract, row by row.

What `ftdata import` stores and what `fteval run` scores as a golden set are read the same way, here: rows are
mapped to the contract (chat `messages`, `prompt`/`completion`, or columns named with a `ColumnMap` such as
`user=question,assistant=answer`); provenance goes into metadata (the source file, the data `row` and, for
text files, the `line` it starts on: a CSV cell may span lines), other columns too. A file that is not what it
claims raises `UnreadableFile`; a row that breaks the contract comes with its problems, for the caller to keep
aside. Examples from fteval's `review_queue.jsonl` hold *test* prompts: they are marked (`metadata.holdout =
"test"`).

Usage:
    for position, row, problems in read_rows(Path("raw/support.csv"), detect_format(path), mapping):
        example = row_to_example(row, mapping, {"source": "raw/support.csv", "row": position.row})
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ftcore.errors import FtdataError, Problem
from ftcore.example import Example, InvalidExample
from ftcore.jsonl import UnreadableFile, iter_json_lines, loads, open_maybe_gzip

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
