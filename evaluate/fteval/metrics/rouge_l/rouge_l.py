"""ROUGE-L F-measure (longest common subsequence), computed with the maintained `rouge_score` package.

Offline counterpart of the hub's `rouge` metric restricted to rougeL: the mean over prediction/reference pairs.
"""

from __future__ import annotations

import datasets
import evaluate
from rouge_score import rouge_scorer

_DESCRIPTION = """
ROUGE-L F-measure between each prediction and its reference (longest common subsequence of tokens), averaged over
the pairs. Tokens come from `rouge_score`'s default tokenizer: lower-cased runs of [a-z0-9], so punctuation and
letters outside a-z (é, ß, CJK) are dropped; pass `tokenizer` for other text. A pair where either side has no
tokens scores 0.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the model's answers.
    references (list of str): one reference per prediction.
    use_stemmer (bool): Porter-stem tokens before matching ("cats" matches "cat"). Default False, as the hub's rouge.
    tokenizer (callable str -> list of str, optional): replaces the default tokenizer.
    per_example (bool): also return `rougeL_per_example`, one F-measure per pair (for paired statistics).
Returns:
    rougeL (float, 0 to 1, higher is better).
Examples:
    >>> metric = evaluate.load("evaluate/fteval/metrics/rouge_l")
    >>> metric.compute(predictions=["the cat sat"], references=["the cat sat down"])
    {'rougeL': 0.8571428571428571}
"""

_CITATION = """
@inproceedings{lin-2004-rouge,
    title = "{ROUGE}: A Package for Automatic Evaluation of Summaries",
    author = "Lin, Chin-Yew",
    booktitle = "Text Summarization Branches Out",
    year = "2004",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/W04-1013",
    pages = "74--81",
}
"""


class _CallableTokenizer:
    """rouge_score wants an object with `.tokenize(text)`; callers pass a plain function."""

    def __init__(self, function):
        self.function = function

    def tokenize(self, text):
        return self.function(text)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RougeL(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, use_stemmer=False, tokenizer=None, per_example=False):
        if len(predictions) != len(references):
            raise ValueError(f"rouge_l: {len(predictions)} predictions but {len(references)} references")
        if not predictions:
            raise ValueError("rouge_l: no predictions to score")
        scorer = rouge_scorer.RougeScorer(
            ["rougeL"],
            use_stemmer=use_stemmer,
            tokenizer=None if tokenizer is None else _CallableTokenizer(tokenizer),
        )
        # rouge_score's argument order is (target, prediction).
        scores = [
            scorer.score(reference, prediction)["rougeL"].fmeasure
            for prediction, reference in zip(predictions, references, strict=True)
        ]
        result = {"rougeL": float(sum(scores) / len(scores))}
        return result | ({"rougeL_per_example": [float(score) for score in scores]} if per_example else {})
