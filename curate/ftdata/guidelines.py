"""Starter annotation guidelines for a new project, written by `ftdata init` from the style spec.

`ftdata.yaml` names a guidelines file (`guidelines: guidelines.md`) that `ftdata push` sends to
Argilla; `init` writes a first version so that the project works from the first command: the house
style in words (each check of the style spec, with its parameters), then the verdicts, issues,
style score, corrections, personal data and what happens to disagreements. Edit it: reviewers follow
what it says, and its sha256 is the guideline version every export records.

Usage:
    text = starter_guidelines("support-tickets", StyleSpec.load("style.yaml"))
"""

from __future__ import annotations

import json
from typing import Any

from ftcore.style import ConfiguredCheck, StyleSpec


def starter_guidelines(dataset: str, spec: StyleSpec | None) -> str:
    """The guidelines' markdown: the style spec's checks in words (a placeholder without a spec), then the review."""
    if spec is None:
        style = (
            "Describe the house style here: the format, tone and length every answer must have. Write it as a\n"
            "style spec too (a YAML file of checks, named by `style:` in ftdata.yaml): `ftdata check` then\n"
            "finds the answers that break it, and `ftdata init --style FILE --force` rewrites this section.\n"
        )
    else:
        lines = [f"The style spec `{spec.name}` holds every answer to these rules (`ftdata check` tests them all):", ""]
        lines += [f"- {describe_check(check)}" for check in spec.checks]
        style = "\n".join(lines) + "\n"
    return TEMPLATE.format(dataset=dataset, style=style)


def describe_check(check: ConfiguredCheck) -> str:
    """One check as a sentence a reviewer can apply: its description, then its parameters spelled out."""
    description = check.description.rstrip(".") or check.name
    parameters = dict(check.parameters)
    schema = parameters.pop("schema", None)
    details = [f"{name}: {_value_words(value)}" for name, value in parameters.items()]
    if isinstance(schema, dict):
        details.append(schema_words(schema))
    return f"**{check.id}**: {description}" + (f" ({'; '.join(details)})" if details else "") + "."


def schema_words(schema: dict[str, Any]) -> str:
    """A JSON Schema's object in words: its keys, which are required, and what each may hold.

    >>> schema_words({"type": "object", "required": ["a"], "properties": {"a": {"enum": ["x", "y"]}}})
    'a JSON object with the keys a (required: one of "x", "y")'
    """
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict):
        return f"JSON matching the schema {json.dumps(schema, ensure_ascii=False)[:200]}"
    required = set(schema.get("required", []))
    keys = []
    for name, rule in properties.items():
        rule = rule if isinstance(rule, dict) else {}
        if "enum" in rule:
            allowed = "one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in rule["enum"])
        else:
            allowed = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
                       "array": "a list", "object": "an object"}.get(str(rule.get("type")), "any value")  # fmt: skip
            if rule.get("minLength"):
                allowed += ", not empty"
            if rule.get("maxLength"):
                allowed += f", at most {rule['maxLength']} characters"
        keys.append(f"{name} ({'required: ' if name in required else ''}{allowed})")
    closed = "; no other keys" if schema.get("additionalProperties") is False else ""
    return "a JSON object with the keys " + ", ".join(keys) + closed


def _value_words(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f'"{v}"' for v in value)
    if isinstance(value, str):
        return f"`{value}`"
    return str(value)


TEMPLATE = """\
# Reviewing training examples: {dataset}

You are deciding what a model will learn. Every example you accept teaches the model to answer
*exactly like this*: its format, its tone, its mistakes. When in doubt, be strict: 500 clean
examples teach more than 2,000 mixed ones.

Each record shows a **conversation** (the system prompt, if any, and the user's turns) and a
**candidate answer**. Judge only the answer; the conversation is context.

## 1. The house style

{style}
Some records come with **suggestions** from `ftdata check` (for example `issues = wrong-format`).
They are the machine's opinion: confirm or correct them.

## 2. Verdict (required)

| verdict | when | what happens next |
| --- | --- | --- |
| **accept** | correct, in house style and format, safe, nothing to change | trained on as is |
| **needs-edit** | worth keeping, but something must change: fix it in **corrected** | your correction is trained on |
| **reject** | not worth fixing, unsafe, a duplicate, or the question itself is broken | left out |

Pick **needs-edit** over **reject** when the fix takes under two minutes.

## 3. Issues (tick every one that applies)

`off-style` (tone or wording), `wrong-format` (the structure the style spec asks for),
`factually-wrong`, `unsafe`, `contains-PII` (a person's contact details, an ID, a card or account
number, an API key or password), `duplicate` (the same or nearly the same as another record), and
`other` (say what in the corrected field or to the project lead). Tag what was wrong with the
*candidate*, even after you fixed it.

## 4. Style score (1-5)

How well the candidate (not your correction) holds the house style: 5 indistinguishable from the
best examples, 4 one small slip, 3 noticeably off in one way, 2 off in several ways, 1 ignores it.

## 5. Rewriting (corrected)

Change as little as possible; keep the house style exactly; fill **corrected** only with
**needs-edit**.

## 6. Personal data and secrets

Never copy personal data or credentials into a correction. Personal data the task does not need in
the *answer*: **needs-edit**, tick `contains-PII`, replace it with a placeholder. In the *question*:
**reject** and tick `contains-PII`. An API key, password or private key anywhere: **reject**, tick
`contains-PII`, and tell the project lead so the key can be revoked.

## 7. Disagreements

Several reviewers see each record on purpose: give your own judgement, not a guess of theirs.
Records without a majority, or with different corrections, go to a senior reviewer
(`ftdata adjudicate`), whose decision is final.

## 8. A model's draft

Records with metadata `origin: drafted` were written by a model (`ftdata draft`): **corrected** comes
pre-filled with the draft (its score: the share of style checks it passes), and the model's other
candidates are shown beside it. Right as it stands: **accept** (the pre-filled text is then ignored).
Another candidate is better, or the draft needs fixing: put the answer to train on in **corrected**,
**needs-edit**. Wrong throughout with no candidate close, or unsafe: **reject**. Check every number: the
score counts the format, never whether the answer is right. A draft is trained on only with your verdict.
"""
