"""Tiny local stand-ins for tests, benchmarks and the examples: nothing here downloads anything.

Usage:
    folder = tiny_chat_tokenizer(["some training text", "more text"], "tmp/tokenizer")
    AutoTokenizer.from_pretrained(folder)
    play_recorded_reviews(project, connection, "recorded_reviews.jsonl", credentials=".ftdata/credentials/demo.json")
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftcore.errors import FtdataError
from ftcore.jsonl import read_json_objects

# A ChatML template like SmolLM2's, so masks and counts behave as with a real instruct model.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
BULK_RECORDS = 500  # Argilla's limit per bulk upsert


def tiny_chat_tokenizer(texts: Iterable[str], folder: str | os.PathLike, vocab_size: int = 2000) -> Path:
    """Train a byte-level BPE tokenizer on `texts`, give it a ChatML chat template, save it to `folder`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    wrapped.chat_template = CHATML_TEMPLATE
    wrapped.save_pretrained(str(folder))
    return Path(folder)


def accepted_export(
    project_dir: str | os.PathLike,
    rows: Iterable[dict],
    out: str | os.PathLike,
    system: str | None = None,
    overrides: tuple[str, ...] = (),
) -> Path:
    """An export folder made by ftdata's own export code from `rows` ({"question", "answer"}) that two
    reviewers accepted, as if pulled from Argilla: for trainer and evaluator tests and benchmarks."""
    from ftdata.export import build_export
    from ftdata.project import Project, init_project
    from ftdata.snapshot import Response, Snapshot, SnapshotRecord

    init_project(project_dir, dataset="accepted")
    project = Project.open(project_dir, ("export.min_examples=1", *overrides))
    accepted = (
        Response("ana", "submitted", {"verdict": "accept"}),
        Response("ben", "submitted", {"verdict": "accept"}),
    )
    records = [
        SnapshotRecord(
            external_id=f"ex_{i:016x}",
            server_id=f"00000000-0000-0000-0000-{i:012d}",
            status="completed",
            conversation=([{"role": "system", "content": system}] if system else [])
            + [{"role": "user", "content": row["question"]}],
            answer=row["answer"],
            metadata={"source": "gsm8k"},
            suggestions=[],
            responses=accepted,
        )
        for i, row in enumerate(rows)
    ]
    info = {"id": "20260101T000000Z-accepted", "workspace": "ftkit", "dataset": "accepted", "content_sha256": "0" * 64,
            "guideline_version": "", "pulled_at": "2026-01-01T00:00:00+00:00", "review_design": {}}  # fmt: skip
    build_export(project, Snapshot(id=info["id"], info=info, records=records), out=out)
    return Path(out)


@dataclass
class PlayedReviews:
    via_ui: int = 0  # answers sent as Argilla's UI sends them, with the annotator's own key
    bulk: int = 0  # answers logged by the owner on the annotator's behalf
    already_answered: int = 0
    not_in_dataset: int = 0  # for examples the lint kept out of Argilla (a secret, an extra exact copy)
    credentials: Path | None = None  # where the annotators' sign-in is, when written by this call
    passwords_reset: bool = False  # the accounts existed without a credentials file: their passwords were reset


def play_recorded_reviews(
    project: Any, connection: Any, recorded: str | os.PathLike, ui_answers: int = 5, credentials: str | os.PathLike = ""
) -> PlayedReviews:
    """Play recorded reviews (JSONL of {"example_id", "annotator", "status", "values"}) into the project's Argilla
    dataset as those annotators, who are created in its workspace if needed.

    A few answers per annotator go the UI's way (`POST /api/v1/records/{id}/responses` with their own key), the
    rest in bulk upserts by the owner on their behalf, keyed on user id (one at a time would take ~0.25 s each).
    Re-running changes nothing. The annotators' sign-in goes to `credentials` (mode 600): when the accounts
    existed already (an earlier run, a test session on the same server) and that file is missing, their
    passwords are reset as the owner and written there, so that whoever runs the example can sign in as them.
    """
    from ftdata.annotators import add_annotators, reset_passwords
    from ftdata.review import answer_record, find_dataset
    from ftdata.snapshot import fetch_records

    reviews = read_json_objects(recorded)
    usernames = sorted({r["annotator"] for r in reviews})
    credentials = Path(credentials) if credentials else project.resolve(".ftdata/credentials/annotators.json")
    had_file = credentials.exists()
    annotators, written = add_annotators(project, connection, usernames, out=credentials)
    played = PlayedReviews(credentials=written)
    if any(not a.created for a in annotators) and not had_file:
        played.credentials = reset_passwords(project, connection, usernames, out=credentials)
        played.passwords_reset = True
    user_ids = {a.username: a.user_id for a in annotators}
    # The owner may read annotators' keys; used only for the few answers sent the UI's way, never printed.
    users = connection.request("GET", "/api/v1/users")["items"]
    keys = {u["username"]: u["api_key"] for u in users}
    dataset = find_dataset(project, connection.client())
    if dataset is None:
        raise FtdataError(f"no Argilla dataset {project.config.dataset!r} yet: run `ftdata push` first")
    records, fields, answered = {}, {}, set()
    for record in fetch_records(connection, str(dataset.id), {u["id"]: u["username"] for u in users}, None):
        records[record.external_id] = record.server_id
        # The server's upsert validates fields even when the record exists: they are sent back as they are.
        fields[record.server_id] = {"conversation": record.conversation, "answer": record.answer}
        answered |= {(record.server_id, response.username) for response in record.responses}
    by_record: dict[str, list[dict]] = defaultdict(list)
    ui_left = dict.fromkeys(usernames, ui_answers)
    for review in reviews:
        record_id = records.get(review["example_id"])
        if record_id is None:
            played.not_in_dataset += 1
            continue
        user = review["annotator"]
        if (record_id, user) in answered:
            played.already_answered += 1
            continue
        if ui_left[user] > 0 and review["status"] == "submitted":
            answer_record(connection, keys[user], record_id, review["values"], review["status"])
            ui_left[user] -= 1
            played.via_ui += 1
            continue
        values = {name: {"value": value} for name, value in review["values"].items()}
        # Values go with a discard too: Argilla 2.8 fails to index a record holding a response without values.
        by_record[record_id].append({"user_id": user_ids[user], "status": review["status"], "values": values})
    items = [{"id": rid, "fields": fields[rid], "responses": responses} for rid, responses in by_record.items()]
    for start in range(0, len(items), BULK_RECORDS):
        batch = items[start : start + BULK_RECORDS]
        connection.request("PUT", f"/api/v1/datasets/{dataset.id}/records/bulk", json={"items": batch})
        played.bulk += sum(len(item["responses"]) for item in batch)
    return played
