"""Rebuild this example's data from GSM8K: `python examples/gsm8k-house-style/build.py [GSM8K_TRAIN_JSONL]`.

Writes, deterministically (the same input gives byte-identical files):
- candidates.jsonl: the first 640 GSM8K training problems as chat examples, plus planted problems a real
  import would hold: exact copies, near-duplicates (a name or a number changed), questions carrying
  personal data or a credential, answers off the house format, answers with chatter;
- planted.json: which candidate ids were planted, and how (what `ftdata check` must find);
- recorded_reviews.jsonl: the reviews of three annotators (ana, ben, chen) for the candidates, played
  into Argilla by play_reviews.py during the demo. Written by rules that mimic the guidelines
  (annotation_guidelines/review.md), with a seeded share of human disagreement;
- questions.jsonl: the next 40 problems, questions only (`{"prompt": ...}`), for the optional drafting
  step (`ftdata draft`): prompts a team has without answers.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1] / "core"), str(HERE.parents[1] / "curate")]  # ftcore and ftdata from this checkout

from ftcore import Example  # noqa: E402

SOURCE_ROWS = 640
DRAFT_ROWS = 40  # after the candidates; the capability suite's GSM8K items are the last 100 rows, far from these
ANNOTATORS = ("ana", "ben", "chen")
SEED = 640
NOTE = re.compile(r"<<[^<>=]+=[^<>]+>>")


def load_gsm8k(path: Path, count: int = SOURCE_ROWS) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:count]]
    if len(rows) != count:
        raise SystemExit(f"{path}: expected at least {count} rows")
    return rows


def questions_to_draft(gsm8k: Path) -> list[dict]:
    """The 40 problems after the candidates, as prompts without answers (their GSM8K row kept as a column)."""
    rows = load_gsm8k(gsm8k, SOURCE_ROWS + DRAFT_ROWS)[SOURCE_ROWS:]
    return [{"prompt": r["question"], "gsm8k_row": SOURCE_ROWS + i} for i, r in enumerate(rows)]


def chat(question: str, answer: str, row: int, **metadata: str) -> Example:
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return Example.create(messages, {"source": "gsm8k-train", "row": row, **metadata})


def off_format(answer: str) -> str:
    """The house format broken the way hurried writers break it: notes dropped, the '####' line reworded."""
    *lines, last = answer.splitlines()
    body = "\n".join(NOTE.sub("", line) for line in lines)
    return f"{body}\nThe answer is {last.removeprefix('#### ').strip()}."


def build(gsm8k: Path) -> tuple[list[Example], dict[str, list[str]], list[dict]]:
    rng = random.Random(SEED)
    rows = load_gsm8k(gsm8k)
    examples = [chat(r["question"], r["answer"], i) for i, r in enumerate(rows)]
    planted: dict[str, list[str]] = {k: [] for k in ("exact_duplicate", "near_duplicate", "pii", "secret")}
    planted |= {"off_format": [], "chatter": []}
    picks = rng.sample(range(SOURCE_ROWS), 60)
    for i in picks[:10]:  # the same row exported twice by the source system
        planted["exact_duplicate"].append(examples[i].id)
        examples.append(examples[i])
    for i in picks[10:20]:  # a copy with a figure changed: a near-duplicate, not a new problem
        question = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), rows[i]["question"], count=1)
        copy = chat(question, rows[i]["answer"], i, variant="edited copy")
        planted["near_duplicate"].append(copy.id)
        examples.append(copy)
    people = [("jane.doe@example.com", "+1 415 555 0132"), ("k.osei@mailbox.org", "+44 20 7946 0958"),
              ("li.wei@example.net", "+49 30 901820"), ("p.rossi@example.it", "+39 06 6988 4857")]  # fmt: skip
    for (email, phone), i in zip(people, picks[20:24], strict=True):
        question = f"{rows[i]['question']} (Sent by {email}, call me on {phone} if unclear.)"
        example = chat(question, rows[i]["answer"], i, variant="personal data")
        planted["pii"].append(example.id)
        examples.append(example)
    for i in picks[24:26]:
        key = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        question = f"{rows[i]['question']}\nexport AWS_ACCESS_KEY_ID={key}"
        example = chat(question, rows[i]["answer"], i, variant="credential")
        planted["secret"].append(example.id)
        examples.append(example)
    for i in picks[26:40]:  # replaces the original: the source only ever held the broken answer
        planted["off_format"].append(i)
    for i in picks[40:46]:
        planted["chatter"].append(i)
    replaced = {}
    for i in planted["off_format"]:
        replaced[i] = chat(rows[i]["question"], off_format(rows[i]["answer"]), i)
    for i in planted["chatter"]:
        replaced[i] = chat(rows[i]["question"], "Great question! " + rows[i]["answer"], i)
    for i, example in replaced.items():
        examples[i] = example
    planted["off_format"] = [replaced[i].id for i in planted["off_format"]]
    planted["chatter"] = [replaced[i].id for i in planted["chatter"]]
    reviews = recorded_reviews(examples, planted, rows, rng)
    return examples, planted, reviews


def recorded_reviews(examples: list[Example], planted: dict[str, list[str]], rows, rng: random.Random) -> list[dict]:
    """Three annotators' answers per reviewable candidate, as the guidelines ask for them."""
    kind = {example_id: k for k, ids in planted.items() for example_id in ids}
    original = {e.id: rows[e.metadata["row"]]["answer"] for e in examples}
    reviews, seen = [], set()
    for example in examples:
        if example.id in seen or kind.get(example.id) == "secret":  # never pushed: nothing to review
            continue
        seen.add(example.id)
        planted_kind = kind.get(example.id)
        for annotator in ANNOTATORS:
            roll = rng.random()
            values: dict = {"verdict": "accept", "style_score": rng.choice((4, 5, 5))}
            if planted_kind == "pii":
                values = {"verdict": "reject", "issues": ["contains-PII"], "style_score": 3}
            elif planted_kind == "near_duplicate":
                values = {"verdict": "reject", "issues": ["duplicate"], "style_score": 4}
                if annotator == "chen" and roll < 0.5:  # missed it: a real disagreement
                    values = {"verdict": "accept", "style_score": 4}
            elif planted_kind in ("off_format", "chatter"):
                tag = "wrong-format" if planted_kind == "off_format" else "off-style"
                values = {"verdict": "needs-edit", "issues": [tag], "style_score": 2}
                if annotator != "chen":  # two annotators write the fix; the third only flags it
                    values["corrected"] = original[example.id]
            elif not NOTE.search(example.completion):  # real GSM8K answers without a single calculator note
                values = {"verdict": "reject", "issues": ["wrong-format"], "style_score": 2}
            elif roll < 0.05:  # ordinary disagreement on a clean example
                values = {"verdict": "reject", "issues": ["other"], "style_score": 3}
            status = "submitted"
            if annotator == "chen" and roll > 0.985:
                status = "discarded"  # "skip: not sure" in the UI
            reviews.append({"example_id": example.id, "annotator": annotator, "status": status, "values": values})
    return reviews


def main() -> None:
    gsm8k = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[1] / "tests" / "data" / "gsm8k" / "train.jsonl"
    examples, planted, reviews = build(gsm8k)
    (HERE / "candidates.jsonl").write_text(
        "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in examples), encoding="utf-8"
    )
    (HERE / "planted.json").write_text(json.dumps(planted, indent=2) + "\n", encoding="utf-8")
    (HERE / "recorded_reviews.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reviews), encoding="utf-8"
    )
    (HERE / "questions.jsonl").write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions_to_draft(gsm8k)), encoding="utf-8"
    )
    print(f"{len(examples)} candidates, {sum(map(len, planted.values()))} planted, {len(reviews)} recorded answers")


if __name__ == "__main__":
    main()
