"""`ftdata draft`: a model drafts answers for prompts that have none (or a poor one); people accept or correct them.

Prompts are read like `ftdata import` reads examples (JSONL, CSV, Parquet, `datasets` folders, `--map`), but a
row needs no answer: prompt-only rows (`{"prompt": ...}`, messages ending on a user turn, `--map user=question`)
are drafted from scratch, and a row with an answer gets it shown to the model as the answer to improve.

The drafting prompt comes from the project, never typed per run (`drafting_instructions`): the style spec in
words (ftdata.guidelines' `describe_check`, as the starter guidelines write it), the annotation guidelines'
section on the house style (`draft.guidelines_section`), the team's own `draft.instructions`, and then
`draft.shots` examples as few-shot turns, chosen by `ftcore.fewshot` (seeded, diverse, within
`draft.shot_tokens`). **Which examples**: those the latest pulled snapshot's reviews keep (export's own
consensus rule: accepted or corrected, a correction in place of the answer; a model's answer only with a
reviewer's own verdict) and that pass the style spec; when they are fewer than `draft.shots`, the team's own
human-written examples of the store that pass the spec and that no review dropped fill up the rest. Test prompts
(fteval's review queue) are never shown.

Each prompt gets `draft.n` candidates (sampled: temperature > 0) from a local model (ftcore.generate's batched,
left-padded TransformersGenerator) or an OpenAI-compatible endpoint (ftcore.endpoint). Each candidate is scored
by the style spec; the one passing most checks becomes the draft (ties: one that ended its turn, then the
first), the others stay in its metadata, which push shows annotators. A draft is an example like any other, with
`origin: drafted` and its provenance under `draft` (model, parameters, every candidate's score, the prompt's
source file and row).

**Reruns add nothing.** A prompt is drafted once per model: a prompt the store holds a draft of by the same model
is skipped (so a rerun adds nothing even after new reviews changed the few-shot examples). Every answer is kept
the moment it arrives in `draft.cache` (ftcore.answer_cache; local answers too, per batch), and the store changes
once, at the end, all or nothing: a run that dies midway (a server killed, a 429 that outlasted the retries, a
Ctrl-C) leaves the store as it was, and the rerun takes what was paid for from the cache and asks only for the
rest.

Usage:
    result = draft_prompts(Project.open("."), ["tickets.csv"], mapping=ColumnMap.parse("user=body", False))
    result.drafted, result.passing, result.cost
    plan = draft_prompts(project, ["questions.jsonl"], dry_run=True).dry_run
    plan.conversation, plan.requests, plan.max_cost
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcore.answer_cache import CACHE_FILE, AnswerCache, request_key
from ftcore.endpoint import EndpointGenerator
from ftcore.errors import FtdataError
from ftcore.example import Example, InvalidExample, Message
from ftcore.fewshot import approximate_tokens, choose_fewshot, fewshot_turns
from ftcore.generate import Answer, Candidate, Sampling, TransformersGenerator
from ftcore.importers import UnmappedRow, _json_or_issue, _unmapped_reason
from ftcore.jsonl import UnreadableFile
from ftcore.models import ModelSource
from ftcore.style import StyleSpec
from ftdata.guidelines import describe_check
from ftdata.importers import ColumnMap, Format, _display_path, detect_format, read_rows, row_to_example
from ftdata.origin import DRAFTED, ORIGIN_KEY
from ftdata.project import DraftConfig, Project
from ftdata.review import guidelines_text
from ftdata.store import RAW_PREVIEW_CHARS, RejectedRow, Store

# progress(stage, n, total, info): n more prompts drafted of `total`; info: the rate (ftcore.cli.ProgressBars.staged)
Progress = Callable[[str, int, int, str], None]
STAGE = "drafting"
NO_ANSWER = "\x00ftdata:no-answer\x00"  # stands in for a prompt-only row's answer while the row is read
CHARS_PER_TOKEN = 4  # the dry run's estimate of an endpoint's prompt tokens (its tokenizer is not at hand)
MARKUP_CHARS = 8  # per turn: what a chat template adds (role marker, end of turn)
IMPROVE_NOTE = "An existing answer to improve (keep what is right; write the rest in the house style):"


class DraftError(FtdataError):
    """Drafting cannot start: no model, a prompts file without prompts, guidelines missing."""


@dataclass(frozen=True)
class PromptRow:
    """One prompt to draft an answer for: its turns (ending on a user turn), an answer to improve if the row had
    one, and the metadata it brings (provenance: source file, row, line; the row's other columns)."""

    messages: tuple[Message, ...]
    answer: str | None
    metadata: dict[str, Any]

    @property
    def id(self) -> str:
        """`pr_` + 16 hex digits of sha256 over the prompt's turns: the same prompt, the same id."""
        canonical = json.dumps([[m.role, m.content] for m in self.messages], ensure_ascii=False, separators=(",", ":"))
        return "pr_" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    @property
    def system(self) -> str | None:
        return self.messages[0].content if self.messages[0].role == "system" else None


@dataclass(frozen=True)
class ScoredCandidate:
    """A candidate answer and what the style spec said of it (`checks` 0: no spec, nothing scored)."""

    text: str
    passed: int
    checks: int
    failed: tuple[str, ...]
    finish_reason: str
    completion_tokens: int

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.checks if self.checks else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "passed": self.passed,
            "checks": self.checks,
            "pass_rate": self.pass_rate,
            "failed": list(self.failed),
            "finish_reason": self.finish_reason,
            "completion_tokens": self.completion_tokens,
        }


@dataclass
class DryRun:
    """What a run would do, nothing sent: the drafting prompt of the first prompt to draft, and the estimate."""

    conversation: list[dict[str, str]]
    prompts: int  # prompts to draft
    requests: int  # requests (endpoint) or candidates (local) not in the cache
    cached: int  # prompts whose answers are all in the cache already
    prompt_tokens: int  # input tokens of the requests still to send
    max_completion_tokens: int  # at most: every request to max_new_tokens
    max_cost: float | None  # at the endpoint's prices (None: a local model)
    tokens_estimated: bool  # prompt tokens at 4 characters per token (an endpoint's tokenizer is not at hand)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class DraftResult:
    model: str
    prompts: int = 0  # distinct prompts read (after --limit)
    drafted: int = 0  # new examples in the store
    passing: int = 0  # of those, drafts passing every style check
    already_drafted: int = 0  # skipped: this model drafted them before
    repeated: int = 0  # rows repeating an earlier prompt of the input
    already_in_store: int = 0  # the draft is an example the store holds already (same content)
    unusable: int = 0  # every candidate empty
    rejected: list[RejectedRow] = field(default_factory=list)  # rows that are no prompt
    requests: int = 0  # requests sent (endpoint) or prompts generated (local) in this run
    cached: int = 0  # prompts answered from the cache
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None  # at the endpoint's prices (None: local)
    seconds: float = 0.0
    version: str | None = None  # the store version made (None: nothing added)
    shots: list[str] = field(default_factory=list)  # ids of the few-shot examples
    shot_source: str = ""
    dry_run: DryRun | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("rejected", "dry_run")}
        data["rejected"] = [{"location": r.location, "problems": [list(p) for p in r.problems]} for r in self.rejected]
        data["dry_run"] = self.dry_run.to_dict() if self.dry_run else None
        return data


# ----- reading prompts -----


def read_prompts(
    project: Project, sources: Sequence[str | os.PathLike], fmt: Format = "auto", mapping: ColumnMap | None = None
) -> tuple[list[PromptRow], list[RejectedRow]]:
    """Every prompt of `sources` in input order, and the rows that are none (with why); a file that cannot be
    read raises `UnreadableFile` (ftdata import's own reading and mapping)."""
    prompts: list[PromptRow] = []
    rejected: list[RejectedRow] = []
    for source in sources:
        path = Path(source)
        shown = _display_path(path, project.root)
        file_format = detect_format(path) if fmt == "auto" else fmt
        rows, unmapped, columns = 0, 0, []
        try:
            for position, row, problems in read_rows(path, file_format, mapping):
                rows += 1
                provenance: dict[str, Any] = {"source": shown, "row": position.row}
                if position.line is not None and position.line != position.row:
                    provenance["line"] = position.line
                try:
                    if problems:
                        raise InvalidExample([(p.field, p.reason) for p in problems])
                    prompts.append(row_to_prompt(row, mapping, provenance))
                except InvalidExample as invalid:
                    if isinstance(invalid, UnmappedRow):
                        unmapped, columns = unmapped + 1, invalid.columns
                    raw = "" if row is None else json.dumps(row, ensure_ascii=False, default=str)[:RAW_PREVIEW_CHARS]
                    rejected.append(RejectedRow(shown, position.row, tuple(invalid.issues), raw, position.line))
        except UnreadableFile as unreadable:
            # A columnar file's header without the contract's columns: import's words, with draft's --map.
            if "pass --map" not in unreadable.problem.reason:
                raise
            raise UnreadableFile(path, _map_hint(unreadable.problem.reason.split(": pass --map")[0])) from None
        if unmapped and unmapped == rows:
            # Not one row is a prompt as it stands: the file needs --map, not a rejection per row.
            raise UnreadableFile(path, _map_hint(_unmapped_reason(columns).split(": pass --map")[0]))
    return prompts, rejected


def _map_hint(reason: str) -> str:
    return f"{reason}: pass --map user=COLUMN (and assistant=COLUMN for an answer to improve); nothing drafted"


def row_to_prompt(row: dict[str, Any], mapping: ColumnMap | None, provenance: dict[str, Any]) -> PromptRow:
    """One row as a prompt, through import's own `row_to_example` (same columns, metadata, checks): a row without
    an answer gets a stand-in answer while it is read. Raises `InvalidExample`."""
    row = dict(row)
    if mapping is not None:
        answer = row.pop(mapping.assistant, None) if mapping.assistant else None
        row["\x00answer"] = answer if isinstance(answer, str) and answer.strip() else NO_ANSWER
        mapping = ColumnMap(mapping.user, "\x00answer", mapping.system)
    elif "messages" in row:
        messages = _json_or_issue(row["messages"], "messages") if isinstance(row["messages"], str) else row["messages"]
        if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
            last = messages[-1]
            if last.get("role") == "assistant" and not str(last.get("content") or "").strip():
                messages = messages[:-1]  # an empty answer is no answer to improve
            if messages and isinstance(messages[-1], dict) and messages[-1].get("role") != "assistant":
                messages = [*messages, {"role": "assistant", "content": NO_ANSWER}]
        row["messages"] = messages
    elif "prompt" in row and not (isinstance(row.get("completion"), str) and row["completion"].strip()):
        row["completion"] = NO_ANSWER
    example = row_to_example(row, mapping, provenance)
    answer = None if example.completion == NO_ANSWER else example.completion
    return PromptRow(example.prompt_messages, answer, example.metadata)


# ----- the drafting prompt -----


def drafting_instructions(project: Project, spec: StyleSpec | None) -> str:
    """The system turn of every drafting conversation: the task, the style spec in words, the guidelines' section
    on the style, the team's own instructions.

    Usage:
        print(drafting_instructions(Project.open("."), StyleSpec.load("style.yaml")))
    """
    config = project.config
    parts = [
        f"You write answers for the fine-tuning dataset {config.dataset!r}: each answer you write is reviewed, then "
        "trained on, so it must be exactly the answer the house style asks for."
    ]
    rules = [f"- {describe_check(check)}" for check in spec.checks] if spec is not None else []
    if rules:
        parts.append(f"Every answer must follow these rules (the style spec {spec.name!r}):\n" + "\n".join(rules))
    if config.draft.guidelines_section:
        summary = guidelines_summary(guidelines_text(project), config.draft.guidelines_section, rules)
        if summary:
            parts.append("From the annotation guidelines:\n\n" + summary)
    if config.draft.instructions.strip():
        parts.append(config.draft.instructions.strip())
    parts.append("Reply with the answer only, as it should stand in the dataset: no preamble, no notes on these rules.")
    return "\n\n".join(parts)


def guidelines_summary(text: str, heading: str, rules: Sequence[str] = ()) -> str:
    """The section of the guidelines whose heading holds `heading` (case ignored), without the paragraphs that
    speak of ftdata itself (reviewing tools, not the style) and without lines that repeat `rules`.

    >>> guide = "# Guide\\n\\n## 1. The house style\\n\\nThe spec (`ftdata check` tests it):\\n\\n- **x**: short.\\n"
    >>> guide += "- Be polite.\\n\\n## 2. Verdict\\n\\nAccept or reject.\\n"
    >>> guidelines_summary(guide, "house style", ["- **x**: short."])
    '- Be polite.'
    """
    lines = text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if re.match(r"#{1,6}\s", line) and heading.lower() in line.lower()), None
    )
    if start is None:
        return ""
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(rf"#{{1,{level}}}\s", lines[i])),
        len(lines),
    )
    repeated = {rule.strip() for rule in rules}
    kept = []
    for paragraph in re.split(r"\n\s*\n", "\n".join(lines[start + 1 : end])):
        if "ftdata" in paragraph.lower():
            continue
        paragraph = "\n".join(line for line in paragraph.splitlines() if line.strip() not in repeated).strip()
        if paragraph:
            kept.append(paragraph)
    return "\n\n".join(kept)


def drafting_conversation(instructions: str, shots: Sequence[Example], prompt: PromptRow) -> list[dict[str, str]]:
    """The messages a model drafts one answer from: the instructions (and the prompt's own system turn), the
    few-shot turns (but never an example of this very prompt), then the prompt's turns; an answer to improve
    follows the last user turn.

    >>> row = PromptRow((Message("user", "2+3?"),), "five", {})
    >>> [m["role"] for m in drafting_conversation("Be exact.", [Example.from_prompt_completion("1+1?", "2")], row)]
    ['system', 'user', 'assistant', 'user']
    """
    system = instructions
    if prompt.system:
        system += "\n\nThis conversation's own system prompt, which the answer must follow too:\n" + prompt.system
    own = [m for m in prompt.messages if m.role != "system"]
    shots = [shot for shot in shots if [m for m in shot.prompt_messages if m.role != "system"] != own]
    turns = [m.to_dict() for m in own]
    if prompt.answer is not None:
        turns[-1] = {"role": "user", "content": f"{turns[-1]['content']}\n\n---\n{IMPROVE_NOTE}\n{prompt.answer}"}
    return [{"role": "system", "content": system}, *fewshot_turns(shots), *turns]


def choose_shots(project: Project, spec: StyleSpec | None, count_tokens: Callable[[str], int] | None = None):
    """`draft.shots` few-shot examples and where they came from (see the module's docstring for the rule);
    `count_tokens` counts a turn's tokens for the budget (None: about 4 characters a token)."""
    from ftdata.export import drafting_pool  # export reads snapshots and applies the review's consensus

    config = project.config.draft
    if config.shots == 0:
        return [], "none (draft.shots is 0)"
    accepted, human, snapshot_id = drafting_pool(project)

    def passes(example: Example) -> bool:
        return spec is None or all(r.passed for r in spec.evaluate(example.completion).values())

    count = count_tokens or approximate_tokens
    seed = config.seed or 0
    first = choose_fewshot(
        [e for e in accepted if passes(e)], config.shots, config.shot_tokens, seed, count_tokens=count
    )
    shots = list(first.examples)
    sources = [f"{len(shots)} accepted in snapshot {snapshot_id}"] if shots else []
    if len(shots) < config.shots:
        # The team's own examples fill up, never with a prompt already shown.
        more = choose_fewshot(
            [e for e in human if passes(e)],
            config.shots - len(shots),
            config.shot_tokens - first.tokens,
            seed,
            exclude=[shot.prompt_messages for shot in shots],
            count_tokens=count,
        ).examples
        shots += more
        if more:
            sources.append(f"{len(more)} human-written from the store")
    return shots, " + ".join(sources) or "none (no accepted or human-written example passes the style spec)"


# ----- scoring -----


def score_candidates(candidates: Sequence[Candidate], spec: StyleSpec | None) -> list[ScoredCandidate]:
    """Each candidate with the style checks it passes (every candidate, empty ones too: they pass nothing)."""
    scored = []
    for candidate in candidates:
        results = spec.evaluate(candidate.text) if spec is not None and candidate.text.strip() else {}
        failed = tuple(check_id for check_id, result in results.items() if not result.passed)
        checks = len(spec.checks) if spec is not None else 0
        if spec is not None and not candidate.text.strip():
            failed = tuple(check.id for check in spec.checks)
        scored.append(
            ScoredCandidate(
                candidate.text,
                checks - len(failed),
                checks,
                failed,
                candidate.finish_reason,
                candidate.completion_tokens,
            )
        )
    return scored


def best_candidate(scored: Sequence[ScoredCandidate]) -> int | None:
    """The index of the draft: most checks passed, then a turn the model ended ("stop"), then the first. None
    when every candidate is empty.

    >>> best_candidate([ScoredCandidate("a", 1, 2, ("x",), "stop", 3), ScoredCandidate("b", 2, 2, (), "length", 9)])
    1
    """
    usable = [i for i, candidate in enumerate(scored) if candidate.text.strip()]
    if not usable:
        return None
    return max(usable, key=lambda i: (scored[i].passed, scored[i].finish_reason == "stop", -i))


# ----- drafting -----


def draft_prompts(
    project: Project,
    sources: Sequence[str | os.PathLike],
    fmt: Format = "auto",
    mapping: ColumnMap | None = None,
    model: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> DraftResult:
    """Draft answers for the prompts of `sources` into the store (`dry_run`: only say what would happen).

    `model` overrides the configured one: with `draft.endpoint`, the model name the server knows; otherwise a local
    folder, hub id or GGUF file. `limit`: the first N distinct prompts of the input only."""
    config = _with_model(project.config.draft, model)
    if config.model is None and config.endpoint is None:
        raise DraftError(
            f"{project.config_path}: draft: name the model that drafts: draft.model (a local folder, hub id or GGUF "
            "file, or --model) or draft.endpoint (an OpenAI-compatible server)"
        )
    spec = StyleSpec.load(project.style_path) if project.style_path else None
    instructions = drafting_instructions(project, spec)
    rows, rejected = read_prompts(project, sources, fmt, mapping)
    name = _model_name(project, config)
    result = DraftResult(model=name, rejected=rejected)
    distinct: dict[str, PromptRow] = {}
    for row in rows:
        distinct.setdefault(row.id, row)
    result.repeated = len(rows) - len(distinct)
    prompts = list(distinct.values())[: limit if limit is not None else None]
    result.prompts = len(prompts)
    done = _drafted_by(Store(project.store_path).read().examples, name)
    todo = [p for p in prompts if p.id not in done]
    result.already_drafted = len(prompts) - len(todo)
    if not todo and not dry_run:
        return result  # a finished run: no model to load, no server or key needed

    drafter = _Drafter(project, config, name)  # an endpoint's key is checked here, before anything is loaded
    try:
        shots, result.shot_source = choose_shots(project, spec, drafter.shot_tokens())
        result.shots = [shot.id for shot in shots]
        conversations = [drafting_conversation(instructions, shots, prompt) for prompt in todo]
        if dry_run:
            result.dry_run = drafter.dry_run(conversations)
            return result
        began = time.perf_counter()
        answers = drafter.complete(conversations, _rate(progress, len(todo), drafter.cached(conversations)))
        result.seconds = time.perf_counter() - began
        stats = drafter.stats()
        result.requests, result.cached = stats.requests, stats.cached
        result.prompt_tokens, result.completion_tokens = stats.prompt_tokens, stats.new_tokens
        result.cost = stats.cost if config.endpoint is not None else None
    finally:
        drafter.close()
    provenance = {
        "model": name,
        "backend": "endpoint" if config.endpoint is not None else "local",
        **({"base_url": config.endpoint.base_url} if config.endpoint is not None else {}),
        "parameters": {
            "temperature": config.temperature,
            "top_p": config.top_p,
            "n": config.n,
            "seed": config.seed,
            "max_new_tokens": config.max_new_tokens,
        },
        "shots": result.shots,
        "instructions_sha256": hashlib.sha256(instructions.encode("utf-8")).hexdigest(),
    }
    examples = []
    for prompt, answer in zip(todo, answers, strict=True):
        example = _draft_example(prompt, answer, spec, provenance)
        if example is None:
            result.unusable += 1
        else:
            examples.append(example)
    _commit(project, examples, name, result)
    return result


def _draft_example(
    prompt: PromptRow, answer: Answer, spec: StyleSpec | None, provenance: dict[str, Any]
) -> Example | None:
    scored = score_candidates(answer.candidates, spec)
    chosen = best_candidate(scored)
    if chosen is None:
        return None
    draft = {
        **provenance,
        "prompt_id": prompt.id,
        "chosen": chosen,
        "candidates": [candidate.to_dict() for candidate in scored],
        **({"improves": prompt.answer} if prompt.answer is not None else {}),
    }
    messages = [*(m.to_dict() for m in prompt.messages), {"role": "assistant", "content": scored[chosen].text}]
    return Example.create(messages, {**prompt.metadata, ORIGIN_KEY: DRAFTED, "draft": draft})


def _commit(project: Project, examples: list[Example], name: str, result: DraftResult) -> None:
    """All drafts into the store as one new version, or none (read again under the lock: an import may have run)."""
    store = Store(project.store_path, project.config.store_history)
    with store.lock():
        snapshot = store.read()
        known = {e.id for e in snapshot.examples}
        done = _drafted_by(snapshot.examples, name)
        added = []
        for example in examples:
            if example.metadata["draft"]["prompt_id"] in done:
                result.already_drafted += 1
            elif example.id in known:
                result.already_in_store += 1
            else:
                known.add(example.id)
                done.add(example.metadata["draft"]["prompt_id"])
                added.append(example)
        if added:
            snapshot.examples.extend(added)
            sources = sorted({str(e.metadata.get("source")) for e in added})
            result.version = store.commit(snapshot, "draft", f"{len(added)} drafted by {name} ({', '.join(sources)})")
    result.drafted = len(added)
    result.passing = sum(1 for e in added if not chosen_candidate(e.metadata)["failed"])


def chosen_candidate(metadata: dict[str, Any]) -> dict[str, Any]:
    """A drafted example's draft, as scored (`text`, `passed`, `checks`, `pass_rate`, `failed`, ...)."""
    draft = metadata["draft"]
    return draft["candidates"][draft["chosen"]]


def other_drafts_text(metadata: dict[str, Any]) -> str:
    """What annotators see beside a draft (push's `other_drafts` field): how the draft scored, the model's other
    candidates with their scores, and the answer the row had before, if any.

    >>> meta = {"draft": {"model": "m", "chosen": 1, "candidates": [
    ...     {"text": "It is 4.", "passed": 1, "checks": 2, "failed": ["final-line"]},
    ...     {"text": "2+2=4\\n#### 4", "passed": 2, "checks": 2, "failed": []}]}}
    >>> print(other_drafts_text(meta))
    The draft (pre-filled in "corrected") is candidate 2 of 2 by m: passes 2 of 2 style checks.
    <BLANKLINE>
    Candidate 1: passes 1 of 2 style checks (fails final-line)
    It is 4.
    """
    draft = metadata["draft"]
    candidates, chosen = draft["candidates"], draft["chosen"]

    def score(candidate: dict[str, Any]) -> str:
        if not candidate.get("checks"):
            return "not scored (no style spec)"
        failed = f" (fails {', '.join(candidate['failed'])})" if candidate["failed"] else ""
        return f"passes {candidate['passed']} of {candidate['checks']} style checks{failed}"

    lines = [
        f'The draft (pre-filled in "corrected") is candidate {chosen + 1} of {len(candidates)} by {draft["model"]}: '
        f"{score(candidates[chosen])}."
    ]
    shown = {candidates[chosen]["text"]}
    for number, candidate in enumerate(candidates, start=1):
        if number - 1 == chosen or not candidate["text"].strip():
            continue
        if candidate["text"] in shown:
            lines += ["", f"Candidate {number}: the same text as an earlier one"]
            continue
        shown.add(candidate["text"])
        lines += ["", f"Candidate {number}: {score(candidate)}", candidate["text"]]
    if draft.get("improves"):
        lines += ["", "The answer before drafting:", draft["improves"]]
    return "\n".join(lines)


def _drafted_by(examples: Sequence[Example], name: str) -> set[str]:
    """Ids of the prompts the store holds a draft of by the model `name`."""
    found = set()
    for example in examples:
        draft = example.metadata.get("draft")
        if isinstance(draft, dict) and draft.get("model") == name and example.metadata.get(ORIGIN_KEY) == DRAFTED:
            found.add(draft.get("prompt_id"))
    return found


def _with_model(config: DraftConfig, model: str | None) -> DraftConfig:
    """`--model`: the endpoint's model name, or a local model (a GGUF file splits into its folder and file)."""
    if not model:
        return config
    if config.endpoint is not None:
        return dataclasses.replace(config, endpoint=dataclasses.replace(config.endpoint, model=model))
    if model.lower().endswith(".gguf") and os.path.isfile(model):
        folder, file = os.path.split(os.path.abspath(model))
        return dataclasses.replace(config, model=ModelSource(folder, file))
    return dataclasses.replace(config, model=ModelSource(model))


def _model_name(project: Project, config: DraftConfig) -> str:
    """How provenance names the drafting model: the endpoint's model name, or the local model as the project
    sees it (a folder relative to the project, so that the store can move with it)."""
    if config.endpoint is not None:
        return config.endpoint.model
    assert config.model is not None
    path = config.model.path
    root = project.root.resolve()
    if os.path.isabs(path) and os.path.exists(path) and Path(path).resolve().is_relative_to(root):
        path = os.path.relpath(path, root)
    return ModelSource(path, config.model.gguf_file).label()


def agent_name(model: str) -> str:
    """The model name as an Argilla suggestion agent (letters, digits, - _ : . / and spaces; at most 200).

    >>> agent_name("Qwen/Qwen2.5-7B-Instruct"), agent_name("models/smollm2 (SmolLM2.Q4_1.gguf)")
    ('Qwen/Qwen2.5-7B-Instruct', 'models/smollm2 -SmolLM2.Q4_1.gguf-')
    """
    cleaned = re.sub(r"[^a-zA-Z0-9\-_:./\s]", "-", model)[-200:]
    return cleaned if re.search(r"[a-zA-Z0-9]", cleaned) else "drafting-model"


def _rate(progress: Progress | None, total: int, cached: int) -> Callable[[int], None] | None:
    """The generators' progress(n) as the CLI's progress(stage, n, total, info), with the drafting rate: of the
    prompts answered in this run, from when the `cached` ones (reported at once) were done."""
    if progress is None:
        return None
    began, done = time.perf_counter(), 0

    def tick(n: int) -> None:
        nonlocal began, done
        done += n
        fresh = done - cached
        if fresh <= 0:
            began = time.perf_counter()
            progress(STAGE, n, total, "")
            return
        elapsed = time.perf_counter() - began
        progress(STAGE, n, total, f"{fresh / elapsed:.2f} prompts/s" if elapsed > 0 else "")

    return tick


class _Drafter:
    """The drafting model behind one interface: an endpoint, or a local model loaded only when a prompt is not in
    the cache (a finished run needs neither a server nor a model)."""

    def __init__(self, project: Project, config: DraftConfig, name: str):
        self.config = config
        self.cache_dir = project.resolve(config.cache)
        self.endpoint: EndpointGenerator | None = None
        self.local: _CachedLocal | None = None
        if config.endpoint is not None:
            endpoint = dataclasses.replace(
                config.endpoint,
                temperature=config.temperature,
                top_p=config.top_p if config.temperature > 0 else None,
                n=config.n,
                seed=config.seed,
                max_tokens=config.max_new_tokens,
            )
            self.endpoint = EndpointGenerator(endpoint, self.cache_dir, label="draft.endpoint")
        else:
            assert config.model is not None
            self.local = _CachedLocal(config.model, config.sampling, config.batch_size, self.cache_dir)

    def shot_tokens(self) -> Callable[[str], int] | None:
        """How to count a few-shot turn's tokens: a local model's tokenizer (None: estimate)."""
        return self.local.count_tokens if self.local is not None else None

    def complete(self, conversations: list[list[dict[str, str]]], progress: Callable[[int], None] | None):
        if self.endpoint is not None:
            self.endpoint.progress = progress
            if self.endpoint.pending(conversations):
                self.endpoint.preflight()  # an unreachable URL or a refused key, in one line, before any work
            return self.endpoint.complete(conversations)
        assert self.local is not None
        return self.local.complete(conversations, progress)

    def cached(self, conversations: list[list[dict[str, str]]]) -> int:
        """Conversations whose every candidate is in the cache already."""
        if self.endpoint is not None:
            return sum(1 for c in conversations if not self.endpoint.pending([c]))
        assert self.local is not None
        return len(conversations) - len(self.local.pending(conversations))

    def stats(self):
        return self.endpoint.stats if self.endpoint is not None else self.local.stats  # type: ignore[union-attr]

    def dry_run(self, conversations: list[list[dict[str, str]]]) -> DryRun:
        """Requests still to send and their tokens: the prompt is billed once per request, and each of a request's
        candidates (n with native_n, else 1) may run to max_new_tokens."""
        config = self.config
        if self.endpoint is not None:
            endpoint = self.endpoint.endpoint
            per_request = config.n if endpoint.native_n else 1
            pending = [(c, self.endpoint.pending([c])) for c in conversations]
            requests = sum(count for _, count in pending)
            waiting = sum(1 for _, count in pending if count)
            prompt_tokens = sum(_estimated_tokens(c) * count for c, count in pending)
            completion_tokens = requests * per_request * config.max_new_tokens
            max_cost: float | None = endpoint.cost(prompt_tokens, completion_tokens)
        else:
            assert self.local is not None
            left = self.local.pending(conversations)
            requests, waiting = len(left) * config.n, len(left)
            prompt_tokens = sum(self.local.count_prompt_tokens(c) for c in left) * config.n
            completion_tokens = requests * config.max_new_tokens
            max_cost = None
        return DryRun(
            conversation=conversations[0] if conversations else [],
            prompts=len(conversations),
            requests=requests,
            cached=len(conversations) - waiting,
            prompt_tokens=prompt_tokens,
            max_completion_tokens=completion_tokens,
            max_cost=max_cost,
            tokens_estimated=self.endpoint is not None,
        )

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
        if self.local is not None:
            self.local.close()


def _estimated_tokens(conversation: list[dict[str, str]]) -> int:
    return -(-sum(len(m["content"]) + MARKUP_CHARS for m in conversation) // CHARS_PER_TOKEN)


class _CachedLocal:
    """A local model's answers, each kept in the answer cache as its batch finishes (keyed by the model's files,
    the messages and the sampling), so that a killed run resumes where it stopped."""

    def __init__(self, source: ModelSource, sampling: Sampling, batch_size: int, cache_dir: Path):
        from ftcore.generate import GenerationStats

        self.source, self.sampling, self.batch_size = source, sampling, batch_size
        self.cache_dir = cache_dir
        self._cache: AnswerCache | None = None
        self.identity = f"local:{source.label()}:{_files_fingerprint(source)}"
        self.stats = GenerationStats()
        self._tokenizer: Any = None
        self._generator: TransformersGenerator | None = None

    def _key(self, conversation: list[dict[str, str]]) -> str:
        body = {"messages": conversation, "sampling": dataclasses.asdict(self.sampling)}
        return request_key(self.identity, body)

    def _get(self, key: str) -> dict[str, Any] | None:
        """A cached answer; a dry run on a project that never drafted makes no cache file."""
        if self._cache is None and not (self.cache_dir / CACHE_FILE).is_file():
            return None
        return self.cache().get(key)

    def cache(self) -> AnswerCache:
        if self._cache is None:
            self._cache = AnswerCache(self.cache_dir)
        return self._cache

    def pending(self, conversations: list[list[dict[str, str]]]) -> list[list[dict[str, str]]]:
        return [c for c in conversations if self._get(self._key(c)) is None]

    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from ftcore.models import load_tokenizer

            self._tokenizer = load_tokenizer(self.source, "draft.model")
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """A few-shot turn's text as the model's tokenizer counts it."""
        return len(self.tokenizer()(text, add_special_tokens=False)["input_ids"])

    def count_prompt_tokens(self, conversation: list[dict[str, str]]) -> int:
        tokenizer = self.tokenizer()
        text = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])  # as TransformersGenerator counts

    def complete(self, conversations: list[list[dict[str, str]]], progress: Callable[[int], None] | None):
        keys = [self._key(c) for c in conversations]
        answers: list[Answer | None] = []
        for key in keys:
            hit = self._get(key)
            answers.append(_answer_from_cache(hit) if hit is not None else None)
        missing = [i for i, answer in enumerate(answers) if answer is None]
        if progress is not None:
            progress(len(conversations) - len(missing))
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            generated = self.generator().complete([conversations[i] for i in batch])
            for i, answer in zip(batch, generated, strict=True):
                self.cache().put(keys[i], self.identity, {"messages": conversations[i]}, _answer_to_cache(answer))
                answers[i] = answer
            self.stats.requests += len(batch)
            if progress is not None:
                progress(len(batch))
        done = [answer for answer in answers if answer is not None]
        self.stats.add(done)
        return done

    def generator(self) -> TransformersGenerator:
        if self._generator is None:
            from ftcore.models import load_base

            model = load_base(self.source, setting="draft.model")
            self._generator = TransformersGenerator(model, self.tokenizer(), self.batch_size, sampling=self.sampling)
        return self._generator

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()


def _answer_to_cache(answer: Answer) -> dict[str, Any]:
    return {
        "candidates": [[c.text, c.completion_tokens, c.finish_reason] for c in answer.candidates],
        "prompt_tokens": answer.prompt_tokens,
        "seconds": round(answer.seconds, 4),
    }


def _answer_from_cache(hit: dict[str, Any]) -> Answer:
    return Answer(
        tuple(Candidate(text, tokens, finish) for text, tokens, finish in hit["candidates"]),
        hit["prompt_tokens"],
        hit["seconds"],
        cached=True,
    )


def _files_fingerprint(source: ModelSource) -> str:
    """What identifies a local model's weights in the cache key: its files' names, sizes and modification times
    (a model trained again into the same folder is another model); a hub id is its own name."""
    folder = Path(source.path)
    if not folder.is_dir():
        return source.path
    files = [folder / source.gguf_file] if source.gguf_file else sorted(p for p in folder.iterdir() if p.is_file())
    described = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.exists()]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:16]
