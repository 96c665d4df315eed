"""`ftdata export`: from a review snapshot to a versioned, reproducible training set.

Steps: a consensus per record (majority verdict with a quorum; ties, unclear corrections and
needs-edit without a correction go to an adjudication queue, not into the data), corrections
replace answers, rejects are dropped, the lint runs again on the result (secrets, exact copies and
style breaks are left out), and a seeded split stratified on a metadata key keeps near-duplicate
prompts together, so no test prompt has a twin in train.

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
from ftcore.atomic import describe_os_error, sha256_file
from ftcore.config import write_config
from ftcore.errors import FtdataError
from ftcore.example import Example, normalise_content
from ftcore.manifest import ExportManifest, SplitFile
from ftcore.style import StyleSpec
from ftdata.duplicates import cross_split_leaks, near_duplicate_clusters
from ftdata.lint import lint_snapshot, prompt_text
from ftdata.project import ExportConfig, Project
from ftdata.snapshot import Snapshot, SnapshotRecord
from ftdata.status import status_from_records
from ftdata.store import Store, StoreSnapshot

SPLIT_ORDER = ("train", "validation", "test")


class ExportError(FtdataError):
    """The export would be wrong or too small; nothing was written."""


@dataclass(frozen=True)
class Decision:
    record: SnapshotRecord
    outcome: str  # keep | drop | adjudicate
    reason: str
    answer: str | None = None  # the answer to train on, when kept


@dataclass
class ExportResult:
    folder: Path
    manifest: ExportManifest
    adjudication: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def decide(record: SnapshotRecord, config: ExportConfig) -> Decision:
    """The consensus for one record from its submitted reviews."""
    submitted = record.submitted()
    verdicts = [r.values.get("verdict") for r in submitted if r.values.get("verdict")]
    if len(verdicts) < config.quorum:
        return Decision(record, "drop", f"fewer than {config.quorum} submitted verdicts (quorum)")
    [(top, votes)] = Counter(verdicts).most_common(1)
    if votes * 2 <= len(verdicts):  # no strict majority: a tie, or a three-way split
        return Decision(record, "adjudicate", "no majority verdict")
    if top == "reject":
        return Decision(record, "drop", "rejected by reviewers")
    if top == "accept":
        return Decision(record, "keep", "accepted", record.answer)
    corrections = {
        normalise_content(r.values["corrected"])
        for r in submitted
        if r.values.get("verdict") == "needs-edit" and (r.values.get("corrected") or "").strip()
    }
    if not corrections:
        return Decision(record, "adjudicate", "needs-edit without a correction")
    if len(corrections) > 1:
        return Decision(record, "adjudicate", "different corrections")
    if config.correction_policy == "adjudicate":
        return Decision(record, "adjudicate", "correction to confirm (correction_policy: adjudicate)")
    return Decision(record, "keep", "corrected", corrections.pop())


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
    for decision in (decide(record, config.export) for record in snapshot.records):
        if decision.outcome == "drop":
            drops[decision.reason] += 1
        elif decision.outcome == "adjudicate":
            adjudication.append(_adjudication_entry(decision))
        else:
            kept.append(_reviewed_example(decision, provenance))

    kept, lint_counts = _lint_and_filter(project, kept, drops)
    splits = split_examples(
        kept, config.split.ratios, config.split.seed, config.export.stratify_by, config.lint.near_duplicate_threshold
    )
    splits = _drop_leaks(splits, config.lint.near_duplicate_threshold, drops)

    total = sum(len(v) for v in splits.values())
    warnings = []
    if total < config.export.min_examples:
        message = f"only {total} examples to export (export.min_examples is {config.export.min_examples})"
        if not allow_small:
            raise ExportError(f"{message}: review more, or pass --allow-small; nothing was written")
        warnings.append(message + ": exported anyway (--allow-small)")

    status = status_from_records(snapshot.records)
    manifest = _write_export(project, snapshot, folder, splits, adjudication, drops, lint_counts, status.to_dict())
    return ExportResult(folder=folder, manifest=manifest, adjudication=adjudication, warnings=warnings)


def split_examples(
    examples: Sequence[Example], ratios: dict[str, float], seed: int, stratify_by: str, threshold: float
) -> dict[str, list[Example]]:
    """A seeded split, stratified on `metadata[stratify_by]`, that keeps near-duplicate prompts together.

    Examples whose prompts are near-duplicates form one group and go to one split whole; within each
    stratum, groups are shuffled with `seed` and dealt out to reach each split's ratio.
    """
    by_id = {e.id: e for e in examples}
    clusters = near_duplicate_clusters([(e.id, prompt_text(e)) for e in examples], threshold=threshold)
    group_of = {e.id: e.id for e in examples}
    for cluster in clusters:
        for member in cluster.ids:
            group_of[member] = cluster.ids[0]
    groups: dict[str, list[str]] = defaultdict(list)
    for example_id in sorted(by_id):
        groups[group_of[example_id]].append(example_id)

    strata: dict[str, list[list[str]]] = defaultdict(list)
    for members in groups.values():
        stratum = str(by_id[members[0]].metadata.get(stratify_by, "(none)"))
        strata[stratum].append(members)
    names = [name for name in SPLIT_ORDER if name in ratios] + sorted(set(ratios) - set(SPLIT_ORDER))
    result: dict[str, list[Example]] = {name: [] for name in names}
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


def _drop_leaks(splits: dict[str, list[Example]], threshold: float, drops: Counter[str]) -> dict[str, list[Example]]:
    """A last guard after the grouped split: no prompt outside train may nearly repeat a train prompt."""
    train = [(e.id, prompt_text(e)) for e in splits.get("train", [])]
    for name, members in splits.items():
        if name == "train" or not members:
            continue
        leaked = {
            other
            for _, other, _ in cross_split_leaks(train, [(e.id, prompt_text(e)) for e in members], threshold=threshold)
        }
        if leaked:
            drops[f"{name} prompt nearly repeats a train prompt"] += len(leaked)
            splits[name] = [e for e in members if e.id not in leaked]
    return splits


def _write_export(
    project: Project,
    snapshot: Snapshot,
    folder: Path,
    splits: dict[str, list[Example]],
    adjudication: list[dict[str, Any]],
    drops: Counter[str],
    lint_counts: dict[str, int],
    status: dict[str, Any],
) -> ExportManifest:
    """Everything into a staging folder, then one rename: no half-written export under the final name."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        manifest = _write_staging(project, snapshot, staging, splits, adjudication, drops, lint_counts, status)
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


def _write_staging(
    project: Project,
    snapshot: Snapshot,
    staging: Path,
    splits: dict[str, list[Example]],
    adjudication: list[dict[str, Any]],
    drops: Counter[str],
    lint_counts: dict[str, int],
    status: dict[str, Any],
) -> ExportManifest:
    """Every file of the export into `staging`, the manifest last."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    split_files = {}
    tables = {}
    for name, examples in splits.items():
        path = staging / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for example in examples:  # the OpenAI fine-tuning format: messages only, nothing else per line
                handle.write(
                    json.dumps({"messages": [m.to_dict() for m in example.messages]}, ensure_ascii=False) + "\n"
                )
        split_files[name] = SplitFile.describe(staging, path.name, len(examples))
        tables[name] = pa.table(
            {
                "id": pa.array([e.id for e in examples], pa.string()),
                "messages": pa.array(
                    [[m.to_dict() for m in e.messages] for e in examples],
                    pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])),
                ),
                "metadata": pa.array(
                    [json.dumps(e.metadata, ensure_ascii=False, sort_keys=True) for e in examples], pa.string()
                ),
            }
        )
    (staging / "parquet").mkdir()
    for name, table in tables.items():
        pq.write_table(table, staging / "parquet" / f"{name}.parquet")
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
    with open(staging / "adjudication.jsonl", "w", encoding="utf-8") as handle:
        for entry in adjudication:
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
    (staging / "review_design.json").write_text(
        json.dumps(snapshot.info.get("review_design", {}), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    write_config(project.config, staging / "ftdata.resolved.yaml")

    split_paths = {staging / entry.path for entry in split_files.values()}  # hashed in `splits` already
    files = {
        str(path.relative_to(staging)): sha256_file(path)
        for path in sorted(staging.rglob("*"))
        if path.is_file() and path not in split_paths
    }
    manifest = ExportManifest(
        dataset=project.config.dataset,
        splits=split_files,
        source_snapshot=f"argilla:{snapshot.info['workspace']}/{snapshot.info['dataset']}"
        f"@{snapshot.id} (sha256 {snapshot.info['content_sha256'][:16]})",
        guideline_version=snapshot.info["guideline_version"],
        seed=project.config.split.seed,
        split_ratios=project.config.split.ratios,
        tool_version=__version__,
        created_at=snapshot.info["pulled_at"],  # the data's time, so the same snapshot gives the same bytes
        drops=dict(sorted(drops.items())),
        agreement=status["agreement"] | {"records": status["records"]},
        lint=lint_counts,
        files=files,
    )
    manifest.write(staging)
    return manifest


def _sha_of(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
