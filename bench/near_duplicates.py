"""Near-duplicate clustering: speed, memory, recall of planted copies, and false pairs among clean texts.

Builds N texts from GSM8K (question + answer, ~520 characters): clean, distinct texts plus a share of
planted near-duplicates — a clean text copied and tweaked the way a person edits a training example
(1-5 edits: a word changed, inserted or deleted, a number changed, case, punctuation or whitespace).
Then times `ftdata.duplicates.near_duplicate_clusters` on one CPU core. No assertions: it prints.

    python bench/near_duplicates.py --n 10000 --n 100000
    python bench/near_duplicates.py --n 10000 --datasketch 3000   # also time datasketch on 3,000 texts
    python bench/near_duplicates.py --n 10000 --shingle-study      # why character 5-grams

GSM8K (MIT) as JSONL with "question" and "answer" per line, e.g. the `openai/gsm8k` train split.
Only 7,473 problems exist, so beyond that clean texts are spliced: the first half of one problem's
question sentences, the second half of another's, and likewise for the answer lines. They keep the
length and vocabulary of real problems; most pairs share nothing, and by chance a few hundred pairs
in 100,000 share two of their four halves (Jaccard ~0.3): distinct, but closer than real problems are.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

# One core, as the target says: numpy's BLAS and rensa's thread pool (rayon) would otherwise use all.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

from ftdata.duplicates import SEED, SHINGLE_CHARS, duplicate_key, lsh_bands, near_duplicate_clusters

GSM8K = Path(__file__).resolve().parent.parent / "tests" / "data" / "gsm8k" / "train.jsonl"  # MIT, bundled
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
TOKEN = re.compile(r"\S+|\s+")
NUMBER = re.compile(r"\d+")
# Words an editor might swap in: plausible in a GSM8K problem, so edits are not trivially foreign.
SWAP_WORDS = ("apples", "students", "minutes", "dollars", "boxes", "tickets", "pages", "cookies", "miles", "more")
EDITS = ("substitute", "insert", "delete", "number", "case", "punctuation", "whitespace")


def load_problems(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def clean_texts(problems: list[dict], count: int, rng: random.Random) -> list[str]:
    """`count` distinct texts: real problems first (shuffled), then spliced ones (see module docstring)."""
    texts = [p["question"] + "\n" + p["answer"] for p in problems]
    rng.shuffle(texts)
    texts = texts[:count]
    questions = [SENTENCE_END.split(p["question"]) for p in problems]
    answers = [p["answer"].split("\n") for p in problems]
    while len(texts) < count:
        q1, q2, a1, a2 = (rng.randrange(len(problems)) for _ in range(4))
        question = questions[q1][: max(1, len(questions[q1]) // 2)] + questions[q2][len(questions[q2]) // 2 :]
        # The last answer line is "#### <result>": keep it last.
        answer = answers[a1][: max(1, (len(answers[a1]) - 1) // 2)] + answers[a2][(len(answers[a2]) - 1) // 2 :]
        texts.append(" ".join(question) + "\n" + "\n".join(answer))
    return texts


def tweak(text: str, rng: random.Random, edits: int) -> str:
    """A copy of `text` with `edits` random human-style edits; whitespace between words is kept."""
    tokens = TOKEN.findall(text)
    for _ in range(edits):
        words = [i for i, token in enumerate(tokens) if not token.isspace()]
        i = rng.choice(words)
        kind = rng.choice(EDITS)
        if kind == "number":
            with_digits = [j for j in words if NUMBER.search(tokens[j])]
            if with_digits:
                j = rng.choice(with_digits)
                tokens[j] = NUMBER.sub(lambda m: str(int(m.group()) + rng.randint(1, 9)), tokens[j], count=1)
                continue
            kind = "substitute"
        if kind == "substitute":
            tokens[i] = rng.choice(SWAP_WORDS)
        elif kind == "insert":
            tokens[i:i] = [rng.choice(SWAP_WORDS), " "]
        elif kind == "delete" and len(words) > 3:
            del tokens[i : i + 2]
        elif kind == "case":
            tokens[i] = tokens[i].upper() if rng.random() < 0.5 else tokens[i].capitalize()
        elif kind == "punctuation":
            word = tokens[i]
            tokens[i] = word[:-1] if word[-1] in ".,?!" else word + rng.choice(",.;")
        elif kind == "whitespace":
            tokens[i] += rng.choice(["  ", "\n", "\t"])
    return "".join(tokens)


def build_corpus(problems: list[dict], n: int, planted_share: float, seed: int):
    """(items in shuffled order, planted (base_id, copy_id) pairs, group of each id: a copy's is its base's)."""
    rng = random.Random(seed)
    planted = int(n * planted_share)
    clean = clean_texts(problems, n - planted, rng)
    items = [(f"clean-{i}", text) for i, text in enumerate(clean)]
    group = {f"clean-{i}": i for i in range(len(clean))}
    pairs = []
    for j, base in enumerate(rng.sample(range(len(clean)), planted)):
        copy_id = f"copy-{j}"
        items.append((copy_id, tweak(clean[base], rng, rng.randint(1, 5))))
        group[copy_id] = base
        pairs.append((f"clean-{base}", copy_id))
    rng.shuffle(items)
    return items, pairs, group


def score(clusters, pairs, group) -> tuple[float, int]:
    """(share of planted pairs inside one cluster, pairs in a cluster that come from different groups)."""
    cluster_of = {example_id: c for c, cluster in enumerate(clusters) for example_id in cluster.ids}
    found = sum(a in cluster_of and cluster_of[a] == cluster_of.get(b) for a, b in pairs)
    false_pairs = 0
    for cluster in clusters:
        size = len(cluster.ids)
        same_group = sum(k * (k - 1) // 2 for k in Counter(group[i] for i in cluster.ids).values())
        false_pairs += size * (size - 1) // 2 - same_group
    return (found / len(pairs) if pairs else 1.0), false_pairs


def reset_peak_memory() -> int:
    """Current resident memory in bytes, after resetting the kernel's peak counter (Linux only): the
    peak then covers rensa's native allocations too, which tracemalloc would not see."""
    Path("/proc/self/clear_refs").write_text("5")
    return _proc_status_bytes("VmRSS")


def _proc_status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def run(problems, n: int, args) -> float:
    items, pairs, group = build_corpus(problems, n, args.planted, args.seed)
    clean = sum(1 for example_id, _ in items if example_id.startswith("clean-"))
    before = reset_peak_memory()
    start = time.perf_counter()
    clusters = near_duplicate_clusters(items, threshold=args.threshold, num_perm=args.num_perm)
    seconds = time.perf_counter() - start
    peak = _proc_status_bytes("VmHWM") - before
    recall, false_pairs = score(clusters, pairs, group)
    clean_pairs = clean * (clean - 1) // 2
    print(
        f"n={n:>7,}  {seconds:6.2f} s  {n / seconds:8,.0f} texts/s  peak +{peak / 2**20:5.0f} MiB  "
        f"clusters {len(clusters):,}  recall {recall:.4f} ({len(pairs):,} planted)  "
        f"false pairs {false_pairs} of {clean_pairs:.2e} clean pairs ({false_pairs / clean_pairs:.1e})",
        flush=True,
    )
    if args.datasketch:
        time_datasketch(items[: args.datasketch], args)
    return seconds


def time_datasketch(items, args) -> None:
    """The same shingles through datasketch as its docs show it (bytes, default hash, MinHashLSH)."""
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    keys = [duplicate_key(text) for _, text in items]
    n = SHINGLE_CHARS
    shingles = [[key[i : i + n].encode() for i in range(max(1, len(key) - n + 1))] for key in keys]
    sketches = MinHash.bulk(shingles, num_perm=args.num_perm, seed=SEED)
    index = MinHashLSH(num_perm=args.num_perm, params=lsh_bands(args.threshold, args.num_perm))
    with index.insertion_session() as session:
        for i, sketch in enumerate(sketches):
            session.insert(i, sketch, check_duplication=False)
    for sketch in sketches:
        index.query(sketch)
    seconds = time.perf_counter() - start
    print(f"  datasketch, {len(items):,} texts: {seconds:.2f} s  {len(items) / seconds:,.0f} texts/s (hash + LSH)")


def _char_shingles(n: int):
    return lambda key: {key[i : i + n] for i in range(max(1, len(key) - n + 1))}


def _word_shingles(n: int):
    def shingles(key: str) -> set[str]:
        words = key.split(" ")
        return {" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}

    return shingles


SHINGLINGS = {
    **{f"char {n}": _char_shingles(n) for n in (3, 4, 5, 7, 9)},
    **{f"word {n}": _word_shingles(n) for n in (1, 2, 3, 5)},
}


def shingle_study(items, pairs, threshold: float, sample: int = 50, against: int = 1000) -> None:
    """Exact Jaccard (no MinHash) under each shingling: the share of planted pairs at or above the
    threshold caps recall; the closest distinct text of `sample` clean texts (among `against`) shows
    how near unrelated texts come, i.e. the margin against false pairs."""
    keys = {example_id: duplicate_key(text) for example_id, text in items}
    clean = [example_id for example_id in keys if example_id.startswith("clean-")][:against]
    print(f"shingle study: {len(pairs):,} planted pairs; closest of {against:,} clean texts for {sample} of them")
    for name, shingle in SHINGLINGS.items():
        sets = {example_id: shingle(key) for example_id, key in keys.items()}
        planted = sorted(_jaccard(sets[a], sets[b]) for a, b in pairs)
        closest = sorted(max(_jaccard(sets[a], sets[b]) for b in clean if b != a) for a in clean[:sample])
        at_or_above = sum(j >= threshold for j in planted) / len(planted)
        first_percentile = planted[len(planted) // 100]
        print(
            f"  {name:7s} planted J >= {threshold}: {at_or_above:.3f}  (1st percentile {first_percentile:.2f})"
            f"  closest clean J: median {closest[len(closest) // 2]:.2f}, max {closest[-1]:.2f}"
        )


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, action="append", help="corpus size; repeat for several (default 10000)")
    parser.add_argument("--planted", type=float, default=0.05, help="share of planted near-duplicates")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=GSM8K, help="GSM8K train JSONL")
    parser.add_argument("--datasketch", type=int, default=0, help="also time datasketch on this many texts")
    parser.add_argument("--cores", type=int, default=1, help="CPU cores to pin the process to")
    parser.add_argument("--shingle-study", action="store_true", help="compare shinglings on the first --n")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])

    problems = load_problems(args.data)
    sizes = args.n or [10_000]
    print(f"threshold {args.threshold}, num_perm {args.num_perm}, planted {args.planted:.0%}, ", end="")
    print(f"{args.cores} core(s), python {sys.version.split()[0]}")
    if args.shingle_study:
        items, pairs, _ = build_corpus(problems, sizes[0], args.planted, args.seed)
        shingle_study(items, pairs, args.threshold)
        return
    seconds = [run(problems, n, args) for n in sizes]
    if len(sizes) > 1:
        ratio = seconds[-1] / seconds[0]
        print(f"time ratio n={sizes[-1]:,} / n={sizes[0]:,}: {ratio:.1f} (size ratio {sizes[-1] / sizes[0]:.0f})")


if __name__ == "__main__":
    main()
