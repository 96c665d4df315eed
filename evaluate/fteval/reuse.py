"""Answers generated before, reused instead of generated again, and said to be.

An adapter scored by the `evaluate:` hook when it was trained has its answers in `<run>/eval/answers/finetuned.jsonl`.
Scored later as `previous`, on the same prompts with the same settings, it would give the same answers (greedy
decoding, the same batches): they are read back instead of generated, which on a CPU saves the longest part of
the evaluation. Only when nothing that shapes them differs: the adapter, the export, the prompt ids in order and
each prompt's turns, the base model, the generation settings and backend, and the versions of torch,
transformers and peft. A reused contestant's results say so (`generation.reused_from`), since its speed is
no measurement.

Usage:
    earlier = earlier_answers("runs/v1", config, fingerprint, items, conversations)
    earlier.answers if earlier else None  # ftcore.generate.Answer objects, as a generator's
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftcore.errors import FtdataError
from ftcore.generate import Answer, Candidate, GenerationStats
from ftcore.jsonl import iter_json_lines
from ftcore.versions import package_versions
from fteval.results import Results

HOOK_FOLDER = "eval"  # where fttrain's `evaluate:` hook writes a run's evaluation
SAME_VERSIONS = ("torch", "transformers", "peft")


@dataclass
class EarlierAnswers:
    answers: list[Answer]
    source: Path  # the answers file they were read from
    stats: GenerationStats  # nothing generated: prompts counted, no tokens, no time
    cost: dict[str, Any]  # the cost its own evaluation measured (reusing takes no time, so none is measured now)


def earlier_answers(
    run_folder: str | os.PathLike,
    config: Any,
    data_fingerprint: str,
    examples: Sequence[Any],
    conversations: Sequence[Sequence[dict[str, str]]],
) -> EarlierAnswers | None:
    """The answers `run_folder`'s adapter gave as `finetuned` in its own evaluation (`<run>/eval`), when that
    evaluation asked the same prompts as now, in the same way (see the module's docstring); None otherwise.
    `config` is the eval config of now (fteval.config.EvalConfig)."""
    folder = Path(run_folder) / HOOK_FOLDER
    try:
        earlier = Results.read(folder / "results.json")
    except FtdataError:
        return None
    finetuned = earlier.contestants.get("finetuned")
    if finetuned is None or not finetuned.adapter or not _same_folder(finetuned.adapter, run_folder):
        return None
    same = (
        earlier.data.manifest_fingerprint == data_fingerprint
        and earlier.data.prompt_ids == [example.id for example in examples]
        and earlier.base_model == config.base_model.label()
        and finetuned.generation.get("backend") == config.generator
        and all(earlier.settings.get(key) == value for key, value in _settings(config).items())
        and all(earlier.versions.get(name) == version for name, version in package_versions(*SAME_VERSIONS).items())
    )
    if not same:
        return None
    source = folder / "answers" / "finetuned.jsonl"
    rows = _rows(source)
    if rows is None or len(rows) != len(examples):
        return None
    for row, example, conversation in zip(rows, examples, conversations, strict=True):
        if (
            row.get("id") != example.id
            or row.get("prompt") != list(conversation)
            or not isinstance(row.get("answer"), str)
        ):
            return None
    answers = [_answer(row) for row in rows]
    return EarlierAnswers(answers, source, GenerationStats(prompts=len(answers)), dict(finetuned.cost))


def _answer(row: dict[str, Any]) -> Answer:
    """An answers-file row as the generator's Answer: its text and the token counts recorded with it."""
    completion = row.get("completion_tokens")
    completion = completion if isinstance(completion, int) else 0
    candidate = Candidate(row["answer"], completion, row.get("finish_reason") or "")
    prompt = row.get("prompt_tokens")
    return Answer((candidate,), prompt if isinstance(prompt, int) else 0, 0.0)


def _settings(config: Any) -> dict[str, Any]:
    """What results.json records of the generation settings that shape an answer."""
    return {
        "max_new_tokens": config.max_new_tokens,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "greedy": True,
    }


def _same_folder(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _rows(path: Path) -> list[dict[str, Any]] | None:
    """The answers file's records; None when it is missing or any line is not a JSON object."""
    try:
        rows = [(value, problems) for _, value, problems in iter_json_lines(path)]
    except (FtdataError, OSError):
        return None
    if any(problems or not isinstance(value, dict) for value, problems in rows):
        return None
    return [value for value, _ in rows]
