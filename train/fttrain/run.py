"""`fttrain run`: load → set up → train → save, each a short step, composed of stock Hugging Face parts.

Usage:
    summary = run(load_train_config("train.yaml"))
    summary["final_loss"]

The run folder (see README, "Run folder"): the adapter and tokenizer, `fttrain.resolved.yaml`,
`data_manifest.json` (the export it consumed, hash-checked at start), `environment.json` (library
versions, hardware, seed), `metrics.jsonl`, `loss.png`, `summary.json`, and `checkpoints/` for --resume.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftcore import ExportManifest, load_split
from ftcore.atomic import atomic_write
from ftcore.config import ConfigError, write_config
from ftcore.errors import FtdataError
from fttrain.callbacks import peak_memory_mb
from fttrain.config import TrainConfig
from fttrain.data import TokenizedSplit, explain_example, tokenize_examples

# Hugging Face libraries phone home unless told not to; a training run never should.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

CHECKPOINTS = "checkpoints"
RUN_FILES = (
    "fttrain.resolved.yaml",
    "data_manifest.json",
    "environment.json",
    "metrics.jsonl",
    "loss.png",
    "summary.json",
)


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
    tokenizer = load_tokenizer(config)
    if not getattr(tokenizer, "chat_template", None):
        raise TrainError(f"base_model {config.base_model!r}: its tokenizer has no chat template")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # The export's split order is seeded, so the first N examples are a fixed sample.
    train = tokenize_examples(load_split(data, "train")[: config.train_limit], tokenizer, config.max_seq_len)
    validation = None
    if "validation" in manifest.splits and manifest.splits["validation"].examples:
        examples = load_split(data, "validation")[: config.validation_limit]
        validation = tokenize_examples(examples, tokenizer, config.max_seq_len)
    return Prepared(config, manifest, tokenizer, train, validation)


def dry_run(config: TrainConfig) -> str:
    """What `fttrain run --dry-run` prints: the data checks and one example, token by token."""
    prepared = prepare(config)
    train = prepared.train
    header = [
        f"data: {config.data} ({prepared.manifest.dataset}, manifest {prepared.manifest.fingerprint[:12]})",
        f"train: {len(train.items)} examples, {sum(i.trained_tokens for i in train.items)} trained tokens; "
        f"{train.truncated_examples} lose assistant tokens to max_seq_len={config.max_seq_len} "
        f"({train.lost_assistant_tokens} tokens)",
    ]
    return "\n".join([*header, explain_example(train.items[0], prepared.tokenizer)])


def run(config: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train; returns the summary also written to `summary.json`."""
    output = Path(config.output_dir)
    if resume:
        _check_resumable(output, config)
    elif (output / CHECKPOINTS).exists() or (output / "summary.json").exists():
        raise TrainError(f"{output}: a run is already there: pass --resume to continue it, or another output_dir")
    _check_hardware(config)
    prepared = prepare(config)
    output.mkdir(parents=True, exist_ok=True)
    if not resume:  # a resumed run keeps the records of the run it continues
        _write_run_records(prepared, output)

    from transformers import PrinterCallback, Trainer, set_seed

    set_seed(config.seed)
    model = load_model(config)
    trainer = Trainer(
        model=model,
        args=training_arguments(config, output, has_validation=prepared.validation is not None),
        train_dataset=_dataset(prepared.train),
        eval_dataset=_dataset(prepared.validation) if prepared.validation else None,
        data_collator=collator(config, prepared.tokenizer),
        processing_class=prepared.tokenizer,
        callbacks=callbacks(config, output),
    )
    trainer.remove_callback(PrinterCallback)  # our bar and metrics file say it; raw log dicts would repeat it
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(last_complete_checkpoint(output)) if resume else None)
    seconds = time.perf_counter() - started
    trainer.save_model(str(output))  # the adapter (or full weights) and the tokenizer
    evaluation = trainer.evaluate() if prepared.validation else {}
    history = trainer.state.log_history
    losses = [entry["loss"] for entry in history if "loss" in entry]
    summary = {
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_loss": result.training_loss,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "eval_loss": evaluation.get("eval_loss"),
        "seconds": round(seconds, 1),
        "tokens_seen": trainer.state.num_input_tokens_seen,
        "tokens_per_second": round(trainer.state.num_input_tokens_seen / seconds, 1) if seconds else None,
        "peak_memory_mb": peak_memory_mb(),
        "train_examples": len(prepared.train.items),
        "truncated_examples": prepared.train.truncated_examples,
        "data_manifest": prepared.manifest.fingerprint,
        "method": config.method,
    }
    with atomic_write(output / "summary.json") as handle:
        handle.write(json.dumps(summary, indent=2) + "\n")
    plot_losses(history, output / "loss.png")
    if config.evaluate:
        summary["evaluation"] = evaluate_run(config.evaluate, output)
        with atomic_write(output / "summary.json") as handle:
            handle.write(json.dumps(summary, indent=2) + "\n")
    return summary


def evaluate_run(eval_config_path: str, run_folder: Path) -> dict[str, Any]:
    """`fteval run` on the adapter just trained (config `evaluate:`), its report written to run_folder/eval."""
    from fteval.config import load_eval_config
    from fteval.report import write_report
    from fteval.run import run_eval

    output = run_folder / "eval"
    config = load_eval_config(eval_config_path, [f"run={run_folder}", f"output_dir={output}"])
    results = run_eval(config)
    _, page = write_report(output)
    return {"results": str(output / "results.json"), "report": str(page), "verdict": results["verdict"]}


def load_tokenizer(config: TrainConfig):
    from transformers import AutoTokenizer

    return from_base_model(config, AutoTokenizer, "its tokenizer")


def from_base_model(config: TrainConfig, auto_class: Any, what: str) -> Any:
    """`auto_class.from_pretrained` on the base model (a folder, a hub id, or a folder + GGUF file),
    with a one-line error naming the setting."""
    kwargs = {"gguf_file": config.gguf_file} if config.gguf_file else {}
    try:
        return auto_class.from_pretrained(config.base_model, **kwargs)
    except (OSError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TrainError(f"base_model {config.base_model!r}: cannot load {what}: {first}") from None


def load_model(config: TrainConfig):
    """The base model (4-bit NF4 for qlora), prepared for k-bit training, with LoRA applied."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = compute_dtype(config)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if torch.cuda.is_available():
        # One full copy per process: under accelerate launch / torchrun each rank loads onto its own GPU.
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    if config.gguf_file:
        kwargs["gguf_file"] = config.gguf_file
    if config.method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=config.quant.quant_type,
            bnb_4bit_use_double_quant=config.quant.double_quant,
            bnb_4bit_compute_dtype=dtype,
        )
    model = AutoModelForCausalLM.from_pretrained(config.base_model, **kwargs)
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
    return get_peft_model(model, lora)


def _check_hardware(config: TrainConfig) -> None:
    import torch

    if not torch.cuda.is_available() and config.quant.compute_dtype in ("bfloat16", "float16"):
        raise TrainError(
            f"quant.compute_dtype {config.quant.compute_dtype} on a machine without CUDA: half precision is ~5x "
            "slower on CPU (and float16 unstable); use auto or float32"
        )


def compute_dtype(config: TrainConfig):
    import torch

    if config.quant.compute_dtype != "auto":
        return getattr(torch, config.quant.compute_dtype)
    return torch.bfloat16 if torch.cuda.is_available() else torch.float32


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
        disable_tqdm=True,  # fttrain draws its own bar, with loss and tokens/s
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


def callbacks(config: TrainConfig, output: Path) -> list:
    from transformers import EarlyStoppingCallback

    from fttrain.callbacks import MetricsFile, ProgressBar

    found = [MetricsFile(output / "metrics.jsonl"), ProgressBar()]
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
    import datasets

    return datasets.Dataset.from_list(split.as_records())


def _write_run_records(prepared: Prepared, output: Path) -> None:
    import torch

    write_config(prepared.config, output / "fttrain.resolved.yaml")
    record = {
        "fingerprint": prepared.manifest.fingerprint,
        "folder": prepared.config.data,
        **prepared.manifest.to_dict(),
    }
    with atomic_write(output / "data_manifest.json") as handle:
        handle.write(json.dumps(record, indent=2, sort_keys=True) + "\n")
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for name in ("ftkit", "torch", "transformers", "peft", "bitsandbytes", "accelerate", "datasets", "trl"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    environment = {
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
        "seed": prepared.config.seed,
    }
    with atomic_write(output / "environment.json") as handle:
        handle.write(json.dumps(environment, indent=2) + "\n")


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


def _check_resumable(output: Path, config: TrainConfig) -> None:
    if last_complete_checkpoint(output) is None:
        raise TrainError(f"{output}: no complete checkpoint to resume from (saved each epoch or every save_steps)")
    recorded = json.loads((output / "data_manifest.json").read_text())
    manifest = ExportManifest.read(config.data)
    if recorded.get("fingerprint") != manifest.fingerprint:
        raise ConfigError(f"{config.data}: not the export this run started on (manifest changed): start a new run")
