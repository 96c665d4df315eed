"""Exact match, optionally ignoring case, punctuation and surrounding whitespace, or comparing only a part of each
text picked by a regex (such as GSM8K's final answer line '#### <number>').
"""

from __future__ import annotations

import re
import string
import unicodedata

import datasets
import evaluate

_DESCRIPTION = """
The share of predictions equal to their reference. Both sides are put in Unicode NFC form first (so a composed and
a decomposed "é" are the same text); every other folding is an option.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the model's answers.
    references (list of str): one reference per prediction.
    regex (str, optional): compare only the part this pattern picks out of each side: its first group if it has
        one, else the whole match; the last match wins (re.MULTILINE, so ^ and $ are line ends). A side without a
        match never matches. GSM8K: r"^####\\s*(.*?)\\s*$" (fteval.metrics.GSM8K_FINAL_ANSWER).
    ignore_case (bool): compare case-folded text ("Straße" equals "STRASSE"). Default False.
    ignore_punctuation (bool): drop ASCII punctuation and symbols (string.punctuation) and every Unicode
        punctuation character. Default False.
    strip (bool): ignore whitespace at either end. Default False.
    per_example (bool): also return `exact_match_per_example`, one bool per pair (for paired statistics).
Returns:
    exact_match (float, 0 to 1, higher is better).
Examples:
    >>> metric = evaluate.load("evaluate/fteval/metrics/exact_match")
    >>> metric.compute(predictions=["Paris. "], references=["paris"], ignore_case=True, ignore_punctuation=True,
    ...                strip=True)
    {'exact_match': 1.0}
"""

_CITATION = ""

_ASCII_PUNCTUATION = frozenset(string.punctuation)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(
        self,
        predictions,
        references,
        regex=None,
        ignore_case=False,
        ignore_punctuation=False,
        strip=False,
        per_example=False,
    ):
        if len(predictions) != len(references):
            raise ValueError(f"exact_match: {len(predictions)} predictions but {len(references)} references")
        if not predictions:
            raise ValueError("exact_match: no predictions to score")
        pattern = None if regex is None else re.compile(regex, re.MULTILINE)
        options = {"pattern": pattern, "ignore_case": ignore_case, "ignore_punctuation": ignore_punctuation}
        matches = []
        for prediction, reference in zip(predictions, references, strict=True):
            left = _normalise(prediction, strip=strip, **options)
            right = _normalise(reference, strip=strip, **options)
            matches.append(left is not None and left == right)
        result = {"exact_match": sum(matches) / len(predictions)}
        return result | ({"exact_match_per_example": matches} if per_example else {})


def _normalise(text, *, pattern, ignore_case, ignore_punctuation, strip):
    """The text as compared, or None when `pattern` finds nothing in it."""
    text = unicodedata.normalize("NFC", text)
    if pattern is not None:
        found = list(pattern.finditer(text))
        if not found:
            return None
        text = (found[-1].group(1) if pattern.groups else found[-1].group(0)) or ""  # an unmatched group is None
    if ignore_punctuation:
        text = "".join(c for c in text if c not in _ASCII_PUNCTUATION and not unicodedata.category(c).startswith("P"))
    if ignore_case:
        text = text.casefold()
    if strip:
        text = text.strip()
    return text
