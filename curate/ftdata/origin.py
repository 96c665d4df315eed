"""Who wrote an example's answer: people, or a model (`ftdata draft`, or a fine-tune's answer from fteval's review
queue). Push shows it as the filterable metadata `origin`; export trains on a model's answer only once a reviewer
accepted or corrected it, and counts what it exports by origin.

>>> origin_of({"source": "tickets.csv"}), origin_of({"origin": "drafted"}), origin_of({"origin": "fteval:finetuned"})
('human', 'drafted', 'fteval:finetuned')
>>> is_model_written({"origin": "drafted"}), is_model_written({"source": "tickets.csv"})
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ftcore.example import Example

ORIGIN_KEY = "origin"  # example metadata, and the Argilla metadata property of the same name
HUMAN = "human"
DRAFTED = "drafted"  # written by `ftdata draft`
MODEL_PREFIXES = (DRAFTED, "fteval:")  # fteval's review queue: a fine-tune's answers, imported again
# How export's manifest (`origins`) counts what it exported.
HUMAN_WRITTEN, DRAFTED_ACCEPTED, DRAFTED_CORRECTED = "human-written", "drafted-accepted", "drafted-corrected"


def origin_of(metadata: Mapping[str, Any]) -> str:
    """`human` unless the metadata names a model's origin."""
    origin = metadata.get(ORIGIN_KEY)
    return str(origin) if isinstance(origin, str) and origin.strip() else HUMAN


def is_model_written(metadata: Mapping[str, Any]) -> bool:
    """A model wrote the answer: a draft, or a fine-tune's answer from fteval's review queue."""
    return origin_of(metadata).startswith(MODEL_PREFIXES)


def origin_counts(examples: Iterable[Example]) -> dict[str, int]:
    """Reviewed examples by who wrote the answer trained on: people, or a model whose draft a reviewer accepted as it
    was, or corrected (export marks which in `metadata.review.draft`).

    >>> corrected = {"origin": "drafted", "review": {"draft": "corrected"}}
    >>> drafted = Example.from_prompt_completion("q", "a", metadata=corrected)
    >>> origin_counts([drafted, Example.from_prompt_completion("q2", "a")])
    {'human-written': 1, 'drafted-accepted': 0, 'drafted-corrected': 1}
    """
    counts = dict.fromkeys((HUMAN_WRITTEN, DRAFTED_ACCEPTED, DRAFTED_CORRECTED), 0)
    for example in examples:
        if not is_model_written(example.metadata):
            counts[HUMAN_WRITTEN] += 1
        elif (example.metadata.get("review") or {}).get("draft") == "corrected":
            counts[DRAFTED_CORRECTED] += 1
        else:
            counts[DRAFTED_ACCEPTED] += 1
    return counts


def unedited_draft_warning(origins: Mapping[str, int], limit: float, setting: str = "export.max_unedited_drafts"):
    """The guardrail: a set that is mostly model drafts accepted as they were only imitates the drafting model.
    None when the share of drafted-accepted examples is at most `limit`.

    >>> unedited_draft_warning({"human-written": 10, "drafted-accepted": 90, "drafted-corrected": 0}, 0.8)
    '90 % of the set (90 of 100) is model drafts accepted unedited, more than 80 % (export.max_unedited_drafts): ...'
    >>> unedited_draft_warning({"human-written": 20, "drafted-accepted": 80}, 0.8) is None
    True
    """
    total = sum(origins.values())
    unedited = origins.get(DRAFTED_ACCEPTED, 0)
    if not total or unedited / total <= limit:
        return None
    return (
        f"{unedited / total * 100:.0f} % of the set ({unedited} of {total}) is model drafts accepted unedited, more "
        f"than {limit * 100:.0f} % ({setting}): a set that only imitates the drafting model; correct drafts or add "
        "human-written examples"
    )
