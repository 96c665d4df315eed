"""Answers per second: local batched generation against one prompt at a time, and an OpenAI-compatible endpoint
(`transformers serve`) with 1 request in flight against `--concurrency`, with and without continuous batching.

    OMP_NUM_THREADS=1 .venv/bin/python bench/endpoint.py [--model FOLDER] [--prompts 16] [--max-new-tokens 32]

`--model`: a model folder (e.g. SmolLM2-135M-Instruct made by examples/gsm8k-house-style/base_model.py);
without it a tiny Llama (hidden 64, 2 layers, as in the tests) is built here. Prompts are GSM8K questions.
Every part answers the same prompts greedily, without a cache, and says how many answers equal the local
batched ones. `transformers serve` runs as its own process on a free port (same OMP_NUM_THREADS), is waited
for on GET /health and stopped (its process group) after each part; with --continuous-batching a first
request warms it up untimed (its paged cache is set up on the first request: ~45 s on a CPU here).
Without continuous batching transformers serve runs one generate() at a time per model, so concurrency can
only hide network and scheduling gaps; with it, concurrent requests share forward passes. No timing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parent.parent
GSM8K = Path(os.environ.get("FTKIT_SHARED", REPO.parent / "shared")) / "data" / "gsm8k" / "train.jsonl"
SYSTEM = "Solve the problem step by step and end with a last line '#### <number>'."


def tiny_model(work: Path, rows: list[dict]) -> Path:
    from ftdata.testing import tiny_chat_tokenizer
    from fttrain.testing import tiny_llama

    tokenizer = tiny_chat_tokenizer((r["question"] + "\n" + r["answer"] for r in rows[:3000]), work / "tok")
    return tiny_llama(work / "model", tokenizer)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def transformers_serve(model: Path, log: Path, continuous_batching: bool) -> Iterator[str]:
    """`transformers serve MODEL` on a free port until the block ends; yields its base URL."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "transformers"), "serve", str(model), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--device", "cpu"] + (["--continuous-batching"] if continuous_batching else [])
    with log.open("a", encoding="utf-8") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, health = time.monotonic() + 300, f"http://127.0.0.1:{port}/health"
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"transformers serve did not come up; see {log}")
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as response:
                if response.status == 200:
                    break
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def local_parts(model_dir: Path, conversations: list, batch_size: int, max_new_tokens: int) -> tuple[list, list]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftcore.generate import TransformersGenerator

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    rows, reference = [], None
    for size in (batch_size, 1):
        generator = TransformersGenerator(model, tokenizer, batch_size=size)
        began = time.perf_counter()
        answers = generator.generate(conversations, max_new_tokens)
        seconds = time.perf_counter() - began
        reference = reference or answers
        rows.append((f"local, batch {size}", seconds, generator.stats.new_tokens, answers))
    return rows, reference


def endpoint_part(base_url: str, model: str, conversations: list, concurrency: int, max_new_tokens: int) -> tuple:
    from ftcore.endpoint import Endpoint, EndpointGenerator

    endpoint = Endpoint(base_url=base_url, model=model, concurrency=concurrency, max_tokens=max_new_tokens)
    generator = EndpointGenerator(endpoint, cache_dir=None)  # no cache: every answer is asked for
    generator.preflight()
    began = time.perf_counter()
    answers = generator.generate(conversations)
    return time.perf_counter() - began, generator.stats.new_tokens, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model folder (default: a tiny Llama built here)")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--continuous-batching", choices=("both", "off", "on"), default="both", help="transformers serve modes"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    rows = [json.loads(line) for line in GSM8K.open(encoding="utf-8")]
    conversations = [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": r["question"]}]
        for r in rows[: args.prompts]
    ]
    print(f"load average at start {os.getloadavg()[0]:.2f}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = (args.model or tiny_model(work, rows)).resolve()
        local, reference = local_parts(model, conversations, args.batch_size, args.max_new_tokens)
        figures += local
        modes = {"both": (False, True), "off": (False,), "on": (True,)}[args.continuous_batching]
        for continuous in modes:
            name = "serve --continuous-batching" if continuous else "serve"
            with transformers_serve(model, work / "serve.log", continuous) as base_url:
                if continuous:  # set up the paged cache before timing
                    endpoint_part(base_url, str(model), conversations[:1], 1, 4)
                for concurrency in (1, args.concurrency):
                    seconds, tokens, answers = endpoint_part(
                        base_url, str(model), conversations, concurrency, args.max_new_tokens
                    )
                    figures.append((f"{name}, concurrency {concurrency}", seconds, tokens, answers))
    print(f"{args.prompts} prompts, {args.max_new_tokens} new tokens at most, greedy; model {model.name}")
    print(f"{'':44} {'seconds':>8} {'answers/s':>10} {'tokens/s':>9} {'= local batched':>16}")
    results = []
    for name, seconds, tokens, answers in figures:
        same = sum(a == b for a, b in zip(answers, reference, strict=True))
        print(
            f"{name:44} {seconds:8.2f} {len(answers) / seconds:10.2f} {tokens / seconds:9.1f} {same:>10}/{len(answers)}"
        )
        results.append({"part": name, "seconds": round(seconds, 3), "answers": len(answers), "new_tokens": tokens,
                        "equal_to_local_batched": same})  # fmt: skip
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
