"""fteval's metrics as Hugging Face `evaluate` modules loaded from this folder, so they work offline (no hub).

Each metric is a folder `<name>/<name>.py` holding one `evaluate.Metric`: `style_adherence` (the ftdata style
spec's checks), `rouge_l` (ROUGE-L F-measure, `rouge_score` package) and `exact_match`.

>>> import evaluate
>>> scores = evaluate.combine([load_metric("rouge_l"), load_metric("exact_match")])
>>> scores.compute(predictions=["the cat sat"], references=["the cat sat"])
{'rougeL': 1.0, 'exact_match': 1.0}
>>> load_metric("exact_match").compute(
...     predictions=["so she has 5 left\\n#### 5"], references=["7 - 2 = 5\\n#### 5"], regex=GSM8K_FINAL_ANSWER
... )
{'exact_match': 1.0}

`evaluate.combine` hands every keyword to every metric, so options that only one metric takes (`regex`,
`use_stemmer`, `spec`) go to that metric's own `compute`.
"""

from __future__ import annotations

from pathlib import Path

import evaluate

METRICS_DIR = Path(__file__).resolve().parent

# The part of a GSM8K answer that is graded: what follows '#### ' on its own line (the last such line wins).
GSM8K_FINAL_ANSWER = r"^####\s*(.*?)\s*$"


def available_metrics() -> list[str]:
    """The metric names `load_metric` takes: ['exact_match', 'rouge_l', 'style_adherence']."""
    return sorted(path.parent.name for path in METRICS_DIR.glob("*/*.py") if path.stem == path.parent.name)


def load_metric(name: str) -> evaluate.EvaluationModule:
    """One of fteval's metrics, loaded by path (offline-safe): `load_metric("rouge_l").compute(...)`."""
    if name not in available_metrics():
        raise ValueError(f"unknown metric {name!r} (known: {', '.join(available_metrics())})")
    return evaluate.load(str(METRICS_DIR / name))


__all__ = ["GSM8K_FINAL_ANSWER", "METRICS_DIR", "available_metrics", "load_metric"]
