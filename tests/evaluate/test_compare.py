import json
import math
import re

import pytest
from click.testing import CliRunner

from fteval.cli import main
from fteval.compare import DifferentTestSetsError, Limit, ResultsError, compare, load_results, parse_threshold

PROMPTS = [f"ex_{i:016x}" for i in range(16)]
CAPABILITY = ("capability/ftkit_arithmetic/acc", "capability/ftkit_gsm8k_mc/acc")


def results(strict=0.8, loss=1.2, rouge=0.5, capability=True, prompts=PROMPTS, fingerprint="f" * 64, **contestants):
    finetuned = {"strict": strict, "loss": loss, "rougeL": rouge, "pass_rate/final-answer-line": strict}
    metrics = {"strict": {"higher_is_better": True}, "loss": {"higher_is_better": False},
               "rougeL": {"higher_is_better": True}}  # fmt: skip
    if capability:
        finetuned |= dict.fromkeys(CAPABILITY, 0.5)
        metrics |= {name: {"higher_is_better": True} for name in CAPABILITY}
    return {
        "schema_version": 1,
        "metrics": metrics,
        "style_checks": [{"id": "final-answer-line"}],
        "data": {
            "dataset": "support-json",
            "manifest_fingerprint": fingerprint,
            "split": "test",
            "n": len(prompts),
            "prompt_ids": list(prompts),
        },
        "contestants": {
            "finetuned": {"scores": finetuned},
            "base": {"scores": {"strict": 0.1, "loss": 3.0, "rougeL": 0.2}},
            **{name: {"scores": scores} for name, scores in contestants.items()},
        },
    }


def by_metric(comparison):
    return {change.metric: change for change in comparison.changes}


def test_direction_and_default_limits():
    changes = by_metric(compare(results(), results(strict=0.75, loss=1.25, rouge=0.6)))
    assert changes["strict"].regressed and changes["strict"].worsening == pytest.approx(0.05)  # 0.05 > 0.02
    assert changes["loss"].regressed  # lower is better: 1.25 / 1.2 = +4.2 % > 2 %
    assert changes["loss"].relative_worsening == pytest.approx(0.05 / 1.2)
    assert not changes["rougeL"].regressed and changes["rougeL"].worsening < 0


@pytest.mark.parametrize(
    ("old_loss", "new_loss", "regressed"),
    [(10.0, 10.1, False), (0.5, 0.515, True), (1.0, 1.019, False), (1.0, 1.021, True)],
)
def test_a_loss_may_rise_by_a_share_of_itself_not_by_one_absolute_number(old_loss, new_loss, regressed):
    """10.0 -> 10.1 is +1 % (an absolute 0.1 would fail a 0.02 drop); 0.5 -> 0.515 is +3 % (an absolute 0.015
    would pass it); around the edge, 2 % of 1.0."""
    change = by_metric(compare(results(loss=old_loss), results(loss=new_loss)))["loss"]
    assert change.limit == Limit(0.02, relative=True) and change.regressed is regressed


def test_thresholds_per_metric_pattern_and_share():
    old, new = results(), results(strict=0.75, loss=1.3)
    relaxed = compare(old, new, thresholds={"strict": "0.1", "pass_rate/*": Limit(0.1), "loss": "10%"})
    assert not relaxed.regressions and relaxed.passed  # loss +8.3 % <= 10 %
    changes = by_metric(relaxed)
    assert changes["pass_rate/final-answer-line"].limit == Limit(0.1)
    assert changes["loss"].limit == Limit(0.1, relative=True)
    tight = by_metric(compare(old, new, thresholds={"loss": "0.05"}))["loss"]  # absolute: 0.1 > 0.05
    assert tight.regressed and tight.limit == Limit(0.05)
    assert by_metric(compare(old, new, max_rel_increase=0.09))["loss"].regressed is False
    assert parse_threshold("capability/*=5%") == ("capability/*", Limit(0.05, relative=True))
    for bad in ("strict", "strict=", "=0.1", "strict=lots", "strict=-1"):
        with pytest.raises(ResultsError, match="threshold"):
            parse_threshold(bad)


def test_a_metric_that_vanished_fails_the_gate_unless_allowed():
    comparison = compare(results(), results(capability=False))
    assert not comparison.regressions and not comparison.passed
    assert [(m.contestant, m.metric, m.present_in) for m in comparison.missing] == [
        ("finetuned", metric, "old") for metric in CAPABILITY
    ]
    assert compare(results(), results(capability=False), allow_missing=True).passed
    # A metric new in the new results has nothing to compare with: listed, not a failure.
    added = compare(results(capability=False), results())
    assert added.passed and [m.metric for m in added.added] == list(CAPABILITY)


def test_contestants_on_one_side_only():
    fewshot = {"strict": 0.9, "loss": 1.1, "rougeL": 0.5}
    # The default gate is finetuned; a new contestant is only noted.
    default = compare(results(), results(**{"base+fewshot": fewshot}))
    assert default.passed and {c.contestant for c in default.changes} == {"finetuned"}
    assert any("not gated: base, base+fewshot" in note for note in default.notes)
    # Every contestant: one new in the new results is listed as added, one gone from them is missing.
    everyone = compare(results(previous=fewshot), results(**{"base+fewshot": fewshot}), contestants=["all"])
    assert {c.contestant for c in everyone.changes} == {"finetuned", "base"}
    assert [(m.contestant, m.metric) for m in everyone.missing] == [("previous", None)]
    assert [(m.contestant, m.metric) for m in everyone.added] == [("base+fewshot", None)]
    assert not everyone.passed
    # The gated contestant gone from the new results fails; gone from both is nothing to compare.
    old, new = results(), results()
    del new["contestants"]["finetuned"]
    gone = compare(old, new)
    assert not gone.passed and gone.missing[0].describe() == "contestant finetuned: in the old results only"
    del old["contestants"]["finetuned"]
    with pytest.raises(ResultsError, match="nothing to compare"):
        compare(old, new)


@pytest.mark.parametrize(
    ("new", "said"),
    [
        (results(prompts=PROMPTS[:4]), "16 vs 4 prompts"),
        (results(fingerprint="e" * 64), "export ffffffffffff (support-json) vs eeeeeeeeeeee (support-json)"),
        (results(prompts=[*PROMPTS[:15], "ex_other"]), "prompt ids: 1 in the old results only, 1 in the new only"),
    ],
)
def test_different_test_sets_are_refused_unless_forced(new, said):
    with pytest.raises(DifferentTestSetsError, match="different test sets: .*" + re.escape(said)):
        compare(results(), new)
    forced = compare(results(), new, force=True)
    assert forced.test_set and said in forced.test_set[0] and "different test sets (forced)" in forced.summary()


def test_results_without_prompt_ids_compare_by_export_and_count():
    old = results()
    del old["data"]["prompt_ids"]
    comparison = compare(old, results(prompts=[*PROMPTS[:15], "ex_other"]))
    assert not comparison.test_set and any("record no prompt ids" in note for note in comparison.notes)


def test_a_score_that_became_nan_regressed():
    changes = by_metric(compare(results(), results(loss=math.nan)))
    assert changes["loss"].regressed and not by_metric(compare(results(loss=math.nan), results()))["loss"].regressed
    assert by_metric(compare(results(loss=2.0), results(loss=math.inf)))["loss"].regressed


def write(path, content):
    path.write_text(json.dumps(content))
    return str(path)


def test_cli_exit_codes(tmp_path):
    old = write(tmp_path / "old.json", results())
    same = write(tmp_path / "same.json", results(strict=0.81))
    worse = write(tmp_path / "worse.json", results(strict=0.70))
    runner = CliRunner()
    assert runner.invoke(main, ["compare", old, same]).exit_code == 0
    result = runner.invoke(main, ["compare", old, worse])
    assert result.exit_code == 1 and "REGRESSION  finetuned strict: 0.8000 -> 0.7000" in result.stdout
    assert "FAILED: 2 regression(s) in 6 metric(s)" in result.stderr
    assert runner.invoke(main, ["compare", old, worse, "--max-drop", "0.2"]).exit_code == 0
    assert runner.invoke(main, ["compare", old, worse, "--threshold", "*=0.2"]).exit_code == 0
    bad = runner.invoke(main, ["compare", old, str(tmp_path / "missing.json")])
    assert bad.exit_code == 2 and "not found" in bad.output
    bad = runner.invoke(main, ["compare", old, same, "--threshold", "strict"])
    assert bad.exit_code == 2 and "expected METRIC=LIMIT" in bad.output


def test_cli_missing_metrics_and_other_test_sets(tmp_path):
    runner = CliRunner()
    old = write(tmp_path / "old.json", results())
    without = write(tmp_path / "without.json", results(capability=False))
    result = runner.invoke(main, ["compare", old, without])
    assert result.exit_code == 1, result.output
    assert f"   MISSING  finetuned {CAPABILITY[0]}: in the old results only" in result.stdout
    assert "2 missing from the new results (pass --allow-missing to accept)" in result.stderr
    assert runner.invoke(main, ["compare", old, without, "--allow-missing"]).exit_code == 0
    fewer = write(tmp_path / "fewer.json", results(prompts=PROMPTS[:4]))
    refused = runner.invoke(main, ["compare", old, fewer])
    assert refused.exit_code == 2 and "16 vs 4 prompts" in refused.output and "--force" in refused.output
    forced = runner.invoke(main, ["compare", old, fewer, "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    printed = json.loads(forced.stdout)
    assert printed["passed"] and printed["test_set"] == {
        "same": False,
        "differences": ["16 vs 4 prompts", "prompt ids: 12 in the old results only, 0 in the new only"],
    }
    loss = next(c for c in printed["changes"] if c["metric"] == "loss")
    assert loss == {"contestant": "finetuned", "metric": "loss", "old": 1.2, "new": 1.2, "higher_is_better": False,
                    "limit": 0.02, "relative": True, "worsening": 0.0, "regressed": False}  # fmt: skip


def test_not_results(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{}")
    with pytest.raises(ResultsError, match=r"not an fteval results\.json"):
        load_results(path)
