import json
import math
import os
import random
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from ftdata import duplicates
from ftdata.duplicates import (
    NearDuplicateCluster,
    cross_split_leaks,
    duplicate_key,
    exact_duplicate_groups,
    near_duplicate_clusters,
)

# Real public data, bundled with its MIT licence (tests/data/gsm8k/README.md).
GSM8K = Path(__file__).resolve().parents[1] / "data" / "gsm8k" / "train.jsonl"
SWAP_WORDS = ["apples", "students", "minutes", "dollars", "boxes", "tickets", "several", "each"]


@cache
def gsm8k() -> tuple[dict, ...]:
    with GSM8K.open(encoding="utf-8") as lines:
        return tuple(json.loads(line) for line in lines)


def problem(i: int) -> str:
    return gsm8k()[i]["question"] + "\n" + gsm8k()[i]["answer"]


def tweak(text: str, rng: random.Random, edits: int) -> str:
    """A copy edited the way a person tweaks a training example: words, numbers, case, punctuation."""
    words = text.split(" ")
    for _ in range(edits):
        i = rng.randrange(len(words))
        kind = rng.choice(["substitute", "insert", "delete", "number", "case", "punctuation", "whitespace"])
        numbered = [j for j, w in enumerate(words) if re.search(r"\d", w)]
        if kind == "number" and numbered:
            j = rng.choice(numbered)
            words[j] = re.sub(r"\d+", lambda m: str(int(m.group()) + 3), words[j], count=1)
        elif kind == "substitute":
            words[i] = rng.choice(SWAP_WORDS)
        elif kind == "insert":
            words.insert(i, rng.choice(SWAP_WORDS))
        elif kind == "delete" and len(words) > 3:
            del words[i]
        elif kind == "case":
            words[i] = words[i].upper()
        elif kind == "punctuation":
            words[i] = words[i] + ","
        elif kind == "whitespace":
            words[i] = words[i] + "\n "
    return " ".join(words)


def replace_words(text: str, replacements: dict[int, str]) -> str:
    words = text.split(" ")
    for i, word in replacements.items():
        words[i] = word
    return " ".join(words)


# --- duplicate_key and exact duplicates -------------------------------------------------------------


def test_duplicate_key_folds_nfkc_case_and_whitespace():
    assert duplicate_key("  Ｗhat\tis  2+2?\r\n\u00a0Ｉ ﬁnd it EASY. ") == "what is 2+2? i find it easy."
    assert duplicate_key("STRASSE") == duplicate_key("Straße")
    assert duplicate_key("") == duplicate_key(" \n\t ") == ""


def test_exact_duplicates_across_case_whitespace_and_nfkc_variants_are_grouped():
    items = [
        ("a", "What is 2+2?"),
        ("b", "Name a colour."),
        ("c", "  what IS\n2+2?"),
        ("d", "Ｗhat is 2+2?"),  # full-width W, as pasted from some editors
        ("e", "name a colour."),
        ("f", "What is 2+3?"),
    ]
    assert exact_duplicate_groups(items) == [["a", "c", "d"], ["b", "e"]]
    assert exact_duplicate_groups(iter(items[:2])) == []


# --- near-duplicate clusters --------------------------------------------------------------------


def test_distinct_gsm8k_problems_give_no_clusters():
    items = [(f"p{i}", problem(i)) for i in range(2000)]
    assert near_duplicate_clusters(items) == []


def test_planted_near_duplicates_are_found_among_distinct_problems():
    rng = random.Random(7)
    items = [(f"p{i}", problem(i)) for i in range(2000)]
    bases = rng.sample(range(2000), 100)
    items += [(f"copy{i}", tweak(problem(i), rng, rng.randint(1, 5))) for i in bases]
    rng.shuffle(items)

    clusters = near_duplicate_clusters(items)

    found = {frozenset(c.ids) for c in clusters}
    recall = sum(frozenset({f"p{i}", f"copy{i}"}) in found for i in bases) / len(bases)
    assert recall >= 0.95
    for cluster in clusters:  # no problem is clustered with another problem or another's copy
        assert len({i.removeprefix("copy").removeprefix("p") for i in cluster.ids}) == 1
        assert 0.8 <= cluster.min_similarity <= 1.0
        order = [i for i, _ in items if i in cluster.ids]
        assert list(cluster.ids) == order  # members in input order


def test_transitively_linked_copies_form_one_cluster():
    a = problem(2)
    n = len(a.split(" "))
    b = replace_words(a, {2: "purple", n // 4: "orange", n // 3: "yellow"})  # edits early in the text
    c = replace_words(b, {n - 3: "violet", n - n // 4: "crimson", n - n // 3: "silver"})  # and late
    assert near_duplicate_clusters([("a", a), ("c", c)]) == []  # a and c are too far apart directly

    [cluster] = near_duplicate_clusters([("a", a), ("x", problem(3)), ("b", b), ("c", c)])

    assert cluster.ids == ("a", "b", "c")
    assert cluster.min_similarity < 0.8  # c's similarity to a, the first member


def test_exact_duplicates_sit_inside_clusters():
    a = problem(5)
    near = a.replace("?", "?!", 1).replace(" ", " really ", 1)
    items = [("a", a), ("b", near), ("c", a.upper()), ("d", problem(6)), ("e", problem(6).lower())]
    clusters = near_duplicate_clusters(items)
    assert [c.ids for c in clusters] == [("a", "b", "c"), ("d", "e")]
    assert clusters[1] == NearDuplicateCluster(ids=("d", "e"), min_similarity=1.0)


def test_short_and_empty_texts_work():
    items = [("a", "Hi"), ("b", "hi "), ("c", "Yes"), ("d", ""), ("e", "   "), ("f", "Hi!"), ("g", "abcd")]
    clusters = near_duplicate_clusters(items)
    assert [c.ids for c in clusters] == [("a", "b"), ("d", "e")]
    assert near_duplicate_clusters([]) == []
    assert near_duplicate_clusters([("only", "text")]) == []


def test_non_ascii_text_clusters():
    text = "Ana a 12 pommes 🍎 et en mange 3. Combien lui en reste-t-il ? Réponse : 12 − 3 = 9 pommes. " * 3
    items = [("a", text), ("b", text.replace("12", "14", 1)), ("c", "日本語のテキスト、まったく別の問題です。" * 4)]
    assert [c.ids for c in near_duplicate_clusters(items)] == [("a", "b")]
    lone_surrogate = json.loads('"caf\\ud800 is what a broken JSON export can hold"')
    assert [c.ids for c in near_duplicate_clusters([("x", lone_surrogate), ("y", lone_surrogate.upper())])] == [
        ("x", "y")
    ]


def test_threshold_one_keeps_only_identical_shingle_sets():
    a = problem(8)
    items = [("a", a), ("b", a.replace("\n", "  \n")), ("c", a.replace(".", ";", 1))]
    assert [c.ids for c in near_duplicate_clusters(items, threshold=1.0)] == [("a", "b")]


def test_progress_reports_every_item(monkeypatch):
    monkeypatch.setattr(duplicates, "BATCH", 7)
    calls = []
    near_duplicate_clusters([(str(i), problem(i % 5)) for i in range(20)], progress=calls.append)
    assert calls == [7, 7, 6]


def test_same_input_same_output_and_input_order_does_not_change_membership():
    rng = random.Random(3)
    items = [(f"p{i}", problem(i)) for i in range(300)]
    items += [(f"copy{i}", tweak(problem(i), rng, 3)) for i in range(0, 300, 10)]
    first = near_duplicate_clusters(items)
    assert near_duplicate_clusters(list(items)) == first and len(first) >= 28
    rng.shuffle(items)
    assert {frozenset(c.ids) for c in near_duplicate_clusters(items)} == {frozenset(c.ids) for c in first}


def test_output_does_not_depend_on_the_process():
    # Python salts str hashes per process: nothing in the result may depend on set or dict hash order.
    script = (
        "import json; from ftdata.duplicates import near_duplicate_clusters as f\n"
        f"rows = [json.loads(l) for l in open({str(GSM8K)!r})][:200]\n"
        "items = [(str(i), r['question'] + ' ' + r['answer']) for i, r in enumerate(rows)]\n"
        "items += [('c' + i, t.replace('.', ',', 1)) for i, t in items[:20]]\n"
        "print(repr(f(items)))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1 and outputs.pop().count("NearDuplicateCluster") == 20


# --- cross-split leakage ------------------------------------------------------------------------


def test_leaks_found_for_same_and_near_same_prompts_and_not_for_unrelated():
    train = [(f"train{i}", gsm8k()[i]["question"]) for i in range(300)]
    train.append(("train-copy5", gsm8k()[5]["question"]))  # the same prompt twice in train
    test = [
        ("unrelated", gsm8k()[1000]["question"]),
        ("same", "  " + gsm8k()[5]["question"].upper().replace(" ", "\n", 3)),
        ("near", re.sub(r"\d+", "7", gsm8k()[10]["question"], count=1).replace(" ", " kindly ", 1)),
        ("unrelated2", gsm8k()[1001]["question"]),
    ]

    leaks = cross_split_leaks(train, test)

    assert [(tr, te, s) for tr, te, s in leaks if te == "same"] == [
        ("train5", "same", 1.0),
        ("train-copy5", "same", 1.0),
    ]
    [(train_id, _, similarity)] = [leak for leak in leaks if leak[1] == "near"]
    assert train_id == "train10" and 0.8 <= similarity < 1.0
    assert len(leaks) == 3
    assert cross_split_leaks(train, test) == leaks


def test_no_leaks_between_distinct_problems():
    train = [(f"t{i}", problem(i)) for i in range(500)]
    test = [(f"v{i}", problem(i)) for i in range(500, 800)]
    assert cross_split_leaks(train, test) == []
    assert cross_split_leaks([], test) == [] and cross_split_leaks(train, []) == []


# --- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0, -0.1, 1.01, math.nan, True, "0.8", None])
def test_bad_threshold_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold must be a number in"):
        near_duplicate_clusters([("a", "x")], threshold=threshold)
    with pytest.raises(ValueError, match="threshold must be a number in"):
        cross_split_leaks([("a", "x")], [("b", "x")], threshold=threshold)


@pytest.mark.parametrize("num_perm", [0, 8, 15, 16.0, "128", True])
def test_bad_num_perm_is_refused(num_perm):
    with pytest.raises(ValueError, match="num_perm must be an integer >= 16"):
        near_duplicate_clusters([("a", "x")], num_perm=num_perm)
    with pytest.raises(ValueError, match="num_perm must be an integer >= 16"):
        cross_split_leaks([("a", "x")], [("b", "x")], num_perm=num_perm)


def test_smallest_num_perm_and_numpy_arguments_work():
    a = problem(9)
    items = [("a", a), ("b", a.replace("?", "??", 1))]
    assert [c.ids for c in near_duplicate_clusters(items, num_perm=16)] == [("a", "b")]
    assert [c.ids for c in near_duplicate_clusters(items, np.float64(0.8), np.int64(64))] == [("a", "b")]
