"""results.json, typed: what `fteval run` writes and `compare`, `report` and the verdict read.

Usage:
    results = Results.read("eval/latest/results.json")
    results.contestants["finetuned"].scores["strict"], results.directions()["loss"]
    # -> (0.656, False)

A `Results` still reads like the JSON object it is written as (`results["contestants"]["finetuned"]`), for
scripts written against the file. Files of schema version 1 written before a field existed read with its default.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcore.errors import FtdataError
from ftcore.records import JsonRecord, known_fields

SCHEMA_VERSION = 1


class ResultsError(FtdataError):
    """A results.json that is missing, malformed, or of another schema."""


@dataclass
class Metric:
    higher_is_better: bool
    description: str = ""


@dataclass
class Contestant:
    scores: dict[str, float]
    n: int = 0
    adapter: str | None = None  # the run folder whose adapter it is (none: the base model alone)
    generation: dict[str, Any] = field(default_factory=dict)  # backend, tokens/s, seconds, new tokens
    kind: str = "local"  # local (a model loaded here) or endpoint (an OpenAI-compatible server)
    prompting: bool = False  # a prompting contestant: base+prompt, base+fewshot, an endpoint marked baseline
    cost: dict[str, Any] = field(default_factory=dict)  # fteval.cost: per 1,000 answers and how it was priced
    not_applicable: dict[str, str] = field(default_factory=dict)  # metric -> why it was not scored (never a 0)
    endpoint: dict[str, Any] | None = None  # base_url, model, requests sent and answers from the cache


@dataclass
class DataSource:
    """What was scored: an export's test split, a golden set or IFEval-format prompts."""

    folder: str = ""
    dataset: str = ""
    manifest_fingerprint: str = ""  # an export's manifest fingerprint; for a file, the sha256 of its content
    split: str = "test"
    n: int = 0
    kind: str = "export"  # export | golden | ifeval
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> rows or instructions not scored


@dataclass
class Results(JsonRecord):
    schema_version: int = SCHEMA_VERSION
    created_at: str = ""
    metrics: dict[str, Metric] = field(default_factory=dict)  # every score's direction
    style_checks: list[dict[str, Any]] = field(default_factory=list)  # {"id", "check", "higher_is_better"}
    data: DataSource = field(default_factory=DataSource)
    base_model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # generation settings, the same for every contestant
    versions: dict[str, str | None] = field(default_factory=dict)
    training: dict[str, Any] | None = None  # the `finetuned` run's summary: what the fine-tune cost
    contestants: dict[str, Contestant] = field(default_factory=dict)
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # paired statistics (fteval.paired)
    capability: dict[str, Any] = field(default_factory=dict)  # the lm-eval suite's scores and deltas
    fewshot: dict[str, Any] | None = None  # the few-shot examples shown (ids, tokens, strata) and where from
    cost: dict[str, Any] = field(default_factory=dict)  # currency, training cost, break-even (fteval.cost)
    verdict: str = ""
    warnings: list[str] = field(default_factory=list)  # e.g. a run evaluated on another export than its own

    def directions(self) -> dict[str, bool]:
        """Whether higher is better, for every metric and every style check's pass rate."""
        found = {name: metric.higher_is_better for name, metric in self.metrics.items()}
        return found | {f"pass_rate/{check['id']}": True for check in self.style_checks if "id" in check}

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if not data["warnings"]:
            data.pop("warnings")
        return data

    @classmethod
    def read(cls, path: str | os.PathLike) -> Results:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResultsError(f"{path}: not found: give the results.json an `fteval run` wrote") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ResultsError(f"{path}: unreadable: {error}") from None
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: Any, source: str = "results") -> Results:
        """Results from results.json's content; `source` names it in errors."""
        if isinstance(raw, Results):
            return raw
        if not isinstance(raw, dict) or raw.get("schema_version") != SCHEMA_VERSION or "contestants" not in raw:
            raise ResultsError(f"{source}: not an fteval results.json (schema_version {SCHEMA_VERSION})")
        try:
            contestants = {name: Contestant(**known_fields(Contestant, c)) for name, c in raw["contestants"].items()}
            metrics = {name: Metric(**known_fields(Metric, m)) for name, m in raw.get("metrics", {}).items()}
            data = DataSource(**known_fields(DataSource, raw.get("data") or {}))
        except (AttributeError, TypeError) as error:  # an entry that is not an object, or lacks a required key
            raise ResultsError(f"{source}: not an fteval results.json: {error}") from None
        fields = known_fields(cls, raw) | {"contestants": contestants, "metrics": metrics, "data": data}
        return cls(**fields)
