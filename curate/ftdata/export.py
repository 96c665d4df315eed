"""`ftdata export`: from a review snapshot to a versioned, reproducible training set.

Steps: a consensus per record (majority verdict with a quorum; a lead's bulk accept counts as
`export.bulk_accept` says; ties, unclear corrections and needs-edit without a correction go to an
adjudication queue, not into the data, until a senior reviewer decides them in the adjudication
dataset), corrections replace answers, rejects are dropped, the lint runs again on the result
(secrets, exact copies and style breaks are left out), and a seeded split stratified on a metadata
key keeps near-duplicates together (examples whose prompts *or* answers nearly match: a canned
reply in train and test inflates the scores as much as a repeated prompt), so no test example has
a twin in train; `export.dedupe: keep-one-per-cluster` keeps one of each such cluster instead.
Examples that hold a test prompt (fteval's review queue, imported again) go to the test split only.

The folder it writes (see README, "Export folder"):

    train.jsonl validation.jsonl test.jsonl    OpenAI chat format, one {"messages": [...]} per line
    dataset/                                   the same splits as a `datasets` DatasetDict (id, messages, metadata)
    parquet/<split>.parquet                    and as Parquet
    adjudication.jsonl                         records a senior reviewer must decide
    review_design.json                         what annotators were asked
    ftdata.resolved.yaml                       the project config used
    manifest.json                              counts, drops per reason, sha256 of every file, agreement, ...

The same snapshot and config give byte-identical files.

Usage:
    result = export_dataset(Project.open("."), out="exports/v1")
    result.manifest.counts()
    # -> {'train': 412, 'validation': 51, 'test': 52}
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcore import __version__
from ftcore.atomic import atomic_write, describe_os_error, sha256_file
from ftcore.config import write_config
from ftcore.errors import FtdataError
from ftcore.example import Example, normalise_content
from ftcore.manifest import ExportManifest, SplitFile, load_split_with_metadata
from ftcore.style import StyleSpec
from ftdata.duplicates import cross_split_leaks, near_duplicate_clusters
from ftdata.lint import answer_text, lint_snapshot, prompt_text
from ftdata.origin import is_model_written, origin_counts, unedited_draft_warning
from ftdata.project import ExportConfig, Project
from ftdata.snapshot import Response, Snapshot, SnapshotRecord, list_snapshots
from ftdata.status import is_bulk_accept, status_from_records
from ftdata.store import Store, StoreSnapshot

SPLIT_ORDER = ("train", "validation", "test")
# A model's answer (`ftdata draft`, fteval's review queue) without a reviewer's own verdict: never trained on.
UNREVIEWED_DRAFT = "model draft without a reviewer's own verdict (a bulk accept does not count)"


class ExportError(FtdataError):
    """The export would be wrong or too small; nothing was written."""


class ExportTooSmall(ExportError):
    """Fewer examples than `export.min_examples`: a data condition (exit 1), with the reasons counted."""

    def __init__(self, message: str, details: dict[str, Any]):
        super().__init__(message)
        self.details = details


# What each drop reason is governed by, named in the refusal message so that the user knows what to change.
SETTING_OF_REASON = {
    "quorum": "export.quorum",
    "breaks the style spec": "export.drop_style_failures",
    "contains a secret": "export.allow_secret_ids",
    "keep-one-per-cluster": "export.dedupe",
}


@dataclass(frozen=True)
class Decision:
    record: SnapshotRecord
    outcome: str  # keep | drop | adjudicate
    reason: str
    answer: str | None = None  # the answer to train on, when kept


@dataclass
class ExportContent:
    """What an export holds, all decided before a file is written."""

    splits: dict[str, list[Example]]
    adjudication: list[dict[str, Any]]  # records a senior reviewer must decide
    drops: Counter[str]  # reason -> examples left out
    lint_counts: dict[str, int]  # problems still in the exported data, by kind
    status: dict[str, Any]  # the review's progress and agreement
    origins: dict[str, int] = field(default_factory=dict)  # human-written / drafted-accepted / drafted-corrected


@dataclass
class ExportResult:
    folder: Path
    manifest: ExportManifest
    adjudication: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def decide(record: SnapshotRecord, config: ExportConfig, senior: Sequence[Response] = ()) -> Decision:
    """The consensus for one record from its submitted reviews; a senior reviewer's decision (the record's
    submitted responses in the adjudication dataset, `senior`) overrides it."""
    decisions = [r for r in senior if r.status == "submitted" and r.values.get("verdict")]
    if decisions:
        return _senior_decision(record, decisions)
    submitted = record.submitted()
    verdicts = [r.values.get("verdict") for r in submitted if r.values.get("verdict")]
    bulk = any(is_bulk_accept(record, r) for r in submitted)
    if bulk and config.bulk_accept == "meets-quorum" and set(verdicts) == {"accept"}:
        # The lead vouched for it in bulk and no reviewer said otherwise: enough, whatever the quorum.
        return Decision(record, "keep", "accepted in bulk by a lead", record.answer)
    if len(verdicts) < config.quorum:
        return Decision(record, "drop", f"fewer than {config.quorum} submitted verdicts (quorum)")
    [(top, votes)] = Counter(verdicts).most_common(1)
    if votes * 2 <= len(verdicts):  # no strict majority: a tie, or a three-way split
        return Decision(record, "adjudicate", "no majority verdict")
    if top == "reject":
        return Decision(record, "drop", "rejected by reviewers")
    if top == "accept":
        return Decision(record, "keep", "accepted", record.answer)
    corrections = Counter(
        normalise_content(r.values["corrected"])
        for r in submitted
        if r.values.get("verdict") == "needs-edit" and (r.values.get("corrected") or "").strip()
    )
    if not corrections:
        return Decision(record, "adjudicate", "needs-edit without a correction")
    [(correction, agreeing)] = corrections.most_common(1)
    if agreeing * 2 <= corrections.total():  # two of three corrections alike decide; one against one does not
        return Decision(record, "adjudicate", "different corrections")
    if config.correction_policy == "adjudicate":
        return Decision(record, "adjudicate", "correction to confirm (correction_policy: adjudicate)")
    return Decision(record, "keep", "corrected", correction)


def _senior_decision(record: SnapshotRecord, decisions: Sequence[Response]) -> Decision:
    """What the senior reviewer(s) decided in the adjudication dataset: final, unless they disagree."""
    verdicts = {r.values["verdict"] for r in decisions}
    corrections = {
        normalise_content(r.values.get("corrected") or "") for r in decisions if r.values["verdict"] == "needs-edit"
    } - {""}
    if len(verdicts) > 1 or len(corrections) > 1:
        return Decision(record, "adjudicate", "senior reviewers disagree")
    verdict = verdicts.pop()
    if verdict == "accept":
        return Decision(record, "keep", "accepted by a senior reviewer", record.answer)
    if verdict == "reject":
        return Decision(record, "drop", "rejected by a senior reviewer")
    if not corrections:
        return Decision(record, "adjudicate", "senior reviewer's needs-edit without a correction")
    return Decision(record, "keep", "corrected by a senior reviewer", corrections.pop())


def consensus(project: Project, snapshot: Snapshot, provenance: dict[str, dict[str, Any]]) -> list[Decision]:
    """`decide` for every record of `snapshot`, and the rule for a model's answers: kept only with a reviewer's own
    verdict (a senior's decision, or a submitted verdict other than a lead's bulk accept). `provenance`: the store's
    metadata by example id (what says a model wrote the answer)."""
    config = project.config.export
    senior = {record.external_id: record.submitted() for record in snapshot.senior}
    decisions = []
    for record in snapshot.records:
        decision = decide(record, config, senior.get(record.external_id, ()))
        metadata = provenance.get(record.external_id, record.metadata)
        if is_model_written(metadata) and not _reviewed_by_a_person(record, senior.get(record.external_id, ())):
            decision = Decision(record, "drop", UNREVIEWED_DRAFT)
        decisions.append(decision)
    return decisions


def _reviewed_by_a_person(record: SnapshotRecord, senior: Sequence[Response]) -> bool:
    own = [r for r in record.submitted() if r.values.get("verdict") and not is_bulk_accept(record, r)]
    return bool(own) or any(r.status == "submitted" and r.values.get("verdict") for r in senior)


def kept_examples(project: Project, snapshot: Snapshot, provenance: dict[str, dict[str, Any]]) -> list[Example]:
    """The examples the snapshot's reviews keep, corrections in place, before export's lint and split."""
    return [_reviewed_example(d, provenance) for d in consensus(project, snapshot, provenance) if d.outcome == "keep"]


def drafting_pool(project: Project) -> tuple[list[Example], list[Example], str | None]:
    """The examples `ftdata draft` may show a model: those the latest snapshot's reviews keep (with corrections
    in place), the store's human-written examples no reviewer rejected or asked to edit, and the snapshot's id
    (None: no pull yet). Test prompts (fteval's review queue) are in neither."""
    examples = Store(project.store_path).read().examples
    provenance = {e.id: e.metadata for e in examples}
    accepted: list[Example] = []
    disputed: set[str] = set()
    snapshot_id = None
    if list_snapshots(project):
        snapshot = Snapshot.load(project)
        snapshot_id = snapshot.id
        for decision in consensus(project, snapshot, provenance):
            if decision.outcome == "keep":
                accepted.append(_reviewed_example(decision, provenance))
            if any(r.values.get("verdict") in ("reject", "needs-edit") for r in decision.record.submitted()):
                disputed.add(decision.record.external_id)
    human = [e for e in examples if not is_model_written(e.metadata) and e.id not in disputed]
    return (
        [e for e in accepted if not e.metadata.get("holdout")],
        [e for e in human if not e.metadata.get("holdout")],
        snapshot_id,
    )


def export_dataset(
    project: Project,
    snapshot_id: str | None = None,
    out: str | os.PathLike | None = None,
    allow_small: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportResult:
    """Build the training set from a snapshot (default: the latest) into `out`, all or nothing."""
    return build_export(project, Snapshot.load(project, snapshot_id), out, allow_small, progress)


def build_export(
    project: Project,
    snapshot: Snapshot,
    out: str | os.PathLike | None = None,
    allow_small: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportResult:
    """`export_dataset` on a snapshot already in memory."""
    config = project.config
    for name in config.split.ratios:  # each names files and a `datasets` split: "a/b" or "../x" would escape the folder
        if not re.fullmatch(r"\w+", name):
            raise ExportError(f"{project.config_path}: split.ratios: {name!r} is not a split name (letters, digits, _)")
    folder = Path(out) if out is not None else project.resolve(f"exports/{config.dataset}-{snapshot.id}")
    provenance = {e.id: e.metadata for e in Store(project.store_path).read().examples}

    drops: Counter[str] = Counter()
    adjudication: list[dict[str, Any]] = []
    kept: list[Example] = []
    for decision in consensus(project, snapshot, provenance):
        if decision.outcome == "drop":
            drops[decision.reason] += 1
        elif decision.outcome == "adjudicate":
            adjudication.append(_adjudication_entry(decision))
        else:
            kept.append(_reviewed_example(decision, provenance))

    kept, lint_counts = _lint_and_filter(project, kept, drops)
    threshold = config.lint.near_duplicate_threshold
    if config.export.dedupe == "keep-one-per-cluster":
        kept = _keep_one_per_cluster(kept, threshold, drops)
    warnings = []
    holdouts = sum(1 for e in kept if e.metadata.get("holdout"))
    if holdouts:
        warnings.append(
            f"{holdouts} example(s) hold test prompts (imported from fteval's review queue): "
            "placed in the test split with their near-duplicates, never in train"
        )
    splits = split_examples(kept, config.split.ratios, config.split.seed, config.export.stratify_by, threshold)
    splits = _drop_leaks(splits, threshold, drops)

    total = sum(len(v) for v in splits.values())
    origins = origin_counts(e for members in splits.values() for e in members)
    unedited = unedited_draft_warning(origins, config.export.max_unedited_drafts)
    if unedited:
        warnings.append(unedited)
    if total < config.export.min_examples:
        message, details = _too_small(total, config.export, drops, len(adjudication))
        if not allow_small:
            raise ExportTooSmall(message, details)
        warnings.append(f"only {total} examples to export (export.min_examples is {config.export.min_examples})"
                        ": exported anyway (--allow-small)")  # fmt: skip

    status = status_from_records(snapshot.records).to_dict()
    content = ExportContent(splits, adjudication, drops, lint_counts, status, origins)
    manifest = _write_export(project, snapshot, folder, content)
    _record_last_export(project, folder, manifest, snapshot.id)
    return ExportResult(folder=folder, manifest=manifest, adjudication=adjudication, warnings=warnings)


def _too_small(total: int, config: ExportConfig, drops: Counter[str], adjudicating: int) -> tuple[str, dict[str, Any]]:
    """Why an export is too small, counted per reason, with the settings that govern each reason."""
    reasons = []
    for reason, n in drops.most_common():
        setting = next((key for phrase, key in SETTING_OF_REASON.items() if phrase in reason), None)
        if setting == "export.quorum":
            reason = f"fewer than {config.quorum} submitted verdicts (export.quorum is {config.quorum})"
        reasons.append(f"{n} {reason}" + (f" ({setting})" if setting and setting not in reason else ""))
    if adjudicating:
        reasons.append(f"{adjudicating} await adjudication (`ftdata adjudicate`)")
    message = (
        f"only {total} examples to export, fewer than export.min_examples ({config.min_examples}); "
        f"left out: {'; '.join(reasons) or 'nothing (too few records)'}. Review more, change those settings, "
        "or pass --allow-small; nothing was written"
    )
    details = {
        "exported": total,
        "left_out": dict(drops.most_common()),
        "awaiting_adjudication": adjudicating,
        "settings": {"export.min_examples": config.min_examples, "export.quorum": config.quorum},
    }
    return message, details


def _record_last_export(project: Project, folder: Path, manifest: ExportManifest, snapshot_id: str) -> None:
    """Where the latest export is, so that `ftdata check` checks its splits for leakage."""
    record = {"folder": str(folder.resolve()), "fingerprint": manifest.fingerprint, "snapshot": snapshot_id}
    with atomic_write(project.last_export_path) as handle:
        handle.write(json.dumps(record, indent=2) + "\n")


def load_export(folder: str | os.PathLike) -> dict[str, list[Example]]:
    """An export's splits with each example's metadata (source, row, review), every file checked against the
    manifest first: the split JSONL files carry messages only, the Parquet copies carry the metadata."""
    return {name: load_split_with_metadata(folder, name) for name in ExportManifest.read(folder).splits}


def near_duplicate_groups(examples: Sequence[Example], threshold: float) -> list[list[str]]:
    """Ids of examples linked by a near-duplicate prompt *or* a near-duplicate answer (directly or through
    others), each group sorted, groups in order of their first id; examples with no twin are groups of one."""
    parent = {e.id: e.id for e in examples}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for text_of in (prompt_text, answer_text):
        for cluster in near_duplicate_clusters([(e.id, text_of(e)) for e in examples], threshold=threshold):
            for member in cluster.ids[1:]:
                a, b = root(cluster.ids[0]), root(member)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = defaultdict(list)
    for example_id in sorted(parent):
        groups[root(example_id)].append(example_id)
    return sorted(groups.values())


def split_examples(
    examples: Sequence[Example], ratios: dict[str, float], seed: int, stratify_by: str, threshold: float
) -> dict[str, list[Example]]:
    """A seeded split, stratified on `metadata[stratify_by]`, that keeps near-duplicates together.

    Examples whose prompts or answers are near-duplicates form one group and go to one split whole; a group
    holding a test prompt (`metadata.holdout`, from fteval's review queue) goes to that split; within each
    stratum, the other groups are shuffled with `seed` and dealt out to reach each split's ratio.
    """
    by_id = {e.id: e for e in examples}
    names = [name for name in SPLIT_ORDER if name in ratios] + sorted(set(ratios) - set(SPLIT_ORDER))
    result: dict[str, list[Example]] = {name: [] for name in names}
    strata: dict[str, list[list[str]]] = defaultdict(list)
    for members in near_duplicate_groups(examples, threshold):
        pinned = sorted({str(by_id[m].metadata["holdout"]) for m in members if by_id[m].metadata.get("holdout")})
        if pinned:
            if pinned[0] not in result:
                raise ExportError(
                    f"{len(members)} example(s) (e.g. {members[0]}) hold {pinned[0]} prompts from fteval's review "
                    f"queue, but split.ratios has no {pinned[0]!r} split: they must never be trained on"
                )
            result[pinned[0]].extend(by_id[m] for m in members)
            continue
        stratum = str(by_id[members[0]].metadata.get(stratify_by, "(none)"))
        strata[stratum].append(members)
    rng = random.Random(seed)
    for stratum in sorted(strata):
        stratum_groups = sorted(strata[stratum])
        rng.shuffle(stratum_groups)
        size = sum(len(g) for g in stratum_groups)
        placed = dict.fromkeys(names, 0)
        for members in stratum_groups:
            # The split furthest below its share of this stratum takes the next group.
            target = max(names, key=lambda n: (ratios[n] * size - placed[n], -names.index(n)))
            placed[target] += len(members)
            result[target].extend(by_id[m] for m in members)
    return {name: sorted(members, key=lambda e: e.id) for name, members in result.items()}


def _reviewed_example(decision: Decision, provenance: dict[str, dict[str, Any]]) -> Example:
    record = decision.record
    metadata = dict(provenance.get(record.external_id, {"source": record.metadata.get("source")}))
    verdicts = Counter(r.values.get("verdict") for r in record.submitted())
    metadata["review"] = {"outcome": decision.reason, "votes": dict(sorted(verdicts.items()))}
    if decision.answer != record.answer:
        metadata["review"]["corrected_from"] = record.external_id
    if is_model_written(metadata):
        # A correction that leaves the draft as it was is an accept: "unedited" is about the text trained on.
        edited = normalise_content(decision.answer or "") != normalise_content(record.answer)
        metadata["review"]["draft"] = "corrected" if edited else "accepted"
    return record.example(answer=decision.answer, metadata=metadata)


def _adjudication_entry(decision: Decision) -> dict[str, Any]:
    record = decision.record
    return {
        "id": record.external_id,
        "reason": decision.reason,
        "conversation": record.conversation,
        "answer": record.answer,
        "reviews": [
            {"username": r.username, **{k: v for k, v in r.values.items() if v not in (None, "", [])}}
            for r in record.submitted()
        ],
    }


def _lint_and_filter(project: Project, examples: list[Example], drops: Counter[str]) -> tuple[list[Example], dict]:
    """Run the lint on what reviewers kept; leave out secrets (unless allowed), exact copies, style breaks."""
    config = project.config
    spec = StyleSpec.load(project.style_path) if project.style_path else None
    report = lint_snapshot(StoreSnapshot(examples), config.lint, spec)
    allowed = set(config.export.allow_secret_ids)
    leave_out: dict[str, str] = {}
    for issue in report.issues["secret"]:
        for example_id in issue.ids:
            if example_id not in allowed:
                leave_out[example_id] = "contains a secret (export.allow_secret_ids lets it in)"
    for issue in report.issues["exact_duplicate"]:
        for example_id in issue.ids[1:]:
            leave_out.setdefault(example_id, "exact copy of another exported example")
    if config.export.drop_style_failures:
        for issue in report.issues["style"]:
            for example_id in issue.ids:
                leave_out.setdefault(example_id, "breaks the style spec after review")
    drops.update(leave_out.values())
    kept = [e for e in examples if e.id not in leave_out]
    # The manifest counts what is still in the exported data: a secret left out is not one exported.
    kept_ids = {e.id for e in kept}
    counts = {}
    for kind, issues in report.issues.items():
        needed = 2 if kind in ("exact_duplicate", "near_duplicate") else 1  # a group needs two members left
        n = sum(1 for issue in issues if len(kept_ids.intersection(issue.ids)) >= needed)
        if n:  # (example_count issues name no example: never counted here)
            counts[kind] = n
    return kept, counts


def _keep_one_per_cluster(examples: list[Example], threshold: float, drops: Counter[str]) -> list[Example]:
    """`export.dedupe: keep-one-per-cluster`: of each group of near-duplicates (prompt or answer), the example
    with the smallest id (an arbitrary but stable choice); a test prompt from a review queue is kept first."""
    by_id = {e.id: e for e in examples}
    keep = set()
    for members in near_duplicate_groups(examples, threshold):
        keep.add(min(members, key=lambda m: (not by_id[m].metadata.get("holdout"), m)))
    left_out = len(examples) - len(keep)
    if left_out:
        drops["near-duplicate of another exported example (keep-one-per-cluster)"] += left_out
    return [e for e in examples if e.id in keep]


def _drop_leaks(splits: dict[str, list[Example]], threshold: float, drops: Counter[str]) -> dict[str, list[Example]]:
    """A last guard after the grouped split: no prompt or answer outside train may nearly repeat a train one."""
    for part, text_of in (("prompt", prompt_text), ("answer", answer_text)):
        train = [(e.id, text_of(e)) for e in splits.get("train", [])]
        for name, members in splits.items():
            if name == "train" or not members:
                continue
            others = [(e.id, text_of(e)) for e in members]
            leaked = {other for _, other, _ in cross_split_leaks(train, others, threshold=threshold)}
            if leaked:
                drops[f"{name} {part} nearly repeats a train {part}"] += len(leaked)
                splits[name] = [e for e in members if e.id not in leaked]
    return splits


def _write_export(project: Project, snapshot: Snapshot, folder: Path, content: ExportContent) -> ExportManifest:
    """Everything into a staging folder, then one rename: no half-written export under the final name."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        manifest = _write_staging(project, snapshot, staging, content)
    except BaseException as error:  # a full disk, Ctrl-C: no half export left beside the previous one
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):
            raise ExportError(
                f"{folder}: cannot write the export: {describe_os_error(error)}; nothing changed there"
            ) from None
        raise
    retired = folder.parent / f".{folder.name}.replaced"
    if folder.exists():
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(folder, retired)
    os.replace(staging, folder)
    shutil.rmtree(retired, ignore_errors=True)  # also one left by a run cut off between the two renames
    return manifest


def _write_staging(project: Project, snapshot: Snapshot, staging: Path, content: ExportContent) -> ExportManifest:
    """Every file of the export into `staging`, the manifest last."""
    split_files = _write_split_files(staging, content.splits)
    tables = _split_tables(content.splits)
    _write_parquet(staging, tables)
    _write_dataset(staging, tables, split_files)
    _write_review_files(staging, snapshot, content.adjudication)
    write_config(project.config, staging / "ftdata.resolved.yaml")
    manifest = _manifest(project, snapshot, content, split_files, _other_file_hashes(staging, split_files))
    manifest.write(staging)
    return manifest


def _write_split_files(staging: Path, splits: dict[str, list[Example]]) -> dict[str, SplitFile]:
    """<split>.jsonl in the OpenAI fine-tuning format: messages only, nothing else per line."""
    split_files = {}
    for name, examples in splits.items():
        path = staging / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for example in examples:
                handle.write(
                    json.dumps({"messages": [m.to_dict() for m in example.messages]}, ensure_ascii=False) + "\n"
                )
        split_files[name] = SplitFile.describe(staging, path.name, len(examples))
    return split_files


def _split_tables(splits: dict[str, list[Example]]) -> dict[str, Any]:
    """Each split as an Arrow table of id, messages and metadata (as JSON text)."""
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return {
        name: pa.table(
            {
                "id": pa.array([e.id for e in examples], pa.string()),
                "messages": pa.array([[m.to_dict() for m in e.messages] for e in examples], pa.list_(message)),
                "metadata": pa.array(
                    [json.dumps(e.metadata, ensure_ascii=False, sort_keys=True) for e in examples], pa.string()
                ),
            }
        )
        for name, examples in splits.items()
    }


def _write_parquet(staging: Path, tables: dict[str, Any]) -> None:
    import pyarrow.parquet as pq

    (staging / "parquet").mkdir()
    for name, table in tables.items():
        pq.write_table(table, staging / "parquet" / f"{name}.parquet")


def _write_dataset(staging: Path, tables: dict[str, Any], split_files: dict[str, SplitFile]) -> None:
    """dataset/: the splits as a `datasets` DatasetDict, byte-identical for the same content."""
    import datasets

    bars_were_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        # A fingerprint from the content (not a random one) keeps dataset/ byte-identical across runs.
        dataset_dict = datasets.DatasetDict(
            {
                name: datasets.Dataset(table, split=name, fingerprint=_sha_of(split_files[name].sha256, name))
                for name, table in tables.items()
            }
        )
        dataset_dict.save_to_disk(str(staging / "dataset"))
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()


def _write_review_files(staging: Path, snapshot: Snapshot, adjudication: list[dict[str, Any]]) -> None:
    """adjudication.jsonl (what a senior reviewer must decide) and review_design.json (what annotators were asked)."""
    with open(staging / "adjudication.jsonl", "w", encoding="utf-8") as handle:
        for entry in adjudication:
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
    (staging / "review_design.json").write_text(
        json.dumps(snapshot.info.get("review_design", {}), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )


def _other_file_hashes(staging: Path, split_files: dict[str, SplitFile]) -> dict[str, str]:
    """sha256 of every file but the split files (hashed in `splits` already) and the manifest."""
    split_paths = {staging / entry.path for entry in split_files.values()}
    return {
        str(path.relative_to(staging)): sha256_file(path)
        for path in sorted(staging.rglob("*"))
        if path.is_file() and path not in split_paths
    }


def _manifest(
    project: Project,
    snapshot: Snapshot,
    content: ExportContent,
    split_files: dict[str, SplitFile],
    files: dict[str, str],
) -> ExportManifest:
    return ExportManifest(
        dataset=project.config.dataset,
        splits=split_files,
        source_snapshot=f"argilla:{snapshot.info['workspace']}/{snapshot.info['dataset']}"
        f"@{snapshot.id} (sha256 {snapshot.info['content_sha256'][:16]})",
        guideline_version=snapshot.info["guideline_version"],
        seed=project.config.split.seed,
        split_ratios=project.config.split.ratios,
        tool_version=__version__,
        created_at=snapshot.info["pulled_at"],  # the data's time, so the same snapshot gives the same bytes
        drops=dict(sorted(content.drops.items())),
        agreement=content.status["agreement"] | {"records": content.status["records"]},
        lint=content.lint_counts,
        files=files,
        license=project.config.license,
        origins=content.origins,
    )


def _sha_of(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
