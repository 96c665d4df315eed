"""JSONL files of examples: a reader that reports every problem, and an all-or-nothing writer.

Usage:
    examples = read_examples("candidates.jsonl")        # raises ExampleFileError listing every problem
    write_examples("clean.jsonl", examples)            # temporary file, then rename
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ftcore.atomic import atomic_write
from ftcore.errors import ExampleFileError, FtdataError, Problem
from ftcore.example import Example, InvalidExample

UTF8_BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
# A longer line is not a training example but a broken or foreign file (a 2 GB minified dump):
# refuse it rather than read it into memory.
MAX_LINE_BYTES = 32 * 1024 * 1024
# A JSON escape of a UTF-16 surrogate: a pair makes one character, a lone one no text a UTF-8 file can hold.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class UnreadableFile(FtdataError):
    """The file as a whole cannot be read: missing, binary, corrupt gzip, wrong encoding, a line too long."""

    def __init__(self, path: str | os.PathLike, reason: str, line: int | None = None):
        self.problem = Problem(str(path), line, None, reason)
        super().__init__(str(self.problem))


def iter_json_lines(
    path: str | os.PathLike, fatal_encoding_errors: bool = False
) -> Iterator[tuple[int, Any, list[Problem]]]:
    """Yield `(line number, parsed JSON value or None, problems)` for each non-blank line.

    Reads line by line in binary (gzip too, by its magic bytes), so one bad byte or line never
    hides the lines after it. Raises `UnreadableFile` when the file itself is the problem, and, with
    `fatal_encoding_errors`, when a line is not UTF-8 (an importer's "wrong encoding" is the file's).
    """
    name = str(path)
    try:
        with open_maybe_gzip(path) as handle:
            if b"\x00" in handle.peek(8192)[:8192]:
                raise UnreadableFile(name, "binary data (NUL bytes), not a JSONL text file")
            line_number = 0
            while raw := handle.readline(MAX_LINE_BYTES + 1):
                line_number += 1
                if len(raw) > MAX_LINE_BYTES:
                    limit = f"{MAX_LINE_BYTES // 2**20} MiB"
                    raise UnreadableFile(name, f"line longer than {limit}: not a JSONL file?", line_number)
                if line_number == 1:
                    raw = raw.removeprefix(UTF8_BOM)
                if not raw.strip():
                    continue
                value, problems = _parse_line(name, line_number, raw)
                if fatal_encoding_errors and problems and problems[0].reason.startswith("not valid UTF-8"):
                    hint = "re-encode the file, e.g. iconv -f latin1 -t utf-8"
                    raise UnreadableFile(name, f"{problems[0].reason}: {hint}", line_number)
                yield line_number, value, problems
    except OSError as error:  # includes gzip.BadGzipFile
        raise UnreadableFile(name, f"cannot read: {error.strerror or error}") from None
    except EOFError:
        raise UnreadableFile(name, "truncated gzip file (ends before its last block)") from None
    except zlib.error as error:  # a damaged block inside a gzip file
        raise UnreadableFile(name, f"corrupt gzip data: {error}") from None


def read_json_objects(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every line's JSON object, for files a tool wrote itself (answers, recorded reviews): the first line that
    is not a JSON object raises, naming the file and line, rather than being skipped."""
    rows = []
    for line_number, value, problems in iter_json_lines(path):
        if problems:
            raise UnreadableFile(path, problems[0].reason, line_number)
        if not isinstance(value, dict):
            raise UnreadableFile(path, f"a JSON object was expected, not {type(value).__name__}", line_number)
        rows.append(value)
    return rows


def open_maybe_gzip(path: str | os.PathLike) -> BinaryIO:
    with open(path, "rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def _parse_line(name: str, line_number: int, raw: bytes) -> tuple[Any, list[Problem]]:
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        reason = f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1})"
        return None, [Problem(name, line_number, None, reason)]
    try:
        return loads(text), []
    except json.JSONDecodeError as error:
        truncated = error.pos >= len(text)
        where = "at the end of the line: truncated?" if truncated else f"at column {error.pos + 1}"
        return None, [Problem(name, line_number, None, f"not valid JSON: {error.msg} {where}")]
    except ValueError as error:
        return None, [Problem(name, line_number, None, f"not usable JSON: {error}")]


def loads(text: str) -> Any:
    """`json.loads`, failing only with ValueError (JSONDecodeError for bad syntax) and a one-line reason.

    >>> loads('{"content": "\\\\ud800"}')
    Traceback (most recent call last):
    ValueError: lone surrogate \\ud800: not a character

    json.loads itself also raises RecursionError on deep nesting and ValueError on a 5,000-digit number,
    and accepts a lone surrogate escape (\\ud800) that fails later, when the text is hashed or written.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as error:  # "Exceeds the limit (4300 digits) for integer string conversion ..."
        raise ValueError(str(error).split(";")[0]) from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(f"lone surrogate \\u{ord(error.object[error.start]):04x}: not a character") from None
        except RecursionError:
            raise ValueError("nested too deeply") from None
    return value


def iter_records(path: str | os.PathLike) -> Iterator[tuple[int, Example | None, list[Problem]]]:
    """Yield `(line number, example or None, problems)` for each non-blank line of a JSONL file of
    examples. A file that cannot be read at all yields one problem with line number 0."""
    try:
        for line_number, record, problems in iter_json_lines(path):
            if problems:
                yield line_number, None, problems
                continue
            try:
                yield line_number, Example.from_dict(record), []
            except InvalidExample as invalid:
                yield line_number, None, [Problem(str(path), line_number, f, r) for f, r in invalid.issues]
    except UnreadableFile as error:
        yield 0, None, [error.problem]


def read_examples(path: str | os.PathLike) -> list[Example]:
    """Every example in a JSONL file, or `ExampleFileError` carrying every problem in it."""
    examples: list[Example] = []
    problems: list[Problem] = []
    for _, example, found in iter_records(path):
        problems.extend(found)
        if example is not None:
            examples.append(example)
    if problems:
        raise ExampleFileError(str(path), problems)
    return examples


def write_examples(path: str | os.PathLike, examples: Iterable[Example]) -> int:
    """Write examples as JSONL (one `to_dict()` per line, UTF-8) atomically; returns the count.

    Nothing appears under `path` unless every example was written.
    """
    count = 0
    with atomic_write(Path(path)) as handle:
        for example in examples:
            handle.write(json.dumps(example.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


@dataclass
class FileReport:
    path: str
    valid_examples: int = 0
    problems: list[Problem] = field(default_factory=list)
    readable: bool = True


@dataclass
class ValidationReport:
    files: list[FileReport]
    examples: list[Example]
    written: Path | None = None

    @property
    def problem_count(self) -> int:
        return sum(len(f.problems) for f in self.files)

    @property
    def all_readable(self) -> bool:
        return all(f.readable for f in self.files)

    def to_dict(self) -> dict:
        return {
            "ok": self.problem_count == 0,
            "files": [{**asdict(f), "problems": [asdict(p) for p in f.problems]} for f in self.files],
            "written": str(self.written) if self.written else None,
        }


def validate_files(paths: Iterable[str | os.PathLike], out: str | os.PathLike | None = None) -> ValidationReport:
    """Check files against the contract; write their examples, normalised, to `out` only if all are valid.

    Usage:
        report = validate_files(["a.jsonl", "b.jsonl"], out="clean.jsonl")
        report.problem_count, report.written
        # -> (0, PosixPath('clean.jsonl'))
    """
    report = ValidationReport(files=[], examples=[])
    for path in paths:
        file_report = FileReport(path=str(path))
        for line, example, found in iter_records(path):
            file_report.problems.extend(found)
            file_report.readable &= line != 0
            if example is not None:
                report.examples.append(example)
                file_report.valid_examples += 1
        report.files.append(file_report)
    if out is not None and report.problem_count == 0:
        write_examples(out, report.examples)
        report.written = Path(out)
    return report
