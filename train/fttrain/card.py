"""The run folder's README.md: a model card written from the folder's own records, in place of peft's empty one.

It says what a reader of the adapter needs: the base model and its licence, the export it was trained on (its
manifest, counts, drops and licence), the method and settings, the losses, and the evaluation's verdict once the
`evaluate:` hook has run (fttrain's CLI rewrites the card then). Licences come from the files that state them:
the base model's card or GGUF metadata (`ftcore.models.model_license`) and the export's manifest (`license` in
the project's ftdata.yaml); where none does, the card says so.

Usage:
    write_model_card("runs/latest")   # -> PosixPath('runs/latest/README.md')
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jinja2

from ftcore.atomic import atomic_write
from ftcore.models import model_license
from ftcore.run_folder import ENVIRONMENT
from fttrain.run_folder import RunFolder

CARD = "README.md"
TEMPLATES = Path(__file__).resolve().parent / "templates"
LISTED_VERSIONS = ("ftkit", "torch", "transformers", "peft", "bitsandbytes")


def write_model_card(run_folder: str | os.PathLike) -> Path:
    """README.md in `run_folder`, from its resolved config, data record, summary (when finished) and environment."""
    folder = RunFolder.open(run_folder)
    text = model_card(folder)
    path = folder.file(CARD)
    with atomic_write(path) as handle:
        handle.write(text)
    return path


def model_card(folder: RunFolder) -> str:
    config, data, summary = folder.config, folder.data, folder.summary
    environment = _environment(folder.file(ENVIRONMENT))
    base_is_local = os.path.isdir(os.path.expanduser(config.base_model.path))
    card = {
        "name": folder.path.name,
        "folder": str(folder.path),
        "what": {"qlora": "A LoRA adapter (QLoRA: trained on a 4-bit base)", "lora": "A LoRA adapter"}.get(
            config.method, "A fully fine-tuned model"
        ),
        "library": "peft" if config.method != "full" else "transformers",
        "base_hub_id": None if base_is_local else config.base_model.path,
        "base_license": model_license(config.base_model),
        "targets": _targets(config.lora.target_modules),
        "hardware": environment.get("cuda") or f"CPU ({environment.get('cpu_threads', '?')} threads)",
        "versions": {name: environment.get("versions", {}).get(name) for name in LISTED_VERSIONS},
    }
    card["versions"] = {name: version for name, version in card["versions"].items() if version}
    template = _environment_of_templates().get_template("model_card.md.j2")
    return template.render(card=card, config=config, data=data, manifest=data.manifest, summary=summary)


def _targets(target_modules: list[str] | str) -> str:
    return "every linear layer" if target_modules == "all-linear" else ", ".join(target_modules)


def _environment(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _environment_of_templates() -> jinja2.Environment:
    # Markdown, not HTML: nothing to escape; undefined names are errors, not empty text.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
