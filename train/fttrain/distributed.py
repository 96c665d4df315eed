"""Data-parallel training under `torchrun` or `accelerate launch`: one process per device, rank 0 the only writer.

Nothing to configure: the launcher's environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT) says how many
processes there are; the same train config runs on one device or many. What this module adds to the Trainer's DDP:

- the process group is started here, with `distributed_timeout_s`, so a rank that hangs fails the job within it
  (the Trainer starts CPU/gloo groups without a timeout of ours: torch's default is 30 minutes);
- every training example is seen once per epoch across ranks: accelerate fills a short last batch with examples
  from the start of the epoch (seen twice); here the last global batch is completed with *filler* rows instead, one
  pad token whose label is ignored, so they take part in the gradient exchange with zero weight (`EvenShardSampler`);
- rank 0 writes every file, the checkpoints' per-rank RNG states included (gathered to it);
- a rank that dies or is stopped by the launcher ends in one line (`RankStopped`), never a traceback per rank.

Usage:
    start(timeout_s=900)         # before the Trainer: no-op in a single process
    is_main(), world_size()
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from ftcore.errors import FtdataError


class RankStopped(FtdataError):
    """This process stopped because another rank failed, left, or timed out (or the launcher stopped the job), or a
    launch would not do what it asks. `exit_code`: 1 for a failed job, 2 for a launch to correct;
    `by_signal`: stopped by the launcher's SIGTERM, maybe in the middle of a progress line."""

    def __init__(self, message: str, exit_code: int = 1, by_signal: bool = False):
        super().__init__(message)
        self.exit_code, self.by_signal = exit_code, by_signal


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Rank 0: the one process that writes the run folder, draws progress and prints the summary."""
    return rank() == 0


def start(timeout_s: float) -> None:
    """Join the launcher's process group (gloo on CPU, NCCL on CUDA) with a timeout; nothing in a single process.

    Refuses, in one line, the two launches that would quietly run something else than asked (see `_check_launch`).
    """
    import torch

    _check_launch(cuda=torch.cuda.is_available())
    if world_size() <= 1:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        return
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))


def _check_launch(cuda: bool) -> None:
    """accelerate 1.x runs `accelerate launch --cpu --num_processes N` as ONE process (several CPU processes need
    its mpirun path), and runs an FSDP config on CPUs as plain DDP (it shards only GPU-type devices): both would
    train, just not as the user asked."""
    if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true" and not cuda:
        raise RankStopped(
            "FSDP needs CUDA GPUs (accelerate shards only GPU devices; on CPUs it would quietly train with DDP): "
            "drop the FSDP config / --use_fsdp here, e.g. `torchrun --nproc_per_node N -m fttrain.cli run ...`",
            exit_code=2,
        )
    asked = _processes_asked_of_accelerate()
    if world_size() <= 1 and os.environ.get("ACCELERATE_USE_CPU", "").lower() == "true" and asked > 1:
        raise RankStopped(
            f"`accelerate launch --cpu --num_processes {asked}` starts one process (accelerate needs mpirun for "
            f"several CPU processes): use `accelerate launch --multi_gpu --num_processes {asked} -m fttrain.cli run "
            f"...` (without CUDA it runs on CPUs, gloo) or `torchrun --nproc_per_node {asked} -m fttrain.cli run ...`",
            exit_code=2,
        )


def _processes_asked_of_accelerate() -> int:
    """--num_processes on the command line of the `accelerate launch` that started this process (Linux: /proc);
    0 when the parent is something else or cannot be read."""
    try:
        arguments = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return 0
    if "launch" not in arguments or not any(Path(a).name.startswith("accelerate") for a in arguments[:3]):
        return 0
    for index, argument in enumerate(arguments):
        name, _, value = argument.partition("=")
        if name in ("--num_processes", "--num-processes"):
            value = value or (arguments[index + 1] if index + 1 < len(arguments) else "")
            return int(value) if value.isdigit() else 0
    return 0


def barrier() -> None:
    if _active():
        import torch.distributed as dist

        dist.barrier()


def max_over_ranks(value: float) -> float:
    """The largest `value` over all ranks (e.g. the peak memory of the busiest device); `value` alone otherwise."""
    if not _active():
        return value
    import torch.distributed as dist

    found: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(found, value)
    return max(found)


def finish() -> None:
    """Every rank has finished (a barrier), then the process group is closed: what comes after runs alone."""
    if _active():
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def _active() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


# --- every example once per epoch -----------------------------------------------------------------------------


def filler_count(examples: int, global_batch: int) -> int:
    """Filler rows that complete the last global batch (`batch_size` x ranks examples), so every rank gets the
    same number of full batches and no example is drawn twice.

    >>> filler_count(65, 8), filler_count(64, 8), filler_count(3, 8)
    (7, 0, 5)
    """
    return -examples % global_batch


def filler_record(pad_token_id: int) -> dict[str, list[int]]:
    """One pad token with an ignored label: no trained token, so no weight in the token-averaged loss, and not
    counted in tokens seen with packing (the Trainer counts non-pad tokens)."""
    return {"input_ids": [pad_token_id], "labels": [-100]}


class EvenShardSampler:
    """The examples in a seeded random order, then the filler rows: what each epoch draws, before accelerate deals
    the batches out to the ranks in turn.

    The order is accelerate's own for a single process (`SeedableRandomSampler`: `torch.randperm` seeded with
    data_seed + epoch), so 2 ranks x batch b train on exactly the examples 1 process x batch 2b does, step by step.
    Not a `RandomSampler`: accelerate would replace it with its own and drop the fillers.
    """

    def __init__(self, examples: int, fillers: int, seed: int):
        self.examples, self.fillers, self.seed = examples, fillers, seed
        self.epoch = 0

    def __len__(self) -> int:
        return self.examples + self.fillers

    def __iter__(self) -> Iterator[int]:
        import torch

        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        yield from torch.randperm(self.examples, generator=generator).tolist()
        yield from range(self.examples, self.examples + self.fillers)
        self.epoch += 1  # as SeedableRandomSampler: the next pass reshuffles even if nobody calls set_epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


def trainer_class():
    """The Trainer with the two changes data parallelism needs (both no-ops in a single process): the sampler
    above, and the checkpoint's RNG states written by rank 0 alone."""
    from transformers import Trainer

    class DataParallelTrainer(Trainer):
        def __init__(self, *args, real_examples: int | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.real_examples = real_examples

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if self.args.world_size <= 1 or self.real_examples is None:
                return super()._get_train_sampler(train_dataset)
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return EvenShardSampler(self.real_examples, len(dataset) - self.real_examples, seed)

        def _save_rng_state(self, output_dir: str) -> None:
            if self.args.world_size <= 1:
                return super()._save_rng_state(output_dir)
            import random

            import numpy as np
            import torch
            import torch.distributed as dist

            state = {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()}
            if torch.cuda.is_available():
                state["cuda"] = torch.cuda.random.get_rng_state_all()
            states: list[Any] = [None] * self.args.world_size
            dist.all_gather_object(states, state)
            if self.args.should_save:  # the files the Trainer reads back on --resume: rng_state_<rank>.pth
                os.makedirs(output_dir, exist_ok=True)
                for index, each in enumerate(states):
                    torch.save(each, os.path.join(output_dir, f"rng_state_{index}.pth"))

    return DataParallelTrainer


# --- one line when a rank fails ---------------------------------------------------------------------------------


@contextlib.contextmanager
def stopping_in_one_line(run_folder: str, timeout_s: float) -> Iterator[None]:
    """Turn what a surviving rank sees when another fails (a gloo/NCCL error, a collective's timeout, or the
    launcher's SIGTERM) into `RankStopped`: one line that says what happened and how to go on."""
    if world_size() <= 1:
        yield
        return
    where = f"rank {rank()} of {world_size()}"
    advice = f"the last complete checkpoint in {run_folder}/checkpoints is kept: rerun the same launch with --resume"

    def stopped_by_launcher(signum, frame):
        message = f"{where}: stopped by the launcher (another rank failed or the job was cancelled); {advice}"
        raise RankStopped(message, by_signal=True)

    previous = signal.signal(signal.SIGTERM, stopped_by_launcher)
    try:
        yield
    except RankStopped:
        raise
    except Exception as error:  # only the process group's own errors are rewritten (_is_group_failure)
        if not _is_group_failure(error):
            raise
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        if "timed out" in first.lower() or "timeout" in first.lower():
            what = f"another rank did not answer within distributed_timeout_s={timeout_s:g}"
        else:
            what = "another rank failed or left"
        raise RankStopped(f"{where}: {what} ({first}); {advice}") from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_group_failure(error: BaseException) -> bool:
    """An error of the process group: a peer gone (connection closed or reset) or a collective timed out."""
    import torch.distributed as dist

    if isinstance(error, dist.DistError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(
        cue in text for cue in ("gloo", "nccl", "connection closed", "connection reset", "timed out", "timeout")
    )
