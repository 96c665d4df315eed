"""Few-shot examples for a prompt: which k examples a model is shown, chosen the same way every time.

`select_examples` picks k examples from a pool: **deterministic** (the same pool, in any order, and the
same seed give the same examples in the same order), **seeded** (another seed, another draw),
**diverse** (each next example is the one least like those already chosen, so four near-copies of one
question never fill the prompt) and within a **token budget**. `few_shot_turns` writes them as the
user/assistant turns that go before the real prompt. `ftdata draft` shows a drafting model the team's
accepted examples this way; fteval's few-shot baseline needs the very same.

How: the pool is put in a seeded order (sha256 of seed and example id), which is what "seeded" and
"order-free" rest on; the first example of that order is taken; then, over and over, the candidate with
the largest Jaccard distance (on lower-cased words of the prompt and the answer) to its nearest chosen
example, ties going to the earlier in the seeded order. An example that would overflow the budget is
passed over (a smaller one may still fit). Only the first `MAX_CANDIDATES` of the seeded order are
considered, so a pool of a million costs what one of a thousand does.

Usage:
    shots = select_examples(accepted, k=4, seed=0, token_budget=1500)
    messages = [{"role": "system", "content": instructions}, *few_shot_turns(shots), *prompt_turns]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from ftcore.example import Example

MAX_CANDIDATES = 2000  # of the seeded order: enough for diversity, bounded cost (k x this set comparisons)
CHARS_PER_TOKEN = 4  # the usual estimate for English with a BPE tokenizer, when no tokenizer is given
TURN_MARKUP = 8  # characters a chat template adds per turn (role marker, end of turn): part of the estimate
WORD = re.compile(r"\w+")


def estimate_tokens(example: Example) -> int:
    """The example's turns as few-shot turns (its system turn left out), at 4 characters per token, rounded up.

    >>> estimate_tokens(Example.from_prompt_completion("What is 2+2?", "4"))
    8
    """
    characters = sum(len(turn["content"]) + TURN_MARKUP for turn in few_shot_turns([example]))
    return -(-characters // CHARS_PER_TOKEN)


def select_examples(
    pool: Sequence[Example],
    k: int,
    *,
    seed: int = 0,
    token_budget: int | None = None,
    count_tokens: Callable[[Example], int] = estimate_tokens,
    already: Sequence[Example] = (),
) -> list[Example]:
    """Up to `k` examples of `pool`, spread over it, together within `token_budget` tokens (None: no limit).

    `already`: examples the prompt holds anyway (chosen from another pool first): new ones are chosen to
    differ from them too, and are never one of them. Examples with the same id count once.

    >>> pool = [Example.from_prompt_completion(q, a) for q, a in [
    ...     ("Tom has 3 apples and buys 2 more. How many apples?", "5"),
    ...     ("Tom has 3 apples and buys 4 more. How many apples?", "7"),
    ...     ("A train leaves at 9 and travels 120 km at 60 km/h. When does it arrive?", "11"),
    ... ]]
    >>> [e.completion for e in select_examples(pool, 2, seed=0)]
    ['5', '11']
    >>> select_examples(pool, 2, seed=0) == select_examples(pool[::-1], 2, seed=0)
    True
    >>> [estimate_tokens(e) for e in pool]
    [17, 17, 23]
    >>> [e.completion for e in select_examples(pool, 3, seed=0, token_budget=35)]  # 17 + 23 > 35: the twin fits
    ['5', '7']
    """
    if k < 0 or (token_budget is not None and token_budget < 0):
        raise ValueError("k and token_budget must be 0 or more")
    taken = {example.id for example in already}
    unique = {example.id: example for example in pool if example.id not in taken}
    ordered = sorted(unique.values(), key=lambda example: _seeded_rank(seed, example.id))[:MAX_CANDIDATES]
    words = {example.id: _words(example) for example in [*ordered, *already]}
    chosen_words = [words[example.id] for example in already]
    # Distance of each candidate to its nearest chosen example (1.0 = shares no word with any; nothing chosen yet).
    nearest = [min((_distance(words[c.id], w) for w in chosen_words), default=1.0) for c in ordered]
    cost = [count_tokens(c) for c in ordered]
    left = token_budget
    picks: list[Example] = []
    open_ = set(range(len(ordered)))
    while len(picks) < k:
        fitting = [i for i in sorted(open_) if left is None or cost[i] <= left]
        if not fitting:
            break
        best = max(fitting, key=lambda i: (nearest[i], -i))  # ties: earlier in the seeded order
        open_.discard(best)
        picks.append(ordered[best])
        if left is not None:
            left -= cost[best]
        for i in open_:
            nearest[i] = min(nearest[i], _distance(words[ordered[i].id], words[ordered[best].id]))
    return picks


def few_shot_turns(examples: Sequence[Example]) -> list[dict[str, str]]:
    """The examples' user and assistant turns, one example after another; their system turns are left out
    (the prompt they go into has its own).

    >>> few_shot_turns([Example.from_prompt_completion("2+2?", "4", system="Be brief.")])
    [{'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': '4'}]
    """
    return [message.to_dict() for example in examples for message in example.messages if message.role != "system"]


def _seeded_rank(seed: int, example_id: str) -> str:
    return hashlib.sha256(f"{seed}\0{example_id}".encode()).hexdigest()


def _words(example: Example) -> frozenset[str]:
    return frozenset(WORD.findall(" ".join(message.content for message in example.messages).lower()))


def _distance(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard distance: 0 for the same words, 1 for none in common (two empty texts: 0)."""
    union = len(a | b)
    return 1.0 - len(a & b) / union if union else 0.0
