"""The settings of a train config that curation reads too, defined once, and the one training-cost estimate.

fttrain's `TrainConfig` is a `TrainingTarget` with the trainer's own settings added, so the base model, the
sequence length, the epochs and the GPU's throughput and price are declared here only. An ftdata project that
names its train config (`train_config: train.yaml`) lints against that sequence length with that base model's
tokenizer, and `ftdata stats` prices training as `fttrain plan` does: both call `estimate_cost`.

Usage:
    target = load_training_target("train.yaml")
    target.max_seq_len, target.base_model.path

>>> estimate_cost(tokens_per_epoch=1_000_000, epochs=3, gpu_tokens_per_second=2500, gpu_usd_per_hour=2.0).gpu_usd
0.6666666666666666
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ftcore.config import ConfigError, build, expand_shorthands, local_or_hub, option, read_yaml_mapping
from ftcore.models import BaseModel, as_base_model


@dataclass
class TrainingTarget:
    """What a training run is for, as far as other tools need to know: the model, the sequence length, the
    epochs, and the GPU's throughput and price."""

    MOVED: ClassVar[dict[str, str]] = {"gguf_file": "base_model.gguf_file"}

    base_model: BaseModel = option(
        BaseModel(), "The model to fine-tune: path (a folder or hub id), gguf_file, dtype; a plain string is the path"
    )
    max_seq_len: int = option(1024, "Tokens per example (or packed sequence); longer examples are truncated")
    epochs: float = option(3.0, "Passes over the training split")
    gpu_tokens_per_second: float = option(2500.0, "Training throughput you expect on your GPU, tokens/s (plan, stats)")
    gpu_usd_per_hour: float = option(2.0, "What an hour of that GPU costs, USD (plan, stats)")

    def __post_init__(self) -> None:
        self.base_model = as_base_model(self.base_model)  # base_model="org/name" in Python too
        for key in ("epochs", "gpu_tokens_per_second", "gpu_usd_per_hour"):
            if not math.isfinite(getattr(self, key)):  # NaN passes every comparison below
                raise ValueError(f"{key} must be a finite number, got {getattr(self, key)}")
        if self.max_seq_len < 16:
            raise ValueError(f"max_seq_len must be at least 16, got {self.max_seq_len}")
        if self.epochs <= 0 or self.gpu_tokens_per_second <= 0 or self.gpu_usd_per_hour < 0:
            raise ValueError("epochs and gpu_tokens_per_second must be positive, gpu_usd_per_hour not negative")


def training_default(name: str) -> Any:
    """A `TrainingTarget` field's default: what a project without a train config assumes."""
    return TrainingTarget.__dataclass_fields__[name].default


def load_training_target(path: str | os.PathLike) -> TrainingTarget:
    """The shared settings of the train config at `path` (its other keys are fttrain's, checked by fttrain).

    A local base model folder is relative to the train config's folder, as fttrain reads it.
    """
    data = read_yaml_mapping(path)
    names = {f.name for f in dataclasses.fields(TrainingTarget)} | set(TrainingTarget.MOVED)
    shared = {key: value for key, value in data.items() if key in names}
    expand_shorthands(TrainingTarget, shared)
    target = build(TrainingTarget, shared, str(path))
    if not target.base_model.path:
        raise ConfigError(f"{path}: base_model: required")
    target.base_model.path = local_or_hub(target.base_model.path, os.path.dirname(os.path.abspath(path)))
    return target


@dataclass(frozen=True)
class CostEstimate:
    training_tokens: float  # tokens per epoch x epochs
    gpu_hours: float
    gpu_usd: float
    hosted_usd: dict[str, float]  # per hosted fine-tuning price, USD per million training tokens


def estimate_cost(
    tokens_per_epoch: int,
    epochs: float,
    gpu_tokens_per_second: float,
    gpu_usd_per_hour: float,
    hosted_usd_per_million: Mapping[str, float] | None = None,
) -> CostEstimate:
    """What training on `tokens_per_epoch` tokens for `epochs` costs: hours and dollars on your GPU at its
    throughput and hourly price, and at hosted fine-tuning prices (charged per training token)."""
    training_tokens = tokens_per_epoch * epochs
    hours = training_tokens / gpu_tokens_per_second / 3600
    hosted = {name: training_tokens / 1e6 * price for name, price in (hosted_usd_per_million or {}).items()}
    return CostEstimate(training_tokens, hours, hours * gpu_usd_per_hour, hosted)
