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
class QuantConfig:
    quant_type: Literal["nf4", "fp4"] = option("nf4", "4-bit data type (NF4 is QLoRA's)")
    double_quant: bool = option(True, "Quantise the quantisation constants too (saves ~0.4 bit per weight)")
    compute_dtype: Literal["auto", "bfloat16", "float16", "float32"] = option(
        "auto", "Dtype of the 4-bit matmuls: auto = bfloat16 on CUDA, float32 on CPU (bf16 is 5x slower on CPU)"
    )


@dataclass
class TrainConfig:
    base_model: str = option("", "Base model: a local folder, a hub id, or a folder holding the GGUF file below")
    gguf_file: str | None = option(None, "GGUF file name inside base_model, dequantised by transformers on load")
    data: str = option("", "An `ftdata export` folder: its manifest and splits are read, never raw JSONL")
    output_dir: str = option("runs/latest", "Run folder: adapter, tokenizer, config, manifest, metrics, plot")
    method: Literal["qlora", "lora", "full"] = option("qlora", "qlora: 4-bit base + LoRA; lora: full-precision base")
    lora: LoraConfig = field(default_factory=LoraConfig, metadata={"help": "The adapter"})
    quant: QuantConfig = field(default_factory=QuantConfig, metadata={"help": "4-bit loading (method: qlora)"})
    max_seq_len: int = option(1024, "Tokens per example (or packed sequence); longer examples are truncated")
    packing: bool = option(True, "Pack short examples into full sequences (attention never crosses examples)")
    train_limit: int | None = option(
        None, "Train on the first N examples of the training split only (none: all), e.g. for a CPU demo"
    )
    validation_limit: int | None = option(None, "Evaluate on the first N validation examples only (none: all)")
    epochs: float = option(3.0, "Passes over the training split")
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
    gpu_tokens_per_second: float = option(2500.0, "`plan`: training throughput you expect on it, tokens/s")
    gpu_usd_per_hour: float = option(2.0, "`plan`: what an hour of that GPU costs")

    def __post_init__(self) -> None:
        floats = (
            "epochs",
            "learning_rate",
            "warmup_ratio",
            "gpu_memory_gb",
            "gpu_tokens_per_second",
            "gpu_usd_per_hour",
        )
        for key in floats:
            if not math.isfinite(getattr(self, key)):  # NaN passes every comparison below
                raise ValueError(f"{key} must be a finite number, got {getattr(self, key)}")
        if not 0 <= self.seed < 2**32:  # what numpy's seeding (in transformers.set_seed) accepts
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        if self.max_seq_len < 16:
            raise ValueError(f"max_seq_len must be at least 16, got {self.max_seq_len}")
        if self.epochs <= 0 or self.learning_rate <= 0 or self.batch_size < 1 or self.gradient_accumulation < 1:
            raise ValueError("epochs, learning_rate, batch_size and gradient_accumulation must be positive")
        if any(limit is not None and limit < 1 for limit in (self.train_limit, self.validation_limit)):
            raise ValueError("train_limit and validation_limit must be positive")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


def load_train_config(path: str | os.PathLike, overrides: tuple[str, ...] | list[str] = ()) -> TrainConfig:
    """The config at `path` with overrides; paths in it are relative to the file's folder."""
    config = load_config(TrainConfig, path, overrides)
    for key in ("base_model", "data"):
        if not getattr(config, key):
            raise ConfigError(f"{path}: {key}: required")
    resolve_paths(config, path, ("data", "output_dir", "evaluate"), model_key="base_model")
    return config
