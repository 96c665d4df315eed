"""The style spec: the house format every assistant answer must hold, as a list of named checks.

The same registry lints the training data (`ftdata check`) and scores the model (fteval): a check
is a pure, deterministic function of the answer and explicit parameters, registered under a name
such as `format:json` or `length:max_words`. A missing or unknown parameter is an error, never a
default.

A spec file (YAML):

    name: gsm8k-house-format
    checks:
      - check: lines:last_matches
        pattern: '#### -?[0-9][0-9,]*(\\.[0-9]+)?'
      - check: regex:count_min
        pattern: '<<[^<>=]+=[^<>]+>>'
        min: 1
        id: calculator-notes          # optional: names the result when a check is used twice
      - check: phrases:forbidden
        phrases: ["great question", "as an ai"]

>>> spec = StyleSpec.load("style.yaml")
>>> spec.evaluate("4\\n#### 4")["lines:last_matches"].passed
True
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ftdata.config import ConfigError, read_yaml_mapping


class StyleSpecError(ConfigError):
    """A style spec names an unknown check or gives it wrong parameters."""


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    detail: str = ""  # why it failed, short enough for a report cell


@dataclass(frozen=True)
class CheckDefinition:
    name: str
    function: Callable[..., CheckResult]
    parameters: Mapping[str, type | tuple[type, ...]]  # every one required
    description: str


REGISTRY: dict[str, CheckDefinition] = {}


def register(name: str, **parameters: type | tuple[type, ...]):
    """Register `function(answer, **parameters) -> CheckResult` under `name`."""

    def decorate(function: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        description = (function.__doc__ or "").strip().splitlines()[0]
        REGISTRY[name] = CheckDefinition(name, function, parameters, description)
        return function

    return decorate


def run_check(name: str, answer: str, **parameters: Any) -> CheckResult:
    """Run one registered check; parameters are validated exactly as in a spec file."""
    definition = _definition(name, "run_check")
    _validate_parameters(definition, parameters, f"run_check({name!r})")
    return definition.function(answer, **_prepare(definition, parameters))


# --- the checks -------------------------------------------------------------------------------


@register("format:json")
def _format_json(answer: str) -> CheckResult:
    """The whole answer parses as JSON."""
    try:
        json.loads(answer)
    except json.JSONDecodeError as error:
        return CheckResult(False, f"not JSON: {error.msg} at column {error.colno}")
    return CheckResult(True)


@register("format:json_schema", schema=dict)
def _format_json_schema(answer: str, *, schema: dict) -> CheckResult:
    """The answer is JSON that validates against a JSON Schema."""
    import jsonschema

    try:
        value = json.loads(answer)
    except json.JSONDecodeError as error:
        return CheckResult(False, f"not JSON: {error.msg}")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        return CheckResult(False, f"{where}: {error.message}"[:200])
    return CheckResult(True)


@register("regex:must_match", pattern=str)
def _regex_must_match(answer: str, *, pattern: re.Pattern) -> CheckResult:
    """The answer contains a match of `pattern` (Python regex, search)."""
    return CheckResult(True) if pattern.search(answer) else CheckResult(False, f"no match for {pattern.pattern!r}")


@register("regex:must_not_match", pattern=str)
def _regex_must_not_match(answer: str, *, pattern: re.Pattern) -> CheckResult:
    """The answer contains no match of `pattern`."""
    found = pattern.search(answer)
    return CheckResult(False, f"found {found.group(0)[:60]!r}") if found else CheckResult(True)


@register("regex:count_min", pattern=str, min=int)
def _regex_count_min(answer: str, *, pattern: re.Pattern, min: int) -> CheckResult:
    """`pattern` occurs at least `min` times."""
    count = len(pattern.findall(answer))
    return CheckResult(count >= min, "" if count >= min else f"{count} match(es), need {min}")


@register("lines:last_matches", pattern=str)
def _last_line_matches(answer: str, *, pattern: re.Pattern) -> CheckResult:
    """The last non-empty line matches `pattern` in full."""
    lines = [line.strip() for line in answer.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return CheckResult(True) if pattern.fullmatch(last) else CheckResult(False, f"last line is {last[:60]!r}")


@register("length:max_words", max=int)
def _max_words(answer: str, *, max: int) -> CheckResult:
    """At most `max` words (whitespace-separated)."""
    count = len(answer.split())
    return CheckResult(count <= max, "" if count <= max else f"{count} words, max {max}")


@register("length:min_words", min=int)
def _min_words(answer: str, *, min: int) -> CheckResult:
    """At least `min` words."""
    count = len(answer.split())
    return CheckResult(count >= min, "" if count >= min else f"{count} words, min {min}")


@register("sections:required", headings=list)
def _required_sections(answer: str, *, headings: list) -> CheckResult:
    """Every heading appears as a line of its own (e.g. '## Summary'), in the given order."""
    lines = [line.strip() for line in answer.splitlines()]
    position = 0
    for heading in headings:
        try:
            position = lines.index(heading.strip(), position) + 1
        except ValueError:
            return CheckResult(False, f"missing or out of order: {heading!r}")
    return CheckResult(True)


@register("phrases:forbidden", phrases=list)
def _forbidden_phrases(answer: str, *, phrases: list) -> CheckResult:
    """None of `phrases` appears (case-insensitive)."""
    folded = answer.casefold()
    found = [p for p in phrases if p.casefold() in folded]
    return CheckResult(False, f"contains {found[0]!r}") if found else CheckResult(True)


@register("casing:style", style=str)
def _casing(answer: str, *, style: str) -> CheckResult:
    """Letter case of the whole answer: `lower`, `upper`, or `sentence` (each line starts upper-case)."""
    letters = [c for c in answer if c.isalpha()]
    if style == "lower":
        ok = all(not c.isupper() for c in letters)
    elif style == "upper":
        ok = all(not c.islower() for c in letters)
    else:  # sentence: validated to be one of the three
        starts = [next((c for c in line if c.isalpha()), "") for line in answer.splitlines() if line.strip()]
        ok = all(not s or s.isupper() for s in starts)
    return CheckResult(ok, "" if ok else f"not {style} case")


CASING_STYLES = ("lower", "upper", "sentence")


# --- the spec ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfiguredCheck:
    id: str
    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __call__(self, answer: str) -> CheckResult:
        definition = REGISTRY[self.name]
        return definition.function(answer, **_prepare(definition, self.parameters))


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
            definition = _definition(entry["check"], where)
            parameters = {k: v for k, v in entry.items() if k not in ("check", "id", "description")}
            _validate_parameters(definition, parameters, where)
            check_id = str(entry.get("id") or definition.name)
            if any(c.id == check_id for c in checks):
                raise StyleSpecError(f"{where}: id {check_id!r} used twice: give one of them its own 'id'")
            checks.append(
                ConfiguredCheck(check_id, definition.name, parameters, entry.get("description", definition.description))
            )
        return cls(name=str(raw.get("name", "style")), checks=tuple(checks), source=source)

    def evaluate(self, answer: str) -> dict[str, CheckResult]:
        """Every check's result for one answer, by check id (in spec order)."""
        return {check.id: check(answer) for check in self.checks}


def _definition(name: Any, where: str) -> CheckDefinition:
    if name not in REGISTRY:
        raise StyleSpecError(f"{where}: unknown check {name!r} (known: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name]


def _validate_parameters(definition: CheckDefinition, parameters: Mapping[str, Any], where: str) -> None:
    for key in parameters:
        if key not in definition.parameters:
            expected = ", ".join(definition.parameters) or "none"
            raise StyleSpecError(f"{where}: {definition.name}: unknown parameter {key!r} (takes: {expected})")
    for key, expected_type in definition.parameters.items():
        if key not in parameters:
            raise StyleSpecError(f"{where}: {definition.name}: missing parameter {key!r}")
        value = parameters[key]
        if isinstance(value, bool) or not isinstance(value, expected_type):
            raise StyleSpecError(
                f"{where}: {definition.name}: {key} must be {_type_name(expected_type)}, got {value!r}"
            )
    if "pattern" in parameters:
        try:
            re.compile(parameters["pattern"])
        except re.error as error:
            raise StyleSpecError(f"{where}: {definition.name}: pattern is not a valid regex: {error}") from None
    if definition.name == "casing:style" and parameters["style"] not in CASING_STYLES:
        raise StyleSpecError(f"{where}: casing:style: style must be one of {', '.join(CASING_STYLES)}")
    for key in ("phrases", "headings"):
        if key in parameters and not all(isinstance(item, str) and item for item in parameters[key]):
            raise StyleSpecError(f"{where}: {definition.name}: {key} must be a list of non-empty strings")
    if definition.name == "format:json_schema":
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(parameters["schema"])
        except jsonschema.exceptions.SchemaError as error:
            raise StyleSpecError(f"{where}: format:json_schema: invalid schema: {error.message}") from None


_COMPILED: dict[str, re.Pattern] = {}


def _prepare(definition: CheckDefinition, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as the check function takes them: patterns compiled once and cached."""
    prepared = dict(parameters)
    if "pattern" in prepared:
        pattern = prepared["pattern"]
        if pattern not in _COMPILED:
            _COMPILED[pattern] = re.compile(pattern, re.MULTILINE)
        prepared["pattern"] = _COMPILED[pattern]
    return prepared


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "a mapping"}
    return names.get(expected, str(expected)) if isinstance(expected, type) else " or ".join(map(str, expected))
