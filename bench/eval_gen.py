"""fteval's batched generation against one prompt at a time on the CPU, and a full `fteval run`, in one run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/eval_gen.py [--prompts 256] [--test 500] [--max-new-tokens 64]

Prints:
  1. `--prompts` test prompts through ftcore's TransformersGenerator with `--batch-size` (32) and
     with batch size 1, same greedy settings: seconds and new tokens/s of each, the ratio (target
     >= 5x on a 2-core CPU) and how many answers are identical;
  2. the wall time of `run_eval` with base, base+prompt and finetuned on a `--test`-example test
     split (generation, scoring, held-out loss, files), and each contestant's tokens/s from
     results.json.
A tokenizer, a tiny Llama (hidden 64, 2 layers, as in the tests), an export made by ftdata's export
code and a few-step LoRA run are built here; nothing is downloaded. No timing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parent.parent
GSM8K = REPO.parent / "shared" / "data" / "gsm8k" / "train.jsonl"
STYLE = REPO / "examples" / "quickstart" / "style.yaml"
SYSTEM = "Answer in the house format: reasoning lines with <<expr=value>> notes, then '#### <number>'."
# The prompting baseline: the style spec written out as instructions.
EVAL_SYSTEM = (
    "Solve the problem step by step. Write each calculation as <<expr=value>> inside the reasoning, "
    "keep a plain neutral tone, and end with a last line '#### <number>' and nothing after it."
)
TEST_SHARE = 0.5  # of the exported examples: most of them go to the test split, which is what is measured


def build_inputs(work: Path, test: int) -> tuple[Path, Path]:
    """A tokenizer, a tiny Llama and an export whose test split holds at least `test` examples."""
    from ftdata.testing import accepted_export, tiny_chat_tokenizer
    from fttrain.testing import tiny_llama

    rows = [json.loads(line) for line in GSM8K.open(encoding="utf-8")]
    tokenizer = tiny_chat_tokenizer((r["question"] + "\n" + r["answer"] for r in rows[:3000]), work / "tok")
    model = tiny_llama(work / "model", tokenizer)
    # A margin over test / TEST_SHARE: near-duplicate groups and dropped copies make the split a little uneven.
    picked = [r for r in rows if "<<" in r["answer"]][: math.ceil(test / TEST_SHARE * 1.05) + 20]
    ratios = f"split.ratios={{train: {0.95 - TEST_SHARE:.2f}, validation: 0.05, test: {TEST_SHARE}}}"
    accepted_export(work / "project", picked, work / "export", system=SYSTEM, overrides=(ratios,))
    return model, work / "export"


def train_adapter(model: Path, data: Path, out: Path) -> dict:
    """A few LoRA steps with fttrain: enough for the `finetuned` contestant to exist, not to be good."""
    from fttrain.config import LoraConfig, TrainConfig
    from fttrain.run import run

    config = TrainConfig(
        base_model=str(model), data=str(data), output_dir=str(out), method="lora", epochs=0.1,
        lora=LoraConfig(r=8, alpha=16, dropout=0.0), max_seq_len=512, batch_size=8, gradient_accumulation=1,
        logging_steps=1, eval_each_epoch=False,
    )  # fmt: skip
    return run(config)


def compare_batching(model_dir: Path, data: Path, prompts: int, batch_size: int, max_new_tokens: int) -> dict:
    """The same test prompts through TransformersGenerator batched and one at a time."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftcore import load_split
    from ftcore.generate import TransformersGenerator
    from fteval.run import contestant_prompts

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    conversations = contestant_prompts(load_split(data, "test")[:prompts], None)
    found = {}
    for size in (batch_size, 1):
        generator = TransformersGenerator(model, tokenizer, batch_size=size)
        answers = generator.generate(conversations, max_new_tokens)
        found[size] = {"answers": answers, "stats": generator.stats}
    return found


def full_eval(model: Path, data: Path, run_dir: Path, out: Path, test: int, batch_size: int, max_new_tokens: int):
    """`fteval run` as its library call, timed from the call to results.json."""
    from fteval.config import EvalConfig
    from fteval.run import run_eval

    config = EvalConfig(
        base_model=str(model), data=str(data), style=str(STYLE), system_prompt=EVAL_SYSTEM,
        answer_pattern=r"^####\s*(.*?)\s*$", run=str(run_dir), output_dir=str(out),
        max_new_tokens=max_new_tokens, batch_size=batch_size, limit=test,
    )  # fmt: skip
    start = time.perf_counter()
    run_eval(config)
    seconds = time.perf_counter() - start
    return seconds, json.loads((out / "results.json").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256, help="test prompts in the batched vs one-at-a-time part")
    parser.add_argument("--test", type=int, default=500, help="test examples scored by the full `fteval run`")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    import torch

    from ftcore import ExportManifest

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    load_start = os.getloadavg()
    print(f"torch threads {torch.get_num_threads()}, load average at start {_load(load_start)}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        model, data = build_inputs(work, max(args.test, args.prompts))
        splits = {name: split.examples for name, split in ExportManifest.read(data).splits.items()}
        print(f"built tokenizer, model and export in {time.perf_counter() - start:.1f} s: {splits}", flush=True)
        summary = train_adapter(model, data, work / "run")
        print(f"LoRA run: {summary['steps']} steps in {summary['seconds']} s", flush=True)

        found = compare_batching(model, data, args.prompts, args.batch_size, args.max_new_tokens)
        batched, single = found[args.batch_size], found[1]
        same = sum(a == b for a, b in zip(batched["answers"], single["answers"], strict=True))
        n = len(batched["answers"])
        print(f"\n1. {n} test prompts, greedy, max_new_tokens {args.max_new_tokens}")
        print(f"{'generation':<24} {'seconds':>8} {'new tokens':>11} {'tokens/s':>9}")
        for name, result in (("batch size " + str(args.batch_size), batched), ("batch size 1", single)):
            stats = result["stats"]
            print(f"{name:<24} {stats.seconds:>8.1f} {stats.new_tokens:>11} {stats.tokens_per_second:>9.0f}")
        ratio = batched["stats"].tokens_per_second / single["stats"].tokens_per_second
        print(f"batched / one at a time tokens/s = {ratio:.1f}x (target >= 5x); identical answers: {same} of {n}")

        seconds, results = full_eval(
            model, data, work / "run", work / "eval", args.test, args.batch_size, args.max_new_tokens
        )
        print(f"\n2. fteval run: {results['data']['n']} test examples, {len(results['contestants'])} contestants, "
              f"batch size {args.batch_size}, max_new_tokens {args.max_new_tokens}: {seconds:.1f} s wall")  # fmt: skip
        print(f"{'contestant':<14} {'gen seconds':>11} {'new tokens':>11} {'tokens/s':>9} {'strict':>7}")
        for name, entry in results["contestants"].items():
            gen = entry["generation"]
            print(f"{name:<14} {gen['seconds']:>11.1f} {gen['new_tokens']:>11} {gen['tokens_per_second']:>9.0f} "
                  f"{entry['scores']['strict']:>7.2f}")  # fmt: skip
        generating = sum(e["generation"]["seconds"] for e in results["contestants"].values())
        print(f"generation {generating:.1f} s of {seconds:.1f} s; the rest is loading, scoring and held-out loss")
    print(f"\nload average at start {_load(load_start)}, at end {_load(os.getloadavg())}")


def _load(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{a:.2f}" for a in averages)


if __name__ == "__main__":
    main()
