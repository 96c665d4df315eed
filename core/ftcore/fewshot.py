"""Few-shot examples for a prompt: k accepted examples shown to a model as prior user/assistant turns.

One choice for every tool: fteval's `base+fewshot` contestant and `ftdata draft`'s drafting prompt both call
`choose_fewshot`. The choice is

- **deterministic**: the same pool, settings and seed give the same examples, in the same order;
- **never from the test split**: the caller passes the pool (an export's train split); anything whose prompt is
  also a prompt in `exclude` (the test prompts) is left out, whatever split it came from;
- **diverse**: no two chosen examples are near-duplicates, i.e. their prompts or their answers share at least
  `NEAR_DUPLICATE` of their character 5-grams (Jaccard, after NFKC, casefold and whitespace folding: the
  shingling and threshold ftdata's near-duplicate clusters use). The similarity is computed exactly against
  the few examples already chosen, which is cheap for k examples, so no MinHash index of the pool is needed
  (and the core does not need ftdata's);
- **stratified** on a metadata key when one is given (the export's `split.stratify_by`): strata take turns,
  largest first, so k examples cover min(k, strata) of them;
- **within a token budget**: examples are added while their prompt and answer tokens fit `max_tokens`.

Usage:
    shots = choose_fewshot(load_split("exports/v3", "train"), k=3, max_tokens=1024, seed=13,
                           stratify_by="source", exclude=[e.prompt_messages for e in test],
                           count_tokens=lambda text: len(tokenizer(text).input_ids))
    shots.examples, shots.to_dict()   # what was chosen, and why others were not
    messages = fewshot_turns(shots.examples) + [{"role": "user", "content": "..."}]
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ftcore.example import Example
from ftcore.text import duplicate_key

NEAR_DUPLICATE = 0.8  # ftdata's default near-duplicate threshold (lint.near_duplicate_threshold)
SHINGLE_CHARS = 5  # ftdata.duplicates.SHINGLE_CHARS: character 5-grams


def approximate_tokens(text: str) -> int:
    """About four characters a token (English BPE): the budget's unit when no tokenizer is given."""
    return max(1, len(text) // 4)


@dataclass
class FewShot:
    """The chosen examples and what the choice skipped, for the record (results.json says which were used)."""

    examples: list[Example]
    tokens: int = 0  # prompt + answer tokens of the chosen examples
    k: int = 0
    max_tokens: int = 0
    seed: int = 0
    stratify_by: str | None = None
    pool: int = 0  # candidates after the test prompts were excluded
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> examples passed over

    def to_dict(self) -> dict[str, Any]:
        strata = [str(e.metadata.get(self.stratify_by, "(none)")) for e in self.examples] if self.stratify_by else None
        return {
            "ids": [e.id for e in self.examples],
            "k": self.k,
            "chosen": len(self.examples),
            "tokens": self.tokens,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stratify_by": self.stratify_by,
            "strata": strata,
            "pool": self.pool,
            "skipped": dict(sorted(self.skipped.items())),
        }


def choose_fewshot(
    pool: Sequence[Example],
    k: int,
    max_tokens: int,
    seed: int = 0,
    stratify_by: str | None = None,
    exclude: Iterable[Sequence[Mapping[str, str]] | str] = (),
    count_tokens: Callable[[str], int] = approximate_tokens,
    threshold: float = NEAR_DUPLICATE,
) -> FewShot:
    """Up to `k` examples of `pool` (see the module docstring for the rules), in the order they are shown.

    `exclude`: prompts that must never be shown (each a conversation's prompt turns, or a user turn's text).
    Fewer than k come back when the pool, the diversity rule or the budget allows no more; `skipped` says why.
    """
    if k < 0 or max_tokens < 0:
        raise ValueError("k and max_tokens must be 0 or more")
    excluded = {_prompt_key(item) for item in exclude}
    skipped: dict[str, int] = defaultdict(int)
    candidates = []
    for example in sorted(pool, key=lambda e: e.id):  # input order never matters: only ids and the seed do
        if _prompt_key(example.prompt_messages) in excluded:
            skipped["a test prompt"] += 1
        elif example.metadata.get("holdout"):
            skipped["held out (a test prompt from a review queue)"] += 1
        else:
            candidates.append(example)
    chosen: list[Example] = []
    shingles: list[tuple[frozenset[str], frozenset[str]]] = []
    used = 0
    for example in _interleaved(candidates, seed, stratify_by):
        if len(chosen) == k:
            break
        prompt, answer = _shingles(_user_text(example)), _shingles(example.completion)
        if any(
            jaccard(prompt, other_prompt) >= threshold or jaccard(answer, other_answer) >= threshold
            for other_prompt, other_answer in shingles
        ):
            skipped["near-duplicate of a chosen example"] += 1
            continue
        tokens = sum(count_tokens(m.content) for m in example.messages if m.role != "system")
        if used + tokens > max_tokens:
            skipped["over the token budget"] += 1
            continue
        chosen.append(example)
        shingles.append((prompt, answer))
        used += tokens
    return FewShot(chosen, used, k, max_tokens, seed, stratify_by, len(candidates), dict(skipped))


def fewshot_turns(examples: Iterable[Example]) -> list[dict[str, str]]:
    """The examples as alternating user/assistant turns, their own system turns left out (the caller's system
    prompt comes first, once)."""
    return [m.to_dict() for example in examples for m in example.messages if m.role != "system"]


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; two empty sets are the same text (1.0)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _shingles(text: str) -> frozenset[str]:
    key = duplicate_key(text)
    if len(key) <= SHINGLE_CHARS:
        return frozenset([key]) if key else frozenset()
    return frozenset(key[i : i + SHINGLE_CHARS] for i in range(len(key) - SHINGLE_CHARS + 1))


def _user_text(example: Example) -> str:
    return "\n".join(m.content for m in example.prompt_messages if m.role == "user")


def _prompt_key(item: Sequence[Mapping[str, str]] | str) -> str:
    """A prompt as compared with the test prompts: its user turns, folded as exact duplicates are."""
    if isinstance(item, str):
        return duplicate_key(item)
    turns = [m.to_dict() if hasattr(m, "to_dict") else m for m in item]
    return duplicate_key("\n".join(t["content"] for t in turns if t["role"] == "user"))


def _interleaved(candidates: list[Example], seed: int, stratify_by: str | None) -> list[Example]:
    """The candidates shuffled with `seed`; with a stratum key, strata take turns (largest first, then by name)."""
    rng = random.Random(seed)
    order = list(candidates)
    rng.shuffle(order)
    if not stratify_by:
        return order
    strata: dict[str, list[Example]] = defaultdict(list)
    for example in order:
        strata[str(example.metadata.get(stratify_by, "(none)"))].append(example)
    queues = [strata[name] for name in sorted(strata, key=lambda name: (-len(strata[name]), name))]
    result = []
    for turn in range(max((len(q) for q in queues), default=0)):
        result += [queue[turn] for queue in queues if turn < len(queue)]
    return result
