"""The example record: a chat in the OpenAI/TRL `messages` layout, a stable id, and metadata.

>>> ex = Example.from_prompt_completion("What is 2+2?", "4", metadata={"source": "demo.csv", "row": 1})
>>> [m.role for m in ex.messages]
['user', 'assistant']
>>> Example.from_dict(ex.to_dict()) == ex
True
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")
ID_PREFIX = "ex_"
RECORD_KEYS = ("id", "messages", "metadata")
PROMPT_COMPLETION_KEYS = ("id", "system", "prompt", "completion", "metadata")
MESSAGE_KEYS = ("role", "content")


def normalise_content(text: str) -> str:
    """The stored form of a turn: Unicode NFC, LF line ends, no outer whitespace.

    NFC only (canonical equivalence): NFKC would turn "x²" into "x2" and "ﬁ" into "fi" in the
    training text. The stronger folding (NFKC, case, inner whitespace) belongs to duplicate search.
    """
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


class InvalidExample(ValueError):
    """A record that breaks the contract; `issues` lists every (field, reason) found."""

    def __init__(self, issues: list[tuple[str | None, str]]):
        self.issues = issues
        super().__init__("; ".join(f"{f}: {r}" if f else r for f, r in issues))


@dataclass(frozen=True)
class Message:
    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Example:
    """One training example. Build it with `create`/`from_dict`, which normalise and validate.

    `id` is a hash of the normalised messages, so the same conversation always gets the same id
    whatever file, row or metadata it came with: re-importing, re-pushing and re-exporting are safe.
    """

    id: str
    messages: tuple[Message, ...]
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def create(cls, messages: Iterable[Mapping[str, Any] | Message], metadata: Mapping | None = None) -> Example:
        """Validate and normalise `messages`, and derive the id. Raises `InvalidExample`."""
        record = {
            "messages": [m.to_dict() if isinstance(m, Message) else m for m in messages],
            "metadata": dict(metadata or {}),
        }
        return cls.from_dict(record)

    @classmethod
    def from_prompt_completion(
        cls, prompt: str, completion: str, system: str | None = None, metadata: Mapping | None = None
    ) -> Example:
        """A prompt/completion pair is a two-message example (three with a system prompt)."""
        messages = [{"role": "system", "content": system}] if system is not None else []
        messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
        return cls.create(messages, metadata)

    @classmethod
    def from_dict(cls, record: Any) -> Example:
        """Parse one JSON record: `{"messages": [...], "metadata": {...}, "id": ...}` or the
        prompt/completion layout `{"prompt": ..., "completion": ..., "system": ...}`.

        Collects every problem before raising, so one pass over a file reports all of them.
        """
        if not isinstance(record, dict):
            raise InvalidExample([(None, f"expected a JSON object, got {_json_type(record)}")])
        if "messages" not in record and ("prompt" in record or "completion" in record):
            return cls._from_prompt_completion_record(record)

        issues: list[tuple[str | None, str]] = []
        for key in record:
            if key not in RECORD_KEYS:
                issues.append((key, f"unknown field (expected {', '.join(RECORD_KEYS)})"))
        messages = _parse_messages(record.get("messages"), issues)
        return cls._build(messages, record, issues)

    @classmethod
    def _from_prompt_completion_record(cls, record: dict) -> Example:
        issues: list[tuple[str | None, str]] = []
        for key in record:
            if key not in PROMPT_COMPLETION_KEYS:
                issues.append((key, f"unknown field (expected {', '.join(PROMPT_COMPLETION_KEYS)})"))
        messages = []
        for key, role in (("system", "system"), ("prompt", "user"), ("completion", "assistant")):
            value = record.get(key)
            if value is None:
                if key != "system":
                    issues.append((key, "missing"))
            elif not isinstance(value, str):
                issues.append((key, f"must be a string, got {_json_type(value)}"))
            elif not value.strip():
                issues.append((key, "is empty"))
            else:
                messages.append(Message(role=role, content=normalise_content(value)))
        return cls._build(tuple(messages), record, issues)

    @classmethod
    def _build(cls, messages: tuple[Message, ...], record: dict, issues: list[tuple[str | None, str]]) -> Example:
        """Shared tail of both layouts: metadata, the optional given id, and the derived id."""
        metadata = _parse_metadata(record.get("metadata", {}), issues)
        given_id = record.get("id")
        if given_id is not None and not isinstance(given_id, str):
            issues.append(("id", f"must be a string, got {_json_type(given_id)}"))
        if issues:
            raise InvalidExample(issues)
        example_id = compute_id(messages)
        if given_id is not None and given_id != example_id:
            raise InvalidExample(
                [
                    (
                        "id",
                        f"{given_id!r} does not match the content (expected {example_id!r}): edited by hand?",
                    )
                ]
            )
        return cls(id=example_id, messages=messages, metadata=metadata)

    def to_dict(self) -> dict[str, Any]:
        """The JSONL form: `{"id", "messages", "metadata"}`, in that order."""
        return {"id": self.id, "messages": [m.to_dict() for m in self.messages], "metadata": self.metadata}

    @property
    def system(self) -> str | None:
        return self.messages[0].content if self.messages[0].role == "system" else None

    @property
    def prompt_messages(self) -> tuple[Message, ...]:
        """Everything the model sees before its answer: all turns but the final assistant one."""
        return self.messages[:-1]

    @property
    def completion(self) -> str:
        """The final assistant turn: what training teaches and evaluation compares against."""
        return self.messages[-1].content


def compute_id(messages: Iterable[Message]) -> str:
    """`ex_` + 16 hex digits of sha256 over the normalised (role, content) pairs."""
    canonical = json.dumps([[m.role, m.content] for m in messages], ensure_ascii=False, separators=(",", ":"))
    return ID_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _parse_messages(raw: Any, issues: list[tuple[str | None, str]]) -> tuple[Message, ...]:
    if raw is None:
        issues.append(("messages", "missing"))
        return ()
    if not isinstance(raw, list):
        issues.append(("messages", f"must be a list of turns, got {_json_type(raw)}"))
        return ()
    if not raw:
        issues.append(("messages", "is empty: needs at least one user and one final assistant turn"))
        return ()

    messages: list[Message] = []
    roles_valid = True
    for index, turn in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(turn, dict):
            issues.append((where, f"must be an object with role and content, got {_json_type(turn)}"))
            roles_valid = False
            continue
        for key in turn:
            if key not in MESSAGE_KEYS:
                issues.append((f"{where}.{key}", "unknown field (expected role, content)"))
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            reason = "missing" if role is None else f"{role!r} is not one of {', '.join(ROLES)}"
            issues.append((f"{where}.role", reason))
            roles_valid = False
        if content is None:
            issues.append((f"{where}.content", "missing"))
        elif not isinstance(content, str):
            issues.append((f"{where}.content", f"must be a string, got {_json_type(content)}"))
        elif not content.strip():
            issues.append((f"{where}.content", f"empty {role} turn" if role in ROLES else "empty turn"))
        if role in ROLES and isinstance(content, str):
            messages.append(Message(role=role, content=normalise_content(content)))

    if roles_valid:
        _check_role_order([t["role"] for t in raw], issues)
    return tuple(messages)


def _check_role_order(roles: list[str], issues: list[tuple[str | None, str]]) -> None:
    """Optional system first, then user/assistant alternating from a user turn, ending on assistant."""
    start = 1 if roles[0] == "system" else 0
    for index, role in enumerate(roles):
        if role == "system" and index > 0:
            issues.append((f"messages[{index}].role", "a system turn may only come first"))
            return
    if start == len(roles):
        issues.append(("messages", "has only a system turn: needs a user and a final assistant turn"))
        return
    for index in range(start, len(roles)):
        expected = "user" if (index - start) % 2 == 0 else "assistant"
        if roles[index] != expected:
            where = f"after a {roles[index - 1]} turn" if index > start else "first"
            issues.append((f"messages[{index}].role", f"expected {expected!r} {where}, got {roles[index]!r}"))
            return
    if roles[-1] != "assistant":
        issues.append((f"messages[{len(roles) - 1}].role", "the last turn must be the assistant's answer"))


def _parse_metadata(raw: Any, issues: list[tuple[str | None, str]]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        issues.append(("metadata", f"must be an object, got {_json_type(raw)}"))
        return {}
    return raw


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
