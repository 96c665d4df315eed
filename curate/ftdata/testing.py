"""Tiny local stand-ins for tests and benchmarks: nothing here downloads anything.

Usage:
    folder = tiny_chat_tokenizer(["some training text", "more text"], "tmp/tokenizer")
    AutoTokenizer.from_pretrained(folder)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

# A ChatML template like SmolLM2's, so masks and counts behave as with a real instruct model.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


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
