"""fttrain against a plain TRL SFTTrainer on the CPU: same tiny model, same data, in one run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/train_cpu.py [--examples 300] [--epochs 1]

Prints, for each trainer, wall seconds, tokens/s (every token the model processed, padding
included) and useful tokens/s (non-padding), plus the share of padding:
  1. same settings (no packing, fp32, no gradient checkpointing): fttrain must not be slower
     (tokens/s ratio ≥ 0.95);
  2. each one's defaults on the same data — fttrain packs (padding-free), TRL pads and checkpoints
     activations — useful tokens/s ratio, target ≥ 1.3. TRL's bf16 default is turned off for it:
     bf16 autocast is ~5x slower on this CPU and would make the comparison meaningless.
A Llama-shaped model (hidden 256, 4 layers) and a BPE tokenizer are built here; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parent.parent
GSM8K = REPO.parent / "shared" / "data" / "gsm8k" / "train.jsonl"
SYSTEM = "Answer in the house format: reasoning lines with <<expr=value>> notes, then '#### <number>'."


def build_inputs(work: Path, examples: int) -> tuple[Path, Path]:
    """A tokenizer, a tiny Llama and an export folder made by ftdata's export code."""
    from ftdata.testing import accepted_export, tiny_chat_tokenizer
    from fttrain.testing import tiny_llama

    rows = [json.loads(line) for line in GSM8K.open(encoding="utf-8")]
    tokenizer = tiny_chat_tokenizer((r["question"] + "\n" + r["answer"] for r in rows[:3000]), work / "tok", 8000)
    model = tiny_llama(work / "model", tokenizer, hidden_size=256, layers=4)
    picked = [r for r in rows if "<<" in r["answer"]][:examples]
    ratios = "split.ratios={train: 0.9, validation: 0.05, test: 0.05}"
    accepted_export(work / "project", picked, work / "export", system=SYSTEM, overrides=(ratios,))
    return model, work / "export"


def run_fttrain(model: Path, data: Path, out: Path, epochs: float, **settings) -> dict:
    from fttrain.config import LoraConfig, TrainConfig
    from fttrain.run import run

    config = TrainConfig(
        base_model=str(model), data=str(data), output_dir=str(out), method="lora", epochs=epochs,
        lora=LoraConfig(r=16, alpha=32, dropout=0.0), max_seq_len=512, batch_size=8, gradient_accumulation=1,
        learning_rate=2e-4, logging_steps=5, eval_each_epoch=False, **settings,
    )  # fmt: skip
    summary = run(config)
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {"seconds": summary["seconds"], "useful_tokens": summary["tokens_seen"], "metrics": metrics}


def run_trl(model_dir: Path, data: Path, out: Path, epochs: float, defaults: bool) -> dict:
    """TRL's SFTTrainer on the same export, as prompt/completion conversations (loss on the completion only)."""
    import datasets
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ftcore import load_split

    examples = load_split(data, "train")
    rows = [
        {"prompt": [m.to_dict() for m in e.prompt_messages], "completion": [e.messages[-1].to_dict()]} for e in examples
    ]
    counted = {"all": 0, "useful": 0}
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    model.config.use_cache = False
    settings = dict(
        output_dir=str(out), num_train_epochs=epochs, per_device_train_batch_size=8, gradient_accumulation_steps=1,
        learning_rate=2e-4, logging_steps=5, report_to=[], save_strategy="no", max_length=512, bf16=False,
        seed=13, disable_tqdm=True, dataloader_pin_memory=False,
    )  # fmt: skip
    if not defaults:  # the same settings as fttrain's run above
        settings |= {"gradient_checkpointing": False, "packing": False, "padding_free": False}
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**settings),
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
        ),
    )
    collate = trainer.data_collator

    def counting(features):
        batch = collate(features)
        counted["all"] += batch["input_ids"].numel()
        mask = batch.get("attention_mask")
        counted["useful"] += int(mask.sum()) if mask is not None else batch["input_ids"].numel()
        return batch

    trainer.data_collator = counting
    start = time.perf_counter()
    trainer.train()
    return {"seconds": time.perf_counter() - start, "all_tokens": counted["all"], "useful_tokens": counted["useful"]}


def padded_share_fttrain(data: Path, model: Path, packing: bool) -> float:
    """Padding the fttrain collator adds over the training split in batches of 8, in data order."""
    import torch
    from transformers import AutoTokenizer

    from ftcore import load_split
    from fttrain.config import TrainConfig
    from fttrain.data import tokenize_examples
    from fttrain.run import collator

    tokenizer = AutoTokenizer.from_pretrained(str(model))
    records = tokenize_examples(load_split(data, "train"), tokenizer, 512).as_records()
    collate = collator(TrainConfig(packing=packing), tokenizer)
    total = useful = 0
    for start in range(0, len(records), 8):
        batch = collate(records[start : start + 8])
        total += batch["input_ids"].numel()
        mask = batch.get("attention_mask")
        useful += int(mask.sum()) if mask is not None else int(torch.numel(batch["input_ids"]))
    return 1 - useful / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--epochs", type=float, default=1.0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model, data = build_inputs(work, args.examples)
        pad_plain = padded_share_fttrain(data, model, packing=False)
        pad_packed = padded_share_fttrain(data, model, packing=True)
        same_ft = run_fttrain(model, data, work / "ft-same", args.epochs, packing=False)
        same_trl = run_trl(model, data, work / "trl-same", args.epochs, defaults=False)
        default_ft = run_fttrain(model, data, work / "ft-default", args.epochs)
        default_trl = run_trl(model, data, work / "trl-default", args.epochs, defaults=True)

    # fttrain's tokens_seen counts non-padding tokens; with padding, all tokens = useful / (1 - padding share).
    same_ft_all = same_ft["useful_tokens"] / (1 - pad_plain)
    print(f"torch threads {torch.get_num_threads()}, {args.examples} examples, {args.epochs} epoch(s), max_seq_len 512")
    print(f"padding share of batches: without packing {pad_plain:.1%}, with packing {pad_packed:.1%}")
    print(f"{'run':<32} {'seconds':>8} {'tokens/s':>9} {'useful tok/s':>13}")
    rows = [
        ("fttrain, same settings", same_ft["seconds"], same_ft_all, same_ft["useful_tokens"]),
        ("TRL SFTTrainer, same settings", same_trl["seconds"], same_trl["all_tokens"], same_trl["useful_tokens"]),
        ("fttrain defaults (packing)", default_ft["seconds"], default_ft["useful_tokens"], default_ft["useful_tokens"]),
        ("TRL defaults (fp32)", default_trl["seconds"], default_trl["all_tokens"], default_trl["useful_tokens"]),
    ]
    for name, seconds, tokens, useful in rows:
        print(f"{name:<32} {seconds:>8.1f} {tokens / seconds:>9.0f} {useful / seconds:>13.0f}")
    same_ratio = (same_ft_all / same_ft["seconds"]) / (same_trl["all_tokens"] / same_trl["seconds"])
    default_ratio = (default_ft["useful_tokens"] / default_ft["seconds"]) / (
        default_trl["useful_tokens"] / default_trl["seconds"]
    )
    print(f"same settings: fttrain / TRL tokens/s = {same_ratio:.2f} (target >= 0.95)")
    print(f"defaults: fttrain / TRL useful tokens/s = {default_ratio:.2f} (target >= 1.3)")


if __name__ == "__main__":
    main()
