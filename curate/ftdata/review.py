"""The review in Argilla: what annotators see and answer (`review_settings`), and `ftdata push`.

The design is one function of the project config, saved as JSON beside every export, so anyone
can see what annotators were asked. Records carry the example id as their Argilla `external_id`:
pushing again updates them in place (responses kept), never duplicates, and a push cut off half
way simply completes on the next run. Metadata to filter on: the source file, lint flags, the
near-duplicate cluster, token counts, `origin` (human, drafted, or a fine-tune's answer from
fteval's review queue), and the project's own columns (`id_column`, e.g. ticket_id, and
`review.metadata_columns`, e.g. channel). A model's answer comes pre-filled as the suggestion for
`corrected` (agent: the model, score: its style pass rate), with `ftdata draft`'s other candidates
in the field `other_drafts`.

Usage:
    result = push(Project.open("."), ArgillaConnection.from_env())
    result.pushed, result.skipped
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ftcore import __version__
from ftcore.errors import FtdataError
from ftcore.example import Example
from ftdata.argilla_client import ArgillaConnection, record_fields
from ftdata.origin import ORIGIN_KEY, is_model_written, origin_of
from ftdata.project import Project

if TYPE_CHECKING:
    import argilla as rg

    from ftdata.lint import LintReport

VERDICTS = ("accept", "reject", "needs-edit")
ISSUE_TAGS = ("off-style", "wrong-format", "factually-wrong", "unsafe", "contains-PII", "duplicate", "other")
STYLE_SCORES = (1, 2, 3, 4, 5)
LINT_FLAGS = ("style", "pii", "exact_duplicate", "near_duplicate", "too_long")
# What each lint finding suggests to the annotator, as an `issues` tag.
SUGGESTED_TAG = {
    "style": "wrong-format",
    "pii": "contains-PII",
    "exact_duplicate": "duplicate",
    "near_duplicate": "duplicate",
}
SUGGESTION_AGENT = f"ftdata check {__version__}"
MAX_BULK_RECORDS = 500  # Argilla's limit per bulk upsert
# Record metadata that `ftdata accept` sets: the lead whose response on the record is a bulk accept. Push
# keeps it (push owns the other metadata and rewrites it from the lint).
BULK_ACCEPT_KEY = "bulk_accepted_by"
# A drafted example's other candidates, for annotators to pick from (`ftdata draft`); empty for other records.
OTHER_DRAFTS_FIELD = "other_drafts"


class ReviewError(FtdataError):
    """The review dataset is missing or was set up differently from this project's review design."""


def guidelines_text(project: Project) -> str:
    path = project.guidelines_path
    try:
        # Stripped: Argilla stores guidelines without the trailing newline, and the version must match.
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ReviewError(f"{project.config_path}: guidelines: {path} not found") from None


def guideline_version(text: str) -> str:
    """The guideline version every manifest records: the sha256 of the guidelines' text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def review_settings(project: Project, with_tokens: bool, client: rg.Argilla | None = None) -> rg.Settings:
    """Fields, questions, metadata, guidelines and overlap of the review, from the project config.

    Pass `client`: without it the SDK's metadata properties fall back to its global default client.
    """
    import argilla as rg

    metadata = [
        rg.TermsMetadataProperty("source", title="Source file", client=client),
        rg.TermsMetadataProperty("lint_flags", options=list(LINT_FLAGS), title="Lint flags", client=client),
        rg.TermsMetadataProperty("near_duplicate_cluster", title="Near-duplicate cluster", client=client),
        rg.TermsMetadataProperty(BULK_ACCEPT_KEY, title="Accepted in bulk by (a lead)", client=client),
        rg.TermsMetadataProperty(ORIGIN_KEY, title="Origin (human, or drafted by a model)", client=client),
    ]
    if with_tokens:
        metadata.append(rg.IntegerMetadataProperty("tokens", title="Tokens", client=client))
    metadata += [rg.TermsMetadataProperty(name, title=name, client=client) for name in user_columns(project)]
    return rg.Settings(
        fields=[
            rg.ChatField(name="conversation", title="Conversation (up to the last user turn)"),
            rg.TextField(name="answer", title="Candidate answer", use_markdown=False),
            rg.TextField(
                name=OTHER_DRAFTS_FIELD,
                title="The model's other drafts (a drafted answer only)",
                use_markdown=False,
                required=False,
            ),
        ],
        questions=[
            rg.LabelQuestion(name="verdict", labels=list(VERDICTS), title="Verdict"),
            rg.MultiLabelQuestion(name="issues", labels=list(ISSUE_TAGS), title="Issues", required=False),
            rg.RatingQuestion(name="style_score", values=list(STYLE_SCORES), title="Style (1-5)"),
            rg.TextQuestion(
                name="corrected", title="Corrected answer (only with needs-edit)", required=False, use_markdown=False
            ),
        ],
        metadata=metadata,
        guidelines=guidelines_text(project),
        distribution=rg.TaskDistribution(min_submitted=project.config.review.annotators_per_record),
    )


def user_columns(project: Project) -> list[str]:
    """The project's own columns sent to Argilla as metadata: its id column first, then `review.metadata_columns`."""
    config = project.config
    return list(dict.fromkeys([*([config.id_column] if config.id_column else []), *config.review.metadata_columns]))


def settings_json(settings: rg.Settings) -> str:
    """The review design as stable JSON (what goes into the export folder)."""
    return json.dumps(settings.serialize(), indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


@dataclass
class PushResult:
    dataset_id: str
    url: str
    pushed: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> example ids not pushed
    drafted: int = 0  # records whose answer a model drafted, pre-filled as the `corrected` suggestion
    notes: list[str] = field(default_factory=list)  # what the user should know (e.g. a dataset older than a field)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "url": self.url,
            "pushed": self.pushed,
            "skipped": {k: len(v) for k, v in self.skipped.items()},
            "drafted": self.drafted,
            "notes": self.notes,
        }


def push(
    project: Project,
    connection: ArgillaConnection,
    include_secrets: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> PushResult:
    """Create or update the project's review dataset and upsert every reviewable example into it.

    Its inputs are checked before the lint runs (the longest step): the guidelines, the style spec and the
    server (reachable, the key accepted)."""
    from ftcore.style import StyleSpec
    from ftdata.lint import lint  # runs the same checks as `ftdata check`, for flags and suggestions
    from ftdata.store import Store

    guidelines_text(project)
    if project.style_path is not None:
        StyleSpec.load(project.style_path)
    client = connection.client()
    report = lint(project, progress=progress, last_export=False)
    examples = Store(project.store_path).read().examples
    existed = find_dataset(project, client) is not None
    dataset = ensure_dataset(project, client, with_tokens=project.config.lint.tokenizer is not None)
    question_ids = {question.name: str(question.id) for question in dataset.settings.questions}
    kept_metadata = _metadata_to_keep(connection, str(dataset.id)) if existed else {}

    known_metadata = {m.name for m in dataset.settings.metadata}
    columns = user_columns(project)
    # The team's own columns, and what annotators' bulk accepts left on a record (kept across pushes).
    extra = {e.id: {**{c: e.metadata.get(c) for c in columns}, **kept_metadata.get(e.id, {})} for e in examples}
    known_fields = {f.name for f in dataset.settings.fields}
    items, skipped = review_records(
        report, examples, question_ids, known_metadata, include_secrets, extra, known_fields
    )
    result = PushResult(dataset_id=str(dataset.id), url=f"{connection.api_url}/dataset/{dataset.id}/annotation-mode")
    result.drafted = sum(1 for item in items if _is_drafted_item(item, question_ids))
    if result.drafted and OTHER_DRAFTS_FIELD not in known_fields:
        result.notes.append(
            f"dataset {project.config.dataset!r} was created before the {OTHER_DRAFTS_FIELD!r} field (Argilla adds no "
            "field to a published dataset): annotators see each draft, not the model's other candidates; a new "
            "`dataset` name in ftdata.yaml gets them"
        )
    batch_size = min(project.config.review.batch_size, MAX_BULK_RECORDS)
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        connection.request("PUT", f"/api/v1/datasets/{dataset.id}/records/bulk", json={"items": batch})
        result.pushed += len(batch)
        if progress is not None:
            progress("pushing records", len(batch), len(items))
    result.skipped = skipped
    return result


def review_records(
    report: LintReport,
    examples: Sequence[Example],
    question_ids: Mapping[str, str],
    known_metadata: Collection[str],
    include_secrets: bool = False,
    extra_metadata: Mapping[str, dict[str, Any]] | None = None,
    known_fields: Collection[str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The records `push` sends for `examples`, as items of Argilla's bulk upsert (fields, metadata, the lint's
    suggestions; for a model's draft, the draft as the `corrected` suggestion and its other candidates), and the
    example ids it leaves out, by reason. `question_ids` maps a question name to its server id; metadata and fields
    the dataset does not know are left out (`known_fields` None: every field of the review design); `extra_metadata`
    adds metadata per example id.

    Usage:
        items, skipped = review_records(lint(project), examples, {"issues": issues_id}, {"source", "lint_flags"})
    """
    flags = _flags_by_example(report)
    skipped: dict[str, list[str]] = {}
    secrets = {i for issue in report.issues["secret"] for i in issue.ids}
    extra_copies = {i for issue in report.issues["exact_duplicate"] for i in issue.ids[1:]}
    items: list[dict[str, Any]] = []
    for example in examples:
        if example.id in secrets and not include_secrets:
            skipped.setdefault("contains a secret (push with --include-secrets to review it anyway)", []).append(
                example.id
            )
        elif example.id in extra_copies:
            skipped.setdefault("exact copy of an example already pushed", []).append(example.id)
        else:
            tokens = report.token_counts.get(example.id)
            extra = (extra_metadata or {}).get(example.id)
            item = _record_item(example, flags.get(example.id, {}), tokens, question_ids, known_metadata, extra)
            if is_model_written(example.metadata):
                _add_draft(item, example, question_ids, known_fields)
            items.append(item)
    return items, skipped


def _add_draft(
    item: dict[str, Any], example: Example, question_ids: Mapping[str, str], known_fields: Collection[str] | None
) -> None:
    """A model's answer is pre-filled as the `corrected` suggestion (agent: the model, score: the share of style
    checks the draft passes), so that annotators accept it, pick another or rewrite it; `ftdata draft`'s other
    candidates go into their own field."""
    from ftdata.draft import agent_name, chosen_candidate, other_drafts_text

    draft = example.metadata.get("draft")
    model = str(draft.get("model")) if isinstance(draft, dict) else origin_of(example.metadata)
    suggestion: dict[str, Any] = {
        "question_id": question_ids["corrected"],
        "value": example.completion,
        "agent": agent_name(model),
        "type": "model",
    }
    if isinstance(draft, dict):
        score = chosen_candidate(example.metadata).get("pass_rate")
        if score is not None:
            suggestion["score"] = round(float(score), 4)
        if known_fields is None or OTHER_DRAFTS_FIELD in known_fields:
            item["fields"][OTHER_DRAFTS_FIELD] = other_drafts_text(example.metadata)
    item["suggestions"].append(suggestion)


def _is_drafted_item(item: dict[str, Any], question_ids: Mapping[str, str]) -> bool:
    return any(s["question_id"] == question_ids.get("corrected") for s in item["suggestions"])


def ensure_dataset(project: Project, client: rg.Argilla, with_tokens: bool) -> rg.Dataset:
    """The project's dataset in its workspace, created on first use; guidelines kept current."""
    import argilla as rg

    config = project.config
    workspace = quietly(lambda: client.workspaces(name=config.workspace))
    if workspace is None:
        workspace = rg.Workspace(name=config.workspace, client=client).create()
    dataset = find_dataset(project, client)
    wanted = review_settings(project, with_tokens, client)
    if dataset is None:
        return rg.Dataset(name=config.dataset, workspace=workspace, settings=wanted, client=client).create()
    have = {q.name: sorted(getattr(q, "labels", None) or getattr(q, "values", None) or []) for q in dataset.questions}
    need = {q.name: sorted(getattr(q, "labels", None) or getattr(q, "values", None) or []) for q in wanted.questions}
    if have != need:
        raise ReviewError(
            f"Argilla dataset {config.dataset!r} in workspace {config.workspace!r} asks different questions "
            f"({', '.join(have)}) from this project's review design: rename `dataset` in {project.config_path}"
        )
    if dataset.settings.guidelines != wanted.guidelines:
        dataset.settings.guidelines = wanted.guidelines
        dataset.update()
    _add_missing_metadata(dataset, wanted)
    return dataset


def _add_missing_metadata(dataset: rg.Dataset, wanted: rg.Settings) -> None:
    """Metadata properties the design has and the dataset lacks (a column added to `review.metadata_columns`, a
    dataset made by an older ftdata): Argilla adds them to a published dataset; the records get values on push."""
    have = {m.name for m in dataset.settings.metadata}
    missing = [m for m in wanted.metadata if m.name not in have]
    for prop in missing:
        prop.dataset = dataset
        prop.create()
    if missing:
        dataset.settings.get()  # read the new properties back, so `push` sends their values


def _metadata_to_keep(connection: ArgillaConnection, dataset_id: str) -> dict[str, dict[str, Any]]:
    """Per example id, the record metadata that push does not own (a lead's bulk-accept mark): a push sends
    a record's whole metadata, and would otherwise erase it."""
    kept: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = connection.request(
            "GET", f"/api/v1/datasets/{dataset_id}/records", params={"offset": offset, "limit": 1000}
        )
        for item in page["items"]:
            mark = (item.get("metadata") or {}).get(BULK_ACCEPT_KEY)
            if mark is not None and item.get("external_id"):
                kept[item["external_id"]] = {BULK_ACCEPT_KEY: mark}
        offset += len(page["items"])
        if not page["items"] or offset >= page.get("total", 0):
            return kept


def find_dataset(project: Project, client: rg.Argilla) -> rg.Dataset | None:
    workspace = quietly(lambda: client.workspaces(name=project.config.workspace))
    if workspace is None:
        return None
    return quietly(lambda: client.datasets(name=project.config.dataset, workspace=workspace))


def senior_workspace(project: Project) -> str:
    """The workspace of the senior review: annotators of the main review are not members, so they never see it."""
    return project.config.review.senior_workspace or f"{project.config.workspace}-senior"


def senior_dataset_name(project: Project) -> str:
    return f"{project.config.dataset}-adjudication"


def find_senior_dataset(project: Project, client: rg.Argilla) -> rg.Dataset | None:
    """The adjudication dataset (`ftdata adjudicate` makes it), or None."""
    workspace = quietly(lambda: client.workspaces(name=senior_workspace(project)))
    if workspace is None:
        return None
    return quietly(lambda: client.datasets(name=senior_dataset_name(project), workspace=workspace))


def quietly(lookup: Callable[[], Any]) -> Any:
    """An SDK lookup without its "not found" warning: the None it returns says it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lookup()


def answer_record(
    connection: ArgillaConnection,
    annotator_api_key: str,
    record_server_id: str,
    values: dict[str, Any],
    status: str = "submitted",
) -> dict[str, Any]:
    """Answer one record as an annotator, with the call Argilla's UI makes on Submit / Save draft / Discard.

    Usage:
        answer_record(connection, key, record_id, {"verdict": "accept", "style_score": 5})
    """
    if status not in ("submitted", "draft", "discarded"):
        raise ValueError(f"status must be submitted, draft or discarded, got {status!r}")
    body = {"values": {name: {"value": value} for name, value in values.items()}, "status": status}
    return connection.request(
        "POST", f"/api/v1/records/{record_server_id}/responses", api_key=annotator_api_key, json=body
    )


def _flags_by_example(report: LintReport) -> dict[str, dict[str, Any]]:
    """Per example: the lint kinds that flag it, and its near-duplicate cluster label."""
    flags: dict[str, dict[str, Any]] = {}
    for kind in LINT_FLAGS:
        for number, issue in enumerate(report.issues[kind], start=1):
            for position, example_id in enumerate(issue.ids):
                entry = flags.setdefault(example_id, {"kinds": set(), "cluster": None, "copy": False})
                entry["kinds"].add(kind)
                if kind == "near_duplicate":
                    entry["cluster"] = f"nd-{number:05d}"
                if kind in ("exact_duplicate", "near_duplicate") and position > 0:
                    entry["copy"] = True  # the first member is the one to keep
    return flags


def _record_item(
    example: Example,
    flags: dict[str, Any],
    tokens: int | None,
    question_ids: Mapping[str, str],
    known_metadata: Collection[str],
    extra_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    kinds = sorted(flags.get("kinds", ()))
    metadata: dict[str, Any] = {
        "source": str(example.metadata.get("source", "(unknown)")),
        "lint_flags": kinds,
        ORIGIN_KEY: origin_of(example.metadata),
    }
    # The user's columns, as terms (Argilla filters terms by their text), and what push keeps.
    metadata |= {key: str(value) for key, value in (extra_metadata or {}).items() if value not in (None, "", [])}
    if flags.get("cluster"):
        metadata["near_duplicate_cluster"] = flags["cluster"]
    if tokens is not None:
        metadata["tokens"] = tokens
    tags = sorted(
        {SUGGESTED_TAG[k] for k in kinds if k in SUGGESTED_TAG and (SUGGESTED_TAG[k] != "duplicate" or flags["copy"])}
    )
    suggestions = []
    if tags:
        suggestions.append(
            {
                "question_id": question_ids["issues"],
                "value": tags,
                "score": [1.0] * len(tags),  # deterministic checks: certain of what they found
                "agent": SUGGESTION_AGENT,
                "type": "model",
            }
        )
    # A dataset created before a tokenizer was configured has no `tokens` property: send only what it knows.
    metadata = {key: value for key, value in metadata.items() if key in known_metadata}
    return {
        "external_id": example.id,
        "fields": record_fields(example),
        "metadata": metadata,
        "suggestions": suggestions,
    }
