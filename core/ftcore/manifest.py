"""The export manifest: what `ftdata export` writes beside a dataset, and what trainers record.

An export folder holds one JSONL file of examples per split and `manifest.json`, which says how
many examples each file has, its sha256, when and from what it was built (source snapshot,
guideline version, seed, split ratios) and with which ftkit. fttrain and fteval read splits only
through `load_split`, which checks the hash first, and copy `manifest.fingerprint` into their own
outputs so every model and score names the exact data it came from.

Usage:
    manifest = ExportManifest.read("exports/v3")
    train = load_split("exports/v3", "train")
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftcore.atomic import atomic_write, sha256_file
from ftcore.errors import ManifestError
from ftcore.example import Example
from ftcore.jsonl import read_examples

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SplitFile:
    """One split's file, relative to the export folder, with what it must contain."""

    path: str
    examples: int
    sha256: str
    bytes: int

    @classmethod
    def describe(cls, folder: str | os.PathLike, relative_path: str, examples: int) -> SplitFile:
        """Measure a written split file (size and sha256) for the manifest."""
        full = Path(folder) / relative_path
        return cls(path=relative_path, examples=examples, sha256=sha256_file(full), bytes=full.stat().st_size)


@dataclass(frozen=True)
class ExportManifest:
    dataset: str  # the curation project's dataset name
    splits: dict[str, SplitFile]  # split name (train/validation/test) -> its file
    source_snapshot: str  # what the export was built from, e.g. the Argilla dataset and pull time
    guideline_version: str  # sha256 of the annotation guidelines the reviews were made under
    seed: int  # the split seed: same inputs + same seed = byte-identical export
    split_ratios: dict[str, float]
    tool_version: str
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    format_version: int = FORMAT_VERSION
    drops: dict[str, int] = field(default_factory=dict)  # reason -> examples left out
    agreement: dict[str, Any] = field(default_factory=dict)  # inter-annotator agreement of the reviews
    lint: dict[str, int] = field(default_factory=dict)  # problems still present in the exported data, by kind
    files: dict[str, str] = field(default_factory=dict)  # every other file of the export -> its sha256
    license: str | None = None  # the data's licence, as the project states it (ftdata.yaml `license`)
    # Who wrote the answers exported: human-written, drafted-accepted (a model's draft accepted as it was),
    # drafted-corrected (a model's draft a reviewer corrected); empty in exports made before drafting existed.
    origins: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: split.examples for name, split in self.splits.items()}

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        # Keys added since the first manifests are left out when unset, so that an older manifest keeps the
        # fingerprint it was written with (results.json and run folders record it).
        if data["license"] is None:
            data.pop("license")
        if not data["origins"]:
            data.pop("origins")
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @property
    def fingerprint(self) -> str:
        """sha256 of the manifest's canonical JSON: one string that names this exact dataset."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def write(self, folder: str | os.PathLike) -> Path:
        """Write `manifest.json` into `folder` atomically (after the split files it describes)."""
        path = Path(folder) / MANIFEST_NAME
        with atomic_write(path) as handle:
            handle.write(self.to_json())
        return path

    @classmethod
    def read(cls, folder: str | os.PathLike) -> ExportManifest:
        """Load and type-check `folder/manifest.json`; errors name the file and the field."""
        path = Path(folder) / MANIFEST_NAME
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(f"{path}: missing: is {folder} an `ftdata export` folder?") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ManifestError(f"{path}: unreadable: {error}") from None
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, source: str = MANIFEST_NAME) -> ExportManifest:
        if not isinstance(raw, dict):
            raise ManifestError(f"{source}: expected a JSON object")
        if raw.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
            raise ManifestError(
                f"{source}: format_version {raw['format_version']} is newer than this ftkit reads "
                f"({FORMAT_VERSION}): upgrade ftkit"
            )
        _check_fields(raw, cls, source, "")
        if raw.get("license") is not None and not isinstance(raw["license"], str):
            raise ManifestError(f"{source}: license: must be a string, got {raw['license']!r:.40}")
        if not isinstance(raw.get("splits"), dict) or not raw["splits"]:
            raise ManifestError(f"{source}: splits: must be a non-empty object of split name -> file")
        splits = {}
        for name, entry in raw["splits"].items():
            if not isinstance(entry, dict):
                raise ManifestError(f"{source}: splits.{name}: must be an object")
            _check_fields(entry, SplitFile, source, f"splits.{name}.")
            splits[name] = SplitFile(**entry)
        return cls(**{**raw, "splits": splits})

    def verify(self, folder: str | os.PathLike, split: str | None = None) -> None:
        """Check that the split files (or one of them) still have the recorded size and sha256."""
        names = [split] if split is not None else list(self.splits)
        for name in names:
            if name not in self.splits:
                raise ManifestError(f"{Path(folder) / MANIFEST_NAME}: no split {name!r} (has {', '.join(self.splits)})")
            entry = self.splits[name]
            path = Path(folder) / entry.path
            if not path.is_file():
                raise ManifestError(f"{path}: missing, but listed in the manifest as split {name!r}")
            if path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
                raise ManifestError(
                    f"{path}: content differs from the manifest (sha256 {entry.sha256[:12]}…): "
                    "the export was changed after it was written; re-run `ftdata export`"
                )


def load_split(folder: str | os.PathLike, split: str) -> list[Example]:
    """The examples of one split of an export folder, after checking them against the manifest.

    Usage:
        train = load_split("exports/v3", "train")
    """
    manifest = ExportManifest.read(folder)
    manifest.verify(folder, split)
    examples = read_examples(Path(folder) / manifest.splits[split].path)
    if len(examples) != manifest.splits[split].examples:
        raise ManifestError(
            f"{Path(folder) / manifest.splits[split].path}: {len(examples)} examples, "
            f"manifest says {manifest.splits[split].examples}"
        )
    return examples


def load_split_with_metadata(folder: str | os.PathLike, split: str) -> list[Example]:
    """`load_split` with each example's metadata (source, row, review, the strata key): the split JSONL files carry
    messages only, the export's Parquet copy (`parquet/<split>.parquet`, its sha256 in the manifest) carries the
    metadata. Without an intact Parquet copy the metadata is empty.

    Usage:
        train = load_split_with_metadata("exports/v3", "train")
    """
    import pyarrow.parquet as pq

    manifest = ExportManifest.read(folder)
    examples = load_split(folder, split)
    parquet = Path(folder) / "parquet" / f"{split}.parquet"
    metadata: dict[str, dict[str, Any]] = {}
    if parquet.is_file() and manifest.files.get(f"parquet/{split}.parquet") == sha256_file(parquet):
        metadata = {row["id"]: json.loads(row["metadata"]) for row in pq.read_table(parquet).to_pylist()}
    return [Example(e.id, e.messages, metadata.get(e.id, {})) for e in examples]


def _check_fields(raw: dict, cls: type, source: str, prefix: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ManifestError(f"{source}: {prefix}{unknown[0]}: unknown field (expected {', '.join(sorted(known))})")
    missing = sorted(required - set(raw))
    if missing:
        raise ManifestError(f"{source}: {prefix}{missing[0]}: missing")
    for f in dataclasses.fields(cls):
        expected = _JSON_TYPES.get(f.type.split("[")[0])  # annotations are strings here
        value = raw.get(f.name)
        if expected and f.name in raw and (not isinstance(value, expected) or isinstance(value, bool)):
            raise ManifestError(f"{source}: {prefix}{f.name}: must be {_JSON_NAMES[expected]}, got {value!r:.40}")


_JSON_TYPES = {"str": str, "int": int, "dict": dict}
_JSON_NAMES = {str: "a string", int: "an integer", dict: "an object"}
