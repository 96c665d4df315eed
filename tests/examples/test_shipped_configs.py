"""Every config shipped under examples/ loads with the loader its tool uses, and the GPU training config plans.

Files are discovered, not listed, and each goes to its loader by name or content: a config added, renamed or
reshaped is checked as it is, and one that no loader claims fails here.
"""

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ftcore.style import StyleSpec
from ftdata.project import Project
from fteval.config import load_eval_config
from fttrain.cli import main as fttrain_main
from fttrain.config import load_train_config

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    path
    for pattern in ("*.yaml", "*.yml")
    for path in (REPO / "examples").rglob(pattern)
    if not any(part.startswith(".") for part in path.relative_to(REPO).parts)  # a demo's .ftdata store, if any
)
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # "Qwen/Qwen2.5-7B-Instruct", not "../../demo-out/x"
# Qwen2.5-7B-Instruct's published config.json (the shape `fttrain plan` sizes the run from).
QWEN25_7B = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152064,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
QWEN25_7B_PARAMETERS = 7_615_616_512  # the model card's 7.61B, to the parameter


def kind(path: Path) -> str:
    """Which tool reads the file: by its name, or for a style spec by its content."""
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    if path.name == "ftdata.yaml":
        return "ftdata project"
    if isinstance(content, dict) and "checks" in content:
        return "style spec"
    if path.name.startswith("accelerate"):
        return "accelerate config"
    if path.name.startswith("train"):
        return "fttrain config"
    if path.name.startswith("eval"):
        return "fteval config"
    pytest.fail(f"{path.relative_to(REPO)}: no loader claims this config: teach tests/examples/{Path(__file__).name}")


def test_the_examples_ship_every_kind_of_config():
    kinds = {kind(path) for path in SHIPPED}
    assert kinds == {"ftdata project", "style spec", "fttrain config", "fteval config", "accelerate config"}
    names = {str(path.relative_to(REPO)) for path in SHIPPED}
    assert {"examples/gsm8k-house-style/train-gpu.yaml", "examples/gsm8k-house-style/eval-gpu.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO / "examples")) for p in SHIPPED])
def test_shipped_config_loads_with_its_tool(path):
    found = kind(path)
    if found == "ftdata project":
        project = Project.open(path.parent)
        config = project.config
        assert config.dataset
        for referenced in (config.guidelines, config.style):
            if referenced:
                assert (path.parent / referenced).resolve().is_file(), referenced
    elif found == "style spec":
        spec = StyleSpec.load(path)
        assert spec.checks
    elif found == "accelerate config":  # what `accelerate launch --config_file` reads (tests/train/test_distributed.py)
        from accelerate.commands.config.config_args import load_config_from_file

        assert load_config_from_file(str(path)).distributed_type
    elif found == "fttrain config":
        config = load_train_config(path)
        if config.evaluate:  # the eval config training runs when it ends: it must load too
            assert load_eval_config(config.evaluate).base_model
    else:
        config = load_eval_config(path)
        assert Path(config.style).is_file() and StyleSpec.load(config.style).checks


def key_paths(tree: object, prefix: tuple[str, ...] = ()):
    """(dotted key, value) of every scalar in a loaded YAML tree."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from key_paths(value, (*prefix, str(key)))
    else:
        yield ".".join(prefix), tree


@pytest.fixture
def qwen_shaped_model(tmp_path, tiny_tokenizer_dir) -> Path:
    """Qwen2.5-7B-Instruct's config.json beside a local tokenizer: `fttrain plan` reads no weights, so this is all
    it needs of the model, offline."""
    from transformers import AutoTokenizer

    folder = tmp_path / "qwen2.5-7b-shape"
    AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir)).save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps(QWEN25_7B))
    return folder


@pytest.mark.parametrize("path", [p for p in SHIPPED if p.name == "train-gpu.yaml"], ids=lambda p: p.parent.name)
def test_the_gpu_training_config_plans_a_run_that_fits_its_gpu(path, qwen_shaped_model, export_dir):
    """`fttrain plan` on the shipped GPU config, as it is, but for where its model and data come from: the hub model
    stands in as its config (offline), the export is the tests' one. It must fit the GPU it names."""
    tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    values = dict(key_paths(tree))
    [model_key] = [key for key, value in values.items() if isinstance(value, str) and HUB_ID.match(value)]
    [data_key] = [key for key, value in values.items() if isinstance(value, str) and value.endswith("/export")]
    overrides = ["--set", f"{model_key}={qwen_shaped_model}", "--set", f"{data_key}={export_dir}"]
    result = CliRunner().invoke(fttrain_main, ["plan", str(path), *overrides, "--device", "config", "--json"])
    assert result.exit_code == 0, result.output  # exit 1: it would not fit the GPU its own config names
    plan = json.loads(result.stdout)
    config = load_train_config(path, [item for item in overrides if item != "--set"])
    assert plan["parameters"] == QWEN25_7B_PARAMETERS
    assert plan["fits"] and plan["device"]["memory_gb"] == config.gpu_memory_gb
    assert plan["memory"]["total"] <= config.gpu_memory_gb * 0.9
    assert plan["total_steps"] > 0 and plan["train_examples"] > 0
