"""Consensus and splitting, without a server (the whole loop against Argilla is in test_review.py)."""

from collections import Counter

import pytest

from ftdata import Example, ExportManifest, load_split
from ftdata.export import ExportError, decide, split_examples
from ftdata.project import ExportConfig
from ftdata.snapshot import Response, SnapshotRecord


def record(*responses, answer="2+2=<<2+2=4>>4\n#### 4"):
    return SnapshotRecord(
        external_id="ex_1",
        server_id="00000000-0000-0000-0000-000000000001",
        status="completed",
        conversation=[{"role": "user", "content": "What is 2+2?"}],
        answer=answer,
        metadata={},
        suggestions=[],
        responses=tuple(Response(f"ann{i}", status, values) for i, (status, values) in enumerate(responses)),
    )


def submitted(verdict, **values):
    return ("submitted", {"verdict": verdict, **values})


@pytest.mark.parametrize(
    ("responses", "outcome", "reason"),
    [
        ([submitted("accept")], "drop", "fewer than 2 submitted verdicts (quorum)"),
        ([submitted("accept"), ("draft", {"verdict": "accept"})], "drop", "fewer than 2 submitted verdicts (quorum)"),
        ([submitted("accept"), ("discarded", {}), submitted("accept")], "keep", "accepted"),
        ([submitted("accept"), submitted("reject")], "adjudicate", "no majority verdict"),
        ([submitted("accept"), submitted("reject"), submitted("needs-edit")], "adjudicate", "no majority verdict"),
        ([submitted("accept"), submitted("accept"), submitted("reject")], "keep", "accepted"),
        ([submitted("reject"), submitted("reject")], "drop", "rejected by reviewers"),
        ([submitted("needs-edit"), submitted("needs-edit")], "adjudicate", "needs-edit without a correction"),
        (
            [submitted("needs-edit", corrected="A\n#### 4"), submitted("needs-edit", corrected="B\n#### 4")],
            "adjudicate",
            "different corrections",
        ),
    ],
)
def test_consensus(responses, outcome, reason):
    decision = decide(record(*responses), ExportConfig(quorum=2))
    assert (decision.outcome, decision.reason) == (outcome, reason)


def test_one_correction_replaces_the_answer():
    fixed = "2+2=<<2+2=4>>4\n#### 4"
    decision = decide(
        record(submitted("needs-edit", corrected=f"  {fixed}\r\n"), submitted("needs-edit"), answer="four"),
        ExportConfig(quorum=2),
    )
    assert (decision.outcome, decision.answer) == ("keep", fixed)
    policy = decide(record(submitted("needs-edit", corrected=fixed), submitted("needs-edit")),
                    ExportConfig(quorum=2, correction_policy="adjudicate"))  # fmt: skip
    assert policy.outcome == "adjudicate"


def test_split_is_seeded_stratified_and_keeps_near_duplicates_together(gsm8k_rows):
    distinct = [
        Example.from_prompt_completion(r["question"], r["answer"], metadata={"source": "ab"[i % 2] + ".jsonl"})
        for i, r in enumerate(gsm8k_rows[:60])
    ]
    story = (
        "A farmer grows apples and pears in a small valley and sells them at the market every Saturday "
        "morning; she keeps a ledger of every crate. How many crates did she sell in week {}?"
    )
    twins = [
        Example.from_prompt_completion(story.format(i), f"#### {i}", metadata={"source": "a.jsonl"}) for i in range(5)
    ]
    data = distinct + twins
    ratios = {"train": 0.8, "validation": 0.1, "test": 0.1}
    first = split_examples(data, ratios, seed=13, stratify_by="source", threshold=0.8)
    again = split_examples(list(reversed(data)), ratios, seed=13, stratify_by="source", threshold=0.8)
    assert {k: [e.id for e in v] for k, v in first.items()} == {k: [e.id for e in v] for k, v in again.items()}
    assert sorted(e.id for v in first.values() for e in v) == sorted(e.id for e in data)
    where = {e.id: name for name, members in first.items() for e in members}
    assert len({where[e.id] for e in twins}) == 1  # near-duplicate prompts never straddle splits
    per_stratum = Counter((where[e.id], e.metadata["source"]) for e in distinct)
    assert per_stratum[("test", "b.jsonl")] == 3 and per_stratum[("validation", "b.jsonl")] == 3  # 10% of 30 each
    other_seed = split_examples(data, ratios, seed=14, stratify_by="source", threshold=0.8)
    assert [e.id for e in other_seed["test"]] != [e.id for e in first["test"]]


def test_two_of_three_corrections_alike_decide():
    fixed, other = "2+2=<<2+2=4>>4\n#### 4", "Four.\n#### 4"
    three = [
        submitted("needs-edit", corrected=fixed),
        submitted("needs-edit", corrected=fixed + "\n"),
        submitted("needs-edit", corrected=other),
    ]
    assert (decide(record(*three), ExportConfig(quorum=2)).outcome, decide(record(*three), ExportConfig()).answer) == (
        "keep",
        fixed,
    )
    split = decide(record(*three[:1], three[2]), ExportConfig(quorum=2))
    assert (split.outcome, split.reason) == ("adjudicate", "different corrections")


def senior(verdict, **values):
    return Response(f"senior-{verdict}", "submitted", {"verdict": verdict, **values})


FIXED = "2+2=4\n#### 4"


@pytest.mark.parametrize(
    ("decisions", "outcome", "reason", "answer"),
    [
        ([senior("accept")], "keep", "accepted by a senior reviewer", "four"),
        ([senior("reject")], "drop", "rejected by a senior reviewer", None),
        ([senior("needs-edit", corrected=" 2+2=4\n#### 4 ")], "keep", "corrected by a senior reviewer", FIXED),
        ([senior("needs-edit")], "adjudicate", "senior reviewer's needs-edit without a correction", None),
        ([senior("accept"), senior("reject")], "adjudicate", "senior reviewers disagree", None),
        ([Response("dora", "draft", {"verdict": "reject"})], "adjudicate", "no majority verdict", None),
    ],
)
def test_a_senior_decision_overrides_the_consensus(decisions, outcome, reason, answer):
    tied = record(submitted("accept"), submitted("reject"), answer="four")
    decision = decide(tied, ExportConfig(quorum=2), decisions)
    assert (decision.outcome, decision.reason) == (outcome, reason)
    if answer is not None:
        assert decision.answer == answer


def bulk_record(*responses, lead="lena"):
    base = record(*responses)
    return SnapshotRecord(**{**base.__dict__, "metadata": {"bulk_accepted_by": lead}})


@pytest.mark.parametrize(
    ("policy", "others", "outcome", "reason"),
    [
        ("meets-quorum", [], "keep", "accepted in bulk by a lead"),
        ("meets-quorum", [submitted("accept")], "keep", "accepted in bulk by a lead"),
        ("meets-quorum", [submitted("reject")], "adjudicate", "no majority verdict"),  # one vote among theirs
        ("meets-quorum", [submitted("reject"), submitted("reject")], "drop", "rejected by reviewers"),
        ("one-vote", [], "drop", "fewer than 2 submitted verdicts (quorum)"),
        ("one-vote", [submitted("accept")], "keep", "accepted"),
    ],
)
def test_how_a_leads_bulk_accept_counts(policy, others, outcome, reason):
    lead = Response("lena", "submitted", {"verdict": "accept", "style_score": 5})
    base = bulk_record(*others)
    marked = SnapshotRecord(**{**base.__dict__, "responses": (lead, *base.responses)})
    decision = decide(marked, ExportConfig(quorum=2, bulk_accept=policy))
    assert (decision.outcome, decision.reason) == (outcome, reason)


def test_an_unmarked_accept_by_the_same_user_is_an_ordinary_vote():
    lead = Response("lena", "submitted", {"verdict": "accept"})
    unmarked = SnapshotRecord(**{**record().__dict__, "responses": (lead,)})
    assert decide(unmarked, ExportConfig(quorum=2)).reason == "fewer than 2 submitted verdicts (quorum)"


def support(question, answer, **metadata):
    return Example.from_prompt_completion(question, answer, metadata={"source": "tickets.csv", **metadata})


MACRO = (
    '{"category": "shipping", "priority": "normal", "reply": "Thanks for reaching out. Parcels can take up to five '
    'working days; your tracking link updates once the carrier scans it. We will write again if it is late."}'
)


def test_identical_answers_stay_in_one_split(gsm8k_rows):
    """Canned replies to different questions: grouped on the answer as well as on the prompt, they never straddle
    train and test (which inflates ROUGE and exact match)."""
    distinct = [support(r["question"], r["answer"]) for r in gsm8k_rows[:60]]
    asks = [
        "Where is my parcel? I ordered it on Monday.",
        "My order 5521 has not arrived, can you check?",
        "Still waiting for the package from last week.",
        "Has my shipment left the warehouse yet?",
        "Tracking shows nothing since Friday, what is going on?",
        "Is there a delay with deliveries to Leeds?",
    ]
    macros = [support(ask, MACRO) for ask in asks]
    data = distinct + macros
    ratios = {"train": 0.8, "validation": 0.1, "test": 0.1}
    for seed in range(5):
        splits = split_examples(data, ratios, seed=seed, stratify_by="source", threshold=0.8)
        where = {e.id: name for name, members in splits.items() for e in members}
        assert len({where[e.id] for e in macros}) == 1, seed


def test_keep_one_per_cluster_and_test_prompts_pinned_to_test(tmp_path, gsm8k_rows):
    from ftdata.testing import accepted_export

    rows = [{"question": r["question"], "answer": r["answer"]} for r in gsm8k_rows[:40]]
    rows += [{"question": f"Where is parcel {n}? It is late.", "answer": MACRO} for n in range(4)]
    out = accepted_export(tmp_path / "p1", rows, tmp_path / "one", overrides=("export.dedupe=keep-one-per-cluster",))
    manifest = ExportManifest.read(out)
    assert manifest.drops == {"near-duplicate of another exported example (keep-one-per-cluster)": 3}
    answers = [e.completion for split in manifest.splits for e in load_split(out, split)]
    assert answers.count(MACRO) == 1 and len(answers) == 41


def test_a_test_prompt_from_the_review_queue_never_lands_in_train(gsm8k_rows):
    queue = [support(r["question"], "wrong answer", holdout="test", origin="fteval:finetuned") for r in gsm8k_rows[:6]]
    reference = [support(r["question"], r["answer"]) for r in gsm8k_rows[:6]]  # the test prompts' original rows
    data = queue + reference + [support(r["question"], r["answer"]) for r in gsm8k_rows[6:60]]
    splits = split_examples(data, {"train": 0.8, "validation": 0.1, "test": 0.1}, 13, "source", 0.8)
    where = {e.id: name for name, members in splits.items() for e in members}
    assert {where[e.id] for e in queue + reference} == {"test"}
    with pytest.raises(ExportError, match=r"hold test prompts from fteval's review queue, but split\.ratios has no"):
        split_examples(data, {"train": 0.9, "validation": 0.1}, 13, "source", 0.8)
