"""`fteval run`: answers from every contestant on the export's test split, scored the same way.

Contestants: `base` (the test prompts as they are), `base+prompt` (the base model with the style
written out as a system prompt: the baseline a fine-tune must beat), `finetuned` (base + the
adapter of an `fttrain` run) and optionally `previous` (an earlier run). Same prompts, seed and
generation settings for all. Scores: the style spec's pass rate per check and `strict` (all checks
pass), ROUGE-L and exact match of the final answer against the test answers, the held-out loss
of the test answers, and the lm-eval capability suite on `base` and `finetuned`. Contestants are
compared example by example (fteval.stats), and results.json opens with a verdict (fteval.verdict).
Everything is written to the output folder: `answers/<contestant>.jsonl`, `results.json`, the
resolved config, and `review_queue.jsonl` (failing answers, for the next review round).

Usage:
    results = run_eval(load_eval_config("eval.yaml"))
    results["contestants"]["finetuned"]["scores"]["strict"]
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftcore import Example, ExportManifest, __version__, load_split
from ftcore.atomic import atomic_write
from ftcore.config import write_config
from ftcore.errors import FtdataError
from ftcore.style import StyleSpec
from fteval.capability import LOWER_IS_BETTER, capability_deltas, run_capability_suite
from fteval.config import EvalConfig
from fteval.generate import make_generator
from fteval.stats import compare_contestants
from fteval.verdict import verdict

RESULTS_SCHEMA_VERSION = 1
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


def run_eval(config: EvalConfig, progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Generate and score every contestant; writes the output folder and returns results.json's content."""
    data = Path(config.data)
    manifest = ExportManifest.read(data)
    if "test" not in manifest.splits or not manifest.splits["test"].examples:
        raise EvalError(f"{data}: the export has no test split to score")
    manifest.verify(data, "test")
    examples = load_split(data, "test")[: config.limit]
    spec = StyleSpec.load(config.style)
    for name, folder in (("run", config.run), ("previous_run", config.previous_run)):
        if folder and not (Path(folder) / "adapter_config.json").is_file():
            raise EvalError(f"{name}: {folder} holds no adapter: point it at an `fttrain run` folder")

    if config.generator == "vllm":
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise EvalError("generator: vllm: the vllm package is not installed (`pip install vllm`, CUDA only)")
        if config.gguf_file:
            raise EvalError("generator: vllm: a GGUF base model is not supported here; use generator: transformers")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    kwargs = {"gguf_file": config.gguf_file} if config.gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(config.base_model, **kwargs)
    base = AutoModelForCausalLM.from_pretrained(
        config.base_model, dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32, **kwargs
    )
    output = Path(config.output_dir)
    (output / "answers").mkdir(parents=True, exist_ok=True)
    references = [e.completion for e in examples]
    contestants: dict[str, Any] = {}
    per_example: dict[str, dict[str, list[float]]] = {}
    capability: dict[str, dict[str, dict[str, float]]] = {}
    for name in config.contestants():
        set_seed(config.seed)
        model, adapter = _contestant_model(base, name, config)
        system = config.system_prompt if name == "base+prompt" else None
        conversations = contestant_prompts(examples, system)
        tick = (lambda n, name=name: progress(f"generating: {name}", n, len(examples))) if progress else None
        generator = make_generator(config, model, tokenizer, adapter, progress=tick)
        answers = generator.generate(conversations, config.max_new_tokens)
        scores, per_example[name] = score_answers(answers, references, spec, config.answer_pattern)
        scores |= heldout_loss(model, tokenizer, examples, system, config.batch_size)
        if config.capability_tasks and name in CAPABILITY_CONTESTANTS:
            if progress:
                progress(f"lm-eval capability suite: {name}", 0, 1)
            capability[name] = run_capability_suite(
                config.capability_tasks,
                model=model,
                tokenizer=tokenizer,
                batch_size=config.batch_size,
                limit=config.capability_limit,
            )
            scores |= _capability_scores(capability[name])
        contestants[name] = {
            "adapter": adapter,
            "n": len(answers),
            "scores": scores,
            "generation": {
                "backend": config.generator,
                "tokens_per_second": round(generator.stats.tokens_per_second, 1),
                "seconds": round(generator.stats.seconds, 2),
                "new_tokens": generator.stats.new_tokens,
            },
        }
        _write_answers(output / "answers" / f"{name}.jsonl", examples, conversations, answers, spec)
        if adapter:
            if any(getattr(layer, "merged", False) for layer in model.modules()):
                model.unmerge_adapter()  # the base weights as they were, for the next contestant
            base = model.unload()  # LoRA layers removed, not merged: the next contestant starts from the bare base
    directions = {name: up for name, (up, _) in METRICS.items()}
    comparisons = compare_contestants(per_example, directions)
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": {name: {"higher_is_better": up, "description": text} for name, (up, text) in METRICS.items()}
        | _capability_metrics(capability),
        "style_checks": [{"id": c.id, "check": c.name, "higher_is_better": True} for c in spec.checks],
        "data": {
            "folder": str(data),
            "dataset": manifest.dataset,
            "manifest_fingerprint": manifest.fingerprint,
            "split": "test",
            "n": len(examples),
        },
        "base_model": config.base_model,
        "settings": {
            "max_new_tokens": config.max_new_tokens,
            "batch_size": config.batch_size,
            "seed": config.seed,
            "greedy": True,
            "system_prompt": config.system_prompt,
        },
        "versions": _versions(),
        "training": training_record(config.run),
        "contestants": contestants,
        "comparisons": [c.to_dict() for c in comparisons],
        "capability": _capability_record(config, capability),
    }
    results["verdict"] = verdict(results)
    review_queue(output, "finetuned" if "finetuned" in contestants else "base+prompt")
    write_config(config, output / "fteval.resolved.yaml")
    with atomic_write(output / "results.json") as handle:
        handle.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


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


def _capability_metrics(capability: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, Any]]:
    metrics = {}
    for scores in capability.values():
        for key in _capability_scores(scores):
            _, task, metric = key.split("/", 2)
            up = metric.split(",")[0] not in LOWER_IS_BETTER
            metrics[key] = {"higher_is_better": up, "description": f"lm-eval {task}: {metric} (general capability)"}
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
    """What the `finetuned` contestant cost: the run's summary.json (steps, epochs, tokens seen, seconds)."""
    if not run_folder or not (Path(run_folder) / "summary.json").is_file():
        return None
    summary = json.loads((Path(run_folder) / "summary.json").read_text(encoding="utf-8"))
    keys = ("steps", "epochs", "tokens_seen", "train_examples", "seconds", "method", "final_loss", "eval_loss")
    return {"run": str(run_folder)} | {key: summary.get(key) for key in keys}


def heldout_loss(
    model: Any, tokenizer: Any, examples: Sequence[Example], system_prompt: str | None, batch_size: int = 16
) -> dict[str, float]:
    """Mean cross-entropy of the reference answers (assistant tokens only), as the contestant is prompted.

    Batched with right padding (padding sits after every real token, and its labels are ignored); examples
    are sorted by length first so a batch holds little padding.
    """
    import torch

    from fttrain.data import IGNORE_INDEX, tokenize_example

    items = []
    for example in examples:
        messages = contestant_prompts([example], system_prompt)[0] + [example.messages[-1].to_dict()]
        items.append(tokenize_example(Example.create(messages), tokenizer, max_seq_len=4096))
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
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {"ftkit": __version__, "python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "evaluate"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found
