"""Style adherence: how often answers pass each check of an ftdata style spec, and all of them at once.

The checks are ftdata's registry (`ftcore.style.StyleSpec`), the same that lints the training data, so a score
here means exactly what `ftdata check` means. The spec is required: there is no default house style.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import datasets
import evaluate

from ftcore.style import StyleSpec

_DESCRIPTION = """
Scores answers against an ftdata style spec (the registry of checks in `ftcore.style`): for each check id, the share
of answers that pass it (`pass_rate/<check id>`); `strict`, the share that pass every check; and `n`, the number of
answers. References are not used.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the answers to score.
    references: ignored (a style spec needs no reference answer).
    spec (dict, str or path): required. A spec in the `StyleSpec.from_dict` format
        ({"name": ..., "checks": [{"check": "lines:last_matches", "pattern": ...}, ...]}), the path of a YAML spec
        file, or a `StyleSpec`.
    per_example (bool): also return `per_example`, one {check id: passed, "strict": passed} per answer.
Returns:
    `pass_rate/<check id>` (float, higher is better) for each check in spec order, `strict` (float), `n` (int).
Examples:
    >>> metric = evaluate.load("evaluate/fteval/metrics/style_adherence")
    >>> metric.compute(predictions=["4\\n#### 4", "four"], spec="examples/quickstart/style.yaml")["strict"]
    0.0
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class StyleAdherence(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string")}),
        )

    def _compute(self, predictions, references=None, spec=None, per_example=False):
        style = _style_spec(spec)
        if not predictions:
            raise ValueError("style_adherence: no answers to score")
        results = [style.evaluate(answer) for answer in predictions]
        n = len(results)
        scores = {
            f"pass_rate/{check.id}": sum(result[check.id].passed for result in results) / n for check in style.checks
        }
        scores["strict"] = sum(all(r.passed for r in result.values()) for result in results) / n
        scores["n"] = n
        if per_example:  # one dict per answer: check id -> passed, and strict
            scores["per_example"] = [
                {check.id: result[check.id].passed for check in style.checks}
                | {"strict": all(r.passed for r in result.values())}
                for result in results
            ]
        return scores


def _style_spec(spec) -> StyleSpec:
    if spec is None:
        raise ValueError("style_adherence: spec is required (a dict in the StyleSpec format or a YAML path)")
    if isinstance(spec, StyleSpec):
        return spec
    if isinstance(spec, Mapping):
        return StyleSpec.from_dict(spec)
    if isinstance(spec, str | os.PathLike):
        return StyleSpec.load(spec)
    raise TypeError(f"style_adherence: spec must be a dict, a path or a StyleSpec, got {type(spec).__name__}")
