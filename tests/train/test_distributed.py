"""Data-parallel training on CPU (gloo), as users launch it: 2 ranks under torchrun and accelerate train exactly as
one process with twice the batch, every example once per epoch, rank 0 the only writer, a killed rank ends the job
in one line and `--resume` goes on with 2 ranks, and the `evaluate:` hook runs once.

Tolerance of the loss comparisons: rel 1e-5. Both runs compute in fp32 on the same examples per optimiser step
(the token-averaged loss makes the 2-rank gradient the same sum as the 1-process one); what differs is the order of
float additions (gloo's all-reduce sums two partial gradients, one process sums one batch), a relative error of
~1e-7 per step that Adam carries along: measured at most 2e-7 over 24 steps, so 1e-5 leaves 50x room and still
catches one example too many or too few in a step (a change of ~1e-3 in that step's loss).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from resume_helpers import adapter_weights, assert_resumed_like_uncut, logged_steps, losses

from fttrain.config import load_train_config
from fttrain.distributed import EvenShardSampler, filler_count
from fttrain.run import last_complete_checkpoint, run

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
RANKS = 2


def launch(command: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # 2 ranks x 1 thread on the 2-core CI machines
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def torchrun(*arguments: str) -> list[str]:
    # --standalone: a rendezvous on a free port, so parallel test sessions never meet on 29500.
    return [str(BIN / "torchrun"), "--standalone", f"--nproc_per_node={RANKS}", "-m", "fttrain.cli", *arguments]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def files(folder: Path) -> set[str]:
    """The run folder's files, the checkpoints' RNG states named alike (one file per rank, or one)."""
    found = {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}
    return {name.split("rng_state")[0] + "rng_state" if "rng_state" in name else name for name in found}


# --- the sampler, against accelerate's own sharding (no processes) ---------------------------------------------


@pytest.mark.parametrize("examples, ranks, batch", [(61, 2, 4), (64, 2, 4), (3, 2, 4), (50, 3, 2)])
def test_each_example_once_per_epoch_across_ranks(examples, ranks, batch):
    """What each rank draws (accelerate's BatchSamplerShard deals batches in turn): every example exactly once per
    epoch, whatever the count; the short last global batch completed with fillers, never with repeats; and step
    by step the same examples as one process drawing ranks x batch at a time."""
    from accelerate.data_loader import BatchSamplerShard, SeedableRandomSampler
    from torch.utils.data import BatchSampler

    fillers = filler_count(examples, ranks * batch)
    assert (examples + fillers) % (ranks * batch) == 0 and fillers < ranks * batch
    one_process = SeedableRandomSampler(range(examples), data_seed=13)
    for epoch in (0, 1):
        per_rank = []
        for rank in range(ranks):  # each rank its own sampler, as each process has
            sampler = EvenShardSampler(examples, fillers, seed=13)
            sampler.set_epoch(epoch)
            per_rank.append(list(BatchSamplerShard(BatchSampler(sampler, batch, False), ranks, rank)))
        assert len({len(batches) for batches in per_rank}) == 1  # the same number of steps on every rank
        assert all(len(b) == batch for batches in per_rank for b in batches)  # all full: no short batch to pad
        drawn = [index for step in zip(*per_rank, strict=True) for b in step for index in b]
        real = [index for index in drawn if index < examples]
        assert sorted(real) == list(range(examples))  # each once: none twice, none left out
        assert drawn[len(real) :] == list(range(examples, examples + fillers))  # fillers only at the very end

        one_process.set_epoch(epoch)
        order = list(one_process)
        steps = [order[start : start + ranks * batch] for start in range(0, examples, ranks * batch)]
        global_steps = [[i for b in step for i in b if i < examples] for step in zip(*per_rank, strict=True)]
        assert global_steps == steps  # one process at batch ranks x b draws the same examples per step


# --- 2 ranks under torchrun -------------------------------------------------------------------------------------


@pytest.fixture
def eval_config_path(tmp_path, tiny_model_dir, export_dir) -> Path:
    """A small fteval config for the `evaluate:` hook (4 test prompts, no capability suite)."""
    path = tmp_path / "eval.yaml"
    config = {
        "base_model": str(tiny_model_dir), "data": str(export_dir), "output_dir": str(tmp_path / "unused"),
        "style": str(REPO / "examples" / "quickstart" / "style.yaml"), "system_prompt": "Answer in the house format.",
        "max_new_tokens": 16, "batch_size": 4, "limit": 4, "capability_tasks": [],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_two_ranks_train_as_one_process_with_twice_the_batch(train_config, tmp_path, eval_config_path):
    """61 examples (odd: the last global batch is 5 examples and 3 fillers), batch 4 on each of 2 ranks, 2 epochs,
    against one process at batch 8 and one at batch 4 x accumulation 2; the evaluate hook once, on rank 0."""
    path = train_config(batch_size=4, epochs=2, train_limit=61, evaluate=str(eval_config_path), save_steps=4)
    config = load_train_config(path)
    result = launch_with_rank_1_unable_to_write(torchrun("run", str(path)))
    assert result.returncode == 0, result.stderr[-3000:]  # so rank 1 wrote no file
    output = Path(config.output_dir)

    single = run(replace(config, batch_size=8, evaluate=None, output_dir=str(tmp_path / "one-process")))
    assert (last_complete_checkpoint(output) / "rng_state_1.pth").is_file()  # rank 1's state, written by rank 0
    accumulated = run(replace(config, gradient_accumulation=2, evaluate=None, output_dir=str(tmp_path / "accumulated")))
    summary = json.loads((output / "summary.json").read_text())
    expected_steps = 2 * math.ceil(61 / 8)
    assert summary["steps"] == single.steps == accumulated.steps == expected_steps
    mine = losses(output)
    assert sorted(mine) == list(range(1, expected_steps + 1))
    for reference in (tmp_path / "one-process", tmp_path / "accumulated"):
        assert mine == pytest.approx(losses(reference), rel=1e-5)
    # The same adapter at the end, to float rounding (the resume helpers' tolerance).
    mine_adapter, theirs = adapter_weights(output), adapter_weights(tmp_path / "one-process")
    assert mine_adapter.keys() == theirs.keys() and mine_adapter
    for name, tensor in theirs.items():
        assert float((mine_adapter[name] - tensor).abs().max()) <= 1e-5 * max(1.0, float(tensor.abs().max())), name
    # The validation loss is the Trainer's mean of per-batch losses, and with 2 ranks each pair of batches (one per
    # rank) is token-weighted together (average_tokens_across_devices) where one process weights each batch
    # alike: close, not the same sum (measured 1.5e-4 relative on this data).
    assert summary["eval_loss"] == pytest.approx(accumulated.eval_loss, rel=1e-3)
    # Tokens seen are every rank's together (a rank counting only its own would see about half).
    assert summary["tokens_seen"] == single.tokens_seen
    trained = [entry for entry in metrics(output) if "loss" in entry]
    alone = [entry for entry in metrics(tmp_path / "one-process") if "loss" in entry]
    assert [e["num_input_tokens_seen"] for e in trained] == [e["num_input_tokens_seen"] for e in alone]
    assert all(entry["tokens_per_second"] > 0 for entry in trained)

    # Rank 0 alone wrote (rank 1 could not: see above): the same files as one process's run, checkpoints and their
    # RNG states included, one metrics line per log; and one summary printed.
    assert files(output) - {f for f in files(output) if f.startswith("eval/")} == files(tmp_path / "one-process")
    assert len(metrics(output)) == len(metrics(tmp_path / "one-process"))
    summaries = [line for line in result.stderr.splitlines() if re.match(r"\d+ steps \(\d+ epochs\) on ", line)]
    assert len(summaries) == 1 and result.stderr.count("run folder:") == 1

    # The evaluate hook: once (one verdict, one evaluation folder), on the adapter the ranks trained.
    assert result.stderr.count("Verdict.") == 1
    evaluation = summary["evaluation"]
    results = json.loads(Path(evaluation["results"]).read_text())
    assert results["contestants"]["finetuned"]["adapter"] == str(output)
    assert [p.name for p in output.iterdir() if p.name.startswith("eval")] == ["eval"]


def launch_with_rank_1_unable_to_write(command: list[str]) -> subprocess.CompletedProcess:
    """Run a launch with rank 1's file-size limit at 1 byte from its first moments: a write past it fails there
    (EFBIG: Python ignores SIGXFSZ), which ends the job; pipes and sockets are not files. One byte, not zero:
    `tempfile` probes its folder with a 4-byte write at import (by dill, under datasets), and a partial write
    passes that probe; any real file (a config, metrics, a checkpoint) is longer."""
    import psutil

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while (rank_1 := rank_process(job, 1)) is None:
        assert job.poll() is None and time.monotonic() < deadline, "rank 1 never started"
        time.sleep(0.005)
    rank_1.rlimit(psutil.RLIMIT_FSIZE, (1, 1))
    stdout, stderr = job.communicate(timeout=600)
    return subprocess.CompletedProcess(command, job.returncode, stdout, stderr)


def rank_process(launcher: subprocess.Popen, rank: int):
    """The worker process of `rank` under a launcher (found by the RANK in its environment)."""
    import psutil

    for child in psutil.Process(launcher.pid).children(recursive=True):
        try:
            if child.environ().get("RANK") == str(rank) and "fttrain.cli" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


@pytest.mark.slow
def test_a_killed_rank_ends_the_job_in_one_line_and_two_ranks_resume(train_config, tmp_path):
    path = train_config(batch_size=4, epochs=4, save_steps=2, eval_each_epoch=False, distributed_timeout_s=60)
    config = load_train_config(path)
    output = Path(config.output_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(torchrun("run", str(path)), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while last_complete_checkpoint(output) is None:
            assert job.poll() is None, f"the job ended before a rank could be killed: {job.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.01)
        victim = rank_process(job, 1)
        assert victim is not None
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        _, stderr = job.communicate(timeout=120)  # a hang would end the test here
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode != 0
    assert time.monotonic() - killed_at < 60  # torchrun's monitor stops the survivor; gloo would fail it too
    [line] = error_lines(stderr)  # the survivor's one line (torchrun adds its own failure report)
    assert line.startswith("error: rank 0 of 2: ") and "--resume" in line and str(output) in line
    assert not (output / "summary.json").exists()

    checkpoint = last_complete_checkpoint(output)
    step = json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]
    assert {p.name for p in checkpoint.glob("rng_state*")} == {"rng_state_0.pth", "rng_state_1.pth"}  # by rank 0
    steps_before = logged_steps(output)
    resumed = launch(torchrun("run", str(path), "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # It went on from the checkpoint, and ended where one process at twice the batch ends, uncut.
    uncut = tmp_path / "uncut"
    run(replace(config, batch_size=8, output_dir=str(uncut)))
    assert_resumed_like_uncut(output, uncut, step, steps_before)


def start_and_wait_for_a_checkpoint(path: Path, output: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(torchrun("run", str(path)), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while last_complete_checkpoint(output) is None:
        assert job.poll() is None, f"the job ended too soon: {job.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.01)
    return job


@pytest.mark.slow
def test_a_rank_that_hangs_ends_the_job_after_distributed_timeout_s(train_config):
    """A rank that stops answering (SIGSTOP: alive, so the launcher's monitor sees nothing) fails the others'
    next collective after distributed_timeout_s, in one line, instead of torch's 30-minute default."""
    path = train_config(batch_size=4, epochs=20, save_steps=2, eval_each_epoch=False, distributed_timeout_s=15)
    output = Path(load_train_config(path).output_dir)
    job = start_and_wait_for_a_checkpoint(path, output)
    try:
        rank_process(job, 1).send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        _, stderr = job.communicate(timeout=180)
        waited = time.monotonic() - stopped_at
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode != 0
    assert 15 <= waited < 15 + 90  # the timeout, then torchrun's grace period before it kills the stopped rank
    [line] = error_lines(stderr)
    assert line.startswith("error: rank 0 of 2: another rank did not answer within distributed_timeout_s=15 (")
    assert "--resume" in line


@pytest.mark.slow
def test_a_cancelled_job_stops_every_rank_in_one_line_each(train_config):
    """SIGTERM to torchrun (a scheduler cancelling the job) reaches every rank: each says so in one line."""
    path = train_config(batch_size=4, epochs=20, save_steps=2, eval_each_epoch=False)
    output = Path(load_train_config(path).output_dir)
    job = start_and_wait_for_a_checkpoint(path, output)
    try:
        job.send_signal(signal.SIGTERM)
        _, stderr = job.communicate(timeout=120)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode != 0
    lines = error_lines(stderr)
    assert sorted(line.split(":")[1] for line in lines) == [" rank 0 of 2", " rank 1 of 2"]
    assert all("stopped by the launcher" in line and "--resume" in line for line in lines)
    assert not re.search(r'File ".*/(fttrain|transformers)/', stderr)  # no rank printed a traceback (torchrun does)


# --- accelerate launch --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_accelerate_launch_trains_two_ranks_and_refuses_launches_that_would_not(train_config, tmp_path):
    accelerate = [str(BIN / "accelerate"), "launch", "--num_machines=1", "--mixed_precision=no", "--dynamo_backend=no"]
    module = ["-m", "fttrain.cli", "run"]
    path = train_config(batch_size=4)
    port = f"--main_process_port={free_port()}"
    result = launch([*accelerate, "--multi_gpu", "--num_processes=2", port, *module, str(path)])
    assert result.returncode == 0, result.stderr[-3000:]
    output = Path(load_train_config(path).output_dir)
    summary = json.loads((output / "summary.json").read_text())
    assert summary["steps"] == 64 // 8  # 2 ranks x 4: 8 steps an epoch, not 16 (one process at 4)

    # accelerate runs `--cpu --num_processes 2` as one process, and an FSDP launch on CPUs as DDP: both refused.
    one = train_config(batch_size=4, output_dir=str(tmp_path / "cpu"))
    result = launch([*accelerate, "--cpu", "--num_processes", "2", *module, str(one)])
    assert result.returncode != 0
    [line] = error_lines(result.stderr)
    assert "starts one process" in line and "torchrun --nproc_per_node 2" in line
    assert not (tmp_path / "cpu").exists()

    fsdp = train_config(batch_size=4, output_dir=str(tmp_path / "fsdp"))
    config_file = REPO / "examples" / "gsm8k-house-style" / "accelerate-fsdp.yaml"
    result = launch(
        [str(BIN / "accelerate"), "launch", "--config_file", str(config_file), "--num_processes=2",
         f"--main_process_port={free_port()}", *module, str(fsdp)]
    )  # fmt: skip
    assert result.returncode != 0
    [line] = error_lines(result.stderr)  # said once, by rank 0
    assert line.startswith("error: FSDP needs CUDA GPUs")
    assert not (tmp_path / "fsdp").exists()


def test_the_fsdp_config_loads_as_accelerate_reads_it():
    """FSDP cannot run on CPUs (accelerate shards only GPU devices): the GPU config ships, and loads."""
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    config = load_config_from_file(str(REPO / "examples" / "gsm8k-house-style" / "accelerate-fsdp.yaml"))
    assert config.distributed_type == DistributedType.FSDP
    assert config.fsdp_config["fsdp_version"] == 2
    assert config.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # the adapter saved whole, by rank 0
    assert config.mixed_precision == "bf16" and config.num_machines == 1
