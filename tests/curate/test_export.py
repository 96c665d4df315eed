"""Consensus and splitting, without a server (the whole loop against Argilla is in test_review.py)."""

from collections import Counter

import pytest

from ftdata import Example
from ftdata.export import decide, split_examples
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
