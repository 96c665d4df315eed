"""`fteval run`: answers from every contestant on the same test prompts, scored the same way.

Contestants: `base` (the test prompts as they are), `base+prompt` (the base model with the style written out as
a system prompt), `base+fewshot` (the same system prompt and k accepted examples of the export's train split as
prior turns: prompting at its strongest for the same model), `finetuned` (base + the adapter of an `fttrain`
run), optionally `previous` (an earlier run), and any number of named endpoint contestants (`contestants:`, any
OpenAI-compatible chat API: a hosted model, or a vLLM server serving the adapter). Same prompts, seed and
generation settings for all. What is scored (`data:`): an export's test split, a golden set, or IFEval-format
prompts (fteval.data). Scores: the style spec's pass rate per check and `strict` (all checks pass), ROUGE-L and
exact match of the final answer against the reference answers, the held-out loss of the reference answers (local
contestants), the lm-eval capability suite on `base` and `finetuned`, and the cost per 1,000 answers
(fteval.cost). Contestants are compared example by example (fteval.paired), and results.json opens with a
verdict (fteval.verdict): the fine-tune against the best prompting contestant.
Everything is written to the output folder: `answers/<contestant>.jsonl`, `results.json`, the
resolved config, `endpoint-cache/` (every endpoint answer, so a rerun sends nothing again), and
`review_queue.jsonl` (failing answers, for the next review round).

Endpoint settings are checked first (the key variable is set, the server answers), before any model loads.

Usage:
    results = run_eval(load_eval_config("eval.yaml"))
    results.contestants["finetuned"].scores["strict"]
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftcore import Example
from ftcore.atomic import atomic_write
from ftcore.config import write_config
from ftcore.endpoint import EndpointError, EndpointGenerator
from ftcore.errors import FtdataError
from ftcore.fewshot import FewShot, choose_fewshot, fewshot_turns
from ftcore.generate import Answer
from ftcore.models import BaseModel, load_base, load_tokenizer
from ftcore.quiet import peft_wrapping
from ftcore.run_folder import RESOLVED_CONFIG, RunFolder
from ftcore.style import StyleSpec
from ftcore.versions import package_versions
from fteval.capability import LOWER_IS_BETTER, capability_deltas, run_capability_suite
from fteval.config import EvalConfig
from fteval.cost import cost_summary, endpoint_cost, local_cost, training_cost
from fteval.data import EvalItem, EvalSet, fewshot_pool, load_eval_set
from fteval.generate import make_generator
from fteval.paired import compare_contestants, comparison_pairs
from fteval.results import Contestant, DataSource, Metric, Results
from fteval.reuse import earlier_answers
from fteval.verdict import best_prompting, verdict

HELDOUT_MAX_TOKENS = 4096  # a test conversation longer than this is scored on its first 4,096 tokens
CAPABILITY_CONTESTANTS = ("base", "finetuned", "previous")  # the prompt does not change what a model knows
ENDPOINT_CACHE = "endpoint-cache"  # under the output folder: every endpoint answer, keyed by its request
# Every score with its direction, so a comparison never has to guess.
METRICS = {
    "strict": (True, "share of answers passing every style check (IFEval data: following every instruction)"),
    "rougeL": (True, "ROUGE-L F-measure against the reference answers"),
    "exact_match": (True, "share of answers equal to the reference answer (the part answer_pattern picks)"),
    "loss": (False, "mean cross-entropy of the reference answers' assistant tokens"),
    "perplexity": (False, "exp(loss)"),
    "ifeval/prompt_level_strict_acc": (True, "IFEval: share of prompts whose every instruction is followed"),
    "ifeval/inst_level_strict_acc": (True, "IFEval: share of all instructions followed"),
}
REFERENCE_METRICS = ("rougeL", "exact_match", "loss", "perplexity")


class EvalError(FtdataError):
    """An evaluation that cannot start: missing run folder, no test split, unreadable spec."""


def contestant_prompts(
    items: Sequence[EvalItem | Example], system_prompt: str | None, shots: Sequence[Example] = ()
) -> list[list[dict[str, str]]]:
    """The prompt turns of each test item as a contestant sees them: with `system_prompt`, it replaces (or becomes)
    the system turn; `shots` (few-shot examples) follow the system turn as prior user/assistant turns."""
    conversations = []
    examples = fewshot_turns(shots)
    for item in items:
        turns = [m.to_dict() for m in (item.prompt if isinstance(item, EvalItem) else item.prompt_messages)]
        own_system = turns[:1] if turns and turns[0]["role"] == "system" else []
        head = [{"role": "system", "content": system_prompt}] if system_prompt else own_system
        conversations.append(head + examples + turns[len(own_system) :])
    return conversations


@dataclass
class Session:
    """What every contestant is scored with."""

    config: EvalConfig
    test: EvalSet
    tokenizer: Any
    output: Path
    progress: Callable[[str, int, int | None], None] | None = None
    fewshot: FewShot | None = None
    endpoints: dict[str, EndpointGenerator] = field(default_factory=dict)

    def system_and_shots(self, name: str) -> tuple[str | None, list[Example]]:
        """The system prompt and few-shot examples contestant `name` is given."""
        config = self.config
        shots = self.fewshot.examples if self.fewshot else []
        if name == "base+prompt":
            return config.system_prompt, []
        if name == "base+fewshot":
            return config.system_prompt, shots[: config.fewshot_k]
        if name in config.contestants:
            contestant = config.contestants[name]
            system = config.system_prompt if contestant.system_prompt is None else contestant.system_prompt
            return system or None, shots[: contestant.fewshot_k]
        return None, []  # base, finetuned, previous: the test prompts as they are


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
    test = load_eval_set(config)
    config, warnings = check_runs(config, test)
    check_generator(config)
    output = Path(config.output_dir)
    with _in_config(config):
        endpoints = make_endpoints(config, output, progress)  # keys and servers checked before any model loads
    try:
        tokenizer = load_tokenizer(config.base_model)
        session = Session(config, test, tokenizer, output, progress, endpoints=endpoints)
        session.fewshot, fewshot_record, fewshot_warning = choose_examples(config, test, tokenizer)
        warnings += test.notes + ([fewshot_warning] if fewshot_warning else [])
        base = _loaded_base(config, progress)
        (output / "answers").mkdir(parents=True, exist_ok=True)
        with _in_config(config):
            scored = score_contestants(session, base)
    finally:
        for generator in endpoints.values():
            generator.close()
    results = assemble_results(config, test, scored, warnings, fewshot_record)
    write_results(results, config, output)
    return results


@contextlib.contextmanager
def _in_config(config: EvalConfig) -> Iterator[None]:
    """An endpoint's one-line error, naming the config file before the setting (contestants.<name>.<key>)."""
    try:
        yield
    except EndpointError as error:
        raise EndpointError(f"{config.source}: {error}") from None


def make_endpoints(
    config: EvalConfig, output: Path, progress: Callable[[str, int, int], None] | None = None
) -> dict[str, EndpointGenerator]:
    """One generator per endpoint contestant, its key variable read now and its server asked for its models (a
    missing key, a refused one or an unreachable URL fails here, in one line naming the file and the setting).
    A contestant without max_tokens answers up to the eval's max_new_tokens."""
    generators: dict[str, EndpointGenerator] = {}
    try:
        for name, contestant in config.contestants.items():
            endpoint = replace(contestant, max_tokens=contestant.max_tokens or config.max_new_tokens)
            label = f"contestants.{name}"
            generators[name] = EndpointGenerator(endpoint, output / ENDPOINT_CACHE, label=label)
        for generator in generators.values():
            generator.preflight()
    except BaseException:
        for generator in generators.values():
            generator.close()
        raise
    return generators


def choose_examples(config: EvalConfig, test: EvalSet, tokenizer: Any) -> tuple[FewShot | None, dict | None, str]:
    """The few-shot examples (ftcore.fewshot) from the export's train split, never a test prompt; a warning when
    they are wanted and there is no train split to draw them from."""
    wanted = max([config.fewshot_k, *(c.fewshot_k for c in config.contestants.values())])
    if not wanted:
        return None, None, ""
    pool, stratify_by, source = fewshot_pool(config, test)
    if not pool:
        where = f"the export {source} has no train split" if source else f"the data is a {test.kind} set"
        return None, None, f"no few-shot examples: {where}; set fewshot_data to an export to draw them from"
    shots = choose_fewshot(
        pool,
        k=wanted,
        max_tokens=config.fewshot_max_tokens,
        seed=config.seed,
        stratify_by=stratify_by,
        exclude=[item.prompt for item in test.items],
        count_tokens=lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]),
    )
    warning = ""
    if len(shots.examples) < wanted:
        warning = (
            f"few-shot: {len(shots.examples)} of {wanted} examples fit (fewshot_max_tokens "
            f"{config.fewshot_max_tokens}; skipped: {shots.skipped or 'none left'})"
        )
    return shots, {"source": source, **shots.to_dict()}, warning


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
    """Each local contestant in turn on the same base weights (its adapter put on, scored, taken off again), then
    each endpoint contestant."""
    from transformers import set_seed

    config = session.config
    scored = Scored()
    for name in config.local_contestants(fewshot=session.fewshot is not None and bool(session.fewshot.examples)):
        set_seed(config.seed)
        model, adapter = _contestant_model(base, name, config)
        generator = make_generator(config, model, session.tokenizer, adapter, progress=_tick(session, name))
        scored.contestants[name] = score_contestant(session, name, generator, scored, model, adapter)
        if adapter:
            base = _bare_base(model)
    for name, generator in session.endpoints.items():
        generator.progress = _tick(session, name)
        scored.contestants[name] = score_contestant(session, name, generator, scored)
    return scored


def _tick(session: Session, name: str) -> Callable[[int], None] | None:
    progress, total = session.progress, len(session.test.items)
    return (lambda n: progress(f"generating: {name}", n, total)) if progress else None


def score_contestant(
    session: Session, name: str, generator: Any, scored: Scored, model: Any = None, adapter: str | None = None
) -> Contestant:
    """One contestant's answers (written to answers/<name>.jsonl), scores, per-example values and cost; `model` is
    the local model (None for an endpoint: no held-out loss or capability suite)."""
    config, test, progress = session.config, session.test, session.progress
    system, shots = session.system_and_shots(name)
    conversations = contestant_prompts(test.items, system, shots)
    earlier = None
    if name == "previous" and adapter:  # its own evaluation may have asked these prompts the same way
        earlier = earlier_answers(adapter, config, test.fingerprint, test.items, conversations)
    if earlier:
        answers, stats = earlier.answers, earlier.stats
        if progress:
            progress(f"answers reused: {name}", len(answers), len(answers))
    else:
        answers = generator.complete(conversations, None if model is None else config.max_new_tokens)
        stats = generator.stats
    texts = [answer.text for answer in answers]
    scores, scored.per_example[name], not_applicable = score_items(texts, test, config.answer_pattern)
    if model is not None and test.has_references:
        references = [item.reference or "" for item in test.items]
        loss_tick = (lambda n: progress(f"held-out loss: {name}", n, len(test.items))) if progress else None
        scores |= heldout_loss(
            model, session.tokenizer, conversations, references, config.batch_size, progress=loss_tick
        )
    elif test.has_references:
        not_applicable |= {metric: "an endpoint gives no token probabilities" for metric in ("loss", "perplexity")}
    if model is not None and config.capability_tasks and name in CAPABILITY_CONTESTANTS:
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
    _write_answers(session.output / "answers" / f"{name}.jsonl", test.items, conversations, answers)
    if model is None:
        endpoint = config.contestants[name]
        cost = endpoint_cost(stats, len(answers), endpoint.input_price_per_1m, endpoint.output_price_per_1m)
        served = {"base_url": generator.base_url, "model": endpoint.model, "requests": stats.requests,
                  "cached": stats.cached, "usage_missing": stats.usage_missing}  # fmt: skip
    else:
        cost, served = local_cost(stats, len(answers), config.cost.hourly_price), None
        if earlier:  # no time spent now: what its own evaluation measured
            cost = earlier.cost or cost
    return Contestant(
        adapter=adapter,
        n=len(answers),
        scores=scores,
        generation=_generation(config, stats, "endpoint" if model is None else config.generator)
        | ({"reused_from": str(earlier.source)} if earlier else {}),
        kind="local" if model is not None else "endpoint",
        prompting=name in config.prompting_contestants([name]),
        cost=cost,
        not_applicable=not_applicable,
        endpoint=served,
    )


def _generation(config: EvalConfig, stats: Any, backend: str) -> dict[str, Any]:
    return {
        "backend": backend,
        "tokens_per_second": round(stats.tokens_per_second, 1),
        "seconds": round(stats.seconds, 2),
        "new_tokens": stats.new_tokens,
        "prompt_tokens": stats.prompt_tokens,
        "finish_reasons": dict(stats.finish_reasons),
    }


def _bare_base(model: Any) -> Any:
    """The base weights as they were, for the next contestant."""
    if any(getattr(layer, "merged", False) for layer in model.modules()):
        model.unmerge_adapter()
    return model.unload()  # LoRA layers removed, not merged: the next contestant starts from the bare base


def assemble_results(
    config: EvalConfig, test: EvalSet, scored: Scored, warnings: list[str], fewshot: dict[str, Any] | None = None
) -> Results:
    """results.json's content: every score with its direction, the paired comparisons, the cost line, and where it
    all came from."""
    directions = {name: up for name, (up, _) in METRICS.items()}
    names = list(scored.contestants)
    prompting = config.prompting_contestants(names)
    comparisons = compare_contestants(scored.per_example, directions, comparison_pairs(names, prompting))
    used = {key for c in scored.contestants.values() for key in (*c.scores, *c.not_applicable)}
    metrics = {name: Metric(up, text) for name, (up, text) in METRICS.items() if name in used}
    metrics |= _capability_metrics(scored.capability)
    training = training_record(config.run)
    hourly = (
        config.cost.hourly_price if config.cost.training_hourly_price is None else config.cost.training_hourly_price
    )
    best = best_prompting(
        {name: {"scores": c.scores, "cost": c.cost} for name, c in scored.contestants.items()}, prompting
    )
    return Results(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        metrics=metrics,
        style_checks=[{"id": c.id, "check": c.name, "higher_is_better": True} for c in test.spec.checks]
        if test.spec
        else [],
        data=DataSource(
            str(test.folder),
            test.dataset,
            test.fingerprint,
            test.split,
            len(test.items),
            prompt_ids=[item.id for item in test.items],
            kind=test.kind,
            left_out=test.left_out,
        ),
        base_model=config.base_model.label(),
        settings={
            "max_new_tokens": config.max_new_tokens,
            "batch_size": config.batch_size,
            "seed": config.seed,
            "greedy": True,
            "system_prompt": config.system_prompt,
            "target_pass_rate": config.target_pass_rate,
            "prompting": prompting,
        },
        versions=_versions(),
        training=training,
        contestants=scored.contestants,
        comparisons=[c.to_dict() for c in comparisons],
        capability=_capability_record(config, scored.capability),
        warnings=warnings,
        fewshot=fewshot,
        cost=cost_summary(scored.contestants, best, training_cost(training, hourly), config.cost.currency),
    )


def write_results(results: Results, config: EvalConfig, output: Path) -> None:
    """The verdict into the results, then the review queue, the resolved config and results.json."""
    results.verdict = verdict(results)
    review_queue(output, "finetuned" if "finetuned" in results.contestants else "base+prompt")
    write_config(config, output / "fteval.resolved.yaml")
    results.write(output / "results.json")


def check_runs(config: EvalConfig, test: EvalSet) -> tuple[EvalConfig, list[str]]:
    """The runs scored must fit the base model and data given. The base model must be the one each run was
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
            config.source = getattr(config, "source", "eval config")
        elif not config.base_model.same_files(trained_from):
            raise EvalError(
                f"base_model {config.base_model.label()!r} is not the base model the {setting} was trained from: "
                f"{trained_from.label()!r} ({run.file(RESOLVED_CONFIG)}); an adapter fits only its own base model"
            )
        trained_on = run.data
        if test.kind != "export":
            warnings.append(
                f"{setting} {folder} was trained on export {trained_on.fingerprint[:12]} ({trained_on.folder}); the "
                f"data scored here is a {test.kind} set ({config.data}): make sure it holds nothing the run trained on"
            )
        elif trained_on.fingerprint != test.fingerprint:
            warnings.append(
                f"{setting} {folder} was trained on export {trained_on.fingerprint[:12]} ({trained_on.folder}), "
                f"not on the export scored here, {test.fingerprint[:12]} ({config.data})"
            )
    return config, warnings


def _location(model: BaseModel) -> dict[str, Any]:
    return {"path": model.path, "gguf_file": model.gguf_file}


def score_items(
    answers: Sequence[str], test: EvalSet, answer_pattern: str | None = None
) -> tuple[dict[str, float], dict[str, list[float]], dict[str, str]]:
    """Scores of one contestant's answers to `test` (style or IFEval instructions, and the reference metrics when
    every item has a reference), their per-example values, and the metrics not applicable with why."""
    if test.spec is not None:
        scores, per_example = score_style(answers, test.spec)
    else:
        scores, per_example = score_instructions(answers, test.items)
    not_applicable: dict[str, str] = {}
    if test.has_references:
        references = [item.reference or "" for item in test.items]
        more, more_per_example = score_references(answers, references, answer_pattern)
        scores |= more
        per_example |= more_per_example
    else:
        why = "the data has prompts without reference answers"
        not_applicable = dict.fromkeys(REFERENCE_METRICS, why)
    return scores, per_example, not_applicable


def score_answers(
    answers: Sequence[str], references: Sequence[str], spec: StyleSpec, answer_pattern: str | None = None
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Style pass rates (per check and strict) and reference similarity, through the evaluate metric modules;
    also each metric's per-example values, aligned with `answers`, for the paired statistics."""
    scores, per_example = score_style(answers, spec)
    more, more_per_example = score_references(answers, references, answer_pattern)
    return scores | more, per_example | more_per_example


def score_style(answers: Sequence[str], spec: StyleSpec) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The style spec's pass rates (per check and strict), through the style_adherence metric module."""
    from fteval.metrics import load_metric

    style = load_metric("style_adherence").compute(predictions=list(answers), spec=spec.source, per_example=True)
    scores = {k: float(v) for k, v in style.items() if k not in ("n", "per_example")}
    per_example = {
        "strict": [float(row["strict"]) for row in style["per_example"]],
        **{f"pass_rate/{c.id}": [float(row[c.id]) for row in style["per_example"]] for c in spec.checks},
    }
    return scores, per_example


def score_instructions(
    answers: Sequence[str], items: Sequence[EvalItem]
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """IFEval data: each answer against its own prompt's instructions; strict is IFEval's prompt-level accuracy."""
    from fteval.ifeval import score_ifeval

    scores = score_ifeval([item.ifeval for item in items], list(answers))
    strict = [float(entry["follow_all_instructions"]) for entry in scores["per_prompt"]]
    return (
        {
            "strict": scores["prompt_level_strict_acc"],
            "ifeval/prompt_level_strict_acc": scores["prompt_level_strict_acc"],
            "ifeval/inst_level_strict_acc": scores["inst_level_strict_acc"],
        },
        {"strict": strict},
    )


def score_references(
    answers: Sequence[str], references: Sequence[str], answer_pattern: str | None = None
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """ROUGE-L and exact match against the reference answers, with their per-example values."""
    from fteval.metrics import load_metric

    predictions, targets = list(answers), list(references)
    rouge = load_metric("rouge_l").compute(predictions=predictions, references=targets, per_example=True)
    options = {"regex": answer_pattern} if answer_pattern else {}
    exact = load_metric("exact_match").compute(predictions=predictions, references=targets, per_example=True, **options)
    scores = {"rougeL": float(rouge["rougeL"]), "exact_match": float(exact["exact_match"])}
    per_example = {
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
    conversations: Sequence[Sequence[dict[str, str]]],
    references: Sequence[str],
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Mean cross-entropy of the reference answers (assistant tokens only), each after its conversation as the
    contestant was prompted (its system turn and few-shot examples included); `progress(n)` hears of each batch
    of n examples scored.

    Batched with right padding (padding sits after every real token, and its labels are ignored); examples
    are sorted by length first so a batch holds little padding.
    """  # fmt: skip
    import torch

    from ftcore.chat import IGNORE_INDEX, tokenize_chat

    items = []
    for index, (conversation, reference) in enumerate(zip(conversations, references, strict=True)):
        messages = [*conversation, {"role": "assistant", "content": reference}]
        items.append(tokenize_chat(messages, tokenizer, max_seq_len=HELDOUT_MAX_TOKENS, example_id=str(index)))
    items.sort(key=lambda item: len(item.input_ids))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    total, count = 0.0, 0
    if progress is not None:
        progress(0)  # the phase starts now, so its clock counts the first batch too
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
    from ftcore.jsonl import read_json_objects

    queue = []
    for row in read_json_objects(output / "answers" / f"{contestant}.jsonl"):
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
    if name not in ("finetuned", "previous"):
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


def _write_answers(
    path: Path, items: Sequence[EvalItem], conversations: Sequence[Any], answers: Sequence[Answer]
) -> None:
    """One line per test item: the prompt as sent, the answer, the reference, the checks it failed (check id ->
    why; for IFEval data, instruction -> why), its tokens, and for an endpoint its cost and whether it was cached."""
    with atomic_write(path) as handle:
        for item, conversation, answer in zip(items, conversations, answers, strict=True):
            if item.ifeval is not None:
                failed = item.ifeval.failed(answer.text)
            else:
                failed = {cid: r.detail for cid, r in item.spec.evaluate(answer.text).items() if not r.passed}
            record = {"id": item.id, "prompt": conversation, "answer": answer.text, "reference": item.reference,
                      "failed_checks": failed, "prompt_tokens": answer.prompt_tokens,
                      "completion_tokens": answer.completion_tokens, "finish_reason": answer.finish_reason}  # fmt: skip
            if answer.cost is not None:
                record |= {"cost": answer.cost, "cached": answer.cached}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _versions() -> dict[str, str | None]:
    return package_versions("ftkit", "torch", "transformers", "peft", "evaluate") | {
        "python": platform.python_version()
    }
