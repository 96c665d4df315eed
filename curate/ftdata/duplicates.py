"""Duplicates in a fine-tuning set: exact copies, near-duplicate clusters, and train/test leakage.

Part of `ftdata check`. Repeated examples overweight one behaviour in training, and a test prompt
that also sits in train (or nearly so) makes evaluation measure recall instead of generalisation.

>>> items = [("a", "What is 2+2?"), ("b", "what  is 2+2?"), ("c", "Name a colour.")]
>>> exact_duplicate_groups(items)
[['a', 'b']]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from rensa import RMinHash

from ftcore.text import duplicate_key  # in the core: few-shot selection (ftcore.fewshot) uses it too

# Character 5-grams of the duplicate key, chosen on GSM8K with 1-5 planted edits per copy
# (`python bench/near_duplicates.py --n 10000 --shingle-study`, exact Jaccard): 99% of copies stay at
# J >= 0.8 while a distinct problem's closest neighbour has median J 0.10. An edited word changes only
# ~len(word)+4 of ~500 character shingles but n of ~100 word n-grams, so word 3-grams keep only 81% of
# copies at J >= 0.8 (word 5-grams 56%); character 3-grams and bags of words keep them all but bring
# distinct problems twice as close (median 0.21-0.23): less margin against false pairs.
SHINGLE_CHARS = 5
# Fixed seed: the same input must give the same clusters on every run and machine.
SEED = 20_240_601
# LSH only proposes candidates (each is then checked against the threshold), so the band layout is
# chosen for recall: a pair exactly at the threshold becomes a candidate with at least this probability.
CANDIDATE_PROBABILITY_AT_THRESHOLD = 0.99
# Texts hashed per batch: bounds memory and sets how often `progress` is called.
BATCH = 4096
# In an LSH bucket of m texts, each is compared with at most this many others before it rather than
# all m·(m-1)/2 pairs: a bucket of thousands of near-identical templated texts stays linear.
MAX_BUCKET_NEIGHBOURS = 32

_PAD = np.uint32(0xFFFFFFFF)  # not a Unicode code point, so padding never matches text
# Fixed random odd multipliers, one per position in a shingle (odd: invertible modulo 2**64).
_POSITION_MULTIPLIERS = np.random.default_rng(SEED).integers(0, 2**64, SHINGLE_CHARS, np.uint64) | np.uint64(1)


def exact_duplicate_groups(items: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Ids whose texts have the same `duplicate_key`, in input order; groups by first appearance.

    >>> exact_duplicate_groups([("a", "Hi there"), ("b", "Bye"), ("c", "HI  THERE"), ("d", "bye ")])
    [['a', 'c'], ['b', 'd']]
    """
    groups: dict[str, list[str]] = {}
    for example_id, text in items:
        groups.setdefault(duplicate_key(text), []).append(example_id)
    return [ids for ids in groups.values() if len(ids) > 1]


@dataclass(frozen=True)
class NearDuplicateCluster:
    """Examples linked by estimated Jaccard similarity >= the threshold, directly or through others.

    `min_similarity` is the lowest estimated Jaccard between a member and the cluster's *first*
    member (`ids[0]`), the one a reviewer reads first. Members linked only through others can be
    below the threshold.
    """

    ids: tuple[str, ...]
    min_similarity: float


def near_duplicate_clusters(
    items: Sequence[tuple[str, str]],
    threshold: float = 0.8,
    num_perm: int = 128,
    progress: Callable[[int], None] | None = None,
) -> list[NearDuplicateCluster]:
    """Cluster texts whose character-shingle sets have estimated Jaccard similarity >= `threshold`.

    MinHash signatures (rensa) of the 5-character shingles of `duplicate_key(text)`; LSH banding
    proposes candidate pairs; a candidate becomes an edge when its estimated Jaccard (the share of
    equal signature slots) is >= `threshold`; clusters are the connected components of the edges.
    Exact duplicates (same `duplicate_key`) are always in the same cluster, so a cluster can consist
    of exact duplicates only (its `min_similarity` is then 1.0): `exact_duplicate_groups` reports those
    too. Members and clusters are in input order. `progress(n)` is called with the number of items
    just hashed (the calls add up to `len(items)`), e.g. `progress=bar.update` for a click progress bar.

    >>> items = [("a", "Tom has 3 apples and buys 4 more. How many apples does Tom have now?"),
    ...          ("b", "Tom has 3 apples and buys 5 more. How many apples does Tom have now?"),
    ...          ("c", "A train leaves at noon at 60 km/h. How far has it gone by 3 pm?")]
    >>> [c.ids for c in near_duplicate_clusters(items)]
    [('a', 'b')]
    """
    threshold, num_perm = _checked(threshold, num_perm)
    ids = [example_id for example_id, _ in items]
    key_of_item, signatures = _hash_texts([text for _, text in items], num_perm, progress)
    first, second, _ = _similar_pairs(signatures, threshold)
    component = _components(len(signatures), first, second)[key_of_item]

    members: dict[int, list[int]] = {}
    for position, root in enumerate(component.tolist()):
        members.setdefault(root, []).append(position)
    clusters = []
    for positions in members.values():  # dicts keep insertion order: clusters by first appearance
        if len(positions) < 2:
            continue
        keys = key_of_item[positions]
        matches = (signatures[keys[1:]] == signatures[keys[0]]).sum(axis=1)
        clusters.append(
            NearDuplicateCluster(ids=tuple(ids[p] for p in positions), min_similarity=float(matches.min()) / num_perm)
        )
    return clusters


def cross_split_leaks(
    train: Sequence[tuple[str, str]],
    test: Sequence[tuple[str, str]],
    threshold: float = 0.8,
    num_perm: int = 128,
) -> list[tuple[str, str, float]]:
    """(train_id, test_id, similarity) for each test text that is the same or near-same as a train text.

    Pass the prompts (what the model is asked), not whole conversations: a test prompt seen in
    training leaks even when the answers differ. Same `duplicate_key` gives similarity 1.0;
    otherwise the similarity is the estimated Jaccard, >= `threshold`. Pairs are not chained: a test
    text is reported only against train texts it is itself close to. Sorted by test, then train order.

    >>> train = [("t1", "What is 2+2?"), ("t2", "Name a colour.")]
    >>> cross_split_leaks(train, [("v1", "WHAT is 2+2?"), ("v2", "Name a planet.")])
    [('t1', 'v1', 1.0)]
    """
    threshold, num_perm = _checked(threshold, num_perm)
    key_of_item, signatures = _hash_texts([text for _, text in [*train, *test]], num_perm, None)
    train_keys, test_keys = key_of_item[: len(train)], key_of_item[len(train) :]
    train_by_key: dict[int, list[int]] = {}
    for position, key in enumerate(train_keys.tolist()):
        train_by_key.setdefault(key, []).append(position)

    # Every key's close keys, itself included (similarity 1.0): pairs are stored once, look both ways.
    first, second, matches = _similar_pairs(signatures, threshold)
    close: dict[int, list[tuple[int, float]]] = {}
    for a, b, m in zip(first.tolist(), second.tolist(), (matches / num_perm).tolist(), strict=True):
        close.setdefault(a, []).append((b, m))
        close.setdefault(b, []).append((a, m))

    leaks = []
    for test_position, key in enumerate(test_keys.tolist()):
        found = [(p, 1.0) for p in train_by_key.get(key, [])]
        for other, similarity in close.get(key, []):
            found += [(p, similarity) for p in train_by_key.get(other, [])]
        test_id = test[test_position][0]
        leaks += [(train[p][0], test_id, similarity) for p, similarity in sorted(found)]
    return leaks


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band): the most rows per band (fewest chance candidates) that still makes a
    pair at exactly `threshold` a candidate with probability >= CANDIDATE_PROBABILITY_AT_THRESHOLD.

    >>> lsh_bands(0.8, 128)
    (21, 6)
    """
    threshold, num_perm = _checked(threshold, num_perm)
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= CANDIDATE_PROBABILITY_AT_THRESHOLD:
            best = (bands, rows)
    return best


def _checked(threshold: float, num_perm: int) -> tuple[float, int]:
    """The arguments as float and int (numpy scalars welcome), or a ValueError that says what is wrong."""
    # bool is an int in Python: `threshold=True` is a mistake, not 1.0. NaN fails the range test.
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a number in (0, 1] (estimated Jaccard similarity), got {threshold!r}")
    # Below 16 slots the similarity estimate is too coarse (steps of 1/num_perm) to mean anything.
    if isinstance(num_perm, bool) or not isinstance(num_perm, Integral) or num_perm < 16:
        raise ValueError(f"num_perm must be an integer >= 16 (MinHash signature length), got {num_perm!r}")
    return float(threshold), int(num_perm)


def _hash_texts(
    texts: Sequence[str], num_perm: int, progress: Callable[[int], None] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(key index of each text, one MinHash signature per distinct duplicate key).

    Exact duplicates are hashed once: they would get the same signature anyway, and a set with many
    copies of one text would otherwise fill one LSH bucket with identical members.
    """
    key_index: dict[str, int] = {}
    key_of_item = np.empty(len(texts), dtype=np.int64)
    blocks = []
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        new_keys = []
        for offset, text in enumerate(batch):
            key = duplicate_key(text)
            index = key_index.get(key)
            if index is None:
                index = key_index[key] = len(key_index)
                new_keys.append(key)
            key_of_item[start + offset] = index
        if new_keys:
            blocks.append(_signatures(new_keys, num_perm))
        if progress is not None:
            progress(len(batch))
    signatures = np.concatenate(blocks) if blocks else np.empty((0, num_perm), dtype=np.uint32)
    return key_of_item, signatures


def _signatures(keys: list[str], num_perm: int) -> np.ndarray:
    """MinHash signatures (uint32, one row per key) of the keys' character shingles."""
    hashes, offsets = _shingle_hashes(keys)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, num_perm, SEED)
    flat = itertools.chain.from_iterable(matrix.to_rows())
    return np.fromiter(flat, dtype=np.uint32, count=len(keys) * num_perm).reshape(len(keys), num_perm)


def _shingle_hashes(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every SHINGLE_CHARS-character window of each key, all keys in one flat array,
    and row offsets (key i owns hashes[offsets[i]:offsets[i + 1]]), as rensa's prehashed input wants.

    Done in numpy over all keys at once: building ~500 substrings per text in Python was the slowest
    step. A key shorter than a shingle (even an empty one) is one shingle: itself, padded.
    """
    n = SHINGLE_CHARS
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    # surrogatepass: a lone surrogate (JSON allows "\ud800") is hashed as its code point, not an error.
    codes = np.frombuffer("".join(keys).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    # Each key is followed by n-1 pad values, so no window of a key runs into the next key's text.
    padded = np.full(len(codes) + len(keys) * (n - 1), _PAD, dtype=np.uint32)
    padded[np.arange(len(codes)) + (n - 1) * np.repeat(np.arange(len(keys)), lengths)] = codes
    windows = len(padded) - (n - 1)
    hashes = np.zeros(windows, dtype=np.uint64)
    for position, multiplier in enumerate(_POSITION_MULTIPLIERS):
        hashes += padded[position : position + windows].astype(np.uint64) * multiplier
    hashes = _mix64(hashes)

    starts = np.concatenate(([0], np.cumsum(lengths + (n - 1))[:-1]))
    counts = np.maximum(1, lengths - (n - 1))
    offsets = np.concatenate(([0], np.cumsum(counts)))
    windows_kept = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
    return hashes[windows_kept], offsets.astype(np.uint64)


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: the sum above has weak low bits, MinHash wants every bit uniform."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _similar_pairs(signatures: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (first < second) whose estimated Jaccard is >= threshold, and their matching slot counts."""
    count, num_perm = signatures.shape
    bands, rows = lsh_bands(threshold, num_perm)
    # Compare slot counts, not floats: 0.8 * 128 is 102.4, so 103 equal slots are needed.
    needed = int(np.ceil(threshold * num_perm - 1e-9))
    found = []
    for band in range(bands):
        bucket = _band_hash(signatures[:, band * rows : (band + 1) * rows])
        order = np.argsort(bucket, kind="stable")
        bucket = bucket[order]
        for distance in range(1, min(MAX_BUCKET_NEIGHBOURS, count - 1) + 1):
            same = np.flatnonzero(bucket[distance:] == bucket[:-distance])
            if not len(same):
                break  # no bucket has more than `distance` members
            first, second = order[same], order[same + distance]
            found.append(np.minimum(first, second) * count + np.maximum(first, second))
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    # The same pair often shares several bands: verify it once.
    pairs = np.unique(np.concatenate(found))
    first, second = pairs // count, pairs % count
    matches = np.concatenate(
        [
            (signatures[first[i : i + 65_536]] == signatures[second[i : i + 65_536]]).sum(axis=1)
            for i in range(0, len(pairs), 65_536)
        ]
    )
    keep = matches >= needed
    return first[keep], second[keep], matches[keep]


def _band_hash(band: np.ndarray) -> np.ndarray:
    """One 64-bit bucket id per row of a band (different bands are never compared with each other)."""
    bucket = np.zeros(len(band), dtype=np.uint64)
    for column in band.T:
        bucket = _mix64(bucket ^ column.astype(np.uint64))
    return bucket


def _components(count: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Union-find over the edges: each node's root, the smallest node of its component."""
    parent = list(range(count))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving keeps later look-ups short
            node = parent[node]
        return node

    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(node) for node in range(count)], dtype=np.int64)
