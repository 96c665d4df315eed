"""Inter-annotator agreement on one review question, for `ftdata status`: Krippendorff's alpha over all
annotators, Cohen's kappa for each pair, and the records where annotators disagree.

>>> answers = [Answer("r1", "ana", "accept"), Answer("r1", "bo", "accept"), Answer("r2", "ana", "reject"),
...            Answer("r2", "bo", "accept"), Answer("r3", "ana", "reject"), Answer("r3", "bo", "reject")]
>>> report = agreement(answers, "verdict", "nominal")
>>> round(report.alpha, 3), round(report.pairwise_kappa[0].kappa, 3), report.records_with_overlap
(0.444, 0.4, 3)
>>> report.disagreements
[Disagreement(record_id='r2', values={'ana': 'reject', 'bo': 'accept'})]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from numbers import Integral
from typing import Literal

import krippendorff
import numpy as np

Level = Literal["nominal", "ordinal"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal")
# Linear, not quadratic: a rating's steps are ranks, not measured distances, so 2-vs-4 counts as twice
# 2-vs-3, not four times. Quadratic weights treat the scale as interval (the kappa then approaches an
# intraclass correlation) and make a one-step disagreement, the commonest kind on a 1-5 rubric, cost
# 1/16 of the largest instead of 1/4, which flatters the kappa.
ORDINAL_KAPPA_WEIGHTS = "linear"


@dataclass(frozen=True)
class Answer:
    """One annotator's answer to the question for one record."""

    record_id: str
    annotator: str  # username
    value: str | int  # the label (nominal) or the rating (ordinal)


@dataclass(frozen=True)
class PairwiseKappa:
    """Cohen's kappa of two annotators over the records both answered (weighted for ordinal questions)."""

    first: str  # annotator usernames, first < second
    second: str
    kappa: float | None  # None when undefined: fewer than 2 shared records, or one value for everything
    shared_records: int


@dataclass(frozen=True)
class Disagreement:
    record_id: str
    values: dict[str, str | int]  # annotator -> value, by annotator name


@dataclass(frozen=True)
class AgreementReport:
    """Agreement on one question. Higher is better for alpha and kappa: 1 is perfect agreement, 0 is what
    chance gives, below 0 is systematic disagreement."""

    question: str
    level: str  # "nominal" | "ordinal"
    alpha: float | None  # Krippendorff's alpha; None when undefined (no overlap, or one value overall)
    records_with_overlap: int  # records with >= 2 answers: the only ones alpha uses
    answers: int  # answers that count (one per annotator and record), overlapping or not
    pairwise_kappa: list[PairwiseKappa]  # every pair of annotators, sorted by name
    disagreements: list[Disagreement]  # records with >= 2 answers not all the same, in first-seen order

    def to_dict(self) -> dict:
        """A JSON-able dict (`ftdata status --json`, the export manifest); says how kappa was weighted."""
        weights = ORDINAL_KAPPA_WEIGHTS if self.level == "ordinal" else None
        return {**asdict(self), "kappa_weights": weights}


def agreement(
    answers: Iterable[Answer],
    question: str,
    level: Level,
    values: Sequence[str | int] | None = None,
) -> AgreementReport:
    """Agreement among the annotators who answered `question`, one `Answer` per annotator and record.

    `values` is the ordered value domain: required for "ordinal" (e.g. [1, 2, 3, 4, 5]; weighted kappa
    counts steps on this whole scale, used or not), optional for "nominal" (then the values answered).
    If an annotator answers the same record more than once, the last answer in `answers` counts, so pass
    them oldest first (e.g. by Argilla's `updated_at`); every answer is still validated. Raises ValueError
    for an unknown `level`, an ordinal question without `values`, or a value outside `values`.

    >>> report = agreement([Answer("r1", "ana", 4), Answer("r1", "bo", 5), Answer("r1", "ana", 5)],
    ...                    "style_score", "ordinal", values=[1, 2, 3, 4, 5])
    >>> report.answers, report.disagreements, report.alpha
    (2, [], None)
    """
    if level not in LEVELS:
        raise ValueError(f"question {question!r}: level must be one of {', '.join(LEVELS)}, got {level!r}")
    if level == "ordinal" and values is None:
        raise ValueError(f"question {question!r}: an ordinal question needs `values`, its ordered scale")
    domain = None if values is None else _checked_domain(question, values)

    table: dict[str, dict[str, str | int]] = {}  # record -> annotator -> value; dicts keep first-seen order
    for answer in answers:
        value = _checked_value(question, answer, domain)
        table.setdefault(answer.record_id, {})[answer.annotator] = value  # a later answer replaces an earlier one

    if domain is None:
        domain = list(dict.fromkeys(v for by_annotator in table.values() for v in by_annotator.values()))
    # Values go to both libraries as their positions in the domain: krippendorff reads the string "nan" as a
    # missing answer, its ordinal metric only uses ranks anyway, and sklearn's kappa weights need every point
    # of the scale as a label (else a 2-vs-5 on a scale whose 3 and 4 went unused would count as one step).
    position = {value: i for i, value in enumerate(domain)}
    annotators = sorted({annotator for by_annotator in table.values() for annotator in by_annotator})
    overlapping = [by_annotator for by_annotator in table.values() if len(by_annotator) >= 2]
    return AgreementReport(
        question=question,
        level=level,
        alpha=_alpha(overlapping, annotators, position, level),
        records_with_overlap=len(overlapping),
        answers=sum(len(by_annotator) for by_annotator in table.values()),
        pairwise_kappa=[_kappa(table, a, b, position, level) for a, b in itertools.combinations(annotators, 2)],
        disagreements=[
            Disagreement(record_id=record_id, values=dict(sorted(by_annotator.items())))
            for record_id, by_annotator in table.items()
            if len(set(by_annotator.values())) > 1
        ],
    )


def _checked_domain(question: str, values: Sequence[str | int]) -> list[str | int]:
    """`values` as a list of str and int (numpy integers become int), or a ValueError."""
    domain = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, str | Integral):
            raise ValueError(f"question {question!r}: `values` must hold labels (str) or ratings (int), got {value!r}")
        domain.append(value if isinstance(value, str) else int(value))
    if not domain:
        raise ValueError(f"question {question!r}: `values` is empty")
    if len(set(domain)) < len(domain):
        raise ValueError(f"question {question!r}: `values` names a value twice: {domain!r}")
    return domain


def _checked_value(question: str, answer: Answer, domain: list[str | int] | None) -> str | int:
    """The answer's value (numpy integers become int), or a ValueError naming the record and annotator."""
    where = f"question {question!r}, record {answer.record_id!r}, annotator {answer.annotator!r}"
    if not isinstance(answer.record_id, str) or not isinstance(answer.annotator, str):
        raise ValueError(f"{where}: record_id and annotator must be strings")
    value = answer.value
    # bool is an int in Python, and True == 1: a True here is a bug upstream, not a rating of 1.
    if isinstance(value, bool) or not isinstance(value, str | Integral):
        raise ValueError(f"{where}: the value must be a label (str) or a rating (int), got {value!r}")
    value = value if isinstance(value, str) else int(value)
    if domain is not None and value not in domain:
        raise ValueError(f"{where}: {value!r} is not one of the question's values {domain!r}")
    return value


def _alpha(
    overlapping: list[dict[str, str | int]], annotators: list[str], position: dict[str | int, int], level: Level
) -> float | None:
    """Krippendorff's alpha over the records with >= 2 answers, or None where it is undefined."""
    # With no pairable answers, or one value among them, the expected disagreement is 0 and alpha is 0/0:
    # krippendorff would raise or return NaN (with a RuntimeWarning).
    if len({value for by_annotator in overlapping for value in by_annotator.values()}) < 2:
        return None
    row = {annotator: i for i, annotator in enumerate(annotators)}
    data = np.full((len(annotators), len(overlapping)), np.nan)  # annotators x records, NaN = no answer
    for column, by_annotator in enumerate(overlapping):
        for annotator, value in by_annotator.items():
            data[row[annotator], column] = position[value]
    alpha = krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=range(len(position)))
    return float(alpha)


def _kappa(
    table: dict[str, dict[str, str | int]], first: str, second: str, position: dict[str | int, int], level: Level
) -> PairwiseKappa:
    """Cohen's kappa of two annotators on the records both answered; None where it is undefined."""
    shared = [(by[first], by[second]) for by in table.values() if first in by and second in by]
    # sklearn.metrics takes over a second to import (scipy.stats, pandas): paid when a kappa is computed,
    # not by whoever only imports the report types.
    from sklearn.metrics import cohen_kappa_score

    kappa = None
    # Both annotators giving one and the same value everywhere leaves kappa 0/0 (sklearn: NaN and a warning).
    if len(shared) >= 2 and len({value for pair in shared for value in pair}) >= 2:
        kappa = float(
            cohen_kappa_score(
                [position[a] for a, _ in shared],
                [position[b] for _, b in shared],
                labels=list(range(len(position))),
                weights=ORDINAL_KAPPA_WEIGHTS if level == "ordinal" else None,
            )
        )
    return PairwiseKappa(first=first, second=second, kappa=kappa, shared_records=len(shared))
