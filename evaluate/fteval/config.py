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
from ftcore.models import BaseModel, as_base_model

CONTESTANTS = ("base", "base+prompt", "finetuned", "previous")


@dataclass
class EvalConfig:
    base_model: BaseModel = option(
        BaseModel(),
        "The base model: its path (a folder or hub id), gguf_file, dtype; a plain string is the path "
        "(none: the one `run` was trained from)",
    )
    data: str = option("", "An `ftdata export` folder: only its test split is scored")
    style: str = option("", "Style spec (YAML) the answers are scored against: the one the data was linted with")
    system_prompt: str = option(
        "", "The prompting baseline: the style written out as instructions, given to the base model as its system turn"
    )
    answer_pattern: str | None = option(
        None, "Regex picking what exact match compares (its first group), e.g. '^####\\s*(.*?)\\s*$' (none: all)"
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

    def contestants(self) -> list[str]:
        names = ["base", "base+prompt"]
        if self.run:
            names.append("finetuned")
        if self.previous_run:
            names.append("previous")
        return names


def load_eval_config(path: str | os.PathLike, overrides: tuple[str, ...] | list[str] = ()) -> EvalConfig:
    """The config at `path` with overrides; relative paths are relative to the file's folder."""
    config = load_config(EvalConfig, path, overrides)
    for key in ("data", "style"):
        if not getattr(config, key):
            raise ConfigError(f"{path}: {key}: required")
    if not config.base_model.path and not config.run:
        raise ConfigError(f"{path}: base_model: required when no run is given (with one, it is the run's)")
    if not config.system_prompt.strip():
        raise ConfigError(f"{path}: system_prompt: required: the prompted baseline is what a fine-tune must beat")
    resolve_paths(config, path, ("data", "style", "run", "previous_run", "output_dir"), model_key="base_model")
    return config
