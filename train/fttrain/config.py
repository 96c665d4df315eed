"""`fttrain run` / `plan` settings: one dataclass, loaded from YAML, every key overridable by `--set`.

Usage:
    config = load_train_config("train.yaml", overrides=["epochs=2", "lora.r=8"])
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Literal

from ftcore.config import ConfigError, load_config, option, resolve_paths
from ftcore.models import QuantConfig
from ftcore.training import TrainingTarget


@dataclass
class LoraConfig:
    r: int = option(16, "LoRA rank: capacity of the adapter")
    alpha: int = option(32, "LoRA scaling (alpha / r multiplies the update)")
    dropout: float = option(0.05, "Dropout on the LoRA path")
    target_modules: list[str] | str = option(
        "all-linear", "Modules that get adapters: 'all-linear' (every linear layer but the output head) or names"
    )
    modules_to_save: list[str] = option(
        [], "Modules trained fully beside the adapter, e.g. [embed_tokens, lm_head] for a new format or tokens"
    )

    def __post_init__(self) -> None:
        if self.r < 1 or self.alpha < 1:
            raise ValueError(f"r and alpha must be positive, got r={self.r}, alpha={self.alpha}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass
class TrainConfig(TrainingTarget):
    """The shared settings (`ftcore.training.TrainingTarget`: base_model, max_seq_len, epochs and the GPU's
    throughput and price, which ftdata reads too) and the trainer's own."""

    data: str = option("", "An `ftdata export` folder: its manifest and splits are read, never raw JSONL")
    output_dir: str = option("runs/latest", "Run folder: adapter, tokenizer, config, manifest, metrics, plot")
    method: Literal["qlora", "lora", "full"] = option("qlora", "qlora: 4-bit base + LoRA; lora: full-precision base")
    lora: LoraConfig = field(default_factory=LoraConfig, metadata={"help": "The adapter"})
    quant: QuantConfig = field(default_factory=QuantConfig, metadata={"help": "4-bit loading (method: qlora)"})
    packing: bool = option(True, "Pack short examples into full sequences (attention never crosses examples)")
    train_limit: int | None = option(
        None, "Train on the first N examples of the training split only (none: all), e.g. for a CPU demo"
    )
    validation_limit: int | None = option(None, "Evaluate on the first N validation examples only (none: all)")
    learning_rate: float = option(2e-4, "Peak learning rate")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = option("cosine", "Schedule")
    warmup_ratio: float = option(0.03, "Share of steps spent warming up")
    batch_size: int = option(4, "Sequences per device per step")
    gradient_accumulation: int = option(4, "Steps accumulated per optimiser update")
    gradient_checkpointing: bool = option(False, "Trade compute for memory (2-4x slower on small models)")
    seed: int = option(13, "Seed for initialisation and data order")
    eval_each_epoch: bool = option(True, "Evaluate on the validation split after every epoch")
    early_stopping_patience: int = option(0, "Stop after this many evaluations without improvement (0: never)")
    logging_steps: int = option(10, "Steps between metric lines")
    save_steps: int = option(0, "Steps between checkpoints for --resume (0: once per epoch)")
    evaluate: str | None = option(
        None, "An fteval config run when training ends, scoring this run as `finetuned` (results in output_dir/eval)"
    )
    gpu_memory_gb: float = option(80.0, "`plan`: memory of the GPU you will train on")
    distributed_timeout_s: float = option(
        900.0,
        "Several processes (torchrun, accelerate launch): seconds a rank waits for the others before the job ends",
    )

    def __post_init__(self) -> None:
        super().__post_init__()  # base_model, max_seq_len, epochs and the GPU's figures
        for key in ("learning_rate", "warmup_ratio", "gpu_memory_gb", "distributed_timeout_s"):
            if not math.isfinite(getattr(self, key)):  # NaN passes every comparison below
                raise ValueError(f"{key} must be a finite number, got {getattr(self, key)}")
        if not 0 <= self.seed < 2**32:  # what numpy's seeding (in transformers.set_seed) accepts
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        if self.distributed_timeout_s <= 0:
            raise ValueError(f"distributed_timeout_s must be positive, got {self.distributed_timeout_s}")
        if self.learning_rate <= 0 or self.batch_size < 1 or self.gradient_accumulation < 1:
            raise ValueError("learning_rate, batch_size and gradient_accumulation must be positive")
        if any(limit is not None and limit < 1 for limit in (self.train_limit, self.validation_limit)):
            raise ValueError("train_limit and validation_limit must be positive")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


def load_train_config(path: str | os.PathLike, overrides: tuple[str, ...] | list[str] = ()) -> TrainConfig:
    """The config at `path` with overrides; paths in it are relative to the file's folder."""
    config = load_config(TrainConfig, path, overrides)
    if not config.base_model.path:
        raise ConfigError(f"{path}: base_model: required")
    if not config.data:
        raise ConfigError(f"{path}: data: required")
    resolve_paths(config, path, ("data", "output_dir", "evaluate"), model_key="base_model")
    return config
