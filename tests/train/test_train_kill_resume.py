"""`fttrain run` killed with SIGKILL mid-epoch, as a checkpoint is being saved, then `--resume`d to the end."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from resume_helpers import assert_resumed_like_uncut, logged_steps, uncut_run

from ftcore import ExportManifest
from fttrain.config import load_train_config
from fttrain.run import last_complete_checkpoint

FTTRAIN = str(Path(sys.executable).parent / "fttrain")


def checkpoints(folder: Path) -> dict[int, bool]:
    """step -> whether its trainer_state.json (written last) is there."""
    found = {}
    for path in folder.glob("checkpoint-*") if folder.is_dir() else []:
        found[int(path.name.removeprefix("checkpoint-"))] = (path / "trainer_state.json").is_file()
    return found


@pytest.mark.slow
def test_killed_while_saving_then_resumed_to_the_same_end(train_config, export_dir, tiny_model_dir, tmp_path):
    path = train_config(epochs=2, save_steps=2, learning_rate=1e-3, eval_each_epoch=False)
    config = load_train_config(path)
    train_examples = ExportManifest.read(export_dir).splits["train"].examples
    expected_steps = math.ceil(train_examples / config.batch_size) * int(config.epochs)  # as an uncut run
    output = Path(config.output_dir)
    saved = output / "checkpoints"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([FTTRAIN, "run", str(path)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip

    # Kill the moment a checkpoint folder appears after a complete one: most likely while it is being written.
    deadline = time.monotonic() + 180
    while True:
        found = checkpoints(saved)
        complete = [step for step, done in found.items() if done]
        if complete and any(step > max(complete) for step in found):
            break
        assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "no second checkpoint within 180 s"
        time.sleep(0.001)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    found = checkpoints(saved)
    print(f"\nkilled with checkpoints (step: trainer_state.json written): {found}")
    assert not (output / "summary.json").exists()

    chosen = last_complete_checkpoint(output)
    state = json.loads((chosen / "trainer_state.json").read_text())
    assert state["global_step"] == int(chosen.name.removeprefix("checkpoint-")) < expected_steps  # mid-run
    assert state["global_step"] == max(step for step, done in found.items() if done)

    # A checkpoint whose trainer_state.json was cut off (killed, or a power cut, while writing it) is never picked.
    cut = saved / f"checkpoint-{state['global_step'] + 1}"
    shutil.copytree(chosen, cut)
    (cut / "trainer_state.json").write_text((chosen / "trainer_state.json").read_text()[:40])
    assert last_complete_checkpoint(output) == chosen

    steps_before = logged_steps(output)
    resumed = subprocess.run([FTTRAIN, "run", str(path), "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["steps"] == expected_steps
    # It went on from the checkpoint, and ended where a run never killed ends.
    uncut = uncut_run(config, tmp_path / "uncut")
    assert_resumed_like_uncut(output, uncut, state["global_step"], steps_before)

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(output))
    assert any("lora_A" in name for name, _ in model.named_parameters())  # the final adapter loads onto the base


def test_a_cut_off_or_empty_trainer_state_is_not_a_checkpoint(tmp_path):
    for step, state in ((4, '{"global_step": 4}'), (8, '{"global_step": 8}'), (12, '{"global_st'), (16, "")):
        folder = tmp_path / "checkpoints" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "trainer_state.json").write_text(state)
    assert last_complete_checkpoint(tmp_path).name == "checkpoint-8"
