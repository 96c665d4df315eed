"""Paired statistics: intervals and McNemar's test on hand-checkable cases; verdicts only where they are earned."""

import math

import pytest

from fteval.paired import compare_contestants, mcnemar_exact, paired_comparison


def binomial_quantile(n: int, k: int, q: float) -> float:
    """The q-quantile of Binomial(n, k/n) / n, from the exact CDF (the smallest x with P(X <= x) >= q)."""
    p, cumulative = k / n, 0.0
    for x in range(n + 1):
        cumulative += math.comb(n, x) * p**x * (1 - p) ** (n - x)
        if cumulative >= q:
            return x / n
    return 1.0


def test_a_large_paired_gain_is_better():
    baseline = [1] * 20 + [0] * 80
    contestant = [1] * 80 + [0] * 20  # 60 examples only the contestant passes, none the other way
    comparison = paired_comparison("strict", "base+prompt", baseline, "finetuned", contestant)
    assert comparison.difference == pytest.approx(0.6)
    assert comparison.only_contestant == 60 and comparison.only_baseline == 0
    assert comparison.p_value == pytest.approx(2 * 2.0**-60, rel=1e-9)  # both tails of 60 of 60 heads
    assert 0.45 < comparison.ci_low < 0.6 < comparison.ci_high < 0.75
    assert comparison.verdict == "better" and comparison.to_dict()["verdict"] == "better"


def test_identical_answers_and_small_differences_are_not_significant():
    same = paired_comparison("strict", "base", [1, 0, 1, 0], "finetuned", [1, 0, 1, 0])
    assert (same.difference, same.ci_low, same.ci_high, same.p_value) == (0, 0, 0, 1.0)
    assert same.verdict == "not significant"
    # 3 of 100 better, none worse: looks like +3 points, but McNemar p = 0.25 and the interval touches 0.
    small = paired_comparison("strict", "base", [0] * 100, "finetuned", [1] * 3 + [0] * 97)
    assert small.p_value == pytest.approx(0.25) and small.ci_low == 0
    assert small.verdict == "not significant"


def test_worse_respects_the_metric_direction():
    worse = paired_comparison("strict", "previous", [1] * 50, "finetuned", [0] * 30 + [1] * 20)
    assert worse.verdict == "worse" and worse.ci_high < 0
    # For a lower-is-better number, a drop is the better outcome.
    lower = paired_comparison("loss", "base", [3.0] * 40, "finetuned", [1.0 + 0.01 * i for i in range(40)], False)
    assert lower.p_value is None and lower.only_contestant is None  # not pass/fail: bootstrap only
    assert lower.verdict == "better"


def test_the_interval_is_reproducible_and_inputs_are_checked():
    a, b = [0, 1, 1, 0, 1, 0, 0, 1] * 5, [1, 1, 0, 1, 1, 1, 0, 1] * 5
    assert paired_comparison("m", "x", a, "y", b) == paired_comparison("m", "x", a, "y", b)
    with pytest.raises(ValueError, match="one value per test example"):
        paired_comparison("strict", "base", [1, 0], "finetuned", [1])
    with pytest.raises(ValueError, match="no test examples"):
        paired_comparison("strict", "base", [], "finetuned", [])


def test_mcnemar_exact_p_values_are_the_closed_forms():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(60, 0) == pytest.approx(2 * 2.0**-60, rel=1e-9)
    assert mcnemar_exact(0, 60) == pytest.approx(2 * 2.0**-60, rel=1e-9)  # two-sided: the direction does not matter
    assert mcnemar_exact(9, 1) == pytest.approx(2 * (1 + 10) / 1024, rel=1e-9)  # P(X <= 1) = (C(10,0) + C(10,1)) / 2^10
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32, rel=1e-9)
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 64, rel=1e-9)
    assert mcnemar_exact(3, 3) == 1.0  # as even as it gets
    # 7 vs 3: P(X <= 3) = (1 + 10 + 45 + 120) / 1024 = 176 / 1024, doubled.
    assert mcnemar_exact(7, 3) == pytest.approx(352 / 1024, rel=1e-9)


@pytest.mark.parametrize(
    ("only_contestant", "only_baseline", "verdict"),
    [
        (5, 0, "not significant"),  # the interval excludes 0, but McNemar p = 2/32 = 0.0625
        (6, 0, "better"),  # p = 2/64 = 0.031, and the interval excludes 0
        (0, 6, "worse"),
    ],
)
def test_better_needs_the_interval_and_mcnemar_both(only_contestant, only_baseline, verdict):
    agree = [1] * 40 + [0] * (100 - 40 - only_contestant - only_baseline)  # 100 examples in all
    baseline = [0] * only_contestant + [1] * only_baseline + agree
    contestant = [1] * only_contestant + [0] * only_baseline + agree
    comparison = paired_comparison("strict", "base+prompt", baseline, "finetuned", contestant)
    assert (comparison.only_contestant, comparison.only_baseline) == (only_contestant, only_baseline)
    # With no example going the other way, P(no discordant pair resampled) = 0.95^100 = 0.006 < 2.5 %: the
    # bootstrap interval alone would call each of these a difference.
    assert comparison.ci_low > 0 or comparison.ci_high < 0
    assert comparison.verdict == verdict


@pytest.mark.parametrize(("n", "k"), [(1000, 300), (400, 20), (200, 100)])
def test_the_interval_is_the_binomial_quantiles(n, k):
    """For 0/1 differences, each resample's mean is Binomial(n, k/n) / n: the 95 % percentile interval is that
    distribution's 2.5 % and 97.5 % quantiles, within the resampling error (about a third of a step at
    n = 1000) plus one step for the interpolation between neighbouring values."""
    baseline = [0] * n
    contestant = [1] * k + [0] * (n - k)
    comparison = paired_comparison("strict", "base", baseline, "finetuned", contestant)
    tail = (1 - 0.95) / 2
    assert comparison.ci_low == pytest.approx(binomial_quantile(n, k, tail), abs=1.5 / n)
    assert comparison.ci_high == pytest.approx(binomial_quantile(n, k, 1 - tail), abs=1.5 / n)


def test_contestants_are_compared_in_the_documented_pairs():
    per_example = {
        "base": {"strict": [0, 0, 1], "rougeL": [0.1, 0.2, 0.3]},
        "base+prompt": {"strict": [1, 0, 1], "rougeL": [0.2, 0.2, 0.3]},
        "finetuned": {"strict": [1, 1, 1], "rougeL": [0.5, 0.6, 0.7]},
    }
    pairs = {(c.baseline, c.contestant, c.metric) for c in compare_contestants(per_example, {"strict": True})}
    assert pairs == {
        (baseline, contestant, metric)
        for baseline, contestant in (("base+prompt", "finetuned"), ("base", "finetuned"), ("base", "base+prompt"))
        for metric in ("strict", "rougeL")
    }
