"""fteval's `evaluate` metric modules, loaded by path with the hub offline (HF_HUB_OFFLINE=1, see conftest)."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import evaluate
import pytest

from ftcore.config import ConfigError
from ftcore.style import StyleSpec
from fteval.metrics import GSM8K_FINAL_ANSWER, METRICS_DIR, available_metrics, load_metric

REPO = Path(__file__).resolve().parents[2]
GSM8K_SPEC = REPO / "examples" / "quickstart" / "style.yaml"


@pytest.fixture(scope="module")
def rouge_l():
    return load_metric("rouge_l")


@pytest.fixture(scope="module")
def exact_match():
    return load_metric("exact_match")


@pytest.fixture(scope="module")
def style_adherence():
    return load_metric("style_adherence")


# --- loading ----------------------------------------------------------------------------------


def test_every_metric_folder_loads_offline_as_hugging_face_module():
    assert available_metrics() == ["exact_match", "rouge_l", "style_adherence"]
    for name in available_metrics():
        metric = load_metric(name)
        assert isinstance(metric, evaluate.EvaluationModule)
        # The module's own `import evaluate` is Hugging Face's package, not the repo's `evaluate/` folder.
        module_evaluate = sys.modules[type(metric).__module__].evaluate
        assert module_evaluate is evaluate
        assert "site-packages" in module_evaluate.__file__ and hasattr(module_evaluate, "load")
    assert METRICS_DIR == REPO / "evaluate" / "fteval" / "metrics"


def test_unknown_metric_is_an_error_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown metric 'rouge'.*rouge_l"):
        load_metric("rouge")


def test_combine_rouge_l_and_exact_match(rouge_l, exact_match):
    combined = evaluate.combine([rouge_l, exact_match])
    scores = combined.compute(
        predictions=["the cat sat on the mat", "the cat sat"], references=["the cat lay on the mat", "the cat sat"]
    )
    # rougeL: (5/6 + 1) / 2, see test_rouge_l_by_hand; exact_match: 1 of 2.
    assert scores == pytest.approx({"rougeL": (5 / 6 + 1) / 2, "exact_match": 0.5})


def test_combine_through_load_metric_names_in_docstring():
    combined = evaluate.combine([load_metric("rouge_l"), load_metric("exact_match")])
    assert combined.compute(predictions=["the cat sat"], references=["the cat sat"]) == {
        "rougeL": 1.0,
        "exact_match": 1.0,
    }


# --- rouge_l ----------------------------------------------------------------------------------


def test_rouge_l_by_hand(rouge_l):
    # "the cat sat on the mat" vs "the cat lay on the mat": the longest common subsequence is
    # "the cat on the mat", 5 tokens of 6 on each side: P = R = 5/6, F = 5/6.
    # "the cat sat" vs "the cat sat down": LCS 3; P = 3/3, R = 3/4, F = 2PR/(P+R) = 1.5/1.75 = 6/7.
    # Mean over the two pairs: (5/6 + 6/7) / 2 = 71/84.
    scores = rouge_l.compute(
        predictions=["the cat sat on the mat", "the cat sat"],
        references=["the cat lay on the mat", "the cat sat down"],
    )
    assert scores == {"rougeL": pytest.approx(71 / 84)}
    assert isinstance(scores["rougeL"], float)


def test_rouge_l_identical_and_disjoint(rouge_l):
    assert rouge_l.compute(predictions=["A cat."], references=["a cat"]) == {"rougeL": 1.0}  # case, punctuation
    assert rouge_l.compute(predictions=["dogs bark"], references=["cats meow"]) == {"rougeL": 0.0}


def test_rouge_l_empty_answer_scores_zero(rouge_l):
    assert rouge_l.compute(predictions=["", "the cat"], references=["the cat", "the cat"]) == {"rougeL": 0.5}
    assert rouge_l.compute(predictions=[""], references=[""]) == {"rougeL": 0.0}  # rouge_score: no tokens, 0


def test_rouge_l_trailing_whitespace_and_fenced_json(rouge_l):
    assert rouge_l.compute(predictions=["the cat sat \n\n  "], references=["the cat sat"]) == {"rougeL": 1.0}
    # The fence adds one token ("json"; backticks are dropped): LCS 2 of 3 predicted, 2 of 2 referenced.
    # P = 2/3, R = 1, F = 2 * (2/3) / (5/3) = 4/5.
    fenced = rouge_l.compute(predictions=['```json\n{"a": 1}\n```'], references=['{"a": 1}'])
    assert fenced == {"rougeL": pytest.approx(4 / 5)}


def test_rouge_l_stemmer(rouge_l):
    # Stemmed (words over 3 letters): "cats running" -> "cat run", "cat runs" -> "cat run".
    assert rouge_l.compute(predictions=["cats running"], references=["cat runs"]) == {"rougeL": 0.0}
    assert rouge_l.compute(predictions=["cats running"], references=["cat runs"], use_stemmer=True) == {"rougeL": 1.0}


def test_rouge_l_unicode_needs_a_tokenizer(rouge_l):
    # The default tokenizer keeps [a-z0-9] only: "café" becomes "caf", so 2 of 3 tokens match: F = 2/3.
    assert rouge_l.compute(predictions=["café au lait"], references=["cafe au lait"]) == {
        "rougeL": pytest.approx(2 / 3)
    }
    assert rouge_l.compute(predictions=["東京 大阪"], references=["東京 大阪"]) == {"rougeL": 0.0}
    assert rouge_l.compute(predictions=["東京 大阪"], references=["東京 大阪"], tokenizer=str.split) == {"rougeL": 1.0}


def test_rouge_l_needs_one_reference_per_prediction(rouge_l):
    with pytest.raises(ValueError):
        rouge_l.compute(predictions=["a", "b"], references=["a"])


def test_rouge_score_and_nltk_reach_no_network():
    # nltk must not try to download anything for what rouge_score uses (the Porter stemmer).
    probe = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise RuntimeError('network access')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from rouge_score import rouge_scorer\n"
        "scorer = rouge_scorer.RougeScorer(['rougeL'], use_stemmer=True)\n"
        "print(scorer.score('cats running', 'cat runs')['rougeL'].fmeasure)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.0"


# --- exact_match ------------------------------------------------------------------------------


def test_exact_match_is_exact_by_default(exact_match):
    scores = exact_match.compute(predictions=["Paris", "paris", "Paris ", "Paris.", "Lyon"], references=["Paris"] * 5)
    assert scores == {"exact_match": 1 / 5}


def test_exact_match_options(exact_match):
    predictions = ["Paris", "paris", "Paris \n", "Paris.", "Lyon"]
    references = ["Paris"] * 5
    assert exact_match.compute(predictions=predictions, references=references, ignore_case=True) == {
        "exact_match": 2 / 5
    }
    assert exact_match.compute(predictions=predictions, references=references, strip=True) == {"exact_match": 2 / 5}
    assert exact_match.compute(predictions=predictions, references=references, ignore_punctuation=True) == {
        "exact_match": 2 / 5
    }
    everything = {"ignore_case": True, "ignore_punctuation": True, "strip": True}
    assert exact_match.compute(predictions=predictions, references=references, **everything) == {"exact_match": 4 / 5}


def test_exact_match_empty_answers(exact_match):
    assert exact_match.compute(predictions=["", ""], references=["", "4"]) == {"exact_match": 0.5}
    assert exact_match.compute(predictions=["  "], references=[""], strip=True) == {"exact_match": 1.0}


def test_exact_match_json_in_markdown_fence(exact_match):
    fenced = '```json\n{"a": 1}\n```'
    assert exact_match.compute(predictions=[fenced], references=['{"a": 1}']) == {"exact_match": 0.0}
    assert exact_match.compute(predictions=[fenced], references=['{"a": 1}'], regex=r"\{.*\}") == {"exact_match": 1.0}


def test_exact_match_unicode(exact_match):
    composed, decomposed = "café", unicodedata.normalize("NFD", "café")
    assert composed != decomposed
    assert exact_match.compute(predictions=[decomposed], references=[composed]) == {"exact_match": 1.0}
    assert exact_match.compute(predictions=["STRASSE"], references=["Straße"], ignore_case=True) == {"exact_match": 1.0}
    # «…» and „…“ are Unicode punctuation, not in string.punctuation.
    assert exact_match.compute(
        predictions=["«Bonjour»", "„Hallo“"], references=["Bonjour", "Hallo"], ignore_punctuation=True
    ) == {"exact_match": 1.0}
    assert exact_match.compute(predictions=["東京"], references=["東京"]) == {"exact_match": 1.0}


def test_exact_match_gsm8k_final_answer(exact_match):
    references = ["3 + 2 = <<3+2=5>>5\n#### 5", "#### 1000", "#### 18", "#### 7", "#### 12"]
    predictions = [
        "She has 5 apples.\n#### 5",  # same final answer, different reasoning: a match
        "#### 1,000",  # a thousands separator: a match only with ignore_punctuation
        "#### 18  \n",  # trailing whitespace after the number: the pattern trims it
        "The answer is 7.",  # no final answer line: never a match
        "#### 11\n#### 12",  # the last final-answer line counts
    ]
    assert exact_match.compute(predictions=predictions, references=references, regex=GSM8K_FINAL_ANSWER) == {
        "exact_match": 3 / 5
    }
    assert exact_match.compute(
        predictions=predictions, references=references, regex=GSM8K_FINAL_ANSWER, ignore_punctuation=True
    ) == {"exact_match": 4 / 5}
    # A reference without the line matches nothing, not even an identical prediction.
    assert exact_match.compute(predictions=["7"], references=["7"], regex=GSM8K_FINAL_ANSWER) == {"exact_match": 0.0}


def test_exact_match_on_gsm8k_answers_against_themselves(exact_match, gsm8k_rows):
    answers = [row["answer"] for row in gsm8k_rows[:200]]
    shifted = answers[1:] + answers[:1]
    same = exact_match.compute(predictions=answers, references=answers, regex=GSM8K_FINAL_ANSWER)
    assert same == {"exact_match": 1.0}
    final = [a.rsplit("####", 1)[1].strip() for a in answers]
    expected = sum(a == b for a, b in zip(final, final[1:] + final[:1], strict=True)) / 200
    assert exact_match.compute(predictions=shifted, references=answers, regex=GSM8K_FINAL_ANSWER) == {
        "exact_match": expected
    }


# --- style_adherence --------------------------------------------------------------------------

FORMAT_SPEC = {
    "name": "json-answers",
    "checks": [
        {"check": "format:json"},
        {"check": "length:max_words", "max": 4},
        {"check": "phrases:forbidden", "phrases": ["as an ai"]},
    ],
}


def test_style_adherence_pass_rates(style_adherence):
    predictions = [
        '{"a": 1}',  # passes all three
        '```json\n{"a": 1}\n```',  # JSON inside a markdown fence is not JSON; 4 words
        "",  # empty: not JSON, 0 words, no forbidden phrase
        '{"a": 1}  \n',  # trailing whitespace: still JSON
        '"As an AI, je ne peux pas — désolé"',  # a JSON string, 9 words, forbidden (case-folded)
    ]
    scores = style_adherence.compute(predictions=predictions, spec=FORMAT_SPEC)
    assert scores == {
        "pass_rate/format:json": 3 / 5,
        "pass_rate/length:max_words": 4 / 5,
        "pass_rate/phrases:forbidden": 4 / 5,
        "strict": 2 / 5,
        "n": 5,
    }


def test_style_adherence_gsm8k_spec_matches_style_spec(style_adherence, gsm8k_rows):
    answers = [row["answer"] for row in gsm8k_rows[:200]]
    # Two broken answers so that the spec has something to find.
    answers += ["The answer is 5. I hope this helps!", "4 + 1 = 5\n#### 5\n"]
    spec = StyleSpec.load(GSM8K_SPEC)
    direct = [spec.evaluate(answer) for answer in answers]
    expected_strict = sum(all(result.passed for result in checks.values()) for checks in direct) / len(answers)

    scores = style_adherence.compute(predictions=answers, spec=str(GSM8K_SPEC))
    assert scores["n"] == 202
    assert scores["strict"] == expected_strict
    assert 0 < scores["strict"] < 1
    for check in spec.checks:
        expected = sum(checks[check.id].passed for checks in direct) / len(answers)
        assert scores[f"pass_rate/{check.id}"] == expected
    assert list(scores) == [f"pass_rate/{check.id}" for check in spec.checks] + ["strict", "n"]

    # The same spec as a dict, as a Path and as a StyleSpec gives the same scores.
    import yaml

    as_dict = yaml.safe_load(GSM8K_SPEC.read_text(encoding="utf-8"))
    assert style_adherence.compute(predictions=answers, spec=as_dict) == scores
    assert style_adherence.compute(predictions=answers, spec=GSM8K_SPEC) == scores
    assert style_adherence.compute(predictions=answers, spec=spec) == scores


def test_style_adherence_unicode_and_trailing_whitespace(style_adherence):
    answers = ["Ｘ × ２ = <<2*2=4>>4 — ok ✓\n#### 4   \n\n", "Réponse : <<1+1=2>>2\n#### ２"]
    scores = style_adherence.compute(predictions=answers, spec=GSM8K_SPEC)
    # The last line is stripped before matching; a full-width digit is not in [0-9].
    assert scores["pass_rate/final-answer-line"] == 0.5
    assert scores["pass_rate/calculator-notes"] == 1.0
    assert scores["strict"] == 0.5


def test_style_adherence_needs_a_spec(style_adherence):
    with pytest.raises(ValueError, match="spec is required"):
        style_adherence.compute(predictions=["#### 4"])


def test_style_adherence_rejects_a_bad_spec(style_adherence, tmp_path):
    with pytest.raises(ConfigError, match="unknown check 'format:yaml'"):
        style_adherence.compute(predictions=["x"], spec={"checks": [{"check": "format:yaml"}]})
    with pytest.raises(ConfigError):
        style_adherence.compute(predictions=["x"], spec=tmp_path / "missing.yaml")
    with pytest.raises(TypeError):
        style_adherence.compute(predictions=["x"], spec=["format:json"])


def test_style_adherence_ignores_references(style_adherence):
    scores = style_adherence.compute(predictions=['{"a": 1}'], spec=FORMAT_SPEC)
    assert scores["strict"] == 1.0 and scores["n"] == 1
