"""JSONL files of examples: a reader that reports every problem, and an all-or-nothing writer.

>>> examples = read_examples("candidates.jsonl")        # raises ExampleFileError listing every problem
>>> write_examples("clean.jsonl", examples)            # temporary file, then rename
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from ftdata.atomic import atomic_write
from ftdata.errors import ExampleFileError, Problem
from ftdata.example import Example, InvalidExample

UTF8_BOM = b"\xef\xbb\xbf"


def iter_records(path: str | os.PathLike) -> Iterator[tuple[int, Example | None, list[Problem]]]:
    """Yield `(line number, example or None, problems)` for each non-blank line of a JSONL file.

    Reads line by line in binary, so one bad byte or line never hides the lines after it.
    """
    name = str(path)
    try:
        with open(path, "rb") as handle:
            yield from _parse_lines(name, handle)
    except OSError as error:
        yield 0, None, [Problem(name, None, None, f"cannot read: {error.strerror or error}")]


def _parse_lines(name: str, handle: BinaryIO) -> Iterator[tuple[int, Example | None, list[Problem]]]:
    for line_number, raw in enumerate(handle, start=1):
        if line_number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            reason = f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1})"
            yield line_number, None, [Problem(name, line_number, None, reason)]
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            truncated = error.pos >= len(text)
            where = "at the end of the line: truncated?" if truncated else f"at column {error.pos + 1}"
            reason = f"not valid JSON: {error.msg} {where}"
            yield line_number, None, [Problem(name, line_number, None, reason)]
            continue
        try:
            yield line_number, Example.from_dict(record), []
        except InvalidExample as invalid:
            yield line_number, None, [Problem(name, line_number, f, r) for f, r in invalid.issues]


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


def validate_files(
    paths: Iterable[str | os.PathLike], out: str | os.PathLike | None = None
) -> ValidationReport:
    """Check files against the contract; write their examples, normalised, to `out` only if all are valid.

    >>> report = validate_files(["a.jsonl", "b.jsonl"], out="clean.jsonl")
    >>> report.problem_count, report.written
    (0, PosixPath('clean.jsonl'))
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
