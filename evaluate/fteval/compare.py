"""`fteval compare`: the regression table between two results.json files, and a verdict that can gate CI.

Usage:
    regressions = compare(load_results("eval/v1/results.json"), load_results("eval/v2/results.json"))
    [r.describe() for r in regressions if r.regressed]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fteval.results import Results, ResultsError

DEFAULT_MAX_DROP = 0.02


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


def load_results(path: str | os.PathLike) -> Results:
    """results.json, typed (`fteval.results.Results`); a one-line `ResultsError` when it is not one."""
    return Results.read(path)


def compare(
    old: Results | Mapping[str, Any],
    new: Results | Mapping[str, Any],
    max_drop: float = DEFAULT_MAX_DROP,
    thresholds: dict[str, float] | None = None,
    contestants: tuple[str, ...] = ("finetuned",),
) -> list[Change]:
    """Every metric of `contestants` present in both; `thresholds` sets an allowed drop per metric. `("all",)`:
    every contestant in both results (base+fewshot and the endpoint contestants included)."""
    old, new = Results.from_dict(old, "old results"), Results.from_dict(new, "new results")
    contestants = _named(contestants, old, new)
    directions = new.directions()
    changes = []
    for contestant in contestants:
        if contestant not in old.contestants or contestant not in new.contestants:
            continue
        before = old.contestants[contestant].scores
        after = new.contestants[contestant].scores
        for metric in sorted(set(before) & set(after) & set(directions)):
            allowed = (thresholds or {}).get(metric, max_drop)
            changes.append(
                Change(contestant, metric, float(before[metric]), float(after[metric]), directions[metric], allowed)
            )
    if not changes:
        raise ResultsError(f"nothing to compare: no contestant among {', '.join(contestants)} in both results")
    return changes


def _named(contestants: tuple[str, ...], old: Results, new: Results) -> tuple[str, ...]:
    """`all` expanded to every contestant of both results, in the new results' order."""
    if "all" not in contestants:
        return contestants
    return tuple(name for name in new.contestants if name in old.contestants)
