"""Checks for answers that must be JSON: `format:json` and `format:json_schema`."""

from __future__ import annotations

import json

from ftcore.style.registry import CheckResult, mapping, register


def _valid_schema(schema: dict) -> str | None:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as error:
        return f"is an invalid schema: {error.message}"
    return None


@register("format:json")
def _format_json(answer: str) -> CheckResult:
    """The whole answer parses as JSON."""
    try:
        json.loads(answer)
    except json.JSONDecodeError as error:
        return CheckResult(False, f"not JSON: {error.msg} at column {error.colno}")
    except (ValueError, RecursionError) as error:
        return _unreadable_json(error)
    return CheckResult(True)


def _unreadable_json(error: ValueError | RecursionError) -> CheckResult:
    """JSON Python cannot hold, failed rather than raised: nesting past the recursion limit, or an integer past
    the int digit limit (4,300 digits, the ValueError)."""
    if isinstance(error, RecursionError):
        return CheckResult(False, "not JSON Python can read: nested too deeply")
    return CheckResult(False, f"not JSON Python can read: {str(error).split(':')[0]}"[:200])


@register("format:json_schema", schema=mapping(_valid_schema, "a JSON Schema (draft 2020-12)"))
def _format_json_schema(answer: str, *, schema: dict) -> CheckResult:
    """The answer is JSON that validates against a JSON Schema."""
    import jsonschema

    try:
        value = json.loads(answer)
    except json.JSONDecodeError as error:
        return CheckResult(False, f"not JSON: {error.msg}")
    except (ValueError, RecursionError) as error:
        return _unreadable_json(error)
    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    except RecursionError:  # a recursive schema ({"items": {"$ref": "#"}}) walks a deep value one frame per level
        return CheckResult(False, "nested too deeply to validate")
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        return CheckResult(False, f"{where}: {error.message}"[:200])
    return CheckResult(True)
