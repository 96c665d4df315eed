"""Few-shot selection (ftcore.fewshot): deterministic, seeded, diverse across near-duplicates, stratified, within a
token budget, and never a test prompt."""

from ftcore.example import Example
from ftcore.fewshot import _shingles, choose_fewshot, fewshot_turns, jaccard


def example(prompt, answer, **metadata):
    return Example.create([{"role": "system", "content": "House."}, {"role": "user", "content": prompt},
                           {"role": "assistant", "content": answer}], metadata)  # fmt: skip


def pool(rows):
    return [example(f"Question {i}: how many apples has person {i}?", f"Answer {i}: {i * 7} apples.") for i in rows]


def test_the_same_pool_settings_and_seed_give_the_same_examples_whatever_the_order():
    examples = pool(range(40))
    first = choose_fewshot(examples, k=4, max_tokens=1000, seed=3)
    again = choose_fewshot(list(reversed(examples)), k=4, max_tokens=1000, seed=3)
    other = choose_fewshot(examples, k=4, max_tokens=1000, seed=4)
    assert [e.id for e in first.examples] == [e.id for e in again.examples] and len(first.examples) == 4
    assert [e.id for e in other.examples] != [e.id for e in first.examples]


def test_never_a_test_prompt_nor_a_held_out_example():
    examples = [*pool(range(6)), example("Held out?", "Yes.", holdout="test")]
    tests = [[{"role": "user", "content": e.messages[1].content}] for e in examples[:5]]
    chosen = choose_fewshot(examples, k=6, max_tokens=10_000, exclude=tests)
    assert [e.messages[1].content for e in chosen.examples] == [examples[5].messages[1].content]
    assert chosen.skipped == {"a test prompt": 5, "held out (a test prompt from a review queue)": 1}
    # Compared as exact duplicates are: case and spacing do not hide a test prompt.
    shouted = ["QUESTION 0:  how many apples has PERSON 0?"]
    assert choose_fewshot(pool(range(1)), k=1, max_tokens=1000, exclude=shouted).examples == []


def test_no_two_chosen_examples_are_near_duplicates():
    # Ten copies of one problem with a number changed (J >= 0.8 on prompts) and two distinct problems.
    copies = [example(f"Tom has {n} apples and buys 4 more. How many apples does Tom have now?", f"{n + 4}")
              for n in range(10, 20)]  # fmt: skip
    distinct = [example("A train leaves at noon at 60 km/h. How far has it gone by 3 pm?", "180 km"),
                example("Name a prime number larger than 10 and explain.", "11 is prime.")]  # fmt: skip
    chosen = choose_fewshot(copies + distinct, k=3, max_tokens=10_000, seed=1)
    prompts = [e.messages[1].content for e in chosen.examples]
    assert sum(p.startswith("Tom has") for p in prompts) == 1 and len(prompts) == 3
    assert chosen.skipped["near-duplicate of a chosen example"] >= 1
    # Same answer text, different prompts: near-duplicate answers count too (a canned reply).
    canned = [example(f"Ticket {i} about topic {t}", "Thanks, we will reset your password within a day.")
              for i, t in enumerate(["billing", "login", "refund"])]  # fmt: skip
    assert len(choose_fewshot(canned, k=3, max_tokens=10_000).examples) == 1


def test_strata_take_turns_largest_first():
    billing = [
        "Why was I charged twice?",
        "Can I get an invoice in euros?",
        "My card expired, what now?",
        "Do you offer yearly plans?",
        "Refund for the March subscription",
        "VAT number missing on receipt",
    ]
    login = ["Password reset mail never arrives", "Two-factor code rejected", "Locked out after an update"]
    examples = [example(text, f"Billing reply about: {text.lower()}", source="billing") for text in billing]
    examples += [example(text, f"Login reply about: {text.lower()}", source="login") for text in login]
    examples += [example("Shipping delay for parcel 77", "Shipping answer", source="shipping")]
    chosen = choose_fewshot(examples, k=4, max_tokens=10_000, seed=2, stratify_by="source")
    assert [e.metadata["source"] for e in chosen.examples] == ["billing", "login", "shipping", "billing"]
    assert chosen.to_dict()["strata"] == ["billing", "login", "shipping", "billing"]


def test_the_token_budget_is_kept_and_the_system_turn_is_not_shown():
    examples = pool(range(10))
    words = lambda text: len(text.split())  # noqa: E731
    tokens_each = sum(words(m.content) for m in examples[0].messages if m.role != "system")  # 8 + 3 = 11
    chosen = choose_fewshot(examples, k=5, max_tokens=2 * tokens_each + 1, count_tokens=words)
    assert len(chosen.examples) == 2 and chosen.tokens == 2 * tokens_each
    assert chosen.skipped == {"over the token budget": 8}
    turns = fewshot_turns(chosen.examples)
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]


def test_jaccard_of_character_five_grams():
    # "abcdef" -> {abcde, bcdef}; "abcdeg" -> {abcde, bcdeg}: 1 shared of 3.
    assert jaccard(_shingles("abcdef"), _shingles("ABCDEF ")) == 1.0
    assert jaccard(_shingles("abcdef"), _shingles("abcdeg")) == 1 / 3
