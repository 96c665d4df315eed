"""`make demo`'s pipeline end to end, cut down for CI (FTKIT_DEMO_QUICK=1): the real server, the real GGUF base
model, training, evaluation and the report; then a second run that reuses what exists."""

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "gsm8k-house-style"


@pytest.mark.slow
@pytest.mark.argilla
def test_the_demo_runs_from_import_to_report_and_reuses_on_a_second_run(tmp_path, argilla_connection, private_argilla):
    project = tmp_path / "gsm8k-house-style"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".ftdata", "__pycache__"))
    config = (project / "ftdata.yaml").read_text()
    config = config.replace("../../annotation_guidelines", str(REPO / "annotation_guidelines"))
    # A workspace of its own: the demo's annotators and dataset never meet another run's.
    (project / "ftdata.yaml").write_text(
        config.replace("workspace: ftkit-demo", f"workspace: demo-{uuid.uuid4().hex[:8]}")
    )
    out = tmp_path / "out"
    env = os.environ | {
        "FTKIT_DEMO_OUT": str(out),
        "FTKIT_DEMO_PROJECT": str(project),
        "FTKIT_DEMO_QUICK": "1",
        "OMP_NUM_THREADS": "1",
    }
    if private_argilla is not None:  # demo.sh's `argilla-local.sh up` finds the session's own server running
        names = ("FTKIT_ARGILLA_HOME", "FTKIT_ARGILLA_VENV", "FTKIT_ARGILLA_PORT", "FTKIT_ARGILLA_ES_PORT",
                 "FTKIT_ARGILLA_REDIS_PORT")  # fmt: skip
        env |= {name: private_argilla.script_env[name] for name in names}
    began = time.monotonic()
    first = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], env=env, capture_output=True, text=True)
    first_seconds = time.monotonic() - began
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    for step in range(1, 13):
        assert f"== {step}/12 " in first.stdout
    manifest = json.loads((out / "export" / "manifest.json").read_text())
    assert sum(split["examples"] for split in manifest["splits"].values()) >= 500
    results = json.loads((out / "eval" / "results.json").read_text())
    assert list(results["contestants"]) == ["base", "base+prompt", "base+fewshot", "finetuned"]
    assert results["fewshot"]["k"] == 3 and results["fewshot"]["tokens"] <= 512  # eval.yaml's CPU cut
    from ftcore import ExportManifest

    assert results["data"]["manifest_fingerprint"] == ExportManifest.read(out / "export").fingerprint
    assert results["training"]["train_examples"] == 24  # the quick cut
    assert {"report.html", "report.md", "results.json", "review_queue.jsonl"} <= {
        p.name for p in (out / "eval").iterdir()
    }
    assert results["verdict"] in first.stdout and "Argilla UI:" in first.stdout
    assert (project / ".ftdata" / "credentials" / "demo-annotators.json").stat().st_mode & 0o777 == 0o600

    began = time.monotonic()
    second = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], env=env, capture_output=True, text=True)
    second_seconds = time.monotonic() - began
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    assert "reusing" in second.stdout and "0 in bulk" in second.stdout
    assert second_seconds < first_seconds
