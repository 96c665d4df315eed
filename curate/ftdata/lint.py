"""`ftdata check`: find what silently ruins a fine-tune, and say where each problem came from.

Each problem kind has a severity and a list of issues, every issue naming its example ids and
where they came from: the file and line (`tickets.csv:302`; a CSV cell may span lines, so the data
row is named too, `row 300`) and the project's own id column (`ticket_id T-0300`). Kinds: schema
(rows rejected by the latest import of each source), exact_duplicate, near_duplicate, split_leakage
(on the splits of the latest export), pii, secret, too_long, style, example_count.

Usage:
    report = lint(Project.open("."), progress=None)
    report.counts()
    # -> {'schema': 4, 'exact_duplicate': 2, ...}
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ftcore.example import Example
from ftcore.style import StyleSpec
from ftdata.duplicates import cross_split_leaks, duplicate_key, exact_duplicate_groups, near_duplicate_clusters
from ftdata.pii import PII_KINDS, SECRET_KINDS, scan_texts
from ftdata.project import LintConfig, Project
from ftdata.store import RejectedRow, Store, StoreSnapshot
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


def lint(
    project: Project,
    style_path: str | None = None,
    progress: Progress | None = None,
    export_dir: str | os.PathLike | None = None,
    last_export: bool = True,
) -> LintReport:
    """Lint the project's store with its config; `style_path` overrides the project's style spec.

    Split leakage is checked on the splits of `export_dir`, or else (with `last_export`) of the project's
    latest `ftdata export`."""
    snapshot = Store(project.store_path).read()
    spec_path = project.resolve(style_path) if style_path else project.style_path
    spec = StyleSpec.load(spec_path) if spec_path else None
    tokenizer = load_tokenizer(project.config.lint.tokenizer) if project.config.lint.tokenizer else None
    splits, why_not = None, "no export yet (`ftdata export` assigns splits; `--export DIR` names one)"
    if export_dir is None and last_export:
        export_dir = last_export_folder(project)
        if export_dir is not None and not Path(export_dir).is_dir():
            why_not, export_dir = f"the latest export, {export_dir}, is gone", None
    if export_dir is not None:
        from ftdata.export import load_export  # export imports this module

        splits = load_export(export_dir)
    return lint_snapshot(
        snapshot, project.config.lint, spec, tokenizer, progress, splits, project.config.id_column, why_not
    )


def lint_snapshot(
    snapshot: StoreSnapshot,
    config: LintConfig,
    spec: StyleSpec | None = None,
    tokenizer: Any = None,
    progress: Progress | None = None,
    splits: dict[str, list[Example]] | None = None,
    id_column: str | None = None,
    no_splits_reason: str = "no splits yet (`ftdata export` assigns them)",
) -> LintReport:
    """The checks themselves, on an in-memory snapshot (what `lint` and the benchmarks call).

    `splits`: an export's splits to check for leakage (else the examples' own `split` metadata, if any)."""
    tick = progress or (lambda stage, done, total: None)
    examples = snapshot.examples
    report = LintReport(examples=len(examples), usable=0)
    where = {e.id: source_location(e.metadata, id_column, e.id) for e in examples}

    imports = {entry.get("id"): entry for entry in snapshot.imports}
    for rejected in snapshot.rejected:
        reasons = "; ".join(f"{f}: {r}" if f else r for f, r in rejected.problems)
        entry = imports.get(rejected.import_id)
        if entry is not None:  # which import said so: a later import of the source replaces these
            reasons += f" (import {entry['id']}, store {entry.get('version', '?')})"
        report.issues["schema"].append(Issue(reasons, [], [_rejected_location(rejected, id_column)]))

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

    if splits is not None:
        _check_export_leakage(splits, config, report, id_column)
    else:
        _check_leakage(examples, config, report, where, no_splits_reason)
    secret_ids = _check_pii(examples, report, where, tick, config.phone_regions)
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


def answer_text(example: Example) -> str:
    return example.completion


def _check_leakage(
    examples: Sequence[Example], config: LintConfig, report: LintReport, where: dict, no_splits_reason: str
) -> None:
    by_split: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        split = example.metadata.get("split")
        if isinstance(split, str):
            by_split[split].append(example)
    if "train" not in by_split or len(by_split) < 2:
        report.skipped["split_leakage"] = no_splits_reason
        return
    report.issues["split_leakage"] = split_leaks(by_split, config.near_duplicate_threshold, where)


def _check_export_leakage(
    splits: dict[str, list[Example]], config: LintConfig, report: LintReport, id_column: str | None
) -> None:
    where = {}
    for name, members in splits.items():
        for example in members:
            where[example.id] = f"{name}: {source_location(example.metadata, id_column, example.id)}"
    report.issues["split_leakage"] = split_leaks(splits, config.near_duplicate_threshold, where)


def split_leaks(splits: dict[str, list[Example]], threshold: float, where: dict[str, str]) -> list[Issue]:
    """Each example outside train whose prompt, or answer, is the same as or nearly the same as a train one's.

    Answers count too: a canned reply ("macro") in train and in test inflates the test's ROUGE and exact match
    as surely as a repeated prompt."""
    issues = []
    for part, text_of in (("prompt", prompt_text), ("answer", answer_text)):
        train = [(e.id, text_of(e)) for e in splits.get("train", [])]
        for split, members in sorted(splits.items()):
            if split == "train" or not members:
                continue
            others = [(e.id, text_of(e)) for e in members]
            keys = {e_id: duplicate_key(text) for e_id, text in [*train, *others]}
            for train_id, other_id, similarity in cross_split_leaks(train, others, threshold=threshold):
                same = keys[train_id] == keys[other_id]
                issues.append(
                    Issue(
                        f"{split} {part} {'repeats' if same else 'nearly repeats'} a train {part} "
                        f"(similarity {similarity:.2f})",
                        [other_id, train_id],
                        [where.get(other_id, other_id), where.get(train_id, train_id)],
                    )
                )
    return issues


def _check_pii(
    examples: Sequence[Example], report: LintReport, where: dict, tick: Progress, phone_regions: Sequence[str]
) -> set[str]:
    texts, owners = [], []
    for example in examples:
        for index, message in enumerate(example.messages):
            texts.append(message.content)
            owners.append((example, index))
    secret_ids: set[str] = set()
    findings_by_example: dict[str, list[str]] = defaultdict(list)
    kinds_by_example: dict[str, set[str]] = defaultdict(set)
    for (example, index), text, findings in zip(owners, texts, scan_texts(texts, phone_regions), strict=True):
        for finding in findings:
            role = example.messages[index].role
            what = finding.kind.replace("_", " ")
            if finding.detail and finding.detail != finding.kind:
                what += f" ({finding.detail})"  # "phone (GB)", "secret (AWS Access Key)", "ip address (IPv4)"
            findings_by_example[example.id].append(f"{what} in {role} turn: {finding.preview(text)}")
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
        report.skipped["too_long"] = "no tokenizer (lint.tokenizer, or the base model of train_config)"
        return
    counts = count_tokens(examples, tokenizer, progress=lambda n: tick("token counts", n, len(examples)))
    report.token_counts = {e.id: total for e, total in zip(examples, counts.total, strict=True)}
    limit = config.seq_len
    for example, total, prompt in zip(examples, counts.total, counts.prompt, strict=True):
        if total > limit:
            lost = "the whole answer" if prompt >= limit else f"{total - limit} answer tokens"
            report.issues["too_long"].append(
                Issue(
                    f"{total} tokens > max_seq_len {limit}: truncation cuts {lost}",
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


def source_location(metadata: dict[str, Any], id_column: str | None = None, fallback: str = "") -> str:
    """Where an example came from, for people: `tickets.csv:302 (row 300, ticket_id T-0300)`.

    The file line when the import knew it (a CSV record may start several lines below its row number:
    a header, cells spanning lines), else the row; then the project's own id column, when it has one.

    >>> source_location({"source": "tickets.csv", "row": 300, "line": 302, "ticket_id": "T-0300"}, "ticket_id")
    'tickets.csv:302 (row 300, ticket_id T-0300)'
    """
    source, row, line = metadata.get("source"), metadata.get("row"), metadata.get("line")
    place = f"{source}:{line if line is not None else row}" if source is not None else fallback
    extras = [f"row {row}"] if line is not None and row is not None and line != row else []
    if id_column and metadata.get(id_column) not in (None, ""):
        extras.append(f"{id_column} {metadata[id_column]}")
    return place + (f" ({', '.join(extras)})" if extras else "")


def _rejected_location(rejected: RejectedRow, id_column: str | None) -> str:
    """A rejected row's place, with its id column read back from the raw row when the row was kept whole."""
    metadata: dict[str, Any] = {"source": rejected.source, "row": rejected.row, "line": rejected.line}
    if id_column:
        try:
            raw = json.loads(rejected.raw)
        except ValueError:  # cut at RAW_PREVIEW_CHARS, or no row at all (a line that was not JSON)
            raw = None
        if isinstance(raw, dict) and raw.get(id_column) not in (None, ""):
            metadata[id_column] = raw[id_column]
    return source_location(metadata, id_column)


def last_export_folder(project: Project) -> Path | None:
    """The folder of the project's latest `ftdata export`, as export recorded it (None: none yet)."""
    try:
        recorded = json.loads(project.last_export_path.read_text(encoding="utf-8"))
        return Path(recorded["folder"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
