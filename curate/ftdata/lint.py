"""`ftdata check`: find what silently ruins a fine-tune, and say where each problem came from.

Each problem kind has a severity and a list of issues, every issue naming its example ids and
source rows. Kinds: schema, exact_duplicate, near_duplicate, split_leakage, pii, secret, too_long,
style, example_count.

Usage:
    report = lint(Project.open("."), progress=None)
    report.counts()
    # -> {'schema': 4, 'exact_duplicate': 2, ...}
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ftcore.example import Example
from ftcore.style import StyleSpec
from ftdata.duplicates import cross_split_leaks, duplicate_key, exact_duplicate_groups, near_duplicate_clusters
from ftdata.pii import PII_KINDS, SECRET_KINDS, scan_texts
from ftdata.project import LintConfig, Project
from ftdata.store import Store, StoreSnapshot
from ftdata.tokens import Distribution, count_tokens, load_tokenizer

Severity = Literal["error", "warning"]
SEVERITY: dict[str, Severity] = {
    "schema": "error",
    "split_leakage": "error",
    "secret": "error",
    "exact_duplicate": "warning",
    "near_duplicate": "warning",
    "pii": "warning",
    "too_long": "warning",
    "style": "warning",
    "example_count": "warning",  # raised to error below the hard minimum
}
KINDS = tuple(SEVERITY)
# Progress callback: (stage name, items done in this call, stage total).
Progress = Callable[[str, int, int], None]


@dataclass
class Issue:
    message: str
    ids: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)  # "source:row", for finding it in the raw file
    severity: Severity | None = None  # overrides the kind's severity (example_count)


@dataclass
class LintReport:
    examples: int
    usable: int
    issues: dict[str, list[Issue]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    skipped: dict[str, str] = field(default_factory=dict)  # check -> why it did not run
    style_failures: dict[str, int] = field(default_factory=dict)  # style check id -> failing answers
    token_summary: dict[str, float] = field(default_factory=dict)
    token_counts: dict[str, int] = field(default_factory=dict, repr=False)  # per example id; not in to_dict

    def counts(self) -> dict[str, int]:
        return {kind: len(issues) for kind, issues in self.issues.items()}

    def severity(self, kind: str) -> Severity:
        if any(issue.severity == "error" for issue in self.issues[kind]):
            return "error"
        return SEVERITY[kind]

    def worst(self) -> Severity | None:
        found = [self.severity(kind) for kind, issues in self.issues.items() if issues]
        return "error" if "error" in found else ("warning" if found else None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "usable": self.usable,
            "counts": self.counts(),
            "severity": {kind: self.severity(kind) for kind in KINDS},
            "issues": {
                kind: [{"message": i.message, "ids": i.ids, "locations": i.locations} for i in issues]
                for kind, issues in self.issues.items()
            },
            "skipped": self.skipped,
            "style_failures": self.style_failures,
            "tokens": self.token_summary,
        }


def lint(project: Project, style_path: str | None = None, progress: Progress | None = None) -> LintReport:
    """Lint the project's store with its config; `style_path` overrides the project's style spec."""
    snapshot = Store(project.store_path).read()
    spec_path = project.resolve(style_path) if style_path else project.style_path
    spec = StyleSpec.load(spec_path) if spec_path else None
    tokenizer = load_tokenizer(project.config.lint.tokenizer) if project.config.lint.tokenizer else None
    return lint_snapshot(snapshot, project.config.lint, spec, tokenizer, progress)


def lint_snapshot(
    snapshot: StoreSnapshot,
    config: LintConfig,
    spec: StyleSpec | None = None,
    tokenizer: Any = None,
    progress: Progress | None = None,
) -> LintReport:
    """The checks themselves, on an in-memory snapshot (what `lint` and the benchmarks call)."""
    tick = progress or (lambda stage, done, total: None)
    examples = snapshot.examples
    report = LintReport(examples=len(examples), usable=0)
    where = {e.id: _location(e) for e in examples}

    for rejected in snapshot.rejected:
        reasons = "; ".join(f"{f}: {r}" if f else r for f, r in rejected.problems)
        report.issues["schema"].append(Issue(reasons, [], [f"{rejected.source}:{rejected.row}"]))

    conversations = [(e.id, conversation_text(e)) for e in examples]
    exact_groups = exact_duplicate_groups(conversations)
    for group in exact_groups:
        report.issues["exact_duplicate"].append(
            Issue(
                f"{len(group)} copies of the same conversation (after case/space/NFKC folding)",
                group,
                [where[i] for i in group],
            )
        )
    tick("exact duplicates", len(examples), len(examples))

    clusters = near_duplicate_clusters(
        conversations,
        threshold=config.near_duplicate_threshold,
        progress=lambda n: tick("near-duplicates", n, len(examples)),
    )
    keys = {e_id: duplicate_key(text) for e_id, text in conversations}
    for cluster in clusters:
        if len({keys[i] for i in cluster.ids}) == 1:
            continue  # all exact copies: reported above
        report.issues["near_duplicate"].append(
            Issue(
                f"{len(cluster.ids)} near-identical examples (similarity ≥ {cluster.min_similarity:.2f})",
                list(cluster.ids),
                [where[i] for i in cluster.ids],
            )
        )

    _check_leakage(examples, config, report, where)
    secret_ids = _check_pii(examples, report, where, tick)
    _check_length(examples, config, tokenizer, report, where, tick)
    _check_style(examples, spec, report, where, tick)

    duplicate_extras = sum(len(group) - 1 for group in exact_groups)
    report.usable = len(examples) - duplicate_extras - len(secret_ids)
    _check_count(report, config)
    return report


def conversation_text(example: Example) -> str:
    return "\n".join(f"{m.role}: {m.content}" for m in example.messages)


def prompt_text(example: Example) -> str:
    return "\n".join(f"{m.role}: {m.content}" for m in example.prompt_messages)


def _check_leakage(examples: Sequence[Example], config: LintConfig, report: LintReport, where: dict) -> None:
    by_split: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        split = example.metadata.get("split")
        if isinstance(split, str):
            by_split[split].append(example)
    if "train" not in by_split or len(by_split) < 2:
        report.skipped["split_leakage"] = "no splits yet (`ftdata export` assigns them)"
        return
    train = [(e.id, prompt_text(e)) for e in by_split["train"]]
    for split, members in sorted(by_split.items()):
        if split == "train":
            continue
        leaks = cross_split_leaks(
            train, [(e.id, prompt_text(e)) for e in members], threshold=config.near_duplicate_threshold
        )
        keys = {e_id: duplicate_key(text) for e_id, text in [*train, *((e.id, prompt_text(e)) for e in members)]}
        for train_id, other_id, similarity in leaks:
            same = keys[train_id] == keys[other_id]
            report.issues["split_leakage"].append(
                Issue(
                    f"{split} prompt {'repeats' if same else 'nearly repeats'} a train prompt "
                    f"(similarity {similarity:.2f})",
                    [other_id, train_id],
                    [where[other_id], where[train_id]],
                )
            )


def _check_pii(examples: Sequence[Example], report: LintReport, where: dict, tick: Progress) -> set[str]:
    texts, owners = [], []
    for example in examples:
        for index, message in enumerate(example.messages):
            texts.append(message.content)
            owners.append((example, index))
    secret_ids: set[str] = set()
    findings_by_example: dict[str, list[str]] = defaultdict(list)
    kinds_by_example: dict[str, set[str]] = defaultdict(set)
    for (example, index), text, findings in zip(owners, texts, scan_texts(texts), strict=True):
        for finding in findings:
            role = example.messages[index].role
            findings_by_example[example.id].append(
                f"{finding.detail or finding.kind} in {role} turn: {finding.preview(text)}"
            )
            kinds_by_example[example.id].add(finding.kind)
    tick("PII and secrets", len(examples), len(examples))
    for example in examples:
        kinds = kinds_by_example.get(example.id)
        if not kinds:
            continue
        message = "; ".join(findings_by_example[example.id][:5])
        if kinds & SECRET_KINDS:
            secret_ids.add(example.id)
            report.issues["secret"].append(Issue(message, [example.id], [where[example.id]]))
        if kinds & PII_KINDS:
            report.issues["pii"].append(Issue(message, [example.id], [where[example.id]]))
    return secret_ids


def _check_length(
    examples: Sequence[Example], config: LintConfig, tokenizer: Any, report: LintReport, where: dict, tick: Progress
) -> None:
    if tokenizer is None:
        report.skipped["too_long"] = "no tokenizer in ftdata.yaml (lint.tokenizer)"
        return
    counts = count_tokens(examples, tokenizer, progress=lambda n: tick("token counts", n, len(examples)))
    report.token_counts = {e.id: total for e, total in zip(examples, counts.total, strict=True)}
    for example, total, prompt in zip(examples, counts.total, counts.prompt, strict=True):
        if total > config.max_seq_len:
            lost = "the whole answer" if prompt >= config.max_seq_len else f"{total - config.max_seq_len} answer tokens"
            report.issues["too_long"].append(
                Issue(
                    f"{total} tokens > max_seq_len {config.max_seq_len}: truncation cuts {lost}",
                    [example.id],
                    [where[example.id]],
                )
            )
    report.token_summary = {"total": sum(counts.total), **asdict(Distribution.of(counts.total))}


def _check_style(
    examples: Sequence[Example], spec: StyleSpec | None, report: LintReport, where: dict, tick: Progress
) -> None:
    if spec is None:
        report.skipped["style"] = "no style spec (style in ftdata.yaml, or --style)"
        return
    failures: Counter[str] = Counter()
    for example in examples:
        failed = [(check_id, r.detail) for check_id, r in spec.evaluate(example.completion).items() if not r.passed]
        if failed:
            failures.update(check_id for check_id, _ in failed)
            detail = "; ".join(f"{check_id}: {d}" if d else check_id for check_id, d in failed)
            report.issues["style"].append(
                Issue(f"answer breaks the style: {detail}", [example.id], [where[example.id]])
            )
    tick("style", len(examples), len(examples))
    report.style_failures = {check.id: failures.get(check.id, 0) for check in spec.checks}


def _check_count(report: LintReport, config: LintConfig) -> None:
    if report.usable < config.min_examples_error:
        report.issues["example_count"].append(
            Issue(
                f"only {report.usable} usable examples (< {config.min_examples_error}): too little signal to "
                "learn from",
                severity="error",
            )
        )
    elif report.usable < config.min_examples_warning:
        report.issues["example_count"].append(
            Issue(f"only {report.usable} usable examples (< {config.min_examples_warning}): expect a weak fine-tune")
        )


def _location(example: Example) -> str:
    source, row = example.metadata.get("source"), example.metadata.get("row")
    return f"{source}:{row}" if source is not None else example.id
