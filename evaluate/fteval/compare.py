"""`fteval compare`: the regression table between two results.json files, and a verdict that can gate CI.

Usage:
    comparison = compare(load_results("eval/v1/results.json"), load_results("eval/v2/results.json"))
    comparison.passed, [c.describe() for c in comparison.regressions], comparison.missing

The gate fails when a gated contestant (`finetuned` by default) worsens beyond its limit on any metric, or when
a metric or contestant of the old results is missing from the new ones (unless `allow_missing`): a score that
vanished cannot be said to have held. Limits follow what a metric is: a score where higher is better (a pass rate,
ROUGE-L, exact match, accuracy) may drop by `max_drop` in its own units (0.02: two points); a score where lower
is better (loss, perplexity) has no fixed scale (it depends on the tokenizer and the data), so it may rise by
`max_rel_increase` of its old value (0.02: 2 %). `thresholds` sets a limit per metric or glob pattern:
"0.05" in the metric's units, or "10%" of the old value.

Two results scored on different test sets (another export, other prompts, another count) are not comparable:
`compare` refuses them (`DifferentTestSetsError`) unless `force`, and then says what differs.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fteval.results import Results, ResultsError

DEFAULT_MAX_DROP = 0.02  # higher-is-better scores: absolute, in the metric's units
DEFAULT_MAX_REL_INCREASE = 0.02  # lower-is-better scores: a share of the old value
ALL_CONTESTANTS = "all"
# Settings that change the answers: a difference is noted (results of different settings are still comparable).
COMPARED_SETTINGS = ("max_new_tokens", "seed", "greedy", "system_prompt")


class DifferentTestSetsError(ResultsError):
    """The two results were scored on different test sets; comparing them needs `force`."""


@dataclass(frozen=True)
class Limit:
    """How much worse a metric may get: `value` in its own units, or with `relative` a share of its old value."""

    value: float
    relative: bool = False

    @classmethod
    def parse(cls, text: str) -> Limit:
        """'0.05' (in the metric's units) or '10%' (of its old value).

        >>> Limit.parse("10%"), Limit.parse("0.05")
        (Limit(value=0.1, relative=True), Limit(value=0.05, relative=False))
        """
        stripped = text.strip()
        relative = stripped.endswith("%")
        try:
            value = float(stripped[:-1] if relative else stripped)
        except ValueError:
            raise ResultsError(f"threshold {text!r}: expected a number such as 0.05 or a share such as 10%") from None
        if not math.isfinite(value) or value < 0:
            raise ResultsError(f"threshold {text!r}: must be a finite number of at least 0")
        return cls(value / 100 if relative else value, relative)

    def describe(self) -> str:
        return f"{self.value * 100:g} %" if self.relative else f"{self.value:g}"


@dataclass(frozen=True)
class Change:
    contestant: str
    metric: str
    old: float
    new: float
    higher_is_better: bool
    limit: Limit

    @property
    def worsening(self) -> float:
        """How much worse the new value is, in the metric's own units (negative: it improved)."""
        return (self.old - self.new) if self.higher_is_better else (self.new - self.old)

    @property
    def relative_worsening(self) -> float:
        """The worsening as a share of the old value (infinite when the old value is 0 and it got worse)."""
        if self.old == 0:
            return math.inf if self.worsening > 0 else 0.0
        return self.worsening / abs(self.old)

    @property
    def regressed(self) -> bool:
        if math.isnan(self.new) or math.isnan(self.old):
            return not math.isnan(self.old)  # a score that became NaN got worse; one that was NaN cannot
        if math.isinf(self.old) or math.isinf(self.new):  # a perplexity overflows to inf
            return self.worsening > 0
        found = self.relative_worsening if self.limit.relative else self.worsening
        return found > self.limit.value

    def describe(self) -> str:
        arrow = "higher is better" if self.higher_is_better else "lower is better"
        allowed = f"allowed {'drop' if self.higher_is_better else 'increase'} {self.limit.describe()}"
        change = f", {self.relative_worsening:+.1%} worse" if self.limit.relative and self.worsening > 0 else ""
        return f"{self.contestant} {self.metric}: {self.old:.4f} -> {self.new:.4f} ({arrow}{change}, {allowed})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "contestant": self.contestant,
            "metric": self.metric,
            "old": _finite(self.old),
            "new": _finite(self.new),
            "higher_is_better": self.higher_is_better,
            "limit": self.limit.value,
            "relative": self.limit.relative,
            "worsening": _finite(self.worsening),
            "regressed": self.regressed,
        }


@dataclass(frozen=True)
class OneSided:
    """A contestant, or one of its metrics, present in one of the two results only."""

    contestant: str
    metric: str | None  # None: the whole contestant
    present_in: str  # "old" or "new"

    def describe(self) -> str:
        what = f"{self.contestant} {self.metric}" if self.metric else f"contestant {self.contestant}"
        return f"{what}: in the {self.present_in} results only"

    def to_dict(self) -> dict[str, Any]:
        return {"contestant": self.contestant, "metric": self.metric, "present_in": self.present_in}


@dataclass
class Comparison:
    """What `compare` found: the changes of every metric in both results, what is on one side only, and how the
    test sets and settings differ."""

    changes: list[Change]
    missing: list[OneSided]  # in the old results, not in the new: the gate fails unless allow_missing
    added: list[OneSided]  # in the new results only: nothing to compare them with
    test_set: list[str]  # how the test sets differ (empty: the same); non-empty only with force
    notes: list[str] = field(default_factory=list)
    allow_missing: bool = False

    @property
    def regressions(self) -> list[Change]:
        return [change for change in self.changes if change.regressed]

    @property
    def passed(self) -> bool:
        return not self.regressions and (self.allow_missing or not self.missing)

    def summary(self) -> str:
        """One line: the outcome, with what made it."""
        parts = [f"{len(self.regressions)} regression(s) in {len(self.changes)} metric(s)"]
        if self.missing:
            accepted = "accepted: --allow-missing" if self.allow_missing else "pass --allow-missing to accept"
            parts.append(f"{len(self.missing)} missing from the new results ({accepted})")
        if self.test_set:
            parts.append("different test sets (forced)")
        return f"{'passed' if self.passed else 'FAILED'}: {'; '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "regressions": len(self.regressions),
            "changes": [change.to_dict() for change in self.changes],
            "missing": [item.to_dict() for item in self.missing],
            "added": [item.to_dict() for item in self.added],
            "test_set": {"same": not self.test_set, "differences": self.test_set},
            "notes": self.notes,
            "allow_missing": self.allow_missing,
        }


def load_results(path: str | os.PathLike) -> Results:
    """results.json, typed (`fteval.results.Results`); a one-line `ResultsError` when it is not one."""
    return Results.read(path)


def compare(
    old: Results | Mapping[str, Any],
    new: Results | Mapping[str, Any],
    *,
    max_drop: float = DEFAULT_MAX_DROP,
    max_rel_increase: float = DEFAULT_MAX_REL_INCREASE,
    thresholds: Mapping[str, Limit | str] | None = None,
    contestants: Iterable[str] = ("finetuned",),
    allow_missing: bool = False,
    force: bool = False,
) -> Comparison:
    """Every metric of the gated `contestants` (`"all"`: every contestant of the old results) in old and new.

    Raises `DifferentTestSetsError` when the test sets differ and not `force`, and `ResultsError` when no gated
    contestant is in either results (nothing to compare).
    """
    old, new = Results.from_dict(old, "old results"), Results.from_dict(new, "new results")
    differences = differing_test_sets(old, new)
    if differences and not force:
        raise DifferentTestSetsError(
            f"the two results were scored on different test sets: {'; '.join(differences)}: scores on different "
            "prompts are not comparable (score both runs on one export and limit, or pass --force)"
        )
    limits = {
        name: value if isinstance(value, Limit) else Limit.parse(value) for name, value in (thresholds or {}).items()
    }
    gated = list(contestants)
    if ALL_CONTESTANTS in gated:
        gated = list(dict.fromkeys([*old.contestants, *new.contestants]))
    directions = old.directions() | new.directions()
    comparison = Comparison([], [], [], differences, _setting_notes(old, new), allow_missing)
    for name in gated:
        if name not in old.contestants and name not in new.contestants:
            comparison.notes.append(f"contestant {name}: in neither results")
            continue
        if name not in new.contestants:
            comparison.missing.append(OneSided(name, None, "old"))
            continue
        if name not in old.contestants:
            comparison.added.append(OneSided(name, None, "new"))
            continue
        before, after = old.contestants[name].scores, new.contestants[name].scores
        for metric in sorted(set(before) | set(after)):
            if metric not in directions:
                comparison.notes.append(f"{name} {metric}: no direction recorded, not gated")
            elif metric not in after:
                comparison.missing.append(OneSided(name, metric, "old"))
            elif metric not in before:
                comparison.added.append(OneSided(name, metric, "new"))
            else:
                up = directions[metric]
                limit = _limit(metric, up, limits, max_drop, max_rel_increase)
                comparison.changes.append(Change(name, metric, float(before[metric]), float(after[metric]), up, limit))
    ungated = sorted((set(old.contestants) | set(new.contestants)) - set(gated))
    if ungated:
        comparison.notes.append(f"not gated: {', '.join(ungated)} (--contestant NAME or --contestant all)")
    if not comparison.changes and not comparison.missing:
        raise ResultsError(f"nothing to compare: no contestant among {', '.join(gated)} in both results")
    return comparison


def differing_test_sets(old: Results, new: Results) -> list[str]:
    """How the two test sets differ: the export (its manifest's fingerprint), the split, the number of prompts
    and, where both results record them, the prompt ids. Empty: the same test set."""
    a, b = old.data, new.data
    found = []
    if a.manifest_fingerprint and b.manifest_fingerprint and a.manifest_fingerprint != b.manifest_fingerprint:
        found.append(
            f"export {a.manifest_fingerprint[:12]} ({a.dataset or '?'}) vs {b.manifest_fingerprint[:12]} "
            f"({b.dataset or '?'})"
        )
    if a.split != b.split:
        found.append(f"split {a.split} vs {b.split}")
    if a.n != b.n:
        found.append(f"{a.n} vs {b.n} prompts")
    if a.prompt_ids and b.prompt_ids and set(a.prompt_ids) != set(b.prompt_ids):
        only_old, only_new = set(a.prompt_ids) - set(b.prompt_ids), set(b.prompt_ids) - set(a.prompt_ids)
        found.append(f"prompt ids: {len(only_old)} in the old results only, {len(only_new)} in the new only")
    return found


def parse_threshold(text: str) -> tuple[str, Limit]:
    """'METRIC=LIMIT' (METRIC may be a glob pattern such as 'capability/*'): the metric and its `Limit`.

    >>> parse_threshold("loss=5%")
    ('loss', Limit(value=0.05, relative=True))
    """
    metric, sep, value = text.partition("=")
    if not sep or not metric.strip() or not value.strip():
        raise ResultsError(f"threshold {text!r}: expected METRIC=LIMIT, e.g. strict=0.01 or loss=5%")
    return metric.strip(), Limit.parse(value)


def _limit(metric: str, higher_is_better: bool, limits: Mapping[str, Limit], max_drop: float, max_rel: float) -> Limit:
    """The metric's own threshold, else the first pattern that matches it, else the default for its direction."""
    if metric in limits:
        return limits[metric]
    for pattern, limit in limits.items():
        if fnmatch.fnmatchcase(metric, pattern):
            return limit
    return Limit(max_drop) if higher_is_better else Limit(max_rel, relative=True)


def _setting_notes(old: Results, new: Results) -> list[str]:
    notes = []
    if old.base_model and new.base_model and old.base_model != new.base_model:
        notes.append(f"base model: {old.base_model} vs {new.base_model}")
    for key in COMPARED_SETTINGS:
        if key in old.settings and key in new.settings and old.settings[key] != new.settings[key]:
            notes.append(f"setting {key}: {old.settings[key]!r} vs {new.settings[key]!r}")
    for side, results in (("old", old), ("new", new)):
        if not results.data.prompt_ids:
            notes.append(f"the {side} results record no prompt ids (written before they were): test sets compared "
                         "by export and count only")  # fmt: skip
    return notes


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
