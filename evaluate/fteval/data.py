"""What `fteval run` scores (its `data:`), read into one shape whatever it came as.

- an `ftdata export` folder: its test split, hash-checked against the manifest; its train split is the pool the
  few-shot examples come from (stratified on the export's `split.stratify_by`);
- a golden set: a JSONL, CSV or Parquet file or a `datasets` folder of contract examples, read row by row through
  the importers' reader and the contract (`ftcore.importers`), so it reads as `ftdata import` would read it.
  Rows that break the contract are left out and counted; a file without one valid row is refused. Rows may be
  prompts without answers (`prompt` alone, or `messages` ending on a user turn): they are scored by the style
  checks, and ROUGE-L, exact match and the held-out loss are then not applicable;
- an IFEval-format JSONL (`key`, `prompt`, `instruction_id_list`, `kwargs`): each prompt is scored by its own
  instructions (fteval.ifeval), no style spec needed.

Usage:
    test = load_eval_set(config)
    test.kind, len(test.items), test.items[0].prompt, test.items[0].reference
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ftcore import Example, ExportManifest, load_split
from ftcore.errors import FtdataError
from ftcore.example import InvalidExample, Message, compute_id
from ftcore.importers import ColumnMap, detect_format, read_rows, row_to_example
from ftcore.jsonl import UnreadableFile, iter_json_lines
from ftcore.manifest import MANIFEST_NAME, load_split_with_metadata
from ftcore.style import StyleSpec
from fteval.ifeval import IFEvalError, IFEvalPrompt, load_ifeval_prompts

IFEVAL_KEYS = ("prompt", "instruction_id_list", "kwargs")
NO_ANSWER = "\x00no answer\x00"  # stands in for a missing answer while the contract checks a prompt-only row
SHOWN_PROBLEMS = 3


class DataError(FtdataError):
    """A `data:` that cannot be scored: one line naming the file (and the setting)."""


@dataclass(frozen=True)
class EvalItem:
    """One test prompt: its turns, the reference answer (None: a prompt without one) and the spec it is scored by."""

    id: str
    prompt: tuple[Message, ...]
    reference: str | None
    spec: StyleSpec
    ifeval: IFEvalPrompt | None = None  # an IFEval prompt: scored by its own instructions

    def turns(self) -> list[dict[str, str]]:
        return [m.to_dict() for m in self.prompt]


@dataclass
class EvalSet:
    """The prompts scored, where they came from, and the few-shot pool (an export's train split)."""

    kind: str  # export | golden | ifeval
    folder: Path
    dataset: str
    fingerprint: str  # the export manifest's fingerprint, or the sha256 of the data file(s)
    split: str
    items: list[EvalItem]
    spec: StyleSpec | None  # the shared style spec (None for IFEval data: each prompt has its own)
    manifest: ExportManifest | None = None
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> rows or instructions not scored
    notes: list[str] = field(default_factory=list)  # what a reader must know (rows left out, skipped instructions)

    @property
    def has_references(self) -> bool:
        return all(item.reference is not None for item in self.items)


def load_eval_set(config: Any) -> EvalSet:
    """The data of an eval config (`data`, `data_map`, `style`, `limit`, `ifeval_unsupported`), read and checked."""
    data = Path(config.data)
    source = getattr(config, "source", "eval config")
    if not data.exists():
        raise DataError(f"{source}: data: {data} not found")
    if data.is_dir() and (data / MANIFEST_NAME).is_file():
        eval_set = _export(data, _spec(config, source))
    elif data.is_file() and _is_ifeval(data):
        eval_set = _ifeval(data, config.ifeval_unsupported)
    else:
        eval_set = _golden(data, config.data_map, _spec(config, source), source)
    eval_set.items = eval_set.items[: config.limit]
    return eval_set


def fewshot_pool(config: Any, eval_set: EvalSet) -> tuple[list[Example], str | None, str | None]:
    """(the train split few-shot examples are drawn from, its strata key, where it came from); an empty pool when
    there is none (a golden set or IFEval data without `fewshot_data`)."""
    folder = (
        Path(config.fewshot_data) if config.fewshot_data else (eval_set.folder if eval_set.kind == "export" else None)
    )
    if folder is None:
        return [], None, None
    manifest = ExportManifest.read(folder)
    if "train" not in manifest.splits or not manifest.splits["train"].examples:
        return [], None, str(folder)
    return load_split_with_metadata(folder, "train"), _stratify_by(folder), str(folder)


def _spec(config: Any, source: str) -> StyleSpec:
    if not config.style:
        raise DataError(f"{source}: style: required (only IFEval-format data brings its own checks)")
    return StyleSpec.load(config.style)


def _export(folder: Path, spec: StyleSpec) -> EvalSet:
    manifest = ExportManifest.read(folder)
    if "test" not in manifest.splits or not manifest.splits["test"].examples:
        raise DataError(f"{folder}: the export has no test split to score")
    manifest.verify(folder, "test")
    items = [EvalItem(e.id, e.prompt_messages, e.completion, spec) for e in load_split(folder, "test")]
    return EvalSet("export", folder, manifest.dataset, manifest.fingerprint, "test", items, spec, manifest)


def _stratify_by(folder: Path) -> str | None:
    """The export's strata key, from the project config it recorded (ftdata.resolved.yaml: split.stratify_by)."""
    path = folder / "ftdata.resolved.yaml"
    try:
        resolved = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    split = resolved.get("split") if isinstance(resolved, dict) else None
    key = split.get("stratify_by") if isinstance(split, dict) else None
    return key if isinstance(key, str) and key else None


def _is_ifeval(path: Path) -> bool:
    """A JSONL whose first object has IFEval's keys."""
    if path.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
        return False
    try:
        _, row, _ = next(iter_json_lines(path), (0, None, []))
    except UnreadableFile:
        return False
    return isinstance(row, dict) and all(key in row for key in IFEVAL_KEYS)


def _ifeval(path: Path, unsupported: str) -> EvalSet:
    try:
        prompts = load_ifeval_prompts(path, unsupported=unsupported)
    except IFEvalError as error:
        raise DataError(f"data: {error}") from None
    items = [
        EvalItem(
            compute_id([Message("user", prompt.prompt)]), (Message("user", prompt.prompt),), None, prompt.spec, prompt
        )
        for prompt in prompts
    ]
    notes = [f"{path}: {prompts.summary()}"] if prompts.skipped_instructions else []
    left_out = {f"unsupported instruction {name}": count for name, count in prompts.skipped_instructions.items()}
    return EvalSet("ifeval", path, path.stem, _sha256(path), "all", items, None, None, left_out, notes)


def _golden(path: Path, data_map: str | None, spec: StyleSpec, source: str) -> EvalSet:
    """A golden set: every row through the importers' reader and the contract; answers optional."""
    try:
        mapping = ColumnMap.parse(data_map) if data_map else None
        file_format = detect_format(path)
        rows = list(read_rows(path, file_format, mapping))
    except (UnreadableFile, FtdataError) as error:
        raise DataError(f"{source}: data: {error}") from None
    items: list[EvalItem] = []
    problems: list[str] = []
    seen: set[str] = set()
    reasons: Counter[str] = Counter()
    for position, row, row_problems in rows:
        where = f"{path}:{position.line}" if position.line is not None else f"{path} row {position.row}"
        try:
            if row_problems:
                raise InvalidExample([(p.field, p.reason) for p in row_problems])
            item = _golden_item(row, mapping, spec, {"source": str(path), "row": position.row})
        except InvalidExample as invalid:
            problems.append(f"{where}: {invalid}")
            reasons["breaks the contract"] += 1
            continue
        if item.id in seen:
            reasons["the same prompt and answer as an earlier row"] += 1
            continue
        seen.add(item.id)
        items.append(item)
    if not items:
        first = f": {problems[0]}" if problems else ""
        raise DataError(f"{source}: data: {path}: no valid rows ({len(rows)} row(s)){first}")
    notes = []
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS]) + ("; ..." if len(problems) > SHOWN_PROBLEMS else "")
        notes.append(f"{len(problems)} row(s) of {path} left out, breaking the contract: {shown}")
    answered = sum(item.reference is not None for item in items)
    if 0 < answered < len(items):
        notes.append(
            f"{len(items) - answered} of {len(items)} prompts of {path} have no answer: ROUGE-L, exact match and the "
            "held-out loss are not applicable"
        )
    dataset = path.stem if path.is_file() else path.name
    return EvalSet("golden", path, dataset, _sha256(path), "all", items, spec, None, dict(reasons), notes)


def _golden_item(row: dict[str, Any] | None, mapping: ColumnMap | None, spec: StyleSpec, provenance: dict) -> EvalItem:
    """One row as a contract example; a row without an answer is checked as one with a placeholder answer, which
    is then dropped (the prompt's id is that of its turns alone)."""
    if row is None:
        raise InvalidExample([(None, "not a row")])
    row, answered = _with_placeholder(dict(row), mapping)
    example = row_to_example(row, mapping, provenance)
    if answered:
        return EvalItem(example.id, example.prompt_messages, example.completion, spec)
    return EvalItem(compute_id(example.prompt_messages), example.prompt_messages, None, spec)


def _with_placeholder(row: dict[str, Any], mapping: ColumnMap | None) -> tuple[dict[str, Any], bool]:
    if mapping is not None:
        column = mapping.assistant
        if column in row and row[column] not in (None, ""):
            return row, True
        return row | {column: NO_ANSWER}, False
    messages = row.get("messages")
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            return row, True  # the contract says what is wrong with it
    if isinstance(messages, list):
        if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "user":
            return row | {"messages": [*messages, {"role": "assistant", "content": NO_ANSWER}]}, False
        return row, True
    if "prompt" in row and row.get("completion") in (None, ""):
        return row | {"completion": NO_ANSWER}, False
    return row, True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(file.name.encode("utf-8"))
        digest.update(file.read_bytes())
    return digest.hexdigest()
