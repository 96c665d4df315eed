"""`ftdata stats`: what the data holds and what training on it will cost, before anyone pays.

Token counts come from the base model's tokenizer and chat template (`lint.tokenizer`). On a fresh
project without one they are estimated, at 4 characters per token (the usual rule of thumb for
English with a BPE tokenizer), and the result says so (`estimated`).

Who wrote the answers: `origins` counts the store's examples by origin (human, drafted by `ftdata draft`, a
fine-tune's answer from fteval's review queue); `reviewed` counts what the latest pulled snapshot's reviews keep
(export's consensus, before its lint and split) as human-written, drafted-accepted (a model's draft accepted as it
was) and drafted-corrected, and `warnings` says when unedited drafts are more of it than
`export.max_unedited_drafts` (0.8): a set that only imitates the drafting model.

Usage:
    stats = compute_stats(Project.open("."))
    stats.training_tokens, stats.costs
    plot_token_histogram(stats, "token_histogram.png")
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftcore.atomic import atomic_write
from ftcore.example import Example
from ftcore.training import estimate_cost
from ftdata.origin import origin_counts, origin_of, unedited_draft_warning
from ftdata.project import CostConfig, Project
from ftdata.store import Store
from ftdata.tokens import Distribution, TokenCounts, count_tokens, load_tokenizer


@dataclass
class Stats:
    examples: int
    by_source: dict[str, int]
    by_tag: dict[str, int]
    prompt_tokens: Distribution
    completion_tokens: Distribution
    dataset_tokens: int  # every example once, chat template included
    epochs: float
    training_tokens: int  # dataset_tokens x epochs
    costs: dict[str, float]  # USD, per hosted price in the project config
    gpu_hours: float
    gpu_cost: float
    gpu_tokens_per_second: float  # what the GPU figures assume (from train_config, or the cost section)
    gpu_usd_per_hour: float
    tokenizer: str
    counts: TokenCounts | None = field(default=None, repr=False)  # per example, for the histogram
    estimated: bool = False  # no tokenizer: counts are characters / CHARS_PER_TOKEN
    origins: dict[str, int] = field(default_factory=dict)  # the store's examples by origin (ftdata.origin)
    reviewed: dict[str, int] = field(default_factory=dict)  # kept by the latest snapshot's reviews, by who wrote them
    snapshot: str | None = None  # the snapshot `reviewed` comes from (None: no pull yet)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("counts")
        return data


CHARS_PER_TOKEN = 4
ESTIMATE = f"estimate ({CHARS_PER_TOKEN} characters per token; set lint.tokenizer for exact counts)"


def compute_stats(project: Project, progress: Callable[[int], None] | None = None) -> Stats:
    """Counts, token distributions and cost estimates for the project's store (token counts estimated when
    `lint.tokenizer` is not set, and no train_config names the base model)."""
    tokenizer = project.config.lint.tokenizer
    examples = Store(project.store_path).read().examples
    if tokenizer is None:
        stats = stats_from_counts(examples, estimate_tokens(examples), project.config.cost, ESTIMATE)
        stats.estimated = True
    else:
        counts = count_tokens(examples, load_tokenizer(tokenizer), progress=progress)
        stats = stats_from_counts(examples, counts, project.config.cost, tokenizer.label())
    _add_origins(stats, project, examples)
    return stats


def _add_origins(stats: Stats, project: Project, examples: Sequence[Example]) -> None:
    """Who wrote the answers, in the store and in what the latest snapshot's reviews keep; the guardrail."""
    from ftdata.export import kept_examples  # export pulls in the lint
    from ftdata.snapshot import Snapshot, list_snapshots

    stats.origins = dict(Counter(origin_of(e.metadata) for e in examples).most_common())
    if not list_snapshots(project):
        return
    snapshot = Snapshot.load(project)
    kept = kept_examples(project, snapshot, {e.id: e.metadata for e in examples})
    stats.snapshot, stats.reviewed = snapshot.id, origin_counts(kept)
    warning = unedited_draft_warning(stats.reviewed, project.config.export.max_unedited_drafts)
    if warning:
        stats.warnings.append(f"snapshot {snapshot.id}: {warning}")


def estimate_tokens(examples: Sequence[Example]) -> TokenCounts:
    """Token counts from characters: each turn's text plus a few characters of chat markup, / CHARS_PER_TOKEN,
    rounded up (an answer is never 0 tokens).

    >>> estimate_tokens([Example.from_prompt_completion("What is 2+2?", "4")])
    TokenCounts(prompt=[5], completion=[3], total=[8])
    """
    markup = 8  # per turn: a role marker and an end-of-turn token, as a chat template adds
    prompt = [-(-sum(len(m.content) + markup for m in e.prompt_messages) // CHARS_PER_TOKEN) for e in examples]
    completion = [-(-(len(e.completion) + markup) // CHARS_PER_TOKEN) for e in examples]
    return TokenCounts(prompt, completion, [p + c for p, c in zip(prompt, completion, strict=True)])


def stats_from_counts(examples: Sequence[Example], counts: TokenCounts, cost: CostConfig, tokenizer: str) -> Stats:
    by_source = Counter(str(e.metadata.get("source", "(unknown)")) for e in examples)
    by_tag: Counter[str] = Counter()
    for example in examples:
        by_tag.update(_tags(example.metadata.get("tags")))
    dataset_tokens = sum(counts.total)
    epochs, speed, price = (cost.value(key) for key in ("epochs", "gpu_tokens_per_second", "gpu_usd_per_hour"))
    # The same estimate as `fttrain plan` makes (ftcore.training), here on every example of the store.
    estimate = estimate_cost(dataset_tokens, epochs, speed, price, cost.usd_per_million_tokens)
    return Stats(
        examples=len(examples),
        by_source=dict(by_source.most_common()),
        by_tag=dict(by_tag.most_common()),
        prompt_tokens=Distribution.of(counts.prompt),
        completion_tokens=Distribution.of(counts.completion),
        dataset_tokens=dataset_tokens,
        epochs=epochs,
        training_tokens=round(estimate.training_tokens),
        costs={name: round(usd, 2) for name, usd in estimate.hosted_usd.items()},
        gpu_hours=round(estimate.gpu_hours, 3),
        gpu_cost=round(estimate.gpu_usd, 2),
        gpu_tokens_per_second=speed,
        gpu_usd_per_hour=price,
        tokenizer=tokenizer,
        counts=counts,
    )


def plot_token_histogram(stats: Stats, path: str | os.PathLike, max_seq_len: int | None = None) -> Path:
    """Prompt and completion token histograms, with max_seq_len marked, as a PNG."""
    if stats.counts is None:
        raise ValueError("stats carry no per-example counts to plot")
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=110)
    import numpy as np

    # Shared bin edges, so the three distributions can be compared bar for bar.
    top = max(max(stats.counts.total, default=1), max_seq_len or 0)
    edges = np.linspace(0, top, min(60, max(10, stats.examples // 10)) + 1)
    axis.hist(stats.counts.prompt, bins=edges, alpha=0.6, label=f"prompt (p50 {stats.prompt_tokens.p50})")
    axis.hist(stats.counts.completion, bins=edges, alpha=0.6, label=f"completion (p50 {stats.completion_tokens.p50})")
    axis.hist(
        stats.counts.total, bins=edges, histtype="step", color="black", label="whole example (what max_seq_len cuts)"
    )
    if max_seq_len is not None:
        axis.axvline(max_seq_len, color="crimson", linestyle="--", label=f"max_seq_len {max_seq_len}")
    axis.set_xlabel(f"tokens ({stats.tokenizer})")
    axis.set_ylabel("examples")
    axis.set_title(f"Token counts of {stats.examples} examples")
    axis.legend()
    figure.tight_layout()
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
    return Path(path)


def _tags(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    return []
