"""Paired statistics: intervals and McNemar's test on hand-checkable cases; verdicts only where they are earned."""

import pytest
from scipy.stats import binomtest

from fteval.paired import compare_contestants, mcnemar_exact, paired_comparison


def test_a_large_paired_gain_is_better():
    baseline = [1] * 20 + [0] * 80
    contestant = [1] * 80 + [0] * 20  # 60 examples only the contestant passes, none the other way
    comparison = paired_comparison("strict", "base+prompt", baseline, "finetuned", contestant)
    assert comparison.difference == pytest.approx(0.6)
    assert comparison.only_contestant == 60 and comparison.only_baseline == 0
    assert comparison.p_value == pytest.approx(binomtest(60, 60, 0.5).pvalue)
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


def test_mcnemar_exact_matches_the_binomial_test():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(9, 1) == pytest.approx(binomtest(9, 10, 0.5).pvalue)
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024)


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
