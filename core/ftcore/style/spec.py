"""A style spec: a named list of configured checks, loaded from YAML and validated against the registry.

Usage:
    spec = StyleSpec.load("style.yaml")
    spec.evaluate("4\\n#### 4")["lines:last_matches"].passed
    # -> True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ftcore.config import read_yaml_mapping
from ftcore.style.registry import REGISTRY, CheckResult, StyleSpecError, definition


@dataclass(frozen=True)
class ConfiguredCheck:
    id: str
    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __call__(self, answer: str) -> CheckResult:
        check = REGISTRY[self.name]
        return check.function(answer, **check.prepare(self.parameters))


@dataclass(frozen=True)
class StyleSpec:
    name: str
    checks: tuple[ConfiguredCheck, ...]
    source: str = "<spec>"

    @classmethod
    def load(cls, path: str | os.PathLike) -> StyleSpec:
        return cls.from_dict(read_yaml_mapping(path), source=str(path))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "<spec>") -> StyleSpec:
        unknown = sorted(set(raw) - {"name", "description", "checks"})
        if unknown:
            raise StyleSpecError(f"{source}: {unknown[0]}: unknown key (expected name, description, checks)")
        entries = raw.get("checks")
        if not isinstance(entries, list) or not entries:
            raise StyleSpecError(f"{source}: checks: must be a non-empty list")
        checks: list[ConfiguredCheck] = []
        for index, entry in enumerate(entries):
            where = f"{source}: checks[{index}]"
            if not isinstance(entry, dict) or "check" not in entry:
                raise StyleSpecError(f"{where}: must be a mapping with a 'check' name")
            check = definition(entry["check"], where)
            parameters = {k: v for k, v in entry.items() if k not in ("check", "id", "description")}
            check.validate(parameters, where)
            check_id = str(entry.get("id") or check.name)
            if any(c.id == check_id for c in checks):
                raise StyleSpecError(f"{where}: id {check_id!r} used twice: give one of them its own 'id'")
            checks.append(
                ConfiguredCheck(check_id, check.name, parameters, entry.get("description", check.description))
            )
        return cls(name=str(raw.get("name", "style")), checks=tuple(checks), source=source)

    def evaluate(self, answer: str) -> dict[str, CheckResult]:
        """Every check's result for one answer, by check id (in spec order)."""
        return {check.id: check(answer) for check in self.checks}
