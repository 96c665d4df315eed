"""`fteval run`: answers from every contestant on the export's test split, scored the same way.

Contestants: `base` (the test prompts as they are), `base+prompt` (the base model with the style
written out as a system prompt: the baseline a fine-tune must beat), `finetuned` (base + the
adapter of an `fttrain` run) and optionally `previous` (an earlier run). Same prompts, seed and
generation settings for all. Scores: the style spec's pass rate per check and `strict` (all checks
pass), ROUGE-L and exact match of the final answer against the test answers, the held-out loss
of the test answers, and the lm-eval capability suite on `base` and `finetuned`. Contestants are
compared example by example (fteval.paired), and results.json opens with a verdict (fteval.verdict).
Everything is written to the output folder: `answers/<contestant>.jsonl`, `results.json`, the
resolved config, and `review_queue.jsonl` (failing answers, for the next review round).

Usage:
    results = run_eval(load_eval_config("eval.yaml"))
    results.contestants["finetuned"].scores["strict"]
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftcore import Example, ExportManifest, load_split
from ftcore.atomic import atomic_write
from ftcore.config import write_config
from ftcore.errors import FtdataError
from ftcore.models import BaseModel, load_base, load_tokenizer
from ftcore.quiet import peft_wrapping
from ftcore.run_folder import RESOLVED_CONFIG, RunFolder
from ftcore.style import StyleSpec
from ftcore.versions import package_versions
from fteval.capability import LOWER_IS_BETTER, capability_deltas, run_capability_suite
from fteval.config import EvalConfig
from fteval.generate import make_generator
from fteval.paired import compare_contestants
from fteval.results import Contestant, DataSource, Metric, Results
from fteval.reuse import earlier_answers
from fteval.verdict import verdict

HELDOUT_MAX_TOKENS = 4096  # a test conversation longer than this is scored on its first 4,096 tokens
CAPABILITY_CONTESTANTS = ("base", "finetuned", "previous")  # the prompt does not change what a model knows
# Every score with its direction, so a comparison never has to guess.
METRICS = {
    "strict": (True, "share of answers passing every style check"),
    "rougeL": (True, "ROUGE-L F-measure against the test answers"),
    "exact_match": (True, "share of answers equal to the test answer (the part answer_pattern picks)"),
    "loss": (False, "mean cross-entropy of the test answers' assistant tokens"),
    "perplexity": (False, "exp(loss)"),
}


class EvalError(FtdataError):
    """An evaluation that cannot start: missing run folder, no test split, unreadable spec."""


def contestant_prompts(examples: Sequence[Example], system_prompt: str | None) -> list[list[dict[str, str]]]:
    """The prompt turns of each test example; with `system_prompt`, it replaces (or becomes) the system turn."""
    conversations = []
    for example in examples:
        turns = [m.to_dict() for m in example.prompt_messages if not (system_prompt and m.role == "system")]
        conversations.append(([{"role": "system", "content": system_prompt}] if system_prompt else []) + turns)
    return conversations


@dataclass
class EvalSet:
    """The export's test split (hash-checked, cut to `limit`) and the style spec it is scored against."""

    folder: Path
    manifest: ExportManifest
    examples: list[Example]
    spec: StyleSpec


@dataclass
class Session:
    """What every contestant is scored with."""

    config: EvalConfig
    test: EvalSet
    tokenizer: Any
    output: Path
    progress: Callable[[str, int, int | None], None] | None = None


@dataclass
class Scored:
    """Every contestant's scores, with the per-example values the paired statistics need."""

    contestants: dict[str, Contestant] = field(default_factory=dict)
    per_example: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    capability: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def run_eval(config: EvalConfig, progress: Callable[[str, int, int | None], None] | None = None) -> Results:
    """Generate and score every contestant; writes the output folder and returns what results.json holds.

    `progress(stage, n, total)` hears of each phase in turn, one stage name each, brought to its total before the
    next begins: loading the base model, then per contestant its generation ("generating: base", or "answers
    reused: previous"), held-out loss and capability suite (its total None until lm-eval has built its requests).
    """
    test = load_test_set(config)
    config, warnings = check_runs(config, test.manifest)
    check_generator(config)
    tokenizer, base = load_tokenizer(config.base_model), _loaded_base(config, progress)
    output = Path(config.output_dir)
    (output / "answers").mkdir(parents=True, exist_ok=True)
    scored = score_contestants(Session(config, test, tokenizer, output, progress), base)
    results = assemble_results(config, test, scored, warnings)
    write_results(results, config, output)
    return results


def load_test_set(config: EvalConfig) -> EvalSet:
    """The test split, checked against its manifest before it is read, and the style spec."""
    data = Path(config.data)
    manifest = ExportManifest.read(data)
    if "test" not in manifest.splits or not manifest.splits["test"].examples:
        raise EvalError(f"{data}: the export has no test split to score")
    manifest.verify(data, "test")
    examples = load_split(data, "test")[: config.limit]
    return EvalSet(data, manifest, examples, StyleSpec.load(config.style))


def _loaded_base(config: EvalConfig, progress: Callable[[str, int, int | None], None] | None) -> Any:
    """The base model, loading shown as a phase of its own: a large one takes minutes."""
    stage = "loading the base model"
    if progress:
        progress(stage, 0, 1)
    base = load_base(config.base_model)
    if progress:
        progress(stage, 1, 1)
    return base


def check_generator(config: EvalConfig) -> None:
    if config.generator == "vllm":
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise EvalError("generator: vllm: the vllm package is not installed (`pip install vllm`, CUDA only)")
        if config.base_model.gguf_file:
            raise EvalError("generator: vllm: a GGUF base model is not supported here; use generator: transformers")


def score_contestants(session: Session, base: Any) -> Scored:
    """Each contestant in turn on the same base weights: its adapter put on, scored, and taken off again."""
    from transformers import set_seed

    scored = Scored()
    for name in session.config.contestants():
        set_seed(session.config.seed)
        model, adapter = _contestant_model(base, name, session.config)
        scored.contestants[name] = score_contestant(session, name, model, adapter, scored)
        if adapter:
            base = _bare_base(model)
    return scored


def score_contestant(session: Session, name: str, model: Any, adapter: str | None, scored: Scored) -> Contestant:
    """One contestant's answers (written to answers/<name>.jsonl), scores and per-example values."""
    config, examples, progress = session.config, session.test.examples, session.progress
    system = config.system_prompt if name == "base+prompt" else None
    conversations = contestant_prompts(examples, system)
    earlier = None
    if name == "previous" and adapter:  # its own evaluation may have asked these prompts the same way
        earlier = earlier_answers(adapter, config, session.test.manifest.fingerprint, examples, conversations)
    if earlier:
        answers, stats = earlier.answers, earlier.stats
        if progress:
            progress(f"answers reused: {name}", len(answers), len(answers))
    else:
        tick = (lambda n: progress(f"generating: {name}", n, len(examples))) if progress else None
        generator = make_generator(config, model, session.tokenizer, adapter, progress=tick)
        answers = generator.generate(conversations, config.max_new_tokens)
        stats = generator.stats
    references = [e.completion for e in examples]
    scores, scored.per_example[name] = score_answers(answers, references, session.test.spec, config.answer_pattern)
    loss_tick = (lambda n: progress(f"held-out loss: {name}", n, len(examples))) if progress else None
    scores |= heldout_loss(model, session.tokenizer, examples, system, config.batch_size, progress=loss_tick)
    if config.capability_tasks and name in CAPABILITY_CONTESTANTS:
        suite_tick = (lambda n, total: progress(f"lm-eval capability suite: {name}", n, total)) if progress else None
        scored.capability[name] = run_capability_suite(
            config.capability_tasks,
            model=model,
            tokenizer=session.tokenizer,
            batch_size=config.batch_size,
            limit=config.capability_limit,
            progress=suite_tick,
        )
        scores |= _capability_scores(scored.capability[name])
    path = session.output / "answers" / f"{name}.jsonl"
    _write_answers(path, examples, conversations, answers, session.test.spec)
    generation = _generation(config, stats) | ({"reused_from": str(earlier.source)} if earlier else {})
    return Contestant(adapter=adapter, n=len(answers), scores=scores, generation=generation)


def _generation(config: EvalConfig, stats: Any) -> dict[str, Any]:
    return {
        "backend": config.generator,
        "tokens_per_second": round(stats.tokens_per_second, 1),
        "seconds": round(stats.seconds, 2),
        "new_tokens": stats.new_tokens,
    }


def _bare_base(model: Any) -> Any:
    """The base weights as they were, for the next contestant."""
    if any(getattr(layer, "merged", False) for layer in model.modules()):
        model.unmerge_adapter()
    return model.unload()  # LoRA layers removed, not merged: the next contestant starts from the bare base


def assemble_results(config: EvalConfig, test: EvalSet, scored: Scored, warnings: list[str]) -> Results:
    """results.json's content: every score with its direction, the paired comparisons, and where it all came from."""
    directions = {name: up for name, (up, _) in METRICS.items()}
    comparisons = compare_contestants(scored.per_example, directions)
    metrics = {name: Metric(up, text) for name, (up, text) in METRICS.items()} | _capability_metrics(scored.capability)
    manifest = test.manifest
    return Results(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        metrics=metrics,
        style_checks=[{"id": c.id, "check": c.name, "higher_is_better": True} for c in test.spec.checks],
        data=DataSource(
            str(test.folder),
            manifest.dataset,
            manifest.fingerprint,
            "test",
            len(test.examples),
            prompt_ids=[example.id for example in test.examples],
        ),
        base_model=config.base_model.label(),
        settings={
            "max_new_tokens": config.max_new_tokens,
            "batch_size": config.batch_size,
            "seed": config.seed,
            "greedy": True,
            "system_prompt": config.system_prompt,
        },
        versions=_versions(),
        training=training_record(config.run),
        contestants=scored.contestants,
        comparisons=[c.to_dict() for c in comparisons],
        capability=_capability_record(config, scored.capability),
        warnings=warnings,
    )


def write_results(results: Results, config: EvalConfig, output: Path) -> None:
    """The verdict into the results, then the review queue, the resolved config and results.json."""
    results.verdict = verdict(results)
    review_queue(output, "finetuned" if "finetuned" in results.contestants else "base+prompt")
    write_config(config, output / "fteval.resolved.yaml")
    results.write(output / "results.json")


def check_runs(config: EvalConfig, manifest: ExportManifest) -> tuple[EvalConfig, list[str]]:
    """The runs scored must fit the base model and export given. The base model must be the one each run was
    trained from (an adapter fits only its own base): it is taken from the run when the config names none, and
    another one is refused. Another export than the run's own is legitimate (a run scored on a new data set),
    so it is a warning, recorded in results.json: its test split may hold what the run trained on.

    Returns the config with its base model filled in, and the warnings.
    """
    for setting, folder in (("run", config.run), ("previous_run", config.previous_run)):
        if folder and not (Path(folder) / "adapter_config.json").is_file():
            raise EvalError(f"{setting}: {folder} holds no adapter: point it at an `fttrain run` folder")
    warnings = []
    for setting, folder in (("run", config.run), ("previous_run", config.previous_run)):
        if not folder:
            continue
        run = RunFolder.open(folder)
        trained_from = run.base_model
        if not config.base_model.path:
            config = replace(config, base_model=replace(config.base_model, **_location(trained_from)))
        elif not config.base_model.same_files(trained_from):
            raise EvalError(
                f"base_model {config.base_model.label()!r} is not the base model the {setting} was trained from: "
                f"{trained_from.label()!r} ({run.file(RESOLVED_CONFIG)}); an adapter fits only its own base model"
            )
        trained_on = run.data
        if trained_on.fingerprint != manifest.fingerprint:
            warnings.append(
                f"{setting} {folder} was trained on export {trained_on.fingerprint[:12]} ({trained_on.folder}), "
                f"not on the export scored here, {manifest.fingerprint[:12]} ({config.data})"
            )
    return config, warnings


def _location(model: BaseModel) -> dict[str, Any]:
    return {"path": model.path, "gguf_file": model.gguf_file}


def score_answers(
    answers: Sequence[str], references: Sequence[str], spec: StyleSpec, answer_pattern: str | None = None
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Style pass rates (per check and strict) and reference similarity, through the evaluate metric modules;
    also each metric's per-example values, aligned with `answers`, for the paired statistics."""
    from fteval.metrics import load_metric

    predictions, targets = list(answers), list(references)
    style = load_metric("style_adherence").compute(predictions=predictions, spec=spec.source, per_example=True)
    rouge = load_metric("rouge_l").compute(predictions=predictions, references=targets, per_example=True)
    options = {"regex": answer_pattern} if answer_pattern else {}
    exact = load_metric("exact_match").compute(predictions=predictions, references=targets, per_example=True, **options)
    scores = {k: float(v) for k, v in style.items() if k not in ("n", "per_example")}
    scores |= {"rougeL": float(rouge["rougeL"]), "exact_match": float(exact["exact_match"])}
    per_example = {
        "strict": [float(row["strict"]) for row in style["per_example"]],
        **{f"pass_rate/{c.id}": [float(row[c.id]) for row in style["per_example"]] for c in spec.checks},
        "rougeL": list(rouge["rougeL_per_example"]),
        "exact_match": [float(match) for match in exact["exact_match_per_example"]],
    }
    return scores, per_example


def _capability_scores(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """One contestant's suite results as flat scores `capability/<task>/<metric>` (no stderr, no counts)."""
    return {
        f"capability/{task}/{metric}": value
        for task, values in scores.items()
        for metric, value in values.items()
        if metric != "n" and not metric.endswith("_stderr")
    }


def _capability_metrics(capability: dict[str, dict[str, dict[str, float]]]) -> dict[str, Metric]:
    metrics = {}
    for scores in capability.values():
        for key in _capability_scores(scores):
            _, task, metric = key.split("/", 2)
            up = metric.split(",")[0] not in LOWER_IS_BETTER
            metrics[key] = Metric(up, f"lm-eval {task}: {metric} (general capability)")
    return metrics


def _capability_record(config: EvalConfig, capability: dict[str, dict[str, dict[str, float]]]) -> dict[str, Any]:
    """The suite's scores per contestant and, with a fine-tune, its change against the base model."""
    record: dict[str, Any] = {"tasks": list(config.capability_tasks), "limit": config.capability_limit}
    record["scores"] = _finite(capability)
    if "base" in capability and "finetuned" in capability:
        record["deltas"] = _finite(capability_deltas(capability["base"], capability["finetuned"]))
    return record


def _finite(value: Any) -> Any:
    """NaN (a missing standard error) as null: results.json stays strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return None if isinstance(value, float) and math.isnan(value) else value


def training_record(run_folder: str | None) -> dict[str, Any] | None:
    """What the `finetuned` contestant cost: the run's summary.json (steps, epochs, tokens seen, seconds), and
    the fingerprint of the export it trained on."""
    summary = RunFolder.open(run_folder).summary if run_folder else None
    if summary is None:
        return None
    keys = ("steps", "epochs", "tokens_seen", "train_examples", "seconds", "method", "final_loss", "eval_loss")
    return {"run": str(run_folder)} | {key: summary[key] for key in keys} | {"data_manifest": summary.data_manifest}


def heldout_loss(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    system_prompt: str | None,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Mean cross-entropy of the reference answers (assistant tokens only), as the contestant is prompted;
    `progress(n)` hears of each batch of n examples scored.

    Batched with right padding (padding sits after every real token, and its labels are ignored); examples
    are sorted by length first so a batch holds little padding.
    """
    import torch

    from ftcore.chat import IGNORE_INDEX, tokenize_chat

    items = []
    for example in examples:
        messages = contestant_prompts([example], system_prompt)[0] + [example.messages[-1].to_dict()]
        items.append(tokenize_chat(messages, tokenizer, max_seq_len=HELDOUT_MAX_TOKENS, example_id=example.id))
    items.sort(key=lambda item: len(item.input_ids))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    total, count = 0.0, 0
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        width = max(len(item.input_ids) for item in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            ids[row, : len(item.input_ids)] = torch.tensor(item.input_ids)
            labels[row, : len(item.labels)] = torch.tensor(item.labels)
            attention[row, : len(item.input_ids)] = 1
        ids, labels, attention = ids.to(model.device), labels.to(model.device), attention.to(model.device)
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=attention, use_cache=False).logits[:, :-1].float()
        targets = labels[:, 1:]
        mask = targets != IGNORE_INDEX
        if mask.any():
            total += float(torch.nn.functional.cross_entropy(logits[mask], targets[mask], reduction="sum"))
            count += int(mask.sum())
        if progress is not None:
            progress(len(batch))
    loss = total / count if count else float("nan")
    return {"loss": loss, "perplexity": math.exp(loss) if count and loss < 50 else float("inf")}


def review_queue(output: Path, contestant: str) -> Path:
    """Closing the loop: every answer of `contestant` that breaks the style, as an example in the contract
    (`review_queue.jsonl`), for `ftdata import` + `ftdata push`: annotators mark it needs-edit and write
    the right answer, and the next export trains on it.
    """
    from ftcore import write_examples

    queue = []
    # split("\n"), not splitlines(): an answer may hold U+2028 or U+0085, which JSON leaves unescaped.
    for line in (output / "answers" / f"{contestant}.jsonl").read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["failed_checks"] and row["answer"].strip():
            metadata = {
                "source": f"fteval:{contestant}",
                "test_id": row["id"],
                "failed_checks": sorted(row["failed_checks"]),
            }
            queue.append(Example.create([*row["prompt"], {"role": "assistant", "content": row["answer"]}], metadata))
    path = output / "review_queue.jsonl"
    write_examples(path, queue)
    return path


def _contestant_model(base: Any, name: str, config: EvalConfig) -> tuple[Any, str | None]:
    if name in ("base", "base+prompt"):
        return base, None
    import torch
    from peft import PeftModel

    folder = config.run if name == "finetuned" else config.previous_run
    with peft_wrapping():
        model = PeftModel.from_pretrained(base, folder)
    if base.dtype == torch.float32:
        # Unmerged LoRA layers made CPU generation ~7x slower here (SmolLM2-135M, r=16 on all linear layers).
        # Merged in float32, unmerging restores the base weights to rounding error; in bf16 it would not.
        model.merge_adapter()
    return model, folder


def _write_answers(path: Path, examples, conversations, answers, spec: StyleSpec) -> None:
    with atomic_write(path) as handle:
        for example, conversation, answer in zip(examples, conversations, answers, strict=True):
            failed = {cid: r.detail for cid, r in spec.evaluate(answer).items() if not r.passed}
            record = {"id": example.id, "prompt": conversation, "answer": answer, "reference": example.completion,
                      "failed_checks": failed}  # fmt: skip
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _versions() -> dict[str, str | None]:
    return package_versions("ftkit", "torch", "transformers", "peft", "evaluate") | {
        "python": platform.python_version()
    }
