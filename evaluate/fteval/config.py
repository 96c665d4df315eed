"""`fteval run` settings: one dataclass, loaded from YAML, every key overridable by `--set`.

Usage:
    config = load_eval_config("eval.yaml", overrides=["limit=50"])
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from ftcore.config import ConfigError, load_config, option, resolve_paths
from ftcore.endpoint import Endpoint
from ftcore.models import BaseModel, as_base_model

# The local contestants, in the order they are scored; `contestants:` adds endpoint ones after them.
CONTESTANTS = ("base", "base+prompt", "base+fewshot", "finetuned", "previous")
PROMPTING = ("base+prompt", "base+fewshot")  # prompting contestants of the base model itself
CONTESTANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")  # also its answers file's name


@dataclass
class EndpointContestant(Endpoint):
    """A contestant answering through an OpenAI-compatible endpoint (a hosted model, or a vLLM, llama.cpp, Ollama,
    TGI or `transformers serve` server): the endpoint settings of `ftcore.endpoint.Endpoint`, and how it is
    prompted."""

    type: Literal["endpoint"] = option("endpoint", "What answers: endpoint (an OpenAI-compatible chat API)")
    system_prompt: str | None = option(
        None, "Its system turn (none: the eval's system_prompt; '': none, the test prompts' own system turn)"
    )
    fewshot_k: int = option(0, "Few-shot examples shown before each prompt (the same ones base+fewshot sees)")
    baseline: bool = option(
        False, "A prompting contestant: the fine-tune must beat the best of these, base+prompt and base+fewshot"
    )
    max_tokens: int | None = option(None, "Longest answer in tokens (none: the eval's max_new_tokens)")  # type: ignore[assignment]

    def __post_init__(self) -> None:
        unset = self.max_tokens is None
        if unset:  # Endpoint checks a number; none is filled in from the eval config when the contestant runs
            self.max_tokens = 1
        super().__post_init__()
        if unset:
            self.max_tokens = None
        if self.fewshot_k < 0:
            raise ValueError(f"fewshot_k: must be 0 or more, got {self.fewshot_k}")


@dataclass
class CostConfig:
    """Prices for the cost line: endpoint contestants are priced by their tokens (their own prices), local ones by
    their measured generation time."""

    currency: str = option("USD", "The unit every price is in (shown in the report)")
    hourly_price: float = option(
        0.0, "Price of an hour of the machine that generates locally (a GPU or CPU instance); 0: not priced"
    )
    training_hourly_price: float | None = option(
        None, "Price of an hour of the machine the run trained on (none: hourly_price)"
    )

    def __post_init__(self) -> None:
        if self.hourly_price < 0 or (self.training_hourly_price or 0) < 0:
            raise ValueError("prices must be 0 or more")


@dataclass
class EvalConfig:
    base_model: BaseModel = option(
        BaseModel(),
        "The base model: its path (a folder or hub id), gguf_file, dtype; a plain string is the path "
        "(none: the one `run` was trained from)",
    )
    data: str = option(
        "",
        "What is scored: an `ftdata export` folder (its test split); a golden set (a JSONL, CSV or Parquet file or a "
        "`datasets` folder of contract examples; prompts without answers are scored by the style alone); or an "
        "IFEval-format JSONL (each prompt scored by its own instructions)",
    )
    data_map: str | None = option(
        None, "A golden set's columns, when not the contract's: user=COLUMN[,assistant=COLUMN][,system=COLUMN]"
    )
    style: str = option(
        "", "Style spec (YAML) the answers are scored against: the one the data was linted with (IFEval data: none)"
    )
    system_prompt: str = option(
        "", "The prompting baseline: the style written out as instructions, given to the base model as its system turn"
    )
    answer_pattern: str | None = option(
        None, "Regex picking what exact match compares (its first group), e.g. '^####\\s*(.*?)\\s*$' (none: all)"
    )
    fewshot_k: int = option(
        3,
        "base+fewshot: the base model with the system prompt and k accepted examples of the export's train split as "
        "prior turns (0: no base+fewshot)",
    )
    fewshot_max_tokens: int = option(1024, "Token budget of the few-shot examples, prompts and answers together")
    fewshot_data: str | None = option(
        None, "An export whose train split gives the few-shot examples (none: the data's own, when it is an export)"
    )
    contestants: dict[str, EndpointContestant] = option(
        {}, "More contestants by name, each an OpenAI-compatible endpoint (type: endpoint, base_url, model, ...)"
    )
    cost: CostConfig = option(CostConfig(), "Prices for the cost per 1,000 answers and the training's break-even")
    target_pass_rate: float = option(
        0.8,
        "The strict pass rate that counts as good enough: when the fine-tune is not significantly better, prompting "
        "that reaches it is enough, and prompting below it is not",
    )
    ifeval_unsupported: Literal["skip", "error"] = option(
        "skip", "IFEval data: skip (and count) instructions fteval cannot check, or refuse the file (error)"
    )
    run: str | None = option(None, "An `fttrain run` folder: its adapter is the `finetuned` contestant")
    previous_run: str | None = option(None, "An earlier run folder, scored as `previous` for regression")
    output_dir: str = option("eval/latest", "Where answers and results.json go")
    max_new_tokens: int = option(256, "Longest answer generated")
    batch_size: int = option(16, "Prompts generated together (left-padded, greedy, with the KV cache)")
    limit: int | None = option(None, "Score only the first N test examples (none: all)")
    seed: int = option(13, "Seed: the same for every contestant")
    capability_tasks: list[str] = option(
        ["ftkit_capability"],
        "lm-eval tasks scored on base and finetuned (general-capability regression): the shipped local suite "
        "`ftkit_capability` and/or any lm-eval task name (its dataset must be reachable); [] to skip",
    )
    capability_limit: int | None = option(None, "Score only the first N items of each capability task (none: all)")
    generator: Literal["transformers", "vllm"] = option(
        "transformers", "Generation backend: transformers (default) or vllm (if installed; CUDA only)"
    )

    MOVED: ClassVar[dict[str, str]] = {"gguf_file": "base_model.gguf_file"}
    source: ClassVar[str] = "eval config"  # the file it was loaded from, set per instance: errors name it

    def __post_init__(self) -> None:
        self.base_model = as_base_model(self.base_model)  # EvalConfig(base_model="org/name") in Python too
        limits = (self.limit, self.capability_limit)
        if self.max_new_tokens < 1 or self.batch_size < 1 or any(n is not None and n < 1 for n in limits):
            raise ValueError("max_new_tokens, batch_size, limit and capability_limit must be positive")
        if not 0 <= self.seed < 2**32:  # what numpy's seeding (in transformers.set_seed) accepts
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        if self.answer_pattern:  # found here, not after the model has loaded and generated
            try:
                re.compile(self.answer_pattern)
            except (re.error, OverflowError, RecursionError) as error:  # a{99999999999}; 2,000 nested groups
                reason = "nested too deeply" if isinstance(error, RecursionError) else error
                raise ValueError(f"answer_pattern: not a valid regex: {reason}") from None
        if self.fewshot_k < 0 or self.fewshot_max_tokens < 0:
            raise ValueError("fewshot_k and fewshot_max_tokens must be 0 or more")
        if not 0 <= self.target_pass_rate <= 1:
            raise ValueError(f"target_pass_rate: a share between 0 and 1, got {self.target_pass_rate}")
        for name in self.contestants:
            if name in CONTESTANTS:
                raise ValueError(f"contestants.{name}: a built-in contestant's name; give the endpoint another one")
            if not CONTESTANT_NAME.fullmatch(name):
                raise ValueError(
                    f"contestants.{name!r}: a name of letters, digits and . _ + - (it names its answers file)"
                )

    def local_contestants(self, fewshot: bool = True) -> list[str]:
        """The local contestants this config scores, in order (`fewshot`: whether few-shot examples can be had)."""
        names = ["base", "base+prompt"]
        if self.fewshot_k and fewshot:
            names.append("base+fewshot")
        if self.run:
            names.append("finetuned")
        if self.previous_run:
            names.append("previous")
        return names

    def prompting_contestants(self, names: list[str]) -> list[str]:
        """Of `names`, the prompting contestants the fine-tune is measured against: base+prompt, base+fewshot and
        every endpoint marked `baseline: true`."""
        return [n for n in names if n in PROMPTING or (n in self.contestants and self.contestants[n].baseline)]


def load_eval_config(path: str | os.PathLike, overrides: tuple[str, ...] | list[str] = ()) -> EvalConfig:
    """The config at `path` with overrides; relative paths are relative to the file's folder."""
    config = load_config(EvalConfig, path, overrides)
    if not config.data:
        raise ConfigError(f"{path}: data: required")
    if not config.base_model.path and not config.run:
        raise ConfigError(f"{path}: base_model: required when no run is given (with one, it is the run's)")
    if not config.system_prompt.strip():
        raise ConfigError(f"{path}: system_prompt: required: the prompted baseline is what a fine-tune must beat")
    resolve_paths(
        config, path, ("data", "style", "fewshot_data", "run", "previous_run", "output_dir"), model_key="base_model"
    )
    config.source = str(path)
    return config
