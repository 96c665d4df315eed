"""Trainer callbacks: a metrics file a person or a plot can read, and a progress bar worth watching."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


def peak_memory_mb() -> float:
    """Peak memory of this process: CUDA allocations on a GPU, max RSS on the CPU (Linux reports KiB)."""
    import resource

    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class MetricsFile(TrainerCallback):
    """One JSON line per log: step, epoch, loss or eval loss, learning rate, tokens/s, peak memory."""

    def __init__(self, path: Path):
        self.path = path
        self._last = (time.perf_counter(), 0)

    def on_log(self, args, state, control, logs: dict[str, Any] | None = None, **kwargs):
        now, tokens = time.perf_counter(), state.num_input_tokens_seen
        then, tokens_before = self._last
        self._last = (now, tokens)
        entry = {"step": state.global_step, "epoch": round(state.epoch or 0, 4), **(logs or {})}
        if "loss" in entry and now > then:
            entry["tokens_per_second"] = round((tokens - tokens_before) / (now - then), 1)
        entry["peak_memory_mb"] = peak_memory_mb()
        with open(self.path, "a", encoding="utf-8") as handle:  # appended: a resumed run continues the file
            handle.write(json.dumps(entry) + "\n")


class ProgressBar(TrainerCallback):
    """A tqdm bar over optimiser steps with the latest loss, tokens/s and the ETA."""

    def __init__(self):
        self.bar = None
        self._start = (0.0, 0)

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=state.max_steps, initial=state.global_step, desc="training", unit="step", dynamic_ncols=True
        )
        self._start = (time.perf_counter(), state.num_input_tokens_seen)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)
            elapsed = time.perf_counter() - self._start[0]
            if elapsed > 0:
                self.bar.set_postfix(
                    tok_s=f"{(state.num_input_tokens_seen - self._start[1]) / elapsed:.0f}", refresh=False
                )

    def on_log(self, args, state, control, logs: dict[str, Any] | None = None, **kwargs):
        if self.bar is not None and logs and "loss" in logs:
            postfix = dict((self.bar.postfix and [p.split("=") for p in self.bar.postfix.split(", ")]) or [])
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", **{k: v for k, v in postfix.items() if k != "loss"})

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
