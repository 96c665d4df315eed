"""A run folder as fttrain reads it: the typed train config, also from a run an older ftkit wrote."""

import yaml

from ftcore.models import BaseModel
from fttrain.config import load_train_config
from fttrain.run_folder import RunFolder


def test_the_resolved_config_round_trips(train_config, tmp_path):
    config = load_train_config(train_config(max_seq_len=300))
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    folder.write_config(config)
    assert RunFolder.open(folder.path).config == config


def test_a_run_written_before_base_model_was_a_section_still_opens(train_config, tmp_path):
    old = yaml.safe_load(train_config().read_text())
    path = old["base_model"]
    old |= {"gguf_file": "m.gguf", "quant": {"quant_type": "nf4", "double_quant": True, "compute_dtype": "float32"}}
    (tmp_path / "old-run").mkdir()
    (tmp_path / "old-run" / "fttrain.resolved.yaml").write_text(yaml.safe_dump(old))
    config = RunFolder.open(tmp_path / "old-run").config
    assert config.base_model == BaseModel(path, "m.gguf", "float32") and config.quant.quant_type == "nf4"
