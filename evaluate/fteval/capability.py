"""General-capability regression: a small lm-eval suite scored on the base model and on the fine-tune.

A style fine-tune must not cost the model what it already knew. The shipped suite `ftkit_capability`
(arithmetic, GSM8K final answers, common sense; sources in tasks/README.md) is local and loglikelihood-only,
so it runs offline in seconds; any lm-eval task can be named beside it (its dataset must be reachable).

Usage:
    base = run_capability_suite(["ftkit_capability"], model=model, tokenizer=tokenizer)
    tuned = run_capability_suite(["ftkit_capability"], pretrained="HuggingFaceTB/SmolLM2-135M", peft="runs/latest")
    tuned["ftkit_gsm8k_mc"]
    # -> {'acc': 0.5, 'acc_stderr': 0.0503, 'acc_norm': 0.5, 'acc_norm_stderr': 0.0503, 'n': 100}
    capability_deltas(base, tuned)["ftkit_gsm8k_mc"]["acc"]
    # -> {'base': 0.75, 'finetuned': 0.5, 'delta': -0.25, 'delta_stderr': 0.0665, 'higher_is_better': True}
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ftcore.errors import FtdataError
from ftcore.quiet import peft_wrapping

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
SUITE = "ftkit_capability"  # the tag of every shipped task
DEFAULT_TASKS = (SUITE,)
# lm-eval's metrics where lower is better; every other one it reports (acc, acc_norm, exact_match, f1, bleu, ...)
# is higher-is-better.
LOWER_IS_BETTER = frozenset({"perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte", "ter", "brier_score"})
# Warnings lm-eval gives on every run of this path, about choices made here on purpose.
EXPECTED_WARNINGS = (
    "Custom kwargs can be passed to `--metadata`",  # the shipped tasks read their JSONL with a custom_dataset
    # Wrapping the caller's loaded model is the point of `model=`:
    "`pretrained` model kwarg is not of type `str`",
    "Passed an already-initialized model through `pretrained`",
)


class CapabilityError(FtdataError):
    """A capability suite that cannot run: an unknown task name, or a task whose dataset cannot be loaded."""


def run_capability_suite(
    tasks: Sequence[str] = DEFAULT_TASKS,
    *,
    model: Any = None,
    tokenizer: Any = None,
    pretrained: str | None = None,
    peft: str | None = None,
    gguf_file: str | None = None,
    batch_size: int = 8,
    limit: int | float | None = None,
    device: str | None = None,
    apply_chat_template: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Score one model on lm-eval `tasks` (task, group or tag names); returns each task's metrics.

    The model is either already loaded (`model` and its `tokenizer`, e.g. a PeftModel: it runs where it is)
    or loaded here by lm-eval's `hf` model from `pretrained` (a folder or hub id), with `peft` (an adapter
    folder) and `gguf_file` (a GGUF file inside `pretrained`) on `device` (default: cuda if present).
    `limit` scores only the first N items of each task (a float below 1: that share). `progress(n, total)`
    hears of every request scored (total: the requests known so far, None before the model has any); its
    last call has n requests making the count equal to the total, so a display can close the phase. lm-eval
    draws no progress bars of its own here.

    Result, per task (and per group that aggregates its tasks), every metric lm-eval reports with its
    standard error and the number of items: `{"ftkit_gsm8k_mc": {"acc": 0.5, "acc_stderr": 0.0503,
    "acc_norm": 0.5, "acc_norm_stderr": 0.0503, "n": 100}}`. A metric behind a filter other than lm-eval's
    `none` keeps it in its name (`exact_match,strict-match`). A standard error lm-eval cannot compute is NaN.

    Side effects, as lm-eval's `simple_evaluate` has them: Python's, numpy's and torch's global RNGs are seeded
    (0, 1234, 1234), a loaded model is put in eval mode, and a tokenizer without a pad token gets one for the
    run (restored here).
    """
    if not tasks or isinstance(tasks, str):
        raise ValueError("tasks: a list of lm-eval task names, e.g. ['ftkit_capability']")
    if (model is None) == (pretrained is None):
        raise ValueError("pass either a loaded model (model=, tokenizer=) or a path (pretrained=), not both")
    if model is not None and (tokenizer is None or peft or gguf_file):
        raise ValueError("a loaded model needs its tokenizer and comes with its adapter on: no peft/gguf_file")

    counter = _RequestCounter(progress)
    with _lm_eval_quiet(), _pad_token_restored(tokenizer), peft_wrapping():
        manager, task_objects = _load_tasks(list(tasks))
        lm_class = _reporting_lm_class()
        if model is not None:
            lm = lm_class(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
        else:
            model_args = {"pretrained": pretrained} | ({"peft": peft} if peft else {})
            model_args |= {"gguf_file": gguf_file} if gguf_file else {}
            lm = lm_class.create_from_arg_obj(model_args, {"batch_size": batch_size, "device": device})
        lm.counter = counter
        results = _evaluate(lm, manager.load(task_objects), limit, apply_chat_template)
    counter.close()
    if results is None:  # only on a non-zero rank of a multi-process launch
        raise CapabilityError("lm-eval returned no results: run the capability suite in a single process")
    return _scores(results)


def _evaluate(lm: Any, loaded: dict[str, Any], limit: int | float | None, apply_chat_template: bool) -> Any:
    """lm-eval's `evaluate` on loaded tasks, set up as its `simple_evaluate` sets them up. Not `simple_evaluate`
    itself: after scoring it collects environment details ftkit does not use, running `git describe` (which
    prints "fatal: not a git repository" outside one) and torch's collect_env (about 5 s here)."""
    import random

    import numpy as np
    import torch
    from lm_eval.evaluator import evaluate

    random.seed(0)  # simple_evaluate's default seeds
    np.random.seed(1234)
    torch.manual_seed(1234)
    for task in loaded["tasks"].values():
        if task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=1234)
    return evaluate(
        lm=lm,
        task_dict=loaded,
        limit=limit,
        log_samples=False,
        # Off by default: the suite measures what the raw model knows, on plain text as lm-eval scores
        # loglikelihood tasks by default; with a chat template it would measure the chat persona instead.
        apply_chat_template=apply_chat_template,
        # Only metrics without a closed-form standard error (not acc) are bootstrapped: lm-eval's default
        # of 100,000 resamples starts a process pool per metric; 1,000 is plenty for a regression check.
        bootstrap_iters=1000,
    )


class _RequestCounter:
    """Requests known and scored, reported to a `progress(n, total)` callable."""

    def __init__(self, progress: Callable[[int, int | None], None] | None):
        self.progress = progress
        self.total = 0
        self.done = 0
        if progress is not None:
            progress(0, None)  # the phase has begun; its size is known once lm-eval has built the requests

    def expect(self, requests: int) -> None:
        self.total += requests
        if self.progress is not None:
            self.progress(0, self.total)

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(1, self.total)

    def close(self) -> None:
        """The count made equal to the total: requests scored without a per-request report (rolling
        loglikelihood windows) count as done when the suite is."""
        if self.progress is not None:
            self.progress(self.total - self.done, self.total)
            self.done = self.total


@functools.cache
def _reporting_lm_class() -> type:
    """lm-eval's Hugging Face model with its tqdm bars off and each scored request reported to a `_RequestCounter`:
    lm-eval calls its cache hook once per request scored, which is where the counting happens (a subclass, since
    lm-eval offers no progress callback)."""
    from lm_eval.api.model import CacheHook
    from lm_eval.models.huggingface import HFLM

    class _CountingHook(CacheHook):
        def __init__(self, counter: _RequestCounter):
            super().__init__(None)  # no request cache: only counting
            self.counter = counter

        def add_partial(self, attr: str, req: Any, res: Any) -> None:
            self.counter.tick()

    class ReportingHFLM(HFLM):
        _counter = _RequestCounter(None)

        @property
        def counter(self) -> _RequestCounter:
            return self._counter

        @counter.setter
        def counter(self, counter: _RequestCounter) -> None:
            self._counter = counter
            self.set_cache_hook(_CountingHook(counter))

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            self._counter.expect(len(requests))
            return super().loglikelihood(requests, disable_tqdm=True)

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            self._counter.expect(len(requests))
            return super().loglikelihood_rolling(requests, disable_tqdm=True)

        def generate_until(self, requests, disable_tqdm: bool = False):
            self._counter.expect(len(requests))
            return super().generate_until(requests, disable_tqdm=True)

        def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):
            # loglikelihood_rolling asks for a bar per batch of windows: never here.
            return super()._loglikelihood_tokens(requests, disable_tqdm=True, override_bs=override_bs)

    return ReportingHFLM


def capability_deltas(
    base_scores: Mapping[str, Mapping[str, float]], finetuned_scores: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Finetuned minus base for every task and metric of two `run_capability_suite` results.

    >>> base = {"t": {"acc": 0.5, "acc_stderr": 0.03, "n": 100}}
    >>> capability_deltas(base, {"t": {"acc": 0.25, "acc_stderr": 0.04, "n": 100}})
    {'t': {'acc': {'base': 0.5, 'finetuned': 0.25, 'delta': -0.25, 'delta_stderr': 0.05, 'higher_is_better': True}}}

    `delta_stderr` treats the two runs as independent samples: for the same items it overstates the noise,
    so a delta beyond two of them is a real change. NaN where a standard error is missing.
    """
    if set(base_scores) != set(finetuned_scores):
        only = sorted(set(base_scores) ^ set(finetuned_scores))
        raise ValueError(f"base and finetuned were scored on different tasks: {', '.join(only)}")
    deltas: dict[str, dict[str, dict[str, Any]]] = {}
    for task, base in base_scores.items():
        finetuned = finetuned_scores[task]
        deltas[task] = {}
        for metric in base:
            if metric == "n" or _is_stderr(metric) or metric not in finetuned:
                continue
            stderr = _stderr_name(metric)
            deltas[task][metric] = {
                "base": base[metric],
                "finetuned": finetuned[metric],
                "delta": finetuned[metric] - base[metric],
                "delta_stderr": math.hypot(base.get(stderr, math.nan), finetuned.get(stderr, math.nan)),
                "higher_is_better": metric.split(",")[0] not in LOWER_IS_BETTER,
            }
    return deltas


def shipped_tasks() -> list[str]:
    """The task names the suite ships (`ftkit_*`), tag included: ['ftkit_arithmetic', 'ftkit_capability', ...]."""
    return _task_manager(with_lm_eval_tasks=False).all_tasks


@functools.cache
def _task_manager(with_lm_eval_tasks: bool):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR), include_defaults=with_lm_eval_tasks)


def _load_tasks(names: list[str]) -> tuple[Any, list[Any]]:
    """The task manager and the built Task/Group objects, one name at a time so that a failure names its task."""
    manager = _task_manager(with_lm_eval_tasks=False)
    if any(name not in manager.all_tasks for name in names):
        # Indexing lm-eval's thousands of task YAMLs takes 6-30 s here: only when a name is not shipped here.
        manager = _task_manager(with_lm_eval_tasks=True)
    unknown = [name for name in names if name not in manager.all_tasks]
    if unknown:
        raise CapabilityError(
            f"unknown lm-eval task(s): {', '.join(unknown)} (shipped here: {', '.join(shipped_tasks())}; "
            "lm-eval's own: `lm_eval ls tasks`)"
        )
    objects: list[Any] = []
    for name in names:
        try:
            loaded = manager.load([name])
        except Exception as error:  # building a task loads its dataset: any failure there is this task's
            raise CapabilityError(_load_failure(name, error)) from error
        group = loaded.get("groups", {}).get(name)
        objects += [group] if group is not None else list(loaded["tasks"].values())
    return manager, objects


def _load_failure(name: str, error: Exception) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    message = f"lm-eval task {name!r} could not load its dataset: {type(error).__name__}: {reason}"
    if name not in shipped_tasks():
        message += (
            " (offline, with HF_DATASETS_OFFLINE=1 or no network, a hub dataset loads only if it is already in"
            " the Hugging Face cache: run this task once with network, or use the shipped ftkit_* tasks)"
        )
    return message


def _scores(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    counts = {task: n["effective"] for task, n in results.get("n-samples", {}).items()}
    scores: dict[str, dict[str, float]] = {}
    for task, entry in results["results"].items():
        metrics = {_metric_name(key): _number(value) for key, value in entry.items() if "," in key}
        if not metrics:  # a group that only lists its tasks, without an aggregate
            continue
        n = counts.get(task) or sum(counts.get(sub, 0) for sub in results.get("group_subtasks", {}).get(task, []))
        scores[task] = metrics | ({"n": n} if n else {})
    return scores


def _metric_name(key: str) -> str:
    # lm-eval names each score "metric,filter"; nearly all use the filter "none", which only adds noise.
    metric, _, filter_name = key.partition(",")
    return metric if filter_name == "none" else key


def _is_stderr(metric: str) -> bool:
    return metric.split(",")[0].endswith("_stderr")


def _stderr_name(metric: str) -> str:
    name, comma, filter_name = metric.partition(",")
    return f"{name}_stderr{comma}{filter_name}"


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):  # lm-eval writes "N/A" where a standard error cannot be computed
        return math.nan


class _DropExpected(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = " ".join(record.getMessage().split())  # lm-eval wraps some messages over lines
        return not any(text in message for text in EXPECTED_WARNINGS)


@contextmanager
def _lm_eval_quiet() -> Iterator[None]:
    """lm-eval logs every step at INFO; here it says only what went wrong, then gets its own level back. And it
    draws a tqdm bar while it builds each task's requests, with no switch to turn it off (lm_eval.api.task): for
    the block, that module's bars are created disabled; ftkit reports the suite's progress itself."""
    import lm_eval.api.task as task_module

    root = logging.getLogger("lm_eval")
    level = root.level
    root.setLevel(max(root.getEffectiveLevel(), logging.WARNING))
    noisy = [logging.getLogger(f"lm_eval.{name}") for name in ("api.task", "models.huggingface", "evaluator")]
    expected = _DropExpected()
    for logger in noisy:
        logger.addFilter(expected)
    bar = getattr(task_module, "tqdm", None)
    if bar is not None:
        task_module.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        root.setLevel(level)
        for logger in noisy:
            logger.removeFilter(expected)
        if bar is not None:
            task_module.tqdm = bar


@contextmanager
def _pad_token_restored(tokenizer: Any) -> Iterator[None]:
    pad_token = getattr(tokenizer, "pad_token", None)
    try:
        yield
    finally:
        if tokenizer is not None and tokenizer.pad_token != pad_token:
            tokenizer.pad_token = pad_token


__all__ = [
    "DEFAULT_TASKS",
    "SUITE",
    "TASKS_DIR",
    "CapabilityError",
    "capability_deltas",
    "run_capability_suite",
    "shipped_tasks",
]
