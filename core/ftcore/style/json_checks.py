"""Checks for answers that must be JSON: the whole answer (`format:json`, `format:json_schema`) and one field of it
at a time, found by a JSON path (`json:*`).

Every check here fails when the answer is not JSON, and says why in words a person can act on: "not JSON: wrapped
in a ```json fence", "not JSON: text after the JSON (line 3: 'Hope this helps!')", "not JSON: expecting ','
delimiter at line 2 column 5". A text check such as `regex:must_not_match` reads the raw text instead, and so passes
on an answer it cannot read: put a rule on a field with a `json:` check.

JSON is read strictly: NaN and Infinity (which Python's json accepts and other parsers refuse) and a key twice in one
object (readers disagree on which value counts) fail.

A JSON path names the values a check reads, from the top of the answer:

    reply               the field "reply" of the answer (an object)
    customer.email      a field of a field
    items[0]            the first item of the array "items"; items[-1] the last
    items[*].sku        "sku" of every item (each must pass; an empty array has none to fail)
    ["first name"]      a key with spaces, dots or quotes, as a JSON string in brackets: meta["a.b"]
    $                   the answer itself (a leading $ is allowed anywhere: $.reply)

A path that leads nowhere fails the check ("reply: missing", "customer is a string, not an object").

>>> from ftcore.style import run_check
>>> run_check("json:field_max_words", '{"reply": "Thanks, we are on it."}', path="reply", max=60).passed
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ftcore.style.registry import CheckResult, Param, integer, mapping, one_of, pattern, register, strings


class NotJson(Exception):
    """The answer is not JSON; the message says why, starting 'not JSON'."""


class _Refused(Exception):
    """Valid to Python's json, refused by the strict reading (not a ValueError: json's own errors are)."""


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"not JSON: {name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"not JSON: key {key!r} twice in one object")
            seen.add(key)
    return value


_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
_LENIENT = json.JSONDecoder()
_FENCE = re.compile(r"(?:```|~~~)[\w+.-]*")


def read_json(answer: str, strict: bool = True, start: int = 0, end: int | None = None) -> Any:
    """The JSON value of `answer[start:end]` (all of it by default), or `NotJson` naming the real problem, with lines
    and columns counted in `answer`. `strict=False` reads as Python's json does (NaN and repeated keys pass).

    >>> read_json('```json\\n{"a": 1}\\n```')
    Traceback (most recent call last):
    ftcore.style.json_checks.NotJson: not JSON: wrapped in a ```json fence
    """
    end = len(answer) if end is None else end
    text = answer[start:end]
    try:
        return (_STRICT if strict else _LENIENT).decode(text)
    except _Refused as refused:
        raise NotJson(str(refused)) from None
    except json.JSONDecodeError as error:
        raise NotJson(_describe(answer, start, error, strict)[:200]) from None
    except RecursionError:
        raise NotJson("not JSON Python can read: nested too deeply") from None
    except ValueError as error:  # an integer past Python's int digit limit (4,300 digits)
        raise NotJson(f"not JSON Python can read: {str(error).split(':')[0]}"[:200]) from None


def _describe(answer: str, start: int, error: json.JSONDecodeError, strict: bool) -> str:
    """Why `answer[start:...]` is not JSON, in words a person can act on."""
    text = error.doc
    first = len(text) - len(text.lstrip())  # the first non-space character (json's own white space is narrower)
    if not text.strip():
        return "not JSON: the answer is empty" if not answer.strip() else "not JSON: nothing inside the fence"
    if fence := _FENCE.match(text, first):
        return f"not JSON: wrapped in a {fence.group()[:20]} fence"
    if error.msg == "Extra data":
        return f"not JSON: text after the JSON ({_line_of(answer, start + error.pos, text[error.pos :])})"
    if error.msg == "Expecting value" and error.pos == first:
        found = _json_further_in(text, first, strict)
        if found is not None:
            after = text[found:].strip()
            where = "text before and after the JSON" if after else "text before the JSON"
            return f"not JSON: {where} ({_line_of(answer, start + first, text[first:])})"
        return f"not JSON: starts with {_snippet(text[first:])!r}"
    line = answer.count("\n", 0, start + error.pos) + 1
    column = start + error.pos - answer.rfind("\n", 0, start + error.pos)
    reason = error.msg.removesuffix(" at")  # "Unterminated string starting at"
    return f"not JSON: {reason[:1].lower()}{reason[1:]} at line {line} column {column}"


def _json_further_in(text: str, first: int, strict: bool) -> int | None:
    """Where a JSON object or array that starts after some text ends, or None when there is none."""
    opening = re.compile(r"[{\[]").search(text, first + 1)
    if opening is None:
        return None
    try:
        _, end = (_STRICT if strict else _LENIENT).raw_decode(text, opening.start())
    except (ValueError, RecursionError, _Refused):
        return None
    return end


def _line_of(answer: str, position: int, rest: str) -> str:
    """'line 3: 'Hope this helps!'': the answer's line at `position` and the start of the text found there."""
    line = answer.count("\n", 0, position) + 1
    return f"line {line}: {_snippet(rest)!r}"


def _snippet(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 30 else line[:29] + "…"


def _not_json(answer: str) -> CheckResult | None:
    """The failed result for an answer that is not JSON; None when it is."""
    try:
        read_json(answer)
    except NotJson as problem:
        return CheckResult(False, str(problem))
    return None


@register("format:json")
def _format_json(answer: str) -> CheckResult:
    """The whole answer is JSON (no fence, no text around it; NaN or a repeated key fails)."""
    return _not_json(answer) or CheckResult(True)


def _valid_schema(schema: dict) -> str | None:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as error:
        return f"is an invalid schema: {error.message}"
    return None


@register("format:json_schema", schema=mapping(_valid_schema, "a JSON Schema (draft 2020-12)"))
def _format_json_schema(answer: str, *, schema: dict) -> CheckResult:
    """The answer is JSON that validates against a JSON Schema."""
    import jsonschema

    try:
        value = read_json(answer)
    except NotJson as problem:
        return CheckResult(False, str(problem))
    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    except RecursionError:  # a recursive schema ({"items": {"$ref": "#"}}) walks a deep value one frame per level
        return CheckResult(False, "nested too deeply to validate")
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        return CheckResult(False, f"{where}: {error.message}"[:200])
    return CheckResult(True)


# --- JSON paths -------------------------------------------------------------------------------

_BARE = r"[^.\[\]\s\"'$*]+"  # a key written without brackets: no dot, bracket, space, quote, '$' or '*'
_BARE_KEY = re.compile(_BARE)
_STEP = re.compile(rf"\.(?P<key>{_BARE})|\[(?P<index>-?\d+)\]|\[(?P<all>\*)\]|\[(?P<quoted>\"(?:[^\"\\]|\\.)*\")\]")
_ALL = None  # the step [*]


class PathProblem(Exception):
    """The path leads nowhere in this answer; the message names where it stopped."""


@dataclass(frozen=True)
class JsonPath:
    """A parsed JSON path (see the module's docstring for the syntax).

    >>> JsonPath.parse("items[*].sku").find({"items": [{"sku": "A1"}, {"sku": "B2"}]})
    [('items[0].sku', 'A1'), ('items[1].sku', 'B2')]
    """

    text: str
    steps: tuple[str | int | None, ...]  # a key, an index, or _ALL

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        """The path `text`; ValueError saying where it cannot be read."""
        if not text.strip():
            raise ValueError("is empty: '$' names the whole answer")
        body = text[1:] if text.startswith("$") else text if text.startswith("[") else "." + text
        steps: list[str | int | None] = []
        position = 0
        while position < len(body):
            step = _STEP.match(body, position)
            if step is None:
                shown = max(position - (len(body) - len(text)), 0)  # where in `text`, not in `body`
                raise ValueError(f"cannot be read at character {shown + 1} ({text[shown:]!r})")
            if step["key"] is not None:
                steps.append(step["key"])
            elif step["index"] is not None:
                steps.append(int(step["index"]))
            elif step["all"] is not None:
                steps.append(_ALL)
            else:
                try:
                    steps.append(json.loads(step["quoted"]))
                except ValueError:  # an escape JSON does not have, such as \q
                    raise ValueError(f"has a key that is not a JSON string: {step['quoted']}") from None
            position = step.end()
        return cls(text, tuple(steps))

    def find(self, document: Any) -> list[tuple[str, Any]]:
        """(location, value) of every value the path names in `document`; PathProblem where it leads nowhere."""
        found: list[tuple[str, Any]] = [("", document)]
        for step in self.steps:
            following: list[tuple[str, Any]] = []
            for location, value in found:
                if isinstance(step, str):
                    if not isinstance(value, dict):
                        raise PathProblem(f"{_name(location)} is {_a_json_type(value)}, not an object")
                    if step not in value:
                        raise PathProblem(f"{_key_location(location, step)}: missing")
                    following.append((_key_location(location, step), value[step]))
                elif not isinstance(value, list):
                    raise PathProblem(f"{_name(location)} is {_a_json_type(value)}, not an array")
                elif step is _ALL:
                    following += [(f"{location}[{index}]", item) for index, item in enumerate(value)]
                elif -len(value) <= step < len(value):
                    following.append((f"{location}[{step}]", value[step]))
                else:
                    raise PathProblem(f"{location}[{step}]: missing ({_name(location)} has {len(value)} item(s))")
            found = following
        return found


def _key_location(location: str, key: str) -> str:
    if _BARE_KEY.fullmatch(key):
        return f"{location}.{key}" if location else key
    return f"{location}[{json.dumps(key, ensure_ascii=False)}]"


def _name(location: str) -> str:
    return location or "the answer"


_JSON_TYPES = ("string", "number", "integer", "boolean", "null", "object", "array")


def _json_type(value: Any) -> str:
    """The JSON type of a parsed value; an integral number is 'integer' (JSON Schema reads 1.0 as one too)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    return {float: "number", str: "string", dict: "object", list: "array"}[type(value)]


def _a_json_type(value: Any) -> str:
    """'a string', 'an object', 'a number' (an integer too), 'null'."""
    kind = _json_type(value)
    return _a("number" if kind == "integer" else kind)


def _a(kind: str) -> str:
    return "null" if kind == "null" else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _has_type(value: Any, kind: str) -> bool:
    return _json_type(value) in (("integer", "number") if kind == "number" else (kind,))


def json_path() -> Param:
    """A JSON path (the syntax in this module's docstring), passed to the check parsed."""

    def readable(value: str) -> str | None:
        try:
            JsonPath.parse(value)
        except ValueError as error:
            return f"{value!r} {error}"
        return None

    return Param(str, "a JSON path such as reply or items[*].sku", validate=readable, prepare=JsonPath.parse)


def json_paths() -> Param:
    """A non-empty list of JSON paths."""
    single = json_path()

    def readable(value: list) -> str | None:
        if not value:
            return "must name at least one path"
        for item in value:
            problem = single.problem(item)
            if problem:
                return f"item {problem}"
        return None

    return Param(
        list, "a list of JSON paths", validate=readable, prepare=lambda paths: tuple(map(JsonPath.parse, paths))
    )


def json_scalars() -> Param:
    """A non-empty list of JSON strings, numbers, booleans or nulls."""

    def scalars(value: list) -> str | None:
        if not value or not all(item is None or isinstance(item, str | int | float | bool) for item in value):
            return "must be a non-empty list of strings, numbers, booleans or nulls"
        return None

    return Param(list, "a list of strings, numbers, booleans or nulls", validate=scalars)


# --- checks on the values at a path -----------------------------------------------------------


def _each_value(answer: str, path: JsonPath, judge: Callable[[Any], str | None]) -> CheckResult:
    """Read the answer, find every value at `path`, and fail with the first one `judge` finds wrong."""
    try:
        for location, value in path.find(read_json(answer)):
            problem = judge(value)
            if problem:
                return CheckResult(False, f"{_name(location)}: {problem}"[:200])
    except (NotJson, PathProblem) as problem:
        return CheckResult(False, str(problem)[:200])
    return CheckResult(True)


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"{_a_json_type(value)}, not a string"


@register("json:required_fields", fields=json_paths())
def _required_fields(answer: str, *, fields: tuple[JsonPath, ...]) -> CheckResult:
    """The answer is JSON holding every one of `fields` (JSON paths; a null value is present)."""
    try:
        document = read_json(answer)
    except NotJson as problem:
        return CheckResult(False, str(problem))
    problems = []
    for path in fields:
        try:
            path.find(document)
        except PathProblem as problem:
            problems.append(str(problem))
    return CheckResult(False, "; ".join(problems)[:200]) if problems else CheckResult(True)


@register("json:only_fields", path=json_path(), fields=strings())
def _only_fields(answer: str, *, path: JsonPath, fields: list) -> CheckResult:
    """The object at `path` ('$': the answer itself) has no key but `fields` (which it need not all have)."""

    def judge(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"{_a_json_type(value)}, not an object"
        extra = [key for key in value if key not in fields]
        return f"unexpected field(s) {', '.join(map(repr, extra))}" if extra else None

    return _each_value(answer, path, judge)


@register("json:field_type", path=json_path(), type=one_of(*_JSON_TYPES))
def _field_type(answer: str, *, path: JsonPath, type: str) -> CheckResult:
    """The value at `path` has the JSON type `type`: string, number, integer, boolean, null, object or array."""

    def judge(value: Any) -> str | None:
        return None if _has_type(value, type) else f"{_a_json_type(value)}, not {_a(type)}"

    return _each_value(answer, path, judge)


def _same_json(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


@register("json:field_enum", path=json_path(), values=json_scalars())
def _field_enum(answer: str, *, path: JsonPath, values: list) -> CheckResult:
    """The value at `path` is one of `values` (exactly: 'Billing' is not 'billing', true is not 1)."""

    def judge(value: Any) -> str | None:
        if any(_same_json(value, allowed) for allowed in values):
            return None
        shown = ", ".join(json.dumps(allowed, ensure_ascii=False) for allowed in values)
        return f"{json.dumps(value, ensure_ascii=False)[:40]} is not one of {shown}"

    return _each_value(answer, path, judge)


@register("json:field_must_match", path=json_path(), pattern=pattern())
def _field_must_match(answer: str, *, path: JsonPath, pattern: re.Pattern) -> CheckResult:
    """The value at `path` is a string containing a match of `pattern` (search, as `regex:must_match`)."""

    def judge(value: Any) -> str | None:
        return _string(value) or (None if pattern.search(value) else f"no match for {pattern.pattern!r}")

    return _each_value(answer, path, judge)


@register("json:field_must_not_match", path=json_path(), pattern=pattern())
def _field_must_not_match(answer: str, *, path: JsonPath, pattern: re.Pattern) -> CheckResult:
    """The value at `path` is a string with no match of `pattern`."""

    def judge(value: Any) -> str | None:
        if problem := _string(value):
            return problem
        found = pattern.search(value)
        return f"found {found.group(0)[:60]!r}" if found else None

    return _each_value(answer, path, judge)


@register("json:field_max_words", path=json_path(), max=integer(minimum=0))
def _field_max_words(answer: str, *, path: JsonPath, max: int) -> CheckResult:
    """The value at `path` is a string of at most `max` words (white-space separated, as `length:max_words`)."""

    def judge(value: Any) -> str | None:
        if problem := _string(value):
            return problem
        count = len(value.split())
        return f"{count} words, max {max}" if count > max else None

    return _each_value(answer, path, judge)


@register("json:field_min_words", path=json_path(), min=integer(minimum=0))
def _field_min_words(answer: str, *, path: JsonPath, min: int) -> CheckResult:
    """The value at `path` is a string of at least `min` words."""

    def judge(value: Any) -> str | None:
        if problem := _string(value):
            return problem
        count = len(value.split())
        return f"{count} words, min {min}" if count < min else None

    return _each_value(answer, path, judge)
