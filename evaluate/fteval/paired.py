"""Paired statistics a reviewer can trust: every contestant answers the same test prompts, so two contestants are
compared example by example, never as two unrelated averages.

For a pass/fail score (a style check, `strict`, exact match) the difference of pass rates gets a paired
bootstrap 95 % interval and McNemar's exact test on the discordant pairs; for a per-example number (ROUGE-L) the
mean difference gets the paired bootstrap interval. A contestant is called "better" or "worse" only when the
interval excludes zero (and, for pass rates, McNemar agrees at the same level); otherwise the difference is
"not significant", however large it looks.

>>> comparison = paired_comparison("strict", "base+prompt", [1, 0, 0, 1], "finetuned", [1, 1, 1, 1])
>>> comparison.verdict
'not significant'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 10_000
SEED = 20_240_917  # fixed: the same results.json gives the same intervals every time


@dataclass(frozen=True)
class PairedComparison:
    metric: str
    baseline: str
    contestant: str
    n: int
    baseline_mean: float
    contestant_mean: float
    difference: float  # contestant - baseline, in the metric's units (pass rate: share of examples)
    ci_low: float
    ci_high: float
    p_value: float | None  # McNemar's exact test (pass/fail scores only)
    only_contestant: int | None  # examples only the contestant passes
    only_baseline: int | None  # examples only the baseline passes
    higher_is_better: bool = True

    @property
    def significant(self) -> bool:
        excludes_zero = self.ci_low > 0 or self.ci_high < 0
        return excludes_zero and (self.p_value is None or self.p_value < 1 - CONFIDENCE)

    @property
    def verdict(self) -> str:
        """'better', 'worse' (for the contestant, in the metric's direction) or 'not significant'."""
        if not self.significant:
            return "not significant"
        return "better" if (self.difference > 0) == self.higher_is_better else "worse"

    def to_dict(self) -> dict:
        return asdict(self) | {"verdict": self.verdict, "confidence": CONFIDENCE}


def paired_comparison(
    metric: str,
    baseline: str,
    baseline_values: Sequence[float],
    contestant: str,
    contestant_values: Sequence[float],
    higher_is_better: bool = True,
    resamples: int = RESAMPLES,
) -> PairedComparison:
    """Compare two contestants' per-example values of one metric (aligned by test example)."""
    a = np.asarray(baseline_values, dtype=float)
    b = np.asarray(contestant_values, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"{metric}: {baseline} and {contestant} must have one value per test example each")
    if not len(a):
        raise ValueError(f"{metric}: no test examples to compare")
    low, high = paired_bootstrap_interval(b - a, resamples)
    binary = bool(np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all())
    only_b = int(((b == 1) & (a == 0)).sum()) if binary else None
    only_a = int(((a == 1) & (b == 0)).sum()) if binary else None
    return PairedComparison(
        metric=metric,
        baseline=baseline,
        contestant=contestant,
        n=len(a),
        baseline_mean=float(a.mean()),
        contestant_mean=float(b.mean()),
        difference=float(b.mean() - a.mean()),
        ci_low=low,
        ci_high=high,
        p_value=mcnemar_exact(only_b, only_a) if binary else None,
        only_contestant=only_b,
        only_baseline=only_a,
        higher_is_better=higher_is_better,
    )


def paired_bootstrap_interval(differences: np.ndarray, resamples: int = RESAMPLES) -> tuple[float, float]:
    """Percentile interval of the mean of per-example differences, resampling examples with replacement."""
    rng = np.random.default_rng(SEED)
    n = len(differences)
    means = np.empty(resamples)
    for start in range(0, resamples, 1000):  # chunks keep memory flat on large test splits
        stop = min(start + 1000, resamples)
        picks = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = differences[picks].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def wilson_interval(passed: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a pass rate `passed / n` (one contestant alone; a comparison of two is paired).

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if n == 0:
        return 0.0, 1.0
    z = 1.959963984540054  # the standard normal's 97.5 % quantile
    rate = passed / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def mcnemar_exact(only_contestant: int, only_baseline: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against 1/2."""
    from scipy.stats import binomtest

    discordant = only_contestant + only_baseline
    if discordant == 0:
        return 1.0
    return float(binomtest(only_contestant, discordant, 0.5).pvalue)


# Which contestant is measured against which, when no other list is given: the fine-tune must beat the prompted
# base model first of all.
PAIRS = (
    ("base+prompt", "finetuned"),
    ("base", "finetuned"),
    ("base", "base+prompt"),
    ("previous", "finetuned"),
)


def comparison_pairs(names: Sequence[str], prompting: Sequence[str]) -> list[tuple[str, str]]:
    """(baseline, contestant) pairs for the contestants `names`, `prompting` being the prompting ones: the fine-tune
    against each prompting contestant (the verdict takes the best), the base model, `previous` and every other
    contestant (an endpoint serving the adapter, say); and each prompting contestant against the base model."""
    pairs: list[tuple[str, str]] = []
    if "finetuned" in names:
        pairs += [(name, "finetuned") for name in prompting]
        pairs += [(name, "finetuned") for name in ("base", "previous") if name in names]
        pairs += [(name, "finetuned") for name in names if name not in (*prompting, "base", "previous", "finetuned")]
    if "base" in names:
        pairs += [("base", name) for name in prompting]
    return pairs


def compare_contestants(
    per_example: dict[str, dict[str, Sequence[float]]],
    directions: dict[str, bool],
    pairs: Sequence[tuple[str, str]] = PAIRS,
) -> list[PairedComparison]:
    """Every metric of every pair in `pairs` present in `per_example` (contestant -> metric -> values)."""
    comparisons = []
    for baseline, contestant in pairs:
        if baseline not in per_example or contestant not in per_example:
            continue
        for metric, values in per_example[contestant].items():
            if metric in per_example[baseline]:
                comparisons.append(
                    paired_comparison(
                        metric,
                        baseline,
                        per_example[baseline][metric],
                        contestant,
                        values,
                        higher_is_better=directions.get(metric, True),
                    )
                )
    return comparisons
