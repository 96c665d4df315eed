"""A curation project: a folder with one `ftdata.yaml`, found in the current folder or given with --project.

Usage:
    project = Project.open("examples/gsm8k")
    project.store_path
    # -> PosixPath('examples/gsm8k/.ftdata/store')
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ftcore.atomic import atomic_write
from ftcore.config import ConfigError, commented_yaml, load_config, option

PROJECT_FILE = "ftdata.yaml"


@dataclass
class LintConfig:
    tokenizer: str | None = option(
        None,
        "Tokenizer for token counts: the base model's, as a local folder (relative to ftdata.yaml) or hub id "
        "(none: no length check)",
    )
    max_seq_len: int = option(2048, "Training's max_seq_len: longer examples (chat template included) get truncated")
    near_duplicate_threshold: float = option(
        0.8, "Estimated Jaccard similarity from which two examples count as near-duplicates"
    )
    min_examples_error: int = option(50, "Fewer usable examples is an error: too little signal to learn from")
    min_examples_warning: int = option(500, "Fewer usable examples is a warning")

    def __post_init__(self) -> None:
        if not 0 < self.near_duplicate_threshold <= 1:
            raise ValueError(f"near_duplicate_threshold must be in (0, 1], got {self.near_duplicate_threshold}")
        if self.max_seq_len < 1:
            raise ValueError(f"max_seq_len must be positive, got {self.max_seq_len}")
        if self.min_examples_error > self.min_examples_warning:
            raise ValueError("min_examples_error must not exceed min_examples_warning")


@dataclass
class SplitConfig:
    ratios: dict[str, float] = option(
        {"train": 0.8, "validation": 0.1, "test": 0.1}, "Share of examples per split; must add up to 1"
    )
    seed: int = option(13, "Seed of the split: the same examples and seed always give the same export")

    def __post_init__(self) -> None:
        if "train" not in self.ratios:
            raise ValueError("ratios needs a 'train' split")
        if any(not 0 <= r <= 1 for r in self.ratios.values()) or not math.isclose(sum(self.ratios.values()), 1.0):
            raise ValueError(f"ratios must be in [0, 1] and add up to 1, got {self.ratios}")


@dataclass
class CostConfig:
    epochs: int = option(3, "Epochs you plan to train: training tokens = dataset tokens x epochs")
    usd_per_million_tokens: dict[str, float] = option(
        {"hosted fine-tuning (low)": 25.0, "hosted fine-tuning (high)": 100.0},
        "Hosted fine-tuning prices, USD per million training tokens (check your provider's current price)",
    )
    gpu_tokens_per_second: float = option(
        2500.0, "Your GPU's QLoRA training throughput for the base model, tokens/s (fttrain reports it)"
    )
    gpu_usd_per_hour: float = option(2.0, "What an hour of that GPU costs you, USD")


@dataclass
class ReviewConfig:
    annotators_per_record: int = option(
        2, "Submitted reviews a record needs before it counts as done (Argilla's TaskDistribution min_submitted)"
    )
    vectors_model: str | None = option(
        None, "Sentence-embedding model (local path) for 'find similar' in the Argilla UI (none: no vectors)"
    )
    batch_size: int = option(200, "Records per request when pushing")

    def __post_init__(self) -> None:
        if self.annotators_per_record < 1:
            raise ValueError(f"annotators_per_record must be at least 1, got {self.annotators_per_record}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")


@dataclass
class ExportConfig:
    quorum: int = option(2, "Submitted verdicts a record needs before its majority counts (fewer: not exported)")
    correction_policy: Literal["use", "adjudicate"] = option(
        "use", "needs-edit with a correction: use the correction, or send it to adjudication"
    )
    min_examples: int = option(500, "Refuse to export fewer examples (--allow-small overrides, with a warning)")
    stratify_by: str = option("source", "Metadata key the split is stratified on (each value spread by the ratios)")
    drop_style_failures: bool = option(True, "Leave out accepted answers that still break the style spec")
    allow_secret_ids: list[str] = option([], "Example ids allowed into the export although a secret was found in them")

    def __post_init__(self) -> None:
        if self.quorum < 1:
            raise ValueError(f"quorum must be at least 1, got {self.quorum}")


@dataclass
class ProjectConfig:
    dataset: str = option("my-dataset", "Dataset name: the Argilla dataset and the export's name")
    workspace: str = option("ftkit", "Argilla workspace the dataset lives in")
    guidelines: str = option("guidelines.md", "Annotation guidelines (markdown), relative to this file")
    style: str | None = option(
        None, "Style spec (YAML) every assistant answer must satisfy, relative to this file (none: no format check)"
    )
    store: str = option(".ftdata/store", "Local store of imported examples, relative to this file")
    lint: LintConfig = field(default_factory=LintConfig, metadata={"help": "What `ftdata check` looks for"})
    split: SplitConfig = field(default_factory=SplitConfig, metadata={"help": "How `ftdata export` splits"})
    cost: CostConfig = field(default_factory=CostConfig, metadata={"help": "What `ftdata stats` prices training at"})
    review: ReviewConfig = field(default_factory=ReviewConfig, metadata={"help": "How records are reviewed in Argilla"})
    export: ExportConfig = field(default_factory=ExportConfig, metadata={"help": "How reviews become a training set"})


@dataclass(frozen=True)
class Project:
    root: Path
    config: ProjectConfig

    @classmethod
    def open(cls, directory: str | os.PathLike | None = None, overrides: tuple[str, ...] = ()) -> Project:
        """The project whose `ftdata.yaml` is in `directory` (default: the current folder)."""
        root = Path(directory) if directory is not None else Path.cwd()
        config_path = root / PROJECT_FILE
        if not config_path.is_file():
            raise ConfigError(f"{config_path}: no project here: run `ftdata init` or pass --project DIR")
        config = load_config(ProjectConfig, config_path, overrides)
        tokenizer = config.lint.tokenizer
        if tokenizer and not os.path.isabs(tokenizer) and (root / tokenizer).exists():
            # A local tokenizer folder is relative to ftdata.yaml, like every path in it; otherwise a hub id.
            config.lint.tokenizer = str((root / tokenizer).resolve())
        return cls(root=root, config=config)

    def resolve(self, relative: str) -> Path:
        return self.root / os.path.expanduser(relative)

    @property
    def config_path(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def store_path(self) -> Path:
        return self.resolve(self.config.store)

    @property
    def guidelines_path(self) -> Path:
        return self.resolve(self.config.guidelines)

    @property
    def snapshots_path(self) -> Path:
        return self.resolve(".ftdata/snapshots")

    @property
    def style_path(self) -> Path | None:
        return self.resolve(self.config.style) if self.config.style else None


def init_project(directory: str | os.PathLike, dataset: str | None = None, force: bool = False) -> Path:
    """Write a commented `ftdata.yaml` with every setting at its default.

    Usage:
        init_project("my-project", dataset="support-tone")
        # -> PosixPath('my-project/ftdata.yaml')
    """
    path = Path(directory) / PROJECT_FILE
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists (pass --force to overwrite)")
    config = ProjectConfig() if dataset is None else ProjectConfig(dataset=dataset)
    text = commented_yaml(config)
    header = "# ftdata project: every command reads this file. Paths are relative to it.\n\n"
    with atomic_write(path) as handle:
        handle.write(header + text)
    return path
