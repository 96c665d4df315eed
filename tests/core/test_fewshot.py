"""Few-shot selection (ftcore.fewshot): the same examples whatever the pool's order, another draw per seed, spread over
the pool, within the token budget, never one the prompt holds already."""

import hashlib
import random

import pytest

from ftcore.example import Example
from ftcore.fewshot import estimate_tokens, few_shot_turns, select_examples


def qa(question, answer, system=None):
    return Example.from_prompt_completion(question, answer, system=system)


# Three questions sharing every word but one (near-copies), and two unlike any other.
APPLES = [qa(f"Tom has {n} apples and buys 2 more apples. How many apples has Tom?", str(n + 2)) for n in (3, 4, 5)]
TRAIN = qa("A train leaves the station at nine and travels 120 km at 60 km/h. When does it arrive?", "11")
PAINT = qa("Paint covers 9 square metres per litre; a wall is 27 square metres. Litres needed?", "3")
POOL = [*APPLES, TRAIN, PAINT]


def seeded_first(pool, seed):
    """The rule for the first pick, by hand: the smallest sha256 of "<seed>\\0<id>"."""
    return min(pool, key=lambda e: hashlib.sha256(f"{seed}\0{e.id}".encode()).hexdigest())


def test_the_same_examples_whatever_the_pools_order():
    chosen = select_examples(POOL, 3, seed=4)
    for attempt in range(5):
        shuffled = POOL[:]
        random.Random(attempt).shuffle(shuffled)
        assert select_examples(shuffled, 3, seed=4) == chosen


def test_the_first_pick_follows_the_seed():
    firsts = {seed: select_examples(POOL, 1, seed=seed)[0] for seed in range(8)}
    assert all(firsts[seed] == seeded_first(POOL, seed) for seed in firsts)
    assert len({e.id for e in firsts.values()}) > 1  # other seeds, other draws


def test_near_copies_never_fill_the_prompt():
    # Whatever the seed, three picks from three near-copies and two distinct questions take at most one near-copy:
    # each next pick is the one least like those chosen, and the distinct ones share almost no word with anything.
    for seed in range(12):
        chosen = select_examples(POOL, 3, seed=seed)
        assert sum(e in APPLES for e in chosen) == 1, seed
        assert TRAIN in chosen and PAINT in chosen


def test_the_token_budget_holds_and_a_smaller_example_may_still_fit():
    costs = {APPLES[0].id: 5, APPLES[1].id: 5, APPLES[2].id: 5, TRAIN.id: 20, PAINT.id: 20}
    chosen = select_examples(POOL, 4, seed=0, token_budget=12, count_tokens=lambda e: costs[e.id])
    assert [costs[e.id] for e in chosen] == [5, 5]  # 20 never fits in 12; two near-copies (5 + 5) do
    assert select_examples(POOL, 4, seed=0, token_budget=4, count_tokens=lambda e: costs[e.id]) == []
    with_room = select_examples(POOL, 2, seed=0, token_budget=25, count_tokens=lambda e: costs[e.id])
    assert sum(costs[e.id] for e in with_room) == 25  # one near-copy and one distinct question


def test_examples_already_in_the_prompt_are_neither_repeated_nor_imitated():
    chosen = select_examples(POOL, 2, seed=3, already=[APPLES[0]])
    assert APPLES[0] not in chosen
    assert set(chosen) == {TRAIN, PAINT}  # unlike the apples already shown
    assert select_examples([APPLES[0], TRAIN], 2, already=[APPLES[0]]) == [TRAIN]  # even with room for more


def test_counts_and_edges():
    assert select_examples(POOL, 0) == []
    assert sorted(e.id for e in select_examples(POOL + POOL, 10)) == sorted(e.id for e in POOL)  # ids count once
    with pytest.raises(ValueError):
        select_examples(POOL, -1)


def test_estimated_tokens_and_turns():
    example = qa("What is 2+2?", "4", system="Be brief.")
    # ("What is 2+2?" 12 + 8) + ("4" 1 + 8) = 29 characters -> 8 tokens (rounded up); the system turn is not shown
    assert estimate_tokens(example) == 8
    assert few_shot_turns([example, qa("1+1?", "2")]) == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "1+1?"},
        {"role": "assistant", "content": "2"},
    ]
