"""The registry of style checks: each check is registered with the rules its parameters must follow.

A check is a pure function `function(answer, **parameters) -> CheckResult`. Its parameters are declared where it is
registered, each with its type and range:

    @register("length:max_words", max=integer(minimum=0))
    def _max_words(answer: str, *, max: int) -> CheckResult: ...

Every declared parameter is required (a missing one is an error, never a default), an undeclared one is an error,
and each error names the check and the parameter. A spec file and `run_check` validate alike.

>>> run_check("length:max_words", "one two three", max=2)
CheckResult(passed=False, detail='3 words, max 2')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ftcore.config import ConfigError


class StyleSpecError(ConfigError):
    """A style spec names an unknown check or gives it wrong parameters."""


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    detail: str = ""  # why it failed, short enough for a report cell


_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "a mapping"}


@dataclass(frozen=True)
class Param:
    """What one parameter of a check accepts. Build one with `text`, `integer`, `one_of`, `strings`, `pattern`,
    `mapping` or `json_path` rather than by hand."""

    type: type
    summary: str  # how `takes:` in an error message and the README describe it
    minimum: int | None = None  # integers: the least value allowed
    choices: tuple[str, ...] = ()  # strings: the value must be one of these
    validate: Callable[[Any], str | None] | None = None  # a further rule: what is wrong with the value, or None
    prepare: Callable[[Any], Any] | None = None  # the value as the check function takes it (a compiled regex...)
    note: str = ""  # added to a range error: what the bound means

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value`, as the end of '<parameter> ...', or None when it is allowed."""
        if isinstance(value, bool) or not isinstance(value, self.type):
            return f"must be {_TYPE_NAMES.get(self.type, self.type.__name__)}, got {value!r}"
        if self.minimum is not None and value < self.minimum:
            return f"must be {self.minimum} or more, got {value}" + (f" ({self.note})" if self.note else "")
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}"
        return self.validate(value) if self.validate else None


def text(non_blank: bool = True) -> Param:
    """A string; with `non_blank`, one with something besides white space."""

    def blank(value: str) -> str | None:
        return "must be a non-empty string" if not value.strip() else None

    return Param(str, "a non-empty string" if non_blank else "a string", validate=blank if non_blank else None)


def integer(minimum: int | None = None, note: str = "") -> Param:
    """An integer (not a boolean), at least `minimum` when given."""
    summary = "an integer" if minimum is None else f"an integer, {minimum} or more"
    return Param(int, summary, minimum=minimum, note=note)


def one_of(*choices: str) -> Param:
    """One of the given strings."""
    return Param(str, f"one of {', '.join(choices)}", choices=choices)


def strings() -> Param:
    """A list of non-empty strings (phrases, headings, words)."""

    def items(value: list) -> str | None:
        return None if all(isinstance(item, str) and item for item in value) else "must be a list of non-empty strings"

    return Param(list, "a list of non-empty strings", validate=items)


_COMPILED: dict[str, re.Pattern] = {}


def _compiled(value: str) -> re.Pattern:
    """A pattern compiled once per process (MULTILINE: ^ and $ match at each line)."""
    if value not in _COMPILED:
        _COMPILED[value] = re.compile(value, re.MULTILINE)
    return _COMPILED[value]


def pattern() -> Param:
    """A Python regular expression, passed to the check compiled (re.MULTILINE)."""

    def compiles(value: str) -> str | None:
        try:
            re.compile(value)
        except (re.error, OverflowError, RecursionError) as error:  # a{99999999999}, or groups nested too deep
            return f"is not a valid regex: {error}"
        return None

    return Param(str, "a Python regex", validate=compiles, prepare=_compiled)


def mapping(validate: Callable[[dict], str | None] | None = None, summary: str = "a mapping") -> Param:
    """A mapping (a JSON Schema, for instance), checked by `validate` when given."""
    return Param(dict, summary, validate=validate)


@dataclass(frozen=True)
class CheckDefinition:
    name: str
    function: Callable[..., CheckResult]
    parameters: Mapping[str, Param]  # every one required
    description: str

    def validate(self, parameters: Mapping[str, Any], where: str) -> None:
        """Raise `StyleSpecError` naming `where`, the check and the parameter when `parameters` break a rule."""
        for key in parameters:
            if key not in self.parameters:
                raise StyleSpecError(f"{where}: {self.name}: unknown parameter {key!r} (takes: {self.signature()})")
        for key, rule in self.parameters.items():
            if key not in parameters:
                raise StyleSpecError(f"{where}: {self.name}: missing parameter {key!r} (takes: {self.signature()})")
            problem = rule.problem(parameters[key])
            if problem:
                raise StyleSpecError(f"{where}: {self.name}: {key} {problem}")

    def prepare(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters as the check function takes them (patterns compiled, paths parsed)."""
        return {
            key: rule.prepare(parameters[key]) if rule.prepare else parameters[key]
            for key, rule in self.parameters.items()
        }

    def signature(self) -> str:
        """The parameters and what each takes, e.g. 'max: an integer, 0 or more'; 'none' for a check without."""
        return "; ".join(f"{key}: {rule.summary}" for key, rule in self.parameters.items()) or "none"


REGISTRY: dict[str, CheckDefinition] = {}


def register(name: str, **parameters: Param):
    """Register `function(answer, **parameters) -> CheckResult` under `name`, with the rules of its parameters."""

    def decorate(function: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        description = (function.__doc__ or "").strip().splitlines()[0]
        REGISTRY[name] = CheckDefinition(name, function, parameters, description)
        return function

    return decorate


def definition(name: Any, where: str) -> CheckDefinition:
    """The registered check `name`; an error naming `where` and the known checks when there is none."""
    if name not in REGISTRY:
        raise StyleSpecError(f"{where}: unknown check {name!r} (known: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name]


def run_check(name: str, answer: str, **parameters: Any) -> CheckResult:
    """Run one registered check; parameters are validated exactly as in a spec file."""
    check = definition(name, "run_check")
    check.validate(parameters, f"run_check({name!r})")
    return check.function(answer, **check.prepare(parameters))
