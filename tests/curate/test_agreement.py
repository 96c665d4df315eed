import json
import math
from fractions import Fraction

import numpy as np
import pytest

from ftdata.agreement import AgreementReport, Answer, Disagreement, PairwiseKappa, agreement

# An undefined statistic must come back as None, never as NaN with a RuntimeWarning or UndefinedMetricWarning.
pytestmark = pytest.mark.filterwarnings("error")

SCALE = [1, 2, 3, 4, 5]


def table(rows: dict[str, dict[str, str | int]]) -> list[Answer]:
    """Answers from {record: {annotator: value}}; a missing annotator is a missing answer."""
    return [Answer(record, annotator, value) for record, by in rows.items() for annotator, value in by.items()]


def kappas(report: AgreementReport) -> dict[tuple[str, str], float | None]:
    return {(k.first, k.second): k.kappa for k in report.pairwise_kappa}


def approx(fraction: Fraction):
    return pytest.approx(float(fraction), abs=1e-12)


# --- hand-computed alpha and kappa --------------------------------------------------------------


def test_nominal_three_annotators_six_records_by_hand():
    a, r, e = "accept", "reject", "needs-edit"
    rows = {
        "r1": {"ana": a, "bo": a, "cy": a},
        "r2": {"ana": a, "bo": a, "cy": r},
        "r3": {"ana": r, "bo": r, "cy": r},
        "r4": {"ana": e, "bo": a, "cy": e},
        "r5": {"ana": r, "bo": e, "cy": r},
        "r6": {"ana": a, "bo": a, "cy": a},
    }
    # Coincidences: each record with m = 3 answers adds 1/(m-1) = 1/2 for every ordered pair of answers
    # from two different annotators (6 ordered pairs per record).
    #   r1 aaa: o_aa += 3          r2 aar: o_aa += 1, o_ar = o_ra += 1     r3 rrr: o_rr += 3
    #   r4 eae: o_ee += 1, o_ae = o_ea += 1    r5 rer: o_rr += 1, o_re = o_er += 1    r6 aaa: o_aa += 3
    #        a  r  e | n_c
    #   a  [ 7  1  1 ]  9
    #   r  [ 1  4  1 ]  6
    #   e  [ 1  1  1 ]  3        n = 18
    # D_o = off-diagonal / n = 6/18 = 1/3;  D_e = (n² - Σ n_c²) / (n(n-1)) = (324 - 126) / 306 = 11/17
    # alpha = 1 - D_o / D_e = 1 - 17/33 = 16/33
    report = agreement(table(rows), "verdict", "nominal")
    assert report.alpha == approx(Fraction(16, 33))
    assert (report.records_with_overlap, report.answers) == (6, 18)

    # Cohen's kappa, ana vs bo: agree on r1, r2, r3, r6 -> p_o = 4/6.
    # ana: a 3, r 2, e 1;  bo: a 4, r 1, e 1  ->  p_e = (3·4 + 2·1 + 1·1) / 36 = 15/36
    # kappa = (24/36 - 15/36) / (1 - 15/36) = 9/21 = 3/7
    # ana vs cy: agree on r1, r3, r4, r5, r6 -> p_o = 5/6;  cy: a 2, r 3, e 1
    #   p_e = (3·2 + 2·3 + 1·1) / 36 = 13/36;  kappa = (30 - 13) / (36 - 13) = 17/23
    # bo vs cy: agree on r1, r3, r6 -> p_o = 3/6;  p_e = (4·2 + 1·3 + 1·1) / 36 = 12/36
    #   kappa = (18 - 12) / (36 - 12) = 1/4
    assert kappas(report) == {
        ("ana", "bo"): approx(Fraction(3, 7)),
        ("ana", "cy"): approx(Fraction(17, 23)),
        ("bo", "cy"): approx(Fraction(1, 4)),
    }
    assert [k.shared_records for k in report.pairwise_kappa] == [6, 6, 6]
    assert [d.record_id for d in report.disagreements] == ["r2", "r4", "r5"]


def test_ordinal_two_annotators_by_hand():
    rows = {"r1": (1, 2), "r2": (2, 2), "r3": (3, 4), "r4": (4, 4), "r5": (5, 5)}
    answers = [Answer(r, "ana", x) for r, (x, _) in rows.items()] + [Answer(r, "bo", y) for r, (_, y) in rows.items()]
    # Krippendorff, ordinal. Coincidences (two answers per record: each ordered pair counts 1):
    #   o_12 = o_21 = 1, o_22 = 2, o_34 = o_43 = 1, o_44 = 2, o_55 = 2
    #   n_1..n_5 = 1, 3, 1, 3, 2;  n = 10
    # Ordinal distance δ²(c, k) = (Σ_{g=c..k} n_g - (n_c + n_k)/2)²:
    #   δ²(1,2) = 4    δ²(1,3) = 16   δ²(1,4) = 36   δ²(1,5) = 72.25   δ²(2,3) = 4
    #   δ²(2,4) = 16   δ²(2,5) = 42.25   δ²(3,4) = 4   δ²(3,5) = 20.25   δ²(4,5) = 6.25
    # Σ o·δ² = 2·4 + 2·4 = 16
    # Σ_{c<k} n_c n_k δ² = 12 + 16 + 108 + 144.5 + 12 + 144 + 253.5 + 12 + 40.5 + 37.5 = 780
    # alpha = 1 - (n-1) Σ o·δ² / (2 · 780) = 1 - 9·16/1560 = 1 - 6/65 = 59/65
    report = agreement(answers, "style_score", "ordinal", values=SCALE)
    assert report.alpha == approx(Fraction(59, 65))

    # Linearly weighted kappa = 1 - Σ w·p_observed / Σ w·p_expected with w = |i - j|.
    # Observed: |1-2| + |3-4| = 2 over 5 records -> 2/5.
    # ana gives each of 1..5 once; bo gives 2, 4 twice each and 5 once. E|i - bo| for i = 1..5:
    #   12/5, 7/5, 6/5, 5/5, 8/5 -> sum 38/5, times 1/5 -> 38/25.  kappa = 1 - (2/5)/(38/25) = 14/19
    assert kappas(report) == {("ana", "bo"): approx(Fraction(14, 19))}
    assert report.to_dict()["kappa_weights"] == "linear"


def test_kappa_weights_count_steps_on_the_whole_scale():
    # ana 1, 2, 5 and bo 2, 1, 5: on the 1-5 scale, observed Σ|i-j| / 3 = 2/3, and both use each of
    # {1, 2, 5} once, so expected = Σ_{i,j} |i-j| / 9 = 2·(1 + 4 + 3)/9 = 16/9; kappa = 1 - 6/16 = 5/8.
    # (Over the used values only, 5 would sit one step from 2 and kappa would be 1/4.)
    answers = table({"r1": {"ana": 1, "bo": 2}, "r2": {"ana": 2, "bo": 1}, "r3": {"ana": 5, "bo": 5}})
    report = agreement(answers, "style_score", "ordinal", values=SCALE)
    assert report.pairwise_kappa[0].kappa == approx(Fraction(5, 8))


def test_perfect_agreement_is_one():
    rows = {"r1": {"ana": "accept", "bo": "accept", "cy": "accept"}, "r2": {"ana": "reject", "bo": "reject"}}
    rows["r3"] = {"bo": "needs-edit", "cy": "needs-edit", "ana": "needs-edit"}
    report = agreement(table(rows), "verdict", "nominal")
    assert report.alpha == 1.0
    assert kappas(report) == {("ana", "bo"): 1.0, ("ana", "cy"): 1.0, ("bo", "cy"): 1.0}
    assert report.disagreements == []

    ratings = table({"r1": {"ana": 1, "bo": 1}, "r2": {"ana": 4, "bo": 4}, "r3": {"ana": 5, "bo": 5}})
    report = agreement(ratings, "style_score", "ordinal", values=SCALE)
    assert (report.alpha, report.pairwise_kappa[0].kappa) == (1.0, 1.0)


def test_systematic_disagreement_is_below_zero():
    a, r = "accept", "reject"
    rows = {"r1": {"ana": a, "bo": r}, "r2": {"ana": r, "bo": a}, "r3": {"ana": a, "bo": r}, "r4": {"ana": r, "bo": a}}
    # Every pair disagrees: o_ar = o_ra = 4, n_a = n_r = 4, n = 8.
    # D_o = 8/8 = 1;  D_e = (64 - 32) / 56 = 4/7;  alpha = 1 - 7/4 = -3/4
    # kappa: p_o = 0, both say each value half the time -> p_e = 1/2, kappa = (0 - 1/2)/(1 - 1/2) = -1
    report = agreement(table(rows), "verdict", "nominal")
    assert report.alpha == approx(Fraction(-3, 4))
    assert report.pairwise_kappa == [PairwiseKappa("ana", "bo", -1.0, 4)]
    assert len(report.disagreements) == 4


# --- a published example -----------------------------------------------------------------------


def test_krippendorff_2011_four_coders_twelve_units():
    # K. Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C (nominal data,
    # any number of observers, missing data): alpha = 0.743; the same data as ordinal: 0.815.
    # Unit 12 has one value only and is not pairable.
    coders = {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    }
    answers = [
        Answer(f"u{unit}", coder, value)
        for coder, row in coders.items()
        for unit, value in enumerate(row, start=1)
        if value is not None
    ]
    nominal = agreement(answers, "q", "nominal")
    assert round(nominal.alpha, 3) == 0.743
    assert (nominal.records_with_overlap, nominal.answers) == (11, 41)
    assert round(agreement(answers, "q", "ordinal", values=SCALE).alpha, 3) == 0.815


# --- missing answers, undefined values ---------------------------------------------------------


def test_missing_answers_by_hand():
    a, r = "accept", "reject"
    rows = {
        "r1": {"ana": a, "bo": a},
        "r2": {"ana": a, "cy": r},
        "r3": {"bo": r, "cy": r, "ana": r},
        "r4": {"ana": "needs-edit"},  # one answer: not pairable, alpha ignores it
        "r5": {"bo": a, "cy": a},
    }
    # Coincidences: r1 o_aa += 2; r2 o_ar = o_ra += 1; r3 (m = 3) o_rr += 6/2 = 3; r5 o_aa += 2
    #   o_aa = 4, o_ar = o_ra = 1, o_rr = 3;  n_a = 5, n_r = 4, n = 9
    # D_o = 2/9;  D_e = (81 - 25 - 16) / 72 = 5/9;  alpha = 1 - 2/5 = 3/5
    report = agreement(table(rows), "verdict", "nominal")
    assert report.alpha == approx(Fraction(3, 5))
    assert (report.records_with_overlap, report.answers) == (4, 10)
    # ana-bo share r1 (a, a), r3 (r, r): 1.  bo-cy share r3 (r, r), r5 (a, a): 1.
    # ana-cy share r2 (a, r), r3 (r, r): p_o = 1/2, ana a/r half each, cy always r -> p_e = 1/2, kappa 0.
    assert report.pairwise_kappa == [
        PairwiseKappa("ana", "bo", 1.0, 2),
        PairwiseKappa("ana", "cy", 0.0, 2),
        PairwiseKappa("bo", "cy", 1.0, 2),
    ]
    assert report.disagreements == [Disagreement("r2", {"ana": a, "cy": r})]


def test_undefined_statistics_are_none():
    empty = agreement([], "verdict", "nominal")
    assert (empty.alpha, empty.records_with_overlap, empty.answers) == (None, 0, 0)
    assert empty.pairwise_kappa == [] and empty.disagreements == []

    # Nobody overlaps: no pairable values.
    alone = agreement(table({"r1": {"ana": "accept"}, "r2": {"bo": "reject"}}), "verdict", "nominal")
    assert alone.alpha is None and alone.records_with_overlap == 0
    assert alone.pairwise_kappa == [PairwiseKappa("ana", "bo", None, 0)]

    # One value among the pairable answers (r3's "reject" has no partner): alpha and kappa are 0/0.
    rows = {"r1": {"ana": 3, "bo": 3}, "r2": {"ana": 3, "bo": 3}, "r3": {"ana": 1}}
    same = agreement(table(rows), "style_score", "ordinal", values=SCALE)
    assert same.alpha is None and same.pairwise_kappa == [PairwiseKappa("ana", "bo", None, 2)]
    assert same.disagreements == []

    # Alpha defined, but one pair shares a single record and another never varies.
    rows = {
        "r1": {"ana": "accept", "bo": "accept", "cy": "reject"},
        "r2": {"ana": "accept", "bo": "accept"},
        "r3": {"cy": "accept", "bo": "reject"},
    }
    report = agreement(table(rows), "verdict", "nominal")
    assert report.alpha is not None and math.isfinite(report.alpha)
    assert report.pairwise_kappa == [
        PairwiseKappa("ana", "bo", None, 2),  # accept, accept both times
        PairwiseKappa("ana", "cy", None, 1),
        PairwiseKappa("bo", "cy", -1.0, 2),  # p_o = 0, p_e = 1/2
    ]
    assert json.loads(json.dumps(report.to_dict()))["pairwise_kappa"][0]["kappa"] is None


# --- last answer wins, listing, output ---------------------------------------------------------


def test_last_answer_wins():
    answers = [
        Answer("r1", "ana", "reject"),
        Answer("r2", "ana", "accept"),
        Answer("r1", "bo", "accept"),
        Answer("r2", "bo", "accept"),
        Answer("r1", "ana", "accept"),  # ana changes her mind on r1: the two now agree
        Answer("r2", "bo", "reject"),  # bo changes his on r2: now they disagree
    ]
    report = agreement(answers, "verdict", "nominal")
    assert report.answers == 4
    assert report.disagreements == [Disagreement("r2", {"ana": "accept", "bo": "reject"})]
    counted = [answers[4], answers[1], answers[2], answers[5]]
    assert report == agreement(counted, "verdict", "nominal")


def test_disagreements_in_first_seen_order_with_annotators_by_name():
    answers = [
        Answer("z9", "cy", 2),
        Answer("a1", "bo", 4),
        Answer("z9", "ana", 5),
        Answer("a1", "ana", 4),
        Answer("m5", "bo", 1),
        Answer("m5", "cy", 1),
        Answer("a1", "cy", 3),
        Answer("q7", "ana", 1),  # one answer: not a disagreement
    ]
    report = agreement(answers, "style_score", "ordinal", values=SCALE)
    assert report.disagreements == [
        Disagreement("z9", {"ana": 5, "cy": 2}),
        Disagreement("a1", {"ana": 4, "bo": 4, "cy": 3}),
    ]
    assert [list(d.values) for d in report.disagreements] == [["ana", "cy"], ["ana", "bo", "cy"]]
    assert [(k.first, k.second, k.shared_records) for k in report.pairwise_kappa] == [
        ("ana", "bo", 1),
        ("ana", "cy", 2),
        ("bo", "cy", 2),
    ]


def test_to_dict_is_json_and_complete():
    answers = [Answer("r1", "ana", np.int64(4)), Answer("r1", "bo", 5), Answer("r2", "ana", 2), Answer("r2", "bo", 2)]
    report = agreement(answers, "style_score", "ordinal", values=np.arange(1, 6))
    data = json.loads(json.dumps(report.to_dict()))
    kappa = report.pairwise_kappa[0].kappa
    assert data == {
        "question": "style_score",
        "level": "ordinal",
        "alpha": report.alpha,
        "records_with_overlap": 2,
        "answers": 4,
        "pairwise_kappa": [{"first": "ana", "second": "bo", "kappa": kappa, "shared_records": 2}],
        "disagreements": [{"record_id": "r1", "values": {"ana": 4, "bo": 5}}],
        "kappa_weights": "linear",
    }
    assert agreement(answers[:2], "verdict", "nominal").to_dict()["kappa_weights"] is None


def test_nominal_values_given_do_not_change_the_result():
    rows = {"r1": {"ana": "accept", "bo": "reject"}, "r2": {"ana": "reject", "bo": "reject"}}
    rows["r3"] = {"ana": "accept", "bo": "accept"}
    inferred = agreement(table(rows), "verdict", "nominal")
    given = agreement(table(rows), "verdict", "nominal", values=["needs-edit", "reject", "accept"])
    assert given == inferred


# --- validation ----------------------------------------------------------------------------------


def test_unknown_level_is_an_error():
    with pytest.raises(ValueError, match=r"level must be one of nominal, ordinal, got 'interval'"):
        agreement([], "style_score", "interval")  # type: ignore[arg-type]


def test_ordinal_without_values_is_an_error():
    with pytest.raises(ValueError, match=r"'style_score': an ordinal question needs `values`"):
        agreement([Answer("r1", "ana", 3)], "style_score", "ordinal")


def test_value_outside_values_names_record_and_annotator():
    answers = [Answer("r1", "ana", 3), Answer("r7", "bo", 6)]
    with pytest.raises(ValueError, match=r"record 'r7', annotator 'bo': 6 is not one of the question's values"):
        agreement(answers, "style_score", "ordinal", values=SCALE)
    with pytest.raises(ValueError, match=r"record 'r1', annotator 'ana': '3' is not one of"):
        agreement([Answer("r1", "ana", "3")], "style_score", "ordinal", values=SCALE)
    with pytest.raises(ValueError, match=r"record 'r2', annotator 'cy': 'maybe' is not one of"):
        agreement([Answer("r2", "cy", "maybe")], "verdict", "nominal", values=["accept", "reject"])
    # A superseded answer is validated too.
    with pytest.raises(ValueError, match=r"record 'r1', annotator 'ana': 0 is not one of"):
        agreement([Answer("r1", "ana", 0), Answer("r1", "ana", 3)], "style_score", "ordinal", values=SCALE)


@pytest.mark.parametrize("value", [True, 3.0, None, ["accept"]])
def test_value_of_the_wrong_type_is_an_error(value):
    with pytest.raises(ValueError, match=r"record 'r1', annotator 'ana': the value must be a label \(str\) or a"):
        agreement([Answer("r1", "ana", value)], "verdict", "nominal")


def test_bad_values_are_an_error():
    with pytest.raises(ValueError, match="names a value twice"):
        agreement([], "style_score", "ordinal", values=[1, 2, 2, 3])
    with pytest.raises(ValueError, match="`values` is empty"):
        agreement([], "style_score", "ordinal", values=[])
    with pytest.raises(ValueError, match=r"`values` must hold labels \(str\) or ratings \(int\), got 1.5"):
        agreement([], "style_score", "ordinal", values=[1, 1.5, 2])
