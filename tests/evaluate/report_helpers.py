"""An `fteval run` output folder built by hand (results.json + answers/*.jsonl in the schema fteval.run writes),
for report tests that need no model."""

from __future__ import annotations

import json
from pathlib import Path

from ftcore.style import StyleSpec

REPO = Path(__file__).resolve().parents[2]
STYLE = REPO / "examples" / "quickstart" / "style.yaml"
PROMPT = [{"role": "user", "content": "Natalia sold clips to 48 of her friends. How many clips did she sell?"}]
REFERENCE = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72"


def make_eval_folder(folder: Path, answers: dict[str, list[str]]) -> Path:
    """`folder` as `fteval run` leaves it, with `answers` (contestant -> answers) scored by the quickstart style."""
    spec = StyleSpec.load(STYLE)
    (folder / "answers").mkdir(parents=True, exist_ok=True)
    contestants = {}
    for name, texts in answers.items():
        rows = []
        for i, answer in enumerate(texts):
            failed = {cid: r.detail for cid, r in spec.evaluate(answer).items() if not r.passed}
            rows.append({"id": f"ex_{i:016x}", "prompt": PROMPT, "answer": answer, "reference": REFERENCE,
                         "failed_checks": failed})  # fmt: skip
        with (folder / "answers" / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        strict = sum(not row["failed_checks"] for row in rows) / max(1, len(rows))
        contestants[name] = {
            "adapter": None,
            "n": len(rows),
            "scores": {
                "strict": strict,
                **{f"pass_rate/{c.id}": strict for c in spec.checks},
                "rougeL": 0.3,
                "exact_match": 0.0,
                "loss": 2.0,
                "perplexity": 7.4,
            },
            "generation": {"tokens_per_second": 100.0, "seconds": 1.0, "new_tokens": 100},
        }
    results = {
        "schema_version": 1,
        "created_at": "2026-11-28T00:00:00+00:00",
        "metrics": {
            "strict": {"higher_is_better": True, "description": "share of answers passing every style check"},
            "rougeL": {"higher_is_better": True, "description": "ROUGE-L F-measure against the test answers"},
            "exact_match": {"higher_is_better": True, "description": "share of answers equal to the test answer"},
            "loss": {"higher_is_better": False, "description": "mean cross-entropy of the test answers"},
            "perplexity": {"higher_is_better": False, "description": "exp(loss)"},
        },
        "style_checks": [{"id": c.id, "check": c.name, "higher_is_better": True} for c in spec.checks],
        "data": {
            "folder": "export",
            "dataset": "gsm8k",
            "manifest_fingerprint": "f" * 64,
            "split": "test",
            "n": max(map(len, answers.values())),
        },
        "base_model": "tiny-llama",
        "settings": {"max_new_tokens": 64, "batch_size": 8, "seed": 13, "greedy": True, "system_prompt": "Be brief."},
        "versions": {},
        "contestants": contestants,
        "comparisons": [],
        "verdict": "Hand-built results for a report test.",
    }
    (folder / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder
