"""Typed records of the JSON files ftkit writes (a run's summary.json, fteval's results.json).

A record is a dataclass with attributes for code, and it still reads like the JSON object it is written as
(`record["steps"]`, `dict(record)`), so scripts written against the files keep working.

Usage:
    summary = RunSummary.read("runs/latest/summary.json")
    summary.tokens_seen == summary["tokens_seen"]
    # -> True
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from ftcore.atomic import atomic_write


class JsonRecord(Mapping):
    """Mix into a dataclass: `to_dict()`, `write(path)`, and read access by key to its JSON form."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def write(self, path: str | os.PathLike) -> None:
        """The record as indented JSON, written atomically."""
        with atomic_write(path) as handle:
            handle.write(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


def known_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of `data` that are fields of dataclass `cls` (files written by another version may hold more)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in data.items() if key in names}
