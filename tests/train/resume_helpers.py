"""What a resumed run must show: it went on from its checkpoint, and it ended where an uncut run ends."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fttrain.config import TrainConfig
from fttrain.run import run


def logged_steps(output: Path) -> list[int]:
    """The steps of the training-loss lines of metrics.jsonl, in the order they were written."""
    lines = (output / "metrics.jsonl").read_text().splitlines() if (output / "metrics.jsonl").exists() else []
    return [entry["step"] for entry in map(json.loads, lines) if "loss" in entry]


def uncut_run(config: TrainConfig, folder: Path) -> Path:
    """The same config, seed included, trained start to end in `folder` (CPU training is deterministic here)."""
    run(replace(config, output_dir=str(folder)))
    return folder


def adapter_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def assert_resumed_like_uncut(output: Path, uncut: Path, checkpoint_step: int, steps_before: list[int]) -> None:
    """The resumed process logged its first step right after the checkpoint (not step 1 again), and its final
    adapter and losses are an uncut run's to float rounding."""
    resumed_steps = logged_steps(output)[len(steps_before) :]
    assert resumed_steps, "the resumed run logged no training step"
    assert resumed_steps[0] == checkpoint_step + 1, (checkpoint_step, resumed_steps)
    assert resumed_steps == list(range(checkpoint_step + 1, resumed_steps[-1] + 1))
    assert resumed_steps[-1] == logged_steps(uncut)[-1]

    resumed, straight = adapter_weights(output), adapter_weights(uncut)
    assert resumed.keys() == straight.keys() and resumed
    for name, tensor in straight.items():
        difference = float((resumed[name] - tensor).abs().max())
        assert difference <= 1e-5 * max(1.0, float(tensor.abs().max())), (name, difference)
    mine, theirs = (json.loads((folder / "summary.json").read_text()) for folder in (output, uncut))
    assert mine["steps"] == theirs["steps"]
    assert mine["final_loss"] == pytest.approx(theirs["final_loss"], rel=1e-5, abs=1e-6)
    # Step by step after the checkpoint, the resumed run's losses are the uncut run's (the last line per step wins:
    # a killed process may have logged steps past its checkpoint before it died).
    resumed_losses, uncut_losses = losses(output), losses(uncut)
    after = {step: loss for step, loss in uncut_losses.items() if step > checkpoint_step}
    assert {step: resumed_losses[step] for step in after} == pytest.approx(after, rel=1e-5)


def losses(folder: Path) -> dict[int, float]:
    lines = map(json.loads, (folder / "metrics.jsonl").read_text().splitlines())
    return {entry["step"]: entry["loss"] for entry in lines if "loss" in entry}
