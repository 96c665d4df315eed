"""The base model, one way for every tool: where it is (`BaseModel`, a config section), and its loaders.

fttrain (run, plan, merge), fteval and ftdata's token counts all load the base model and its tokenizer here,
and an unloadable one is the same one-line error everywhere, naming the setting:
"base_model 'org/missing': cannot load its tokenizer: <the first line of transformers' reason>".

Usage:
    base = BaseModel(path="models/smollm2", gguf_file="smollm2-135m-instruct.gguf")
    tokenizer = load_tokenizer(base)
    model = load_base(base, four_bit=QuantConfig())            # 4-bit NF4 (QLoRA)
    config = load_model_config(BaseModel("Qwen/Qwen2.5-7B-Instruct"))   # a few KB, never the weights

In a YAML config a plain string is shorthand for the folder or hub id alone: `base_model: org/model` is
`base_model: {path: org/model}`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from ftcore.config import option
from ftcore.errors import FtdataError
from ftcore.quiet import quiet_bitsandbytes, transformers_bars_off

quiet_bitsandbytes()  # before any tool imports bitsandbytes (through transformers or peft)

Dtype = Literal["auto", "bfloat16", "float16", "float32"]


class ModelLoadError(FtdataError):
    """A model, its tokenizer or its config cannot be loaded; the message names the setting that points at it."""


@dataclass
class ModelSource:
    """Where a model's files are: a local folder or a hub id, and optionally a GGUF file inside it."""

    SHORTHAND: ClassVar[str] = "path"  # a string in YAML means {path: that string}

    path: str = option("", "A local folder (relative to this file) or a hub id")
    gguf_file: str | None = option(None, "A GGUF file inside `path`, dequantised by transformers on load (none: none)")

    def label(self) -> str:
        """How reports name it: the path, with the GGUF file when there is one."""
        return f"{self.path} ({self.gguf_file})" if self.gguf_file else self.path

    def same_files(self, other: ModelSource) -> bool:
        """The same folder or hub id (symlinks and `..` resolved for a local folder) and the same GGUF file."""
        return _identity(self.path) == _identity(other.path) and (self.gguf_file or None) == (other.gguf_file or None)


@dataclass
class BaseModel(ModelSource):
    """The base model a config trains or evaluates: where it is, and the dtype it loads and computes in."""

    dtype: Dtype = option(
        "auto",
        "Dtype the weights load and compute in (with qlora: of the 4-bit matmuls): auto = bfloat16 on CUDA, "
        "float32 on CPU (bf16 is ~5x slower there)",
    )


@dataclass
class QuantConfig:
    """4-bit loading through bitsandbytes (QLoRA)."""

    quant_type: Literal["nf4", "fp4"] = option("nf4", "4-bit data type (NF4 is QLoRA's)")
    double_quant: bool = option(True, "Quantise the quantisation constants too (saves ~0.4 bit per weight)")
    MOVED: ClassVar[dict[str, str]] = {"compute_dtype": "base_model.dtype"}


def as_base_model(value: BaseModel | ModelSource | str) -> BaseModel:
    """A `BaseModel` from the section itself, a `ModelSource` or the shorthand string (a folder or hub id)."""
    if isinstance(value, BaseModel):
        return value
    if isinstance(value, ModelSource):
        return BaseModel(path=value.path, gguf_file=value.gguf_file)
    return BaseModel(path=value)


def torch_dtype(name: str):
    """The torch dtype a `BaseModel.dtype` names; `auto` is bfloat16 on CUDA and float32 on the CPU."""
    import torch

    if name != "auto":
        return getattr(torch, name)
    return torch.bfloat16 if torch.cuda.is_available() else torch.float32


def load_tokenizer(source: ModelSource | str, setting: str = "base_model"):
    """The tokenizer of a folder, hub id or GGUF file (offline runs need it in the local cache)."""
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, source, setting, "its tokenizer")


def load_model_config(source: ModelSource | str, setting: str = "base_model"):
    """The model's config (its shape), never its weights."""
    from transformers import AutoConfig

    return _from_pretrained(AutoConfig, source, setting, "its config")


def load_base(
    source: BaseModel | ModelSource | str,
    *,
    setting: str = "base_model",
    dtype: Any = None,
    four_bit: QuantConfig | None = None,
    device: str | None = None,
):
    """The causal LM at `source`, in `dtype` (default: the section's own, `auto` by default), optionally 4-bit.

    `device`: None puts the whole model on this process's GPU when there is CUDA (under `accelerate launch` or
    `torchrun`, each rank its own: LOCAL_RANK), else on the CPU; "auto" spreads a model too large for one GPU
    over all of them.
    """
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    base = as_base_model(source)
    if dtype is None or isinstance(dtype, str):
        dtype = torch_dtype(dtype or base.dtype)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if device is not None:
        kwargs["device_map"] = device
    elif torch.cuda.is_available():
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    if four_bit is not None:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=four_bit.quant_type,
            bnb_4bit_use_double_quant=four_bit.double_quant,
            bnb_4bit_compute_dtype=dtype,
            # FSDP shards flat tensors of one dtype: 4-bit blocks stored in the compute dtype shard with the rest.
            **({"bnb_4bit_quant_storage": dtype} if os.environ.get("ACCELERATE_USE_FSDP", "") == "true" else {}),
        )
    with transformers_bars_off():  # the CLIs show loading as a phase of their own progress display
        return _from_pretrained(AutoModelForCausalLM, base, setting, "it", **kwargs)


def model_license(source: ModelSource | str, hub_cache: str | os.PathLike | None = None) -> str | None:
    """The model's licence where its own files state it, reading nothing from the network: the `license` of its
    model card's front matter (README.md in a local folder, or in the local Hugging Face cache for a hub id),
    else a GGUF file's `general.license`. None when no file says. `hub_cache`: another cache folder than the
    Hugging Face default.

    Usage:
        model_license(BaseModel(path="models/smollm2", gguf_file="smollm2.gguf"))   # -> 'apache-2.0'
    """
    source = as_base_model(source)
    folder = os.path.expanduser(source.path)
    if os.path.isdir(folder):
        card = os.path.join(folder, "README.md")
        found = _card_license(card) if os.path.isfile(card) else None
        if found is None and source.gguf_file:
            found = _gguf_license(os.path.join(folder, source.gguf_file))
        return found
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(source.path, "README.md", cache_dir=hub_cache)
    except Exception:  # not a valid hub id: nothing to read
        return None
    return _card_license(cached) if isinstance(cached, str) else None


def _card_license(path: str) -> str | None:
    """`license` from a model card's YAML front matter (`other` with its `license_name` when it has one)."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("---"):
        return None
    front, sep, _ = text[3:].partition("\n---")
    try:
        meta = yaml.safe_load(front) if sep else None
    except yaml.YAMLError:
        return None
    value = meta.get("license") if isinstance(meta, dict) else None
    if isinstance(value, list):  # a card may list several
        value = ", ".join(str(item) for item in value)
    if value == "other" and isinstance(meta.get("license_name"), str):
        value = f"other ({meta['license_name']})"
    return str(value) if value else None


def _gguf_license(path: str) -> str | None:
    try:
        from gguf import GGUFReader

        field = GGUFReader(path).fields.get("general.license")
        return str(field.contents()) if field is not None else None
    except Exception:  # an unreadable or foreign file states no licence
        return None


def _from_pretrained(auto_class: Any, source: ModelSource | str, setting: str, what: str, **kwargs: Any) -> Any:
    source = as_base_model(source)
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    try:
        return auto_class.from_pretrained(source.path, **kwargs)
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"{setting} {source.label()!r}: cannot load {what}: {first}") from None


def _identity(path: str) -> str:
    return os.path.realpath(path) if path and os.path.exists(path) else path
