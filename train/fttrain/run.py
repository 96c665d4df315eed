"""`fttrain run`: load → set up → train → save, each a short step, composed of stock Hugging Face parts.

Usage:
    summary = run(load_train_config("train.yaml"))
    summary["final_loss"]

The run folder (see README, "Run folder"): the adapter and tokenizer, `fttrain.resolved.yaml`,
`data_manifest.json` (the export it consumed, hash-checked at start), `environment.json` (library
versions, hardware, seed), `metrics.jsonl`, `loss.png`, `summary.json`, `README.md` (a model card:
fttrain.card), and `checkpoints/` for --resume.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ftcore import ExportManifest, load_split
from ftcore.atomic import atomic_write
from ftcore.chat import IGNORE_INDEX
from ftcore.config import ConfigError
from ftcore.errors import FtdataError
from ftcore.models import load_base, load_tokenizer, torch_dtype
from ftcore.quiet import peft_wrapping
from ftcore.run_folder import (
    CHECKPOINTS,
    DATA_MANIFEST,
    ENVIRONMENT,
    LOSS_PLOT,
    METRICS,
    RESOLVED_CONFIG,
    SUMMARY,
    DataRecord,
    RunSummary,
)
from ftcore.versions import package_versions
from fttrain import distributed
from fttrain.callbacks import peak_memory_mb
from fttrain.card import write_model_card
from fttrain.config import TrainConfig
from fttrain.data import TokenizedSplit, explain_example, tokenize_examples
from fttrain.run_folder import RunFolder

# Hugging Face libraries phone home unless told not to; a training run never should.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

VERSIONS_RECORDED = ("ftkit", "torch", "transformers", "peft", "bitsandbytes", "accelerate", "datasets", "trl")
RUN_FILES = (RESOLVED_CONFIG, DATA_MANIFEST, ENVIRONMENT, METRICS, LOSS_PLOT, SUMMARY)


class TrainError(FtdataError):
    """A run that cannot start or continue; raised before any model is loaded where possible."""


@dataclass
class Prepared:
    """Everything checked and tokenized before a model is loaded."""

    config: TrainConfig
    manifest: ExportManifest
    tokenizer: Any
    train: TokenizedSplit
    validation: TokenizedSplit | None


def prepare(config: TrainConfig) -> Prepared:
    """Check the data and the tokenizer and build the masks: every bad-input error surfaces here."""
    data = Path(config.data)
    if not data.is_dir():
        raise TrainError(f"data: {data} is not a folder: point it at an `ftdata export` folder")
    manifest = ExportManifest.read(data)
    manifest.verify(data)  # the sha256 of every split against the manifest, before any model is loaded
    tokenizer = load_tokenizer(config.base_model)
    if not getattr(tokenizer, "chat_template", None):
        raise TrainError(f"base_model {config.base_model.label()!r}: its tokenizer has no chat template")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # The export's split order is seeded, so the first N examples are a fixed sample.
    train = tokenize_examples(load_split(data, "train")[: config.train_limit], tokenizer, config.max_seq_len)
    validation = None
    if "validation" in manifest.splits and manifest.splits["validation"].examples:
        examples = load_split(data, "validation")[: config.validation_limit]
        validation = tokenize_examples(examples, tokenizer, config.max_seq_len)
    return Prepared(config, manifest, tokenizer, train, validation)


@dataclass
class DryRun:
    """What `fttrain run --dry-run` found: the data checks, and the first training example token by token."""

    data: str
    dataset: str
    manifest_fingerprint: str
    train_examples: int
    trained_tokens: int
    truncated_examples: int  # examples that lose assistant tokens to max_seq_len
    lost_assistant_tokens: int
    max_seq_len: int
    example_id: str
    example_tokens: list[dict[str, Any]]  # {"id", "text", "trained"} per token
    explanation: str  # the same example, one line per token (explain_example)

    def text(self) -> str:
        return "\n".join(
            [
                f"data: {self.data} ({self.dataset}, manifest {self.manifest_fingerprint[:12]})",
                f"train: {self.train_examples} examples, {self.trained_tokens} trained tokens; "
                f"{self.truncated_examples} lose assistant tokens to max_seq_len={self.max_seq_len} "
                f"({self.lost_assistant_tokens} tokens)",
                self.explanation,
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("explanation")
        return data


def dry_run(config: TrainConfig) -> DryRun:
    """Check data, tokenizer and masks as `run` would, and explain the first example; loads no model."""
    prepared = prepare(config)
    train, tokenizer = prepared.train, prepared.tokenizer
    first = train.items[0]
    tokens = [
        {"id": token, "text": tokenizer.decode([token]), "trained": label != IGNORE_INDEX}
        for token, label in zip(first.input_ids, first.labels, strict=True)
    ]
    return DryRun(
        data=config.data,
        dataset=prepared.manifest.dataset,
        manifest_fingerprint=prepared.manifest.fingerprint,
        train_examples=len(train.items),
        trained_tokens=sum(item.trained_tokens for item in train.items),
        truncated_examples=train.truncated_examples,
        lost_assistant_tokens=train.lost_assistant_tokens,
        max_seq_len=config.max_seq_len,
        example_id=first.id,
        example_tokens=tokens,
        explanation=explain_example(first, tokenizer),
    )


def run(config: TrainConfig, resume: bool = False, progress: Callable[..., None] | None = None) -> RunSummary:
    """Train; returns the summary also written to `summary.json`. `progress(stage, steps, total, info)` hears
    of every optimiser step (the CLI draws it).

    The `evaluate:` hook is not run here but by the `fttrain run` command (fttrain.cli): the trainer's library
    never imports the evaluator.
    """
    output = Path(config.output_dir)
    folder = RunFolder(output)
    # Under torchrun / accelerate launch: join the other ranks first, so a refusal below ends every rank alike.
    distributed.start(config.distributed_timeout_s)
    if resume:
        _check_resumable(folder, config)
    elif folder.started:
        raise TrainError(f"{output}: a run is already there: pass --resume to continue it, or another output_dir")
    _check_hardware(config)
    prepared = prepare(config)
    distributed.barrier()  # every rank has checked the folder before rank 0 writes to it
    if distributed.is_main():  # the only writer: other ranks write nothing
        output.mkdir(parents=True, exist_ok=True)
        if not resume:  # a resumed run keeps the records of the run it continues
            _write_run_records(prepared, folder)

    from transformers import PrinterCallback, set_seed

    set_seed(config.seed)
    model = load_model(config)
    train_records = shard_evenly(prepared.train.as_records(), config.batch_size, prepared.tokenizer.pad_token_id)
    trainer = distributed.trainer_class()(
        model=model,
        args=training_arguments(config, output, has_validation=prepared.validation is not None),
        train_dataset=_records_dataset(train_records),
        eval_dataset=_dataset(prepared.validation) if prepared.validation else None,
        data_collator=collator(config, prepared.tokenizer),
        processing_class=prepared.tokenizer,
        callbacks=callbacks(config, output, progress if distributed.is_main() else None),
        real_examples=len(prepared.train.items),
    )
    trainer.remove_callback(PrinterCallback)  # our bar and metrics file say it; raw log dicts would repeat it
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(last_complete_checkpoint(output)) if resume else None)
    seconds = time.perf_counter() - started
    trainer.save_model(str(output))  # the adapter (or full weights) and the tokenizer
    evaluation = final_validation(trainer) if prepared.validation else {}
    history = trainer.state.log_history
    losses = [entry["loss"] for entry in history if "loss" in entry]
    summary = RunSummary(
        steps=trainer.state.global_step,
        epochs=trainer.state.epoch,
        train_loss=result.training_loss,
        first_loss=losses[0] if losses else None,
        final_loss=losses[-1] if losses else None,
        eval_loss=evaluation.get("eval_loss"),
        seconds=round(seconds, 1),
        tokens_seen=trainer.state.num_input_tokens_seen,
        tokens_per_second=round(trainer.state.num_input_tokens_seen / seconds, 1) if seconds else None,
        peak_memory_mb=distributed.max_over_ranks(peak_memory_mb()),  # the busiest device's
        train_examples=len(prepared.train.items),
        truncated_examples=prepared.train.truncated_examples,
        data_manifest=prepared.manifest.fingerprint,
        method=config.method,
    )
    if distributed.is_main():
        folder.write_summary(summary)
        plot_losses(history, folder.file(LOSS_PLOT))
        write_model_card(output)  # in place of the empty card peft saved with the adapter
    return summary


def final_validation(trainer) -> dict[str, float]:
    """The validation loss of the model as saved. Evaluating each epoch already scored it at the last step (and
    with load_best_model_at_end the saved model is the best one scored): evaluating again would cost a full pass
    and write a second validation line for the same step to metrics.jsonl."""
    state = trainer.state
    if trainer.args.load_best_model_at_end and state.best_metric is not None:
        return {"eval_loss": state.best_metric}
    last = next((entry for entry in reversed(state.log_history) if "eval_loss" in entry), None)
    if last is not None and last["step"] == state.global_step:
        return last
    return trainer.evaluate()


def load_model(config: TrainConfig):
    """The base model (4-bit NF4 for qlora), prepared for k-bit training, with LoRA applied."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    four_bit = config.quant if config.method == "qlora" else None
    model = load_base(config.base_model, four_bit=four_bit)
    # No KV cache in training. Besides saving memory, transformers only reads packed sequences' position
    # ids as example boundaries when no cache exists: with one, packed examples would attend to each other.
    model.config.use_cache = False
    if config.method == "qlora":
        # Checkpointing is our choice, not peft's default: it costs 2-4x on small models.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if config.method == "full":
        return model
    lora = LoraConfig(
        task_type="CAUSAL_LM",
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        modules_to_save=config.lora.modules_to_save or None,
    )
    with peft_wrapping():
        return get_peft_model(model, lora)


def _check_hardware(config: TrainConfig) -> None:
    import torch

    if not torch.cuda.is_available() and config.base_model.dtype in ("bfloat16", "float16"):
        raise TrainError(
            f"base_model.dtype {config.base_model.dtype} on a machine without CUDA: half precision is ~5x "
            "slower on CPU (and float16 unstable); use auto or float32"
        )


def compute_dtype(config: TrainConfig):
    return torch_dtype(config.base_model.dtype)


def training_arguments(config: TrainConfig, output: Path, has_validation: bool):
    import torch
    from transformers import TrainingArguments

    evaluate = config.eval_each_epoch and has_validation
    save_by_steps = config.save_steps > 0
    return TrainingArguments(
        output_dir=str(output / CHECKPOINTS),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # transformers 5 reads a float below 1 as a ratio of the steps
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        dataloader_pin_memory=torch.cuda.is_available(),
        # Several processes without CUDA: data parallel over gloo (without use_cpu, accelerate sees no device to
        # parallelise over, and each rank would train alone on all the data).
        use_cpu=not torch.cuda.is_available(),
        ddp_timeout=int(config.distributed_timeout_s),
        ddp_find_unused_parameters=False,  # every trainable parameter is in every forward: skip DDP's graph walk
        bf16=torch.cuda.is_available() and compute_dtype(config) == torch.bfloat16,
        fp16=torch.cuda.is_available() and compute_dtype(config) == torch.float16,  # with a loss scaler
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="steps" if save_by_steps else "epoch",
        save_steps=config.save_steps if save_by_steps else 500,
        save_total_limit=2,
        load_best_model_at_end=evaluate and config.early_stopping_patience > 0,
        metric_for_best_model="eval_loss",
        report_to=[],
        disable_tqdm=True,  # fttrain's CLI draws its own bar (rich, as every ftkit command), with loss and tokens/s
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )


def collator(config: TrainConfig, tokenizer):
    """Packing: examples flattened into one row with position ids restarting per example (no padding,
    no attention across examples). Otherwise: padding to the longest in the batch, padded labels ignored."""
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

    if config.packing:
        return DataCollatorWithFlattening(return_position_ids=True)
    return DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)


def callbacks(config: TrainConfig, output: Path, progress: Callable[..., None] | None = None) -> list:
    from transformers import EarlyStoppingCallback

    from fttrain.callbacks import MetricsFile, TrainingProgress

    found = [MetricsFile(output / METRICS), *([TrainingProgress(progress)] if progress else [])]
    if config.early_stopping_patience > 0 and config.eval_each_epoch:
        found.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    return found


def plot_losses(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4), dpi=110)
    train = [(e["step"], e["loss"]) for e in history if "loss" in e]
    evals = [(e["step"], e["eval_loss"]) for e in history if "eval_loss" in e]
    if train:
        axis.plot(*zip(*train, strict=True), label="train loss")
    if evals:
        axis.plot(*zip(*evals, strict=True), "o-", label="validation loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss (assistant tokens)")
    axis.legend()
    figure.tight_layout()
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)


def _dataset(split: TokenizedSplit):
    return _records_dataset(split.as_records())


def _records_dataset(records: list[dict[str, Any]]):
    import datasets

    return datasets.Dataset.from_list(records)


def shard_evenly(records: list[dict[str, Any]], batch_size: int, pad_token_id: int) -> list[dict[str, Any]]:
    """The training records, and with several ranks the filler rows that complete the last global batch
    (`fttrain.distributed.EvenShardSampler`): every example once per epoch, none twice, none dropped."""
    if distributed.world_size() <= 1:
        return records
    fillers = distributed.filler_count(len(records), batch_size * distributed.world_size())
    return records + [distributed.filler_record(pad_token_id) for _ in range(fillers)]


def _write_run_records(prepared: Prepared, folder: RunFolder) -> None:
    import torch

    folder.write_config(prepared.config)
    folder.write_data_record(DataRecord.of(prepared.manifest, prepared.config.data))
    environment = {
        "versions": package_versions(*VERSIONS_RECORDED),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
        "seed": prepared.config.seed,
    }
    folder.write_environment(environment)


def last_complete_checkpoint(output: Path) -> Path | None:
    """The newest checkpoint that was written to the end. A run killed while saving leaves a newer,
    half-written folder behind (the Trainer writes trainer_state.json last): resuming skips it."""
    folder = output / CHECKPOINTS
    if not folder.is_dir():
        return None
    complete = [p for p in folder.glob("checkpoint-*") if p.name[11:].isdigit() and _state_written(p)]
    return max(complete, key=lambda p: int(p.name[11:]), default=None)


def _state_written(checkpoint: Path) -> bool:
    """trainer_state.json is there and whole: a kill or power cut while writing it leaves it cut off or empty."""
    try:
        return isinstance(json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


def _check_resumable(folder: RunFolder, config: TrainConfig) -> None:
    if last_complete_checkpoint(folder.path) is None:
        raise TrainError(f"{folder.path}: no complete checkpoint to resume from (saved each epoch or every save_steps)")
    manifest = ExportManifest.read(config.data)
    if folder.data.fingerprint != manifest.fingerprint:
        raise ConfigError(f"{config.data}: not the export this run started on (manifest changed): start a new run")
