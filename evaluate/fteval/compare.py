"""`fteval compare`: the regression table between two results.json files, and a verdict that can gate CI.

Usage:
    regressions = compare(load_results("eval/v1/results.json"), load_results("eval/v2/results.json"))
    [r.describe() for r in regressions if r.regressed]
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftcore.errors import FtdataError

DEFAULT_MAX_DROP = 0.02


class ResultsError(FtdataError):
    """A results.json that is missing, malformed, or of another schema."""


@dataclass(frozen=True)
class Change:
    contestant: str
    metric: str
    old: float
    new: float
    higher_is_better: bool
    max_drop: float

    @property
    def worsening(self) -> float:
        """How much worse the new value is, in the metric's own units (negative: it improved)."""
        return (self.old - self.new) if self.higher_is_better else (self.new - self.old)

    @property
    def regressed(self) -> bool:
        if math.isnan(self.new) and not math.isnan(self.old):
            return True
        return self.worsening > self.max_drop

    def describe(self) -> str:
        arrow = "higher is better" if self.higher_is_better else "lower is better"
        return (
            f"{self.contestant} {self.metric}: {self.old:.4f} -> {self.new:.4f} ({arrow}, allowed drop {self.max_drop})"
        )


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    try:
        results = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: not found: give the results.json an `fteval run` wrote") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ResultsError(f"{path}: unreadable: {error}") from None
    if not isinstance(results, dict) or results.get("schema_version") != 1 or "contestants" not in results:
        raise ResultsError(f"{path}: not an fteval results.json (schema_version 1)")
    return results


def compare(
    old: dict[str, Any],
    new: dict[str, Any],
    max_drop: float = DEFAULT_MAX_DROP,
    thresholds: dict[str, float] | None = None,
    contestants: tuple[str, ...] = ("finetuned",),
) -> list[Change]:
    """Every metric of `contestants` present in both; `thresholds` sets an allowed drop per metric."""
    directions = {name: meta["higher_is_better"] for name, meta in new["metrics"].items()}
    directions |= {f"pass_rate/{c['id']}": True for c in new.get("style_checks", [])}
    changes = []
    for contestant in contestants:
        if contestant not in old["contestants"] or contestant not in new["contestants"]:
            continue
        before = old["contestants"][contestant]["scores"]
        after = new["contestants"][contestant]["scores"]
        for metric in sorted(set(before) & set(after) & set(directions)):
            allowed = (thresholds or {}).get(metric, max_drop)
            changes.append(
                Change(contestant, metric, float(before[metric]), float(after[metric]), directions[metric], allowed)
            )
    if not changes:
        raise ResultsError(f"nothing to compare: no contestant among {', '.join(contestants)} in both results")
    return changes
