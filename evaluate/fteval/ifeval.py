"""IFEval's verifiable instructions as ftdata style checks: score any IFEval-format prompt set with ftdata's registry.

Each IFEval instruction id (with its kwargs) maps onto one or more checks of `ftcore.style.REGISTRY`, which read text
the way lm-eval's IFEval verifier does (an agreement test holds them to it). Each prompt gets its own `StyleSpec`.
Scoring is IFEval's strict mode only (the answer as given; no loose variants with markdown or first/last lines
removed).

Usage:

    prompts = load_ifeval_prompts("ifeval_input_data.jsonl")   # {"key", "prompt", "instruction_id_list", "kwargs"}
    scores = score_ifeval(prompts, answers)                   # answers: one string per prompt, in order
    scores["prompt_level_strict_acc"], scores["inst_level_strict_acc"]

>>> checks_for_instruction("detectable_format:number_bullet_lists", {"num_bullets": 3})
[{'check': 'markdown:bullet_count', 'relation': 'exactly', 'count': 3}]
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftcore.errors import FtdataError
from ftcore.style import StyleSpec, StyleSpecError


class IFEvalError(FtdataError):
    """An IFEval-format row or file that fteval cannot score: unknown instruction, bad kwargs, malformed JSONL."""


class UnsupportedInstruction(IFEvalError):
    """An instruction of IFEval's own that fteval does not check (skipped when loading a file, unless asked not to).

    `instructions`: the ids of the instructions concerned (one, or every one of a row that has no other)."""

    def __init__(self, message: str, instructions: Sequence[str] = ()):
        super().__init__(message)
        self.instructions = list(instructions)


# The kwargs of each instruction are the mapping function's keyword-only parameters, all required: lm-eval picks a
# random value for a missing one, fteval refuses.
_MAPPINGS: dict[str, Callable[..., list[dict[str, Any]]]] = {}


def _maps(instruction_id: str):
    def decorate(function: Callable[..., list[dict[str, Any]]]) -> Callable[..., list[dict[str, Any]]]:
        _MAPPINGS[instruction_id] = function
        return function

    return decorate


@_maps("keywords:existence")
def _keywords_existence(*, keywords):
    return [{"check": "phrases:required", "phrases": keywords}]


@_maps("keywords:frequency")
def _keywords_frequency(*, keyword, frequency, relation):
    return [{"check": "phrases:count", "phrase": keyword.strip(), "relation": relation, "count": frequency}]


@_maps("keywords:forbidden_words")
def _keywords_forbidden(*, forbidden_words):
    return [{"check": "words:forbidden", "words": forbidden_words}]


@_maps("keywords:letter_frequency")
def _keywords_letter_frequency(*, letter, let_frequency, let_relation):
    if isinstance(letter, str) and len(letter.strip()) == 1 and not letter.strip().isalpha():
        # IFEval's file asks for '#' and '!' (keys 1122, 1129, ...); lm-eval's verifier counts letters a-z only and
        # swaps anything else for a random letter, so its verdict on these is a coin toss: nothing to agree with.
        raise UnsupportedInstruction(
            f"keywords:letter_frequency: {letter.strip()!r} is not a letter (IFEval's verifier scores a random letter "
            "instead)",
            ["keywords:letter_frequency"],
        )
    return [{"check": "letters:count", "letter": letter.strip(), "relation": let_relation, "count": let_frequency}]


@_maps("length_constraints:number_sentences")
def _number_sentences(*, num_sentences, relation):
    return [{"check": "sentences:count", "relation": relation, "count": num_sentences}]


@_maps("length_constraints:number_paragraphs")
def _number_paragraphs(*, num_paragraphs):
    return [{"check": "paragraphs:divider_count", "relation": "exactly", "count": num_paragraphs}]


@_maps("length_constraints:number_words")
def _number_words(*, num_words, relation):
    return [{"check": "length:word_count", "relation": relation, "count": num_words}]


@_maps("length_constraints:nth_paragraph_first_word")
def _nth_paragraph_first_word(*, num_paragraphs, nth_paragraph, first_word):
    if isinstance(nth_paragraph, int) and isinstance(num_paragraphs, int) and nth_paragraph > num_paragraphs:
        # lm-eval would pick a random paragraph instead; no answer can meet this instruction as written.
        raise IFEvalError(f"nth_paragraph {nth_paragraph} is beyond num_paragraphs {num_paragraphs}")
    return [
        {"check": "paragraphs:blank_line_count", "relation": "exactly", "count": num_paragraphs},
        {"check": "paragraphs:nth_first_word", "n": nth_paragraph, "word": first_word},
    ]


@_maps("detectable_content:number_placeholders")
def _number_placeholders(*, num_placeholders):
    return [{"check": "placeholders:count", "relation": "at least", "count": num_placeholders}]


@_maps("detectable_content:postscript")
def _postscript(*, postscript_marker):
    return [{"check": "postscript:present", "marker": postscript_marker}]


@_maps("detectable_format:number_bullet_lists")
def _number_bullet_lists(*, num_bullets):
    return [{"check": "markdown:bullet_count", "relation": "exactly", "count": num_bullets}]


# IFEval's fixed options (lm-eval's _CONSTRAINED_RESPONSE_OPTIONS): the answer contains one of them, case and all.
CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@_maps("detectable_format:constrained_response")
def _constrained_response():
    return [{"check": "phrases:contains_any", "phrases": list(CONSTRAINED_RESPONSE_OPTIONS)}]


@_maps("detectable_format:number_highlighted_sections")
def _number_highlighted_sections(*, num_highlights):
    return [{"check": "markdown:highlight_count", "relation": "at least", "count": num_highlights}]


@_maps("detectable_format:multiple_sections")
def _multiple_sections(*, section_spliter, num_sections):
    # IFEval's prompt says "must have N sections" but its verifier accepts N or more.
    return [{"check": "sections:count", "marker": section_spliter, "relation": "at least", "count": num_sections}]


@_maps("detectable_format:json_format")
def _json_format():
    return [{"check": "format:json_fenced"}]


@_maps("detectable_format:title")
def _title():
    return [{"check": "title:double_angle_brackets"}]


@_maps("combination:two_responses")
def _two_responses():
    return [{"check": "text:two_responses", "separator": "******"}]


@_maps("combination:repeat_prompt")
def _repeat_prompt(*, prompt_to_repeat):
    return [{"check": "text:starts_with", "phrase": prompt_to_repeat}]


@_maps("startend:end_checker")
def _end_checker(*, end_phrase):
    return [{"check": "text:ends_with", "phrase": end_phrase}]


@_maps("startend:quotation")
def _quotation():
    return [{"check": "text:wrapped_in_quotes"}]


@_maps("change_case:capital_word_frequency")
def _capital_word_frequency(*, capital_frequency, capital_relation):
    return [{"check": "casing:upper_word_count", "relation": capital_relation, "count": capital_frequency}]


# english_capital and english_lowercase: only the case is checked. lm-eval also asks langdetect whether the answer is
# English; ftdata has no language detector (and takes no dependency for one), so a non-English answer in the right
# case passes here and fails there.
@_maps("change_case:english_capital")
def _english_capital():
    return [{"check": "casing:all_upper"}]


@_maps("change_case:english_lowercase")
def _english_lowercase():
    return [{"check": "casing:all_lower"}]


@_maps("punctuation:no_comma")
def _no_comma():
    return [{"check": "regex:must_not_match", "pattern": ","}]  # the ASCII comma only, as in IFEval


SUPPORTED_INSTRUCTIONS: tuple[str, ...] = tuple(sorted(_MAPPINGS))

# In lm-eval's registry but not mapped, and why.
UNSUPPORTED_INSTRUCTIONS: dict[str, str] = {
    "language:response_language": "needs language identification, which ftdata does not do (lm-eval uses langdetect)",
}


def checks_for_instruction(instruction_id: str, kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The style-spec check entries that verify one IFEval instruction; it is followed when all of them pass.

    kwargs are the instruction's IFEval kwargs. As in lm-eval, one that is null, empty or 0 is absent (IFEval's JSONL
    on the Hugging Face hub lists every kwarg of every instruction, mostly null); a missing one is an error here,
    where lm-eval would pick a random value.

    >>> checks_for_instruction("keywords:frequency", {"keyword": "risk", "frequency": 2, "relation": "at least"})
    [{'check': 'phrases:count', 'phrase': 'risk', 'relation': 'at least', 'count': 2}]
    """
    if not isinstance(instruction_id, str) or not isinstance(kwargs, Mapping):
        raise IFEvalError(f"{instruction_id!r}: an instruction id must be a string, its kwargs a mapping")
    if instruction_id in UNSUPPORTED_INSTRUCTIONS:
        raise UnsupportedInstruction(
            f"{instruction_id}: unsupported: {UNSUPPORTED_INSTRUCTIONS[instruction_id]}", [instruction_id]
        )
    if instruction_id not in _MAPPINGS:
        # The supported ids are a list of 24: named once in the docs (fteval.ifeval.SUPPORTED_INSTRUCTIONS), not in
        # every line of a file's errors.
        raise IFEvalError(
            f"{instruction_id}: unknown instruction id (not one of IFEval's {len(SUPPORTED_INSTRUCTIONS)} supported "
            "ones: fteval.ifeval.SUPPORTED_INSTRUCTIONS)"
        )
    mapping = _MAPPINGS[instruction_id]
    given = {key: value for key, value in kwargs.items() if value}
    expected = list(inspect.signature(mapping).parameters)
    unknown = sorted(set(given) - set(expected))
    missing = [name for name in expected if name not in given]
    if unknown or missing:
        problem = f"unknown kwarg {unknown[0]!r}" if unknown else f"missing (or null, empty, 0) kwarg {missing[0]!r}"
        raise IFEvalError(f"{instruction_id}: {problem} (takes: {', '.join(expected) or 'none'})")
    try:
        entries = mapping(**given)
    except (AttributeError, TypeError) as error:  # e.g. a number where IFEval has a string
        raise IFEvalError(f"{instruction_id}: bad kwargs {dict(given)}: {error}") from None
    try:
        StyleSpec.from_dict({"checks": entries}, source=instruction_id)  # the kwargs' types and values, checked now
    except StyleSpecError as error:
        raise IFEvalError(str(error)) from None
    return entries


@dataclass(frozen=True)
class IFEvalPrompt:
    """One IFEval-format row, with its own style spec and the spec's check ids for each of its instructions."""

    key: Any
    prompt: str
    instruction_ids: tuple[str, ...]
    spec: StyleSpec
    check_ids: tuple[tuple[str, ...], ...]  # check_ids[i]: the checks that verify instruction_ids[i]
    skipped: tuple[str, ...] = ()  # the ids of unsupported instructions left out (UnsupportedInstruction)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], where: str = "<row>", skip_unsupported: bool = False) -> IFEvalPrompt:
        """One row, checked. `skip_unsupported`: an instruction fteval does not check (UnsupportedInstruction) is
        left out and recorded in `skipped` rather than refused; a row left with none raises UnsupportedInstruction."""
        missing = [field for field in ("key", "prompt", "instruction_id_list", "kwargs") if field not in row]
        if missing:
            raise IFEvalError(f"{where}: missing field {missing[0]!r}")
        instruction_ids, all_kwargs = row["instruction_id_list"], row["kwargs"]
        if not isinstance(instruction_ids, list) or not isinstance(all_kwargs, list):
            raise IFEvalError(f"{where}: instruction_id_list and kwargs must be lists")
        if len(instruction_ids) != len(all_kwargs):
            raise IFEvalError(f"{where}: {len(instruction_ids)} instruction ids but {len(all_kwargs)} kwargs")
        entries: list[dict[str, Any]] = []
        check_ids: list[tuple[str, ...]] = []
        kept: list[str] = []
        skipped: list[str] = []
        reasons: list[str] = []
        for index, (instruction_id, kwargs) in enumerate(zip(instruction_ids, all_kwargs, strict=True)):
            try:
                checks = checks_for_instruction(instruction_id, kwargs or {})
            except UnsupportedInstruction as error:
                if not skip_unsupported:
                    raise UnsupportedInstruction(f"{where}: {error}", error.instructions) from None
                skipped.append(instruction_id)
                reasons.append(str(error))
                continue
            except IFEvalError as error:
                raise IFEvalError(f"{where}: {error}") from None
            kept.append(instruction_id)
            # Check ids name the instruction, so results read like IFEval's.
            base = instruction_id if instruction_ids.count(instruction_id) == 1 else f"{instruction_id}#{index + 1}"
            ids = [base] if len(checks) == 1 else [f"{base}/{check['check']}" for check in checks]
            entries += [{**check, "id": check_id} for check, check_id in zip(checks, ids, strict=True)]
            check_ids.append(tuple(ids))
        if not entries:
            if skipped:
                raise UnsupportedInstruction(f"{where}: no instruction fteval checks: {'; '.join(reasons)}", skipped)
            raise IFEvalError(f"{where}: no instructions")
        spec = StyleSpec.from_dict({"name": f"ifeval:{row['key']}", "checks": entries}, source=where)
        return cls(row["key"], str(row["prompt"]), tuple(kept), spec, tuple(check_ids), tuple(skipped))

    def follows(self, answer: str) -> list[bool]:
        """Whether `answer` follows each instruction, in order (IFEval strict: an empty answer follows none)."""
        return [reason is None for reason in self.reasons(answer)]

    def failed(self, answer: str) -> dict[str, str]:
        """The instructions `answer` does not follow, each with why: {instruction id (#n when repeated): reason}."""
        ids = self.instruction_ids
        names = [i if ids.count(i) == 1 else f"{i}#{n + 1}" for n, i in enumerate(ids)]
        return {name: reason for name, reason in zip(names, self.reasons(answer), strict=True) if reason is not None}

    def reasons(self, answer: str) -> list[str | None]:
        """For each instruction in order: None when `answer` follows it, else why not (the failing check's detail)."""
        if not answer.strip():
            return ["empty answer"] * len(self.instruction_ids)
        results = self.spec.evaluate(answer)
        found: list[str | None] = []
        for ids in self.check_ids:
            failing = [results[check_id] for check_id in ids if not results[check_id].passed]
            found.append(None if not failing else (failing[0].detail or "not followed"))
        return found


def spec_from_ifeval(row: Mapping[str, Any]) -> StyleSpec:
    """The style spec of one IFEval-format row: its instructions as ftdata checks, ids named after the instructions.

    >>> spec = spec_from_ifeval({"key": 1, "prompt": "...", "instruction_id_list": ["punctuation:no_comma"],
    ...                          "kwargs": [{}]})
    >>> spec.evaluate("No commas here.")["punctuation:no_comma"].passed
    True
    """
    return IFEvalPrompt.from_row(row).spec


class IFEvalPrompts(list):
    """The prompts of an IFEval-format file (a list of IFEvalPrompt), with what loading left out."""

    def __init__(self, prompts: Sequence[IFEvalPrompt] = (), dropped: Sequence[UnsupportedInstruction] = ()):
        super().__init__(prompts)
        self.dropped = list(dropped)  # rows with no instruction fteval checks, not scored

    @property
    def skipped_instructions(self) -> dict[str, int]:
        """Instruction id -> how many of its instances were left out (in kept prompts and dropped ones)."""
        counts: dict[str, int] = {}
        for instruction_id in [i for p in self for i in p.skipped] + [i for d in self.dropped for i in d.instructions]:
            counts[instruction_id] = counts.get(instruction_id, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self) -> str:
        """What was left out, in one line: 'N unsupported instruction(s) skipped (id count, ...); M prompt(s) ...'."""
        skipped = self.skipped_instructions
        if not skipped:
            return "every instruction is checked"
        counts = ", ".join(f"{name} {count}" for name, count in skipped.items())
        text = f"{sum(skipped.values())} unsupported instruction(s) skipped ({counts})"
        if self.dropped:
            text += f"; {len(self.dropped)} prompt(s) with no other instruction not scored"
        return text


def load_ifeval_prompts(path: str | os.PathLike, unsupported: str = "skip") -> IFEvalPrompts:
    """Every row of an IFEval-format JSONL file (`key`, `prompt`, `instruction_id_list`, `kwargs`), checked.

    `unsupported="skip"` (the default) leaves out the instructions fteval does not check (`UNSUPPORTED_INSTRUCTIONS`,
    and a letter_frequency of a character that is not a letter), counted in the result (`skipped_instructions`,
    `summary()`); a prompt left with none is not scored. `unsupported="error"` refuses them like any bad line.
    Raises IFEvalError listing every bad line (unknown instruction, bad kwargs, broken JSON), not just the first.
    """
    if unsupported not in ("skip", "error"):
        raise ValueError(f"unsupported: 'skip' or 'error', got {unsupported!r}")
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise IFEvalError(f"{path}: cannot read: {error}") from None
    prompts: list[IFEvalPrompt] = []
    dropped: list[UnsupportedInstruction] = []
    problems: list[str] = []
    unsupported_found = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise IFEvalError(f"{where}: not a JSON object")
            prompts.append(IFEvalPrompt.from_row(row, where, skip_unsupported=unsupported == "skip"))
        except UnsupportedInstruction as error:
            if unsupported == "skip":
                dropped.append(error)
            else:
                problems.append(str(error))
                unsupported_found += 1
        except json.JSONDecodeError as error:
            problems.append(f"{where}: not JSON: {error.msg}")
        except IFEvalError as error:
            problems.append(str(error))
    if problems:
        hint = " (to leave unsupported instructions out instead: ifeval_unsupported: skip)" if unsupported_found else ""
        raise IFEvalError(f"{len(problems)} problem(s){hint}:\n" + "\n".join(problems))
    if not prompts:
        found = f": {len(dropped)} with only unsupported instructions" if dropped else ""
        raise IFEvalError(f"{path}: no prompts fteval can score{found}")
    return IFEvalPrompts(prompts, dropped)


def score_ifeval(rows: Sequence[IFEvalPrompt | Mapping[str, Any]], answers: Sequence[str]) -> dict[str, Any]:
    """IFEval's strict accuracies for `answers` (one per row, in order), by fteval's checks.

    `prompt_level_strict_acc`: the share of prompts whose every instruction is followed; `inst_level_strict_acc`:
    the share of all instructions followed. Both higher is better. Also `by_instruction` (accuracy and n per
    instruction id) and `per_prompt` (key, `follow_all_instructions`, `follow_instruction_list`, as lm-eval names them).

    >>> score_ifeval([{"key": 1, "prompt": "...", "instruction_id_list": ["startend:quotation"], "kwargs": [{}]}],
    ...              ['"Quoted."'])["prompt_level_strict_acc"]
    1.0
    """
    prompts = [
        row if isinstance(row, IFEvalPrompt) else IFEvalPrompt.from_row(row, f"row {i}") for i, row in enumerate(rows)
    ]
    if len(prompts) != len(answers):
        raise IFEvalError(f"{len(prompts)} prompts but {len(answers)} answers")
    if not prompts:
        raise IFEvalError("no prompts to score")
    per_prompt = []
    by_instruction: dict[str, list[bool]] = {}
    for prompt, answer in zip(prompts, answers, strict=True):
        reasons = prompt.reasons(answer)
        followed = [reason is None for reason in reasons]
        per_prompt.append(
            {
                "key": prompt.key,
                "instruction_id_list": list(prompt.instruction_ids),
                "follow_all_instructions": all(followed),
                "follow_instruction_list": followed,
                # why each instruction not followed failed, by its position in instruction_id_list
                "reasons": {str(i): reason for i, reason in enumerate(reasons) if reason is not None},
            }
        )
        for instruction_id, ok in zip(prompt.instruction_ids, followed, strict=True):
            by_instruction.setdefault(instruction_id, []).append(ok)
    all_followed = [ok for entry in per_prompt for ok in entry["follow_instruction_list"]]
    return {
        "mode": "strict",
        "higher_is_better": True,
        "prompt_level_strict_acc": sum(entry["follow_all_instructions"] for entry in per_prompt) / len(per_prompt),
        "inst_level_strict_acc": sum(all_followed) / len(all_followed),
        "n_prompts": len(per_prompt),
        "n_instructions": len(all_followed),
        "by_instruction": {
            instruction_id: {"accuracy": sum(oks) / len(oks), "n": len(oks)}
            for instruction_id, oks in sorted(by_instruction.items())
        },
        "per_prompt": per_prompt,
    }
