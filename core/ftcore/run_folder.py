"""An `fttrain run` folder as a contract: its files, and typed reading of what other tools need from it.

    adapter_config.json, adapter_model.safetensors   the adapter (model.safetensors for method: full)
    tokenizer files                                  the tokenizer it trained with
    fttrain.resolved.yaml                            the train config, resolved
    data_manifest.json                               the export it trained on: fingerprint, folder, its manifest
    environment.json                                 library versions, hardware, seed
    metrics.jsonl, loss.png                          the loss curve
    summary.json                                     steps, losses, tokens, time; the evaluation after the hook
    README.md                                        the model card (fttrain.card), from the files above
    checkpoints/                                     for --resume

fttrain writes it; fteval and `fttrain merge` read it. This core part knows what every tool needs (the base
model, the export's fingerprint, the summary) without the trainer's config class, so that fteval reads a run
without importing fttrain; `fttrain.run_folder.RunFolder` adds the typed train config.

Usage:
    run = RunFolder.open("runs/latest")
    run.base_model.path, run.data.fingerprint, run.summary.tokens_seen
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcore.config import ConfigError, build, read_yaml_mapping
from ftcore.errors import FtdataError
from ftcore.manifest import ExportManifest
from ftcore.models import BaseModel
from ftcore.records import JsonRecord, known_fields

RESOLVED_CONFIG = "fttrain.resolved.yaml"
DATA_MANIFEST = "data_manifest.json"
SUMMARY = "summary.json"
ENVIRONMENT = "environment.json"
METRICS = "metrics.jsonl"
LOSS_PLOT = "loss.png"
CHECKPOINTS = "checkpoints"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


class RunFolderError(FtdataError):
    """A run folder that is missing, or a file of it that is missing or unreadable; the message names it."""


class NotARunFolderError(RunFolderError):
    """The folder is not one `fttrain run` wrote."""


@dataclass
class RunSummary(JsonRecord):
    """summary.json: what a finished run did."""

    steps: int = 0
    epochs: float | None = None
    train_loss: float | None = None
    first_loss: float | None = None
    final_loss: float | None = None
    eval_loss: float | None = None
    seconds: float | None = None
    tokens_seen: int = 0
    tokens_per_second: float | None = None
    peak_memory_mb: float | None = None
    train_examples: int = 0
    truncated_examples: int = 0
    data_manifest: str = ""  # the fingerprint of the export it trained on
    method: str = ""
    evaluation: dict[str, Any] | None = None  # the `evaluate:` hook's results, report and verdict (fttrain.cli)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if data["evaluation"] is None:
            data.pop("evaluation")  # as before the hook existed: a run without one has no such key
        return data

    @classmethod
    def read(cls, path: str | os.PathLike) -> RunSummary:
        return cls(**known_fields(cls, _read_json_object(path)))


@dataclass
class DataRecord:
    """data_manifest.json: the export a run trained on, as its manifest said when the run started."""

    fingerprint: str
    folder: str
    manifest: ExportManifest

    @classmethod
    def of(cls, manifest: ExportManifest, folder: str | os.PathLike) -> DataRecord:
        return cls(manifest.fingerprint, str(folder), manifest)

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "folder": self.folder, **self.manifest.to_dict()}

    def write(self, path: str | os.PathLike) -> None:
        from ftcore.atomic import atomic_write

        with atomic_write(path) as handle:
            handle.write(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, path: str | os.PathLike) -> DataRecord:
        raw = _read_json_object(path)
        fingerprint, folder = raw.pop("fingerprint", None), raw.pop("folder", None)
        if not isinstance(fingerprint, str) or not isinstance(folder, str):
            raise RunFolderError(f"{path}: fingerprint and folder: missing")
        return cls(fingerprint, folder, ExportManifest.from_dict(raw, source=str(path)))


@dataclass
class RunFolder:
    """A run folder by its path; each file is read when asked for, so a run in progress can be opened too."""

    path: Path
    _resolved: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunFolder:
        """The run folder at `path`, or a one-line error when it is not one."""
        folder = Path(path)
        if not folder.is_dir():
            raise NotARunFolderError(f"{folder}: not a folder: give the output_dir of an `fttrain run`")
        if not (folder / RESOLVED_CONFIG).is_file():
            raise NotARunFolderError(
                f"{folder}: not a run folder (no {RESOLVED_CONFIG}): give the output_dir of an `fttrain run`"
            )
        return cls(folder)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def resolved(self) -> dict[str, Any]:
        """fttrain.resolved.yaml as a mapping in today's shape (fttrain.run_folder types it as the train config)."""
        if self._resolved is None:
            self._resolved = current_shape(read_yaml_mapping(self.file(RESOLVED_CONFIG)))
        return self._resolved

    @property
    def base_model(self) -> BaseModel:
        """The base model the run was trained from, as its resolved config states it."""
        value = self.resolved.get("base_model")
        if not isinstance(value, dict):
            raise ConfigError(f"{self.file(RESOLVED_CONFIG)}: base_model: missing")
        known = {key: value[key] for key in ("path", "gguf_file", "dtype") if key in value}
        return build(BaseModel, known, str(self.file(RESOLVED_CONFIG)), prefix="base_model.")

    @property
    def data(self) -> DataRecord:
        return DataRecord.read(self.file(DATA_MANIFEST))

    @property
    def summary(self) -> RunSummary | None:
        """summary.json, or None for a run that has not finished."""
        path = self.file(SUMMARY)
        return RunSummary.read(path) if path.is_file() else None

    @property
    def has_adapter(self) -> bool:
        return all(self.file(name).is_file() for name in ADAPTER_FILES)

    @property
    def started(self) -> bool:
        """Checkpoints or a summary are there: `fttrain run` continues such a folder only with --resume."""
        return self.file(CHECKPOINTS).exists() or self.file(SUMMARY).exists()

    def write_summary(self, summary: RunSummary) -> None:
        summary.write(self.file(SUMMARY))

    def write_data_record(self, record: DataRecord) -> None:
        record.write(self.file(DATA_MANIFEST))

    def write_environment(self, environment: dict[str, Any]) -> None:
        from ftcore.atomic import atomic_write

        with atomic_write(self.file(ENVIRONMENT)) as handle:
            handle.write(json.dumps(environment, indent=2) + "\n")


def current_shape(resolved: dict[str, Any]) -> dict[str, Any]:
    """A resolved train config as ftkit writes it today. Runs trained before the base model became one section
    wrote `base_model: <path>`, `gguf_file:` and `quant.compute_dtype:`; their folders still open (merge, fteval)."""
    data = copy.deepcopy(resolved)
    base = data.get("base_model")
    base = {"path": base} if isinstance(base, str) else base
    if isinstance(base, dict):
        if "gguf_file" in data:
            base.setdefault("gguf_file", data.pop("gguf_file"))
        quant = data.get("quant")
        if isinstance(quant, dict) and "compute_dtype" in quant:
            base.setdefault("dtype", quant.pop("compute_dtype"))
        data["base_model"] = base
    return data


def _read_json_object(path: str | os.PathLike) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFolderError(f"{path}: unreadable: {error}") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path}: expected a JSON object")
    return data
