"""No setting in the configs shipped in examples/ is stated twice (that each loads: test_shipped_configs.py).

"Stated twice", precisely: a *shared setting* is one that configs of different tools need and that must agree,
each known under its key in each kind of config:

    setting          train config (fttrain)    eval config (fteval)   ftdata.yaml
    base model       base_model                base_model             lint.tokenizer
    sequence length  max_seq_len               -                      lint.max_seq_len
    epochs           epochs                    -                      cost.epochs
    GPU throughput   gpu_tokens_per_second     -                      cost.gpu_tokens_per_second
    GPU price        gpu_usd_per_hour          -                      cost.gpu_usd_per_hour

A *pipeline* is a train config with the eval configs that score its runs (its `evaluate:` hook, or an eval
config whose `run` is its output_dir) and the ftdata project that names it (`train_config`). A setting is
stated twice when more than one file of a pipeline writes it (a value other than null). Paths that several
configs point at (the export, the style spec) are references to one file, not settings written twice.
"""

import os
from pathlib import Path

import yaml

from ftcore.config import read_yaml_mapping
from ftdata.project import SHARED_WITH_TRAINING

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CONFIGS = sorted(p for p in EXAMPLES.rglob("*.yaml") if not any(part.startswith(".") for part in p.parts))
TRAIN_KEYS = ("base_model", "max_seq_len", "epochs", "gpu_tokens_per_second", "gpu_usd_per_hour")
EVAL_KEYS = ("base_model",)


def kind(path: Path) -> str:
    # accelerate-*.yaml: accelerate's own launcher config (distribution only, none of the settings above)
    for prefix in ("ftdata", "train", "eval", "style", "accelerate"):
        if path.name.startswith(prefix):
            return prefix
    raise AssertionError(f"{path}: a shipped config of no known kind: add its loader to this test")


def stated(path: Path, root: Path) -> dict[str, str]:
    """Shared setting (by its train config key) -> where this file states it."""
    data = read_yaml_mapping(path)
    shown = path.relative_to(root)
    if kind(path) == "ftdata":
        found = {}
        for key, setting in SHARED_WITH_TRAINING.items():
            section, name = key.split(".")
            if (data.get(section) or {}).get(name) is not None:
                found[setting] = f"{shown}: {key}"
        return found
    keys = TRAIN_KEYS if kind(path) == "train" else EVAL_KEYS if kind(path) == "eval" else ()
    return {key: f"{shown}: {key}" for key in keys if data.get(key) is not None}


def pipelines(configs: list[Path]) -> list[list[Path]]:
    def resolved(base: Path, value: str | None) -> str | None:
        return os.path.normpath(base.parent / value) if value else None

    found = []
    for train in (p for p in configs if kind(p) == "train"):
        data = read_yaml_mapping(train)
        evals = [
            e
            for e in configs
            if kind(e) == "eval"
            and (
                resolved(train, data.get("evaluate")) == str(e)
                or resolved(e, read_yaml_mapping(e).get("run")) == resolved(train, data.get("output_dir"))
            )
        ]
        projects = [
            p
            for p in configs
            if kind(p) == "ftdata" and resolved(p, read_yaml_mapping(p).get("train_config")) == str(train)
        ]
        found.append([train, *evals, *projects])
    return found


def twice(configs: list[Path], root: Path = EXAMPLES) -> list[str]:
    problems = []
    for pipeline in pipelines(configs):
        where: dict[str, list[str]] = {}
        for path in pipeline:
            for setting, place in stated(path, root).items():
                where.setdefault(setting, []).append(place)
        problems += [" and ".join(places) for places in where.values() if len(places) > 1]
    return problems


def test_the_example_pipelines_are_what_this_test_checks():
    # The shipped example: the CPU demo's train config with its eval config and the project that names it,
    # and the GPU run's train config with its own eval config. A pipeline lost to a renamed key fails here.
    names = [[str(p.relative_to(EXAMPLES)) for p in pipeline] for pipeline in pipelines(CONFIGS)]
    assert sorted(names) == [
        ["gsm8k-house-style/train-gpu.yaml", "gsm8k-house-style/eval-gpu.yaml"],
        ["gsm8k-house-style/train.yaml", "gsm8k-house-style/eval.yaml", "gsm8k-house-style/ftdata.yaml"],
    ]


def test_no_setting_in_examples_is_stated_twice():
    assert twice(CONFIGS) == []


def test_the_check_finds_a_setting_stated_twice(tmp_path):
    # The rule itself, on a pipeline that states the sequence length and the base model twice.
    files = {
        "ftdata.yaml": {"train_config": "train.yaml", "lint": {"max_seq_len": 512}},
        "train.yaml": {"base_model": "m", "max_seq_len": 320, "output_dir": "runs/x"},
        "eval.yaml": {"base_model": "m", "run": "runs/x"},
    }
    for name, data in files.items():
        (tmp_path / name).write_text(yaml.safe_dump(data))
    assert sorted(twice(sorted(tmp_path.glob("*.yaml")), tmp_path)) == [
        "train.yaml: base_model and eval.yaml: base_model",
        "train.yaml: max_seq_len and ftdata.yaml: lint.max_seq_len",
    ]
