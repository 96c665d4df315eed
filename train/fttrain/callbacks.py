"""Trainer callbacks: a metrics file a person or a plot can read, and progress worth watching."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


def peak_memory_mb() -> float:
    """Peak memory of this process: CUDA allocations on a GPU, its own peak resident memory on the CPU."""
    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(peak_rss_bytes() / 2**20, 1)


def peak_rss_bytes() -> int:
    """This process's own peak resident memory. Not getrusage's ru_maxrss: Linux carries a process's high-water
    mark across fork and exec, so a run or plan started from a large process (a notebook, a test session) would read
    the parent's memory as the run's. /proc's VmHWM belongs to this process's own address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


class MetricsFile(TrainerCallback):
    """One JSON line per log: step, epoch, loss or eval loss, learning rate, tokens/s (all ranks together), and
    the peak memory of rank 0's process."""

    def __init__(self, path: Path):
        self.path = path
        self._last = (time.perf_counter(), 0)

    def on_log(self, args, state, control, logs: dict[str, Any] | None = None, **kwargs):
        if not state.is_world_process_zero:  # rank 0 writes; tokens seen are already summed over ranks
            return
        now, tokens = time.perf_counter(), state.num_input_tokens_seen
        then, tokens_before = self._last
        self._last = (now, tokens)
        entry = {"step": state.global_step, "epoch": round(state.epoch or 0, 4), **(logs or {})}
        if "loss" in entry and now > then:
            entry["tokens_per_second"] = round((tokens - tokens_before) / (now - then), 1)
        entry["peak_memory_mb"] = peak_memory_mb()
        with open(self.path, "a", encoding="utf-8") as handle:  # appended: a resumed run continues the file
            handle.write(json.dumps(entry) + "\n")


class TrainingProgress(TrainerCallback):
    """Optimiser steps reported to a `progress(stage, n, total, info)` callable (the CLIs draw it as a rich
    bar: ftcore.cli.progress_bars), with the latest loss and tokens/s; only the main process reports."""

    STAGE = "training"

    def __init__(self, progress: Callable[..., None]):
        self.progress = progress
        self._reported = 0
        self._start = (0.0, 0)
        self._loss: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._start = (time.perf_counter(), state.num_input_tokens_seen)
            self._reported = state.global_step  # a resumed run starts part way
            self.progress(self.STAGE, state.global_step, state.max_steps, "")

    def on_step_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            done, self._reported = state.global_step - self._reported, state.global_step
            self.progress(self.STAGE, done, state.max_steps, self._info(state))

    def on_log(self, args, state, control, logs: dict[str, Any] | None = None, **kwargs):
        if state.is_world_process_zero and logs and "loss" in logs:
            self._loss = logs["loss"]
            self.progress(self.STAGE, 0, state.max_steps, self._info(state))

    def _info(self, state) -> str:
        elapsed = time.perf_counter() - self._start[0]
        parts = [f"loss {self._loss:.4f}"] if self._loss is not None else []
        if elapsed > 0:
            parts.append(f"{(state.num_input_tokens_seen - self._start[1]) / elapsed:.0f} tok/s")
        return ", ".join(parts)
