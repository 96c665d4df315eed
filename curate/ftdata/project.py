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
from typing import Any, ClassVar, Literal

from ftcore.atomic import atomic_write
from ftcore.config import ConfigError, commented_yaml, load_config, local_or_hub, option, read_yaml_mapping
from ftcore.endpoint import Endpoint
from ftcore.generate import Sampling
from ftcore.models import ModelSource
from ftcore.training import load_training_target, training_default

PROJECT_FILE = "ftdata.yaml"
# Metadata properties ftdata itself sends to Argilla: a user's column may not take their names.
RESERVED_METADATA = ("source", "lint_flags", "near_duplicate_cluster", "tokens", "bulk_accepted_by", "reason", "origin")

# Regions whose *national* formats ("(415) 555-2671", "020 7946 0958", "06 12 34 56 78") count as phone
# numbers, unless the project names its own (`lint.phone_regions`). Numbers written with "+" are checked
# for every country. Each region adds false positives on digit-heavy text (a national number is just digits
# in groups). This set found 1 false number in 133,639 paragraphs of Debian changelogs and none in GSM8K or
# the docs of 133 Python packages (`bench/pii_real_text.py`): North America (US covers Canada too), the UK
# and Ireland, Australia and New Zealand, India, Germany, France, Spain and the Netherlands. Italy is left
# out: its numbers have no trunk "0", so it reads long digit groups ("3704 0044 0532" inside an IBAN) as mobiles.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "IE", "AU", "NZ", "IN", "DE", "FR", "ES", "NL")


# Settings a project shares with its train config: ftdata key -> the train config's key. With `train_config` set,
# they are read from there and stating them in ftdata.yaml too is an error: each lives in one file.
SHARED_WITH_TRAINING = {
    "lint.tokenizer": "base_model",
    "lint.max_seq_len": "max_seq_len",
    "cost.epochs": "epochs",
    "cost.gpu_tokens_per_second": "gpu_tokens_per_second",
    "cost.gpu_usd_per_hour": "gpu_usd_per_hour",
}


@dataclass
class LintConfig:
    tokenizer: ModelSource | None = option(
        None,
        "Tokenizer for token counts: the base model's, a local folder (relative to ftdata.yaml) or hub id, or "
        "{path, gguf_file} (none: train_config's base model; without one, no length check)",
    )
    max_seq_len: int | None = option(
        None,
        "Training's max_seq_len: longer examples (chat template included) get truncated "
        f"(none: train_config's; without one, fttrain's default {training_default('max_seq_len')})",
    )
    near_duplicate_threshold: float = option(
        0.8, "Estimated Jaccard similarity from which two examples count as near-duplicates"
    )
    min_examples_error: int = option(50, "Fewer usable examples is an error: too little signal to learn from")
    min_examples_warning: int = option(500, "Fewer usable examples is a warning")
    phone_regions: list[str] = option(
        list(DEFAULT_PHONE_REGIONS),
        "Regions (ISO 3166 codes) whose national phone formats count as phone numbers; +<country> numbers always do",
    )

    @property
    def seq_len(self) -> int:
        """max_seq_len, or fttrain's default when unset (a project without a train config)."""
        return _or_training_default(self, "max_seq_len")

    def __post_init__(self) -> None:
        import phonenumbers  # (~70 ms: only when a config is built, never for --help)

        self.phone_regions = [str(region).upper() for region in self.phone_regions]
        unknown = [r for r in self.phone_regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"phone_regions: {unknown[0]!r} is not a region phonenumbers knows (e.g. US, GB, DE)")
        if not 0 < self.near_duplicate_threshold <= 1:
            raise ValueError(f"near_duplicate_threshold must be in (0, 1], got {self.near_duplicate_threshold}")
        if self.max_seq_len is not None and self.max_seq_len < 1:
            raise ValueError(f"max_seq_len must be positive, got {self.max_seq_len}")
        if self.min_examples_error > self.min_examples_warning:
            raise ValueError("min_examples_error must not exceed min_examples_warning")


def _or_training_default(section: object, name: str) -> Any:
    value = getattr(section, name)
    return training_default(name) if value is None else value


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
    epochs: float | None = option(
        None, "Epochs you plan to train: training tokens = dataset tokens x epochs (none: train_config's)"
    )
    usd_per_million_tokens: dict[str, float] = option(
        {"hosted fine-tuning (low)": 25.0, "hosted fine-tuning (high)": 100.0},
        "Hosted fine-tuning prices, USD per million training tokens (check your provider's current price)",
    )
    gpu_tokens_per_second: float | None = option(
        None, "Your GPU's training throughput for the base model, tokens/s (fttrain reports it; none: train_config's)"
    )
    gpu_usd_per_hour: float | None = option(None, "What an hour of that GPU costs you, USD (none: train_config's)")

    def value(self, name: str) -> float:
        """The setting `name`, or fttrain's default for it when unset (a project without a train config)."""
        return _or_training_default(self, name)


@dataclass
class ReviewConfig:
    # Written as null into ftdata.yaml by earlier `ftdata init`s and never read: such a file still loads.
    RETIRED: ClassVar[dict[str, str]] = {"vectors_model": "nothing read it: Argilla got no vectors"}

    annotators_per_record: int = option(
        2, "Submitted reviews a record needs before it counts as done (Argilla's TaskDistribution min_submitted)"
    )
    batch_size: int = option(200, "Records per request when pushing")
    metadata_columns: list[str] = option(
        [], "Columns of your data annotators can filter on in Argilla, e.g. [channel, priority] (id_column always is)"
    )
    senior_workspace: str | None = option(
        None, "Argilla workspace of the senior review of the adjudication queue (none: '<workspace>-senior')"
    )

    def __post_init__(self) -> None:
        for name in self.metadata_columns:
            if not name.strip() or name in RESERVED_METADATA:
                own = ", ".join(RESERVED_METADATA)
                raise ValueError(f"metadata_columns: {name!r} is empty or one of ftdata's own metadata ({own})")
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
    dedupe: Literal["keep-all", "keep-one-per-cluster"] = option(
        "keep-all",
        "Near-duplicates (similar prompt or similar answer): keep all in one split, or keep one per cluster",
    )
    bulk_accept: Literal["meets-quorum", "one-vote"] = option(
        "meets-quorum",
        "A lead's `ftdata accept` response: enough alone when no reviewer disagrees, or one vote like any other",
    )
    max_unedited_drafts: float = option(
        0.8,
        "Warn (export, stats) when more of the set than this share is model drafts accepted unedited: a set that "
        "only imitates the drafting model",
    )

    def __post_init__(self) -> None:
        if self.quorum < 1:
            raise ValueError(f"quorum must be at least 1, got {self.quorum}")
        if not 0 <= self.max_unedited_drafts <= 1:
            raise ValueError(f"max_unedited_drafts must be in [0, 1], got {self.max_unedited_drafts}")


# Endpoint keys that drafting sets once for both backends, in the draft section itself.
DRAFT_SAMPLING = {
    "temperature": "draft.temperature",
    "top_p": "draft.top_p",
    "n": "draft.n",
    "seed": "draft.seed",
    "max_tokens": "draft.max_new_tokens",
}


@dataclass
class DraftEndpoint(Endpoint):
    """The drafting endpoint: where it is and how to talk to it; how to sample is the draft section's."""

    SET_ELSEWHERE: ClassVar[dict[str, str]] = {
        key: f"{setting} (one setting for a local model and an endpoint)" for key, setting in DRAFT_SAMPLING.items()
    }


@dataclass
class DraftConfig:
    model: ModelSource | None = option(
        None,
        "Local model that drafts: a folder (relative to this file), a hub id, or {path, gguf_file} "
        "(none: draft.endpoint drafts)",
    )
    endpoint: DraftEndpoint | None = option(
        None,
        "OpenAI-compatible endpoint that drafts: {base_url, model, api_key_env, concurrency, timeout, max_retries, "
        "input_price_per_1m, output_price_per_1m} (none: draft.model drafts)",
    )
    n: int = option(3, "Candidates per prompt: each is scored by the style spec, the best becomes the draft")
    temperature: float = option(0.8, "Sampling temperature (more than 0 for n > 1; 0: greedy, one candidate)")
    top_p: float = option(0.95, "Nucleus sampling")
    seed: int | None = option(0, "Seed of the sampling (endpoint: candidate i sends seed + i) and of the few-shot pick")
    max_new_tokens: int = option(512, "Longest draft, in tokens")
    batch_size: int = option(8, "Prompts per batch on a local model")
    shots: int = option(4, "Accepted examples shown to the model as few-shot turns (0: none)")
    shot_tokens: int = option(2000, "Token budget of the few-shot turns (4 characters per token)")
    guidelines_section: str | None = option(
        "house style",
        "Heading (or part of it) of the guidelines section the drafting prompt quotes (none: no guidelines text)",
    )
    instructions: str = option("", "More instructions for the drafting model, in your own words")
    cache: str = option(
        ".ftdata/draft-cache",
        "Answers already paid for or computed, relative to this file: a rerun or a resumed run repeats nothing",
    )

    def __post_init__(self) -> None:
        if self.model is not None and self.endpoint is not None:
            raise ValueError("model and endpoint: set one of them (a local model or an endpoint drafts)")
        if self.batch_size < 1 or self.shots < 0 or self.shot_tokens < 0:
            raise ValueError("batch_size must be at least 1, shots and shot_tokens at least 0")
        self.sampling  # noqa: B018 - Sampling checks n, temperature, top_p and max_new_tokens

    @property
    def sampling(self) -> Sampling:
        return Sampling(self.temperature, self.top_p, self.n, self.seed, self.max_new_tokens)


@dataclass
class ProjectConfig:
    dataset: str = option("my-dataset", "Dataset name: the Argilla dataset and the export's name")
    workspace: str = option("ftkit", "Argilla workspace the dataset lives in")
    license: str | None = option(
        None,
        "Licence of the data, e.g. an SPDX id (cc-by-4.0, apache-2.0) or 'proprietary': recorded in each export's "
        "manifest and in the model card of every run trained on it (none: not stated)",
    )
    guidelines: str = option("guidelines.md", "Annotation guidelines (markdown), relative to this file")
    style: str | None = option(
        None, "Style spec (YAML) every assistant answer must satisfy, relative to this file (none: no format check)"
    )
    store: str = option(".ftdata/store", "Local store of imported examples, relative to this file")
    train_config: str | None = option(
        None,
        "The fttrain config this data is prepared for, relative to this file: lint and stats read its base_model, "
        "max_seq_len, epochs and GPU figures (none: set them under lint and cost)",
    )
    store_history: int = option(20, "Store versions kept for `ftdata store rollback` (older ones are deleted)")
    id_column: str | None = option(
        None,
        "Your data's own id column (e.g. ticket_id): shown beside file:line by check and status, and sent to "
        "Argilla as metadata",
    )
    lint: LintConfig = field(default_factory=LintConfig, metadata={"help": "What `ftdata check` looks for"})
    split: SplitConfig = field(default_factory=SplitConfig, metadata={"help": "How `ftdata export` splits"})
    cost: CostConfig = field(default_factory=CostConfig, metadata={"help": "What `ftdata stats` prices training at"})
    review: ReviewConfig = field(default_factory=ReviewConfig, metadata={"help": "How records are reviewed in Argilla"})
    export: ExportConfig = field(default_factory=ExportConfig, metadata={"help": "How reviews become a training set"})
    draft: DraftConfig = field(
        default_factory=DraftConfig, metadata={"help": "How `ftdata draft` drafts answers for prompts with a model"}
    )

    def __post_init__(self) -> None:
        if self.id_column is not None and (not self.id_column.strip() or self.id_column in RESERVED_METADATA):
            own = ", ".join(RESERVED_METADATA)
            raise ValueError(f"id_column: {self.id_column!r} is empty or one of ftdata's own metadata ({own})")
        if self.store_history < 1:
            raise ValueError(f"store_history must be at least 1, got {self.store_history}")


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
        if config.lint.tokenizer is not None:
            # A local tokenizer folder is relative to ftdata.yaml, like every path in it; otherwise a hub id.
            config.lint.tokenizer.path = local_or_hub(config.lint.tokenizer.path, root.resolve())
        if config.draft.model is not None:
            config.draft.model.path = local_or_hub(config.draft.model.path, root.resolve())
        if config.train_config:
            overridden = {override.partition("=")[0].strip() for override in overrides}
            _take_from_training(config, config_path, root / config.train_config, overridden)
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
    def last_export_path(self) -> Path:
        """Where `ftdata export` records its latest folder, for `ftdata check`'s split leakage."""
        return self.resolve(".ftdata/last_export.json")

    @property
    def style_path(self) -> Path | None:
        return self.resolve(self.config.style) if self.config.style else None


def _take_from_training(config: ProjectConfig, config_path: Path, train_path: Path, overridden: set[str]) -> None:
    """Fill the settings shared with training from the train config; each may be stated in one file only
    (a `--set` override still wins, `null` included: it is said on the command line, not written twice)."""
    stated = read_yaml_mapping(config_path)
    target = load_training_target(train_path)
    for key, train_key in SHARED_WITH_TRAINING.items():
        section, name = key.split(".")
        if (stated.get(section) or {}).get(name) is not None:
            raise ConfigError(
                f"{config_path}: {key}: stated here and as {train_key} in train_config {train_path}: "
                f"state it once, in {train_path}"
            )
        if key not in overridden:
            value = getattr(target, train_key)
            if train_key == "base_model":
                value = ModelSource(value.path, value.gguf_file)
            setattr(getattr(config, section), name, value)


def init_project(
    directory: str | os.PathLike,
    dataset: str | None = None,
    force: bool = False,
    style: str | os.PathLike | None = None,
) -> Path:
    """Write a commented `ftdata.yaml` with every setting at its default, and the starter guidelines it names
    (from the style spec `style`, when given; an existing guidelines file is kept unless `force`).

    Usage:
        init_project("my-project", dataset="support-tone", style="style.yaml")
        # -> PosixPath('my-project/ftdata.yaml')
    """
    from ftcore.style import StyleSpec
    from ftdata.guidelines import starter_guidelines

    root = Path(directory)
    path = root / PROJECT_FILE
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists (pass --force to overwrite)")
    spec = StyleSpec.load(style) if style is not None else None  # a bad spec fails before anything is written
    config = ProjectConfig() if dataset is None else ProjectConfig(dataset=dataset)
    if style is not None:
        config.style = os.path.relpath(os.path.abspath(style), os.path.abspath(root))
    text = commented_yaml(config)
    header = "# ftdata project: every command reads this file. Paths are relative to it.\n\n"
    with atomic_write(path) as handle:
        handle.write(header + text)
    guidelines = root / config.guidelines
    if force or not guidelines.exists():
        with atomic_write(guidelines) as handle:
            handle.write(starter_guidelines(config.dataset, spec))
    return path
