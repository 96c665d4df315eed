import json

import pytest
from click.testing import CliRunner

from fteval.cli import main
from fteval.compare import ResultsError, compare, load_results


def results(strict=0.8, loss=1.2, rouge=0.5):
    return {
        "schema_version": 1,
        "metrics": {
            "strict": {"higher_is_better": True},
            "loss": {"higher_is_better": False},
            "rougeL": {"higher_is_better": True},
        },
        "style_checks": [{"id": "final-answer-line"}],
        "contestants": {
            "finetuned": {
                "scores": {"strict": strict, "loss": loss, "rougeL": rouge, "pass_rate/final-answer-line": strict}
            },
            "base": {"scores": {"strict": 0.1, "loss": 3.0, "rougeL": 0.2}},
        },
    }


def test_direction_and_thresholds():
    changes = {c.metric: c for c in compare(results(), results(strict=0.75, loss=1.25, rouge=0.6))}
    assert changes["strict"].regressed and changes["strict"].worsening == pytest.approx(0.05)
    assert changes["loss"].regressed  # lower is better: a higher loss is worse
    assert not changes["rougeL"].regressed and changes["rougeL"].worsening < 0
    relaxed = compare(results(), results(strict=0.75), thresholds={"strict": 0.1, "pass_rate/final-answer-line": 0.1})
    assert not any(c.regressed for c in relaxed)


def test_cli_exit_codes(tmp_path):
    old, same, worse = tmp_path / "old.json", tmp_path / "same.json", tmp_path / "worse.json"
    old.write_text(json.dumps(results()))
    same.write_text(json.dumps(results(strict=0.81)))
    worse.write_text(json.dumps(results(strict=0.70)))
    runner = CliRunner()
    assert runner.invoke(main, ["compare", str(old), str(same)]).exit_code == 0
    result = runner.invoke(main, ["compare", str(old), str(worse)])
    assert result.exit_code == 1 and "REGRESSION  finetuned strict: 0.8000 -> 0.7000" in result.output
    assert runner.invoke(main, ["compare", str(old), str(worse), "--max-drop", "0.2"]).exit_code == 0
    bad = runner.invoke(main, ["compare", str(old), str(tmp_path / "missing.json")])
    assert bad.exit_code == 2 and "not found" in bad.output


def test_not_results(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{}")
    with pytest.raises(ResultsError, match=r"not an fteval results\.json"):
        load_results(path)
