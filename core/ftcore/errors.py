"""Errors ftdata raises for bad input: each one names the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input: where it is (file, 1-based line, field) and why."""

    path: str
    line: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


class FtdataError(Exception):
    """Bad input or usage: the CLIs print it as one clean message and exit with code 2."""


class ExampleFileError(FtdataError):
    """A file of examples has problems; `problems` holds every one of them, not just the first."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems
        lines = {p.line for p in problems if p.line is not None}
        super().__init__(
            f"{path}: {len(problems)} problem(s) on {len(lines)} line(s); first: {problems[0]}"
            if problems
            else f"{path}: invalid"
        )


class ManifestError(FtdataError):
    """An export folder's manifest is missing, malformed, or does not match the files beside it."""
