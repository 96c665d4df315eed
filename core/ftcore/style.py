"""The style spec: the house format every assistant answer must hold, as a list of named checks.

The same registry lints the training data (`ftdata check`) and scores the model (fteval): a check
is a pure, deterministic function of the answer and explicit parameters, registered under a name
such as `format:json` or `length:max_words`. A missing or unknown parameter is an error, never a
default. The registry also holds a check for each of IFEval's verifiable instructions, reading text as lm-eval's
IFEval verifier does (`fteval.ifeval` maps an instruction and its kwargs onto them).

A spec file (YAML):

    name: gsm8k-house-format
    checks:
      - check: lines:last_matches
        pattern: '#### -?[0-9][0-9,]*(\\.[0-9]+)?'
      - check: regex:count_min
        pattern: '<<[^<>=]+=[^<>]+>>'
        min: 1
        id: calculator-notes          # optional: names the result when a check is used twice
      - check: phrases:forbidden
        phrases: ["great question", "as an ai"]

Usage:
    spec = StyleSpec.load("style.yaml")
    spec.evaluate("4\\n#### 4")["lines:last_matches"].passed
    # -> True
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ftcore.config import ConfigError, read_yaml_mapping


class StyleSpecError(ConfigError):
    """A style spec names an unknown check or gives it wrong parameters."""


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    detail: str = ""  # why it failed, short enough for a report cell


@dataclass(frozen=True)
class CheckDefinition:
    name: str
    function: Callable[..., CheckResult]
    parameters: Mapping[str, type | tuple[type, ...]]  # every one required
    description: str


REGISTRY: dict[str, CheckDefinition] = {}


def register(name: str, **parameters: type | tuple[type, ...]):
    """Register `function(answer, **parameters) -> CheckResult` under `name`."""

    def decorate(function: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        description = (function.__doc__ or "").strip().splitlines()[0]
        REGISTRY[name] = CheckDefinition(name, function, parameters, description)
        return function

    return decorate


def run_check(name: str, answer: str, **parameters: Any) -> CheckResult:
    """Run one registered check; parameters are validated exactly as in a spec file."""
    definition = _definition(name, "run_check")
    _validate_parameters(definition, parameters, f"run_check({name!r})")
    return definition.function(answer, **_prepare(definition, parameters))


# --- the checks -------------------------------------------------------------------------------


@register("format:json")
def _format_json(answer: str) -> CheckResult:
    """The whole answer parses as JSON."""
    try:
        json.loads(answer)
    except json.JSONDecodeError as error:
        return CheckResult(False, f"not JSON: {error.msg} at column {error.colno}")
    except (ValueError, RecursionError) as error:
        return _unreadable_json(error)
    return CheckResult(True)


def _unreadable_json(error: ValueError | RecursionError) -> CheckResult:
    """JSON Python cannot hold, failed rather than raised: nesting past the recursion limit, or an integer past
    the int digit limit (4,300 digits, the ValueError)."""
    if isinstance(error, RecursionError):
        return CheckResult(False, "not JSON Python can read: nested too deeply")
    return CheckResult(False, f"not JSON Python can read: {str(error).split(':')[0]}"[:200])


@register("format:json_schema", schema=dict)
def _format_json_schema(answer: str, *, schema: dict) -> CheckResult:
    """The answer is JSON that validates against a JSON Schema."""
    import jsonschema

    try:
        value = json.loads(answer)
    except json.JSONDecodeError as error:
        return CheckResult(False, f"not JSON: {error.msg}")
    except (ValueError, RecursionError) as error:
        return _unreadable_json(error)
    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    except RecursionError:  # a recursive schema ({"items": {"$ref": "#"}}) walks a deep value one frame per level
        return CheckResult(False, "nested too deeply to validate")
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        return CheckResult(False, f"{where}: {error.message}"[:200])
    return CheckResult(True)


@register("regex:must_match", pattern=str)
def _regex_must_match(answer: str, *, pattern: re.Pattern) -> CheckResult:
    """The answer contains a match of `pattern` (Python regex, search)."""
    return CheckResult(True) if pattern.search(answer) else CheckResult(False, f"no match for {pattern.pattern!r}")


@register("regex:must_not_match", pattern=str)
def _regex_must_not_match(answer: str, *, pattern: re.Pattern) -> CheckResult:
    """The answer contains no match of `pattern`."""
    found = pattern.search(answer)
    return CheckResult(False, f"found {found.group(0)[:60]!r}") if found else CheckResult(True)


@register("regex:count_min", pattern=str, min=int)
def _regex_count_min(answer: str, *, pattern: re.Pattern, min: int) -> CheckResult:
    """`pattern` occurs at least `min` times."""
    count = len(pattern.findall(answer))
    return CheckResult(count >= min, "" if count >= min else f"{count} match(es), need {min}")


@register("lines:last_matches", pattern=str)
def _last_line_matches(answer: str, *, pattern: re.Pattern) -> CheckResult:
    """The last non-empty line matches `pattern` in full."""
    lines = [line.strip() for line in answer.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return CheckResult(True) if pattern.fullmatch(last) else CheckResult(False, f"last line is {last[:60]!r}")


@register("length:max_words", max=int)
def _max_words(answer: str, *, max: int) -> CheckResult:
    """At most `max` words (whitespace-separated)."""
    count = len(answer.split())
    return CheckResult(count <= max, "" if count <= max else f"{count} words, max {max}")


@register("length:min_words", min=int)
def _min_words(answer: str, *, min: int) -> CheckResult:
    """At least `min` words."""
    count = len(answer.split())
    return CheckResult(count >= min, "" if count >= min else f"{count} words, min {min}")


@register("sections:required", headings=list)
def _required_sections(answer: str, *, headings: list) -> CheckResult:
    """Every heading appears as a line of its own (e.g. '## Summary'), in the given order."""
    lines = [line.strip() for line in answer.splitlines()]
    position = 0
    for heading in headings:
        try:
            position = lines.index(heading.strip(), position) + 1
        except ValueError:
            return CheckResult(False, f"missing or out of order: {heading!r}")
    return CheckResult(True)


@register("phrases:forbidden", phrases=list)
def _forbidden_phrases(answer: str, *, phrases: list) -> CheckResult:
    """None of `phrases` appears (case-insensitive)."""
    folded = answer.casefold()
    found = [p for p in phrases if p.casefold() in folded]
    return CheckResult(False, f"contains {found[0]!r}") if found else CheckResult(True)


@register("casing:style", style=str)
def _casing(answer: str, *, style: str) -> CheckResult:
    """Letter case of the whole answer: `lower`, `upper`, or `sentence` (each line starts upper-case)."""
    letters = [c for c in answer if c.isalpha()]
    if style == "lower":
        ok = all(not c.isupper() for c in letters)
    elif style == "upper":
        ok = all(not c.islower() for c in letters)
    else:  # sentence: validated to be one of the three
        starts = [next((c for c in line if c.isalpha()), "") for line in answer.splitlines() if line.strip()]
        ok = all(not s or s.isupper() for s in starts)
    return CheckResult(ok, "" if ok else f"not {style} case")


CASING_STYLES = ("lower", "upper", "sentence")


# --- counting with a relation, and IFEval's verifiable instructions ----------------------------
# fteval.ifeval maps each of IFEval's instructions onto these checks. Where IFEval (lm-eval's verifier) reads text in
# an unusual way, the check reads it the same way and says so: a score here then means what an IFEval score means.

RELATIONS: dict[str, Callable[[int, int], bool]] = {
    "less than": lambda count, target: count < target,
    "at most": lambda count, target: count <= target,
    "exactly": lambda count, target: count == target,
    "at least": lambda count, target: count >= target,
    "more than": lambda count, target: count > target,
}


def _compare(count: int, relation: str, target: int, what: str) -> CheckResult:
    if RELATIONS[relation](count, target):
        return CheckResult(True)
    return CheckResult(False, f"{count} {what}, need {relation} {target}")


@register("format:json_fenced")
def _format_json_fenced(answer: str) -> CheckResult:
    """The answer is JSON, bare or inside one markdown code fence (```json ... ```).

    IFEval's json_format: outer whitespace (any Unicode space) is stripped, then the prefixes ```json, ```Json,
    ```JSON and ``` are removed in that order, then a trailing ```. Unlike `format:json`, a fenced answer passes.
    """
    text = answer.strip()
    for prefix in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(prefix)
    try:
        json.loads(text.removesuffix("```").strip())
    except json.JSONDecodeError as error:
        return CheckResult(False, f"not JSON: {error.msg} at column {error.colno}")
    except (ValueError, RecursionError) as error:
        return _unreadable_json(error)
    return CheckResult(True)


# IFEval's bullet patterns, kept as they are: a line whose first non-space character is '*' followed by anything but
# '*', or is '-'. So '---' rules and '-5 degrees' count, '**bold**' and '+ item' do not, and a line that is a lone
# '*' swallows the next line ('^\s*' and '[^*]' may cross a line break).
_STAR_BULLET = re.compile(r"^\s*\*[^\*].*$", re.MULTILINE)
_DASH_BULLET = re.compile(r"^\s*-.*$", re.MULTILINE)


@register("markdown:bullet_count", relation=str, count=int)
def _bullet_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of markdown bullet lines ('* item' or '- item') compares to `count` by `relation`.

    Counted as IFEval's number_bullet_lists does: see `_STAR_BULLET` and `_DASH_BULLET`.
    """
    found = len(_STAR_BULLET.findall(answer)) + len(_DASH_BULLET.findall(answer))
    return _compare(found, relation, count, "bullet(s)")


_SINGLE_HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n\*]*\*\*")


@register("markdown:highlight_count", relation=str, count=int)
def _highlight_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of non-empty *highlighted* or **bold** spans compares to `count` by `relation`.

    IFEval's number_highlighted_sections: spans do not cross a line, and any text between two asterisks on one line
    counts ('a * b * c' holds one highlight, ' b ').
    """
    single = [span for span in _SINGLE_HIGHLIGHT.findall(answer) if span.strip("*").strip()]
    double = [span for span in _DOUBLE_HIGHLIGHT.findall(answer) if span[2:-2].strip()]
    return _compare(len(single) + len(double), relation, count, "highlight(s)")


_TITLE = re.compile(r"<<[^\n]+>>")


@register("title:double_angle_brackets")
def _title(answer: str) -> CheckResult:
    """The answer holds a title in double angle brackets, such as <<poem of joy>> (IFEval's title)."""
    titles = _TITLE.findall(answer)
    if any(title.lstrip("<").rstrip(">").strip() for title in titles):
        return CheckResult(True)
    return CheckResult(False, "no <<title>>")


@register("sections:count", marker=str, relation=str, count=int)
def _section_count(answer: str, *, marker: str, relation: str, count: int) -> CheckResult:
    """The number of section headers '`marker` N' (e.g. 'Section 2') compares to `count` by `relation`.

    IFEval's multiple_sections: the marker is case-sensitive and counts anywhere, mid-line too, with at most one
    space before the number ('SECTION1' counts, 'Sections 1' does not). lm-eval reads the marker as a regex; here it
    is literal text (the same for every marker in IFEval, which are plain words).
    """
    found = len(re.findall(re.escape(marker.strip()) + r"\s?\d+", answer))
    return _compare(found, relation, count, f"{marker.strip()!r} section(s)")


@register("phrases:contains_any", phrases=list)
def _contains_any(answer: str, *, phrases: list) -> CheckResult:
    """At least one of `phrases` appears, exactly as written (case-sensitive)."""
    return CheckResult(True) if any(p in answer for p in phrases) else CheckResult(False, "none of the phrases")


@register("phrases:required", phrases=list)
def _required_phrases(answer: str, *, phrases: list) -> CheckResult:
    """Every one of `phrases` appears (case-insensitive; inside a longer word counts: 'cat' in 'category')."""
    missing = [p for p in phrases if not re.search(re.escape(p), answer, re.IGNORECASE)]
    return CheckResult(False, f"missing {missing[0]!r}") if missing else CheckResult(True)


@register("phrases:count", phrase=str, relation=str, count=int)
def _phrase_count(answer: str, *, phrase: str, relation: str, count: int) -> CheckResult:
    """How often `phrase` occurs (case-insensitive, non-overlapping, inside words too) compares to `count`."""
    found = len(re.findall(re.escape(phrase), answer, re.IGNORECASE))
    return _compare(found, relation, count, f"time(s) {phrase!r}")


@register("words:forbidden", words=list)
def _forbidden_words(answer: str, *, words: list) -> CheckResult:
    """None of `words` appears as a whole word (case-insensitive: 'cat' is not found in 'category').

    Unlike `phrases:forbidden`, which finds a phrase inside longer words too. Whole word means regex word
    boundaries (\\b) at both ends, as IFEval's forbidden_words.
    """
    for word in words:
        if re.search(r"\b" + re.escape(word) + r"\b", answer, re.IGNORECASE):
            return CheckResult(False, f"contains {word!r}")
    return CheckResult(True)


@register("letters:count", letter=str, relation=str, count=int)
def _letter_count(answer: str, *, letter: str, relation: str, count: int) -> CheckResult:
    """How often `letter` occurs, either case, compares to `count` by `relation` (IFEval's letter_frequency)."""
    found = answer.lower().count(letter.lower())
    return _compare(found, relation, count, f"{letter!r}")


@register("casing:all_lower")
def _all_lower(answer: str) -> CheckResult:
    """Every cased character is lower-case, and there is at least one (Python's str.islower).

    Stricter than `casing:style` lower at the edges: an answer with no letters ('42') fails here, and cased
    symbols such as 'Ⅷ' count. IFEval's english_lowercase also asks langdetect for English; this check does not.
    """
    return CheckResult(True) if answer.islower() else CheckResult(False, "not all lower-case")


@register("casing:all_upper")
def _all_upper(answer: str) -> CheckResult:
    """Every cased character is upper-case, and there is at least one (Python's str.isupper).

    As `casing:all_lower`, for IFEval's english_capital (whose language half is not checked here).
    """
    return CheckResult(True) if answer.isupper() else CheckResult(False, "not all upper-case")


# Words as NLTK's word_tokenize splits them (IFEval counts capital words so), without NLTK, close enough that the
# count of all-capital words agrees: a break at white space, quotes, most punctuation, '--' and '...', and at ',' or
# ':' unless a digit follows; never at a single '.', '-', '/' or '_' inside a word.
_NLTK_WORD_BREAK = re.compile(
    r"[\s«»“”‘’„`\"*;@#$%&?!()\[\]{}<>\u2012-\u2015]|--|''|\.{2,}|[:,](?!\d)"
    r"|(?<!\w)'(?!(?i:re|ve|ll|m|t|s|d|n)\b)(?=\w)"  # an opening quote, unless a contraction follows
)
# A quote ends a word where a space (not a line break) or some punctuation follows it. Then contractions come off the
# end in two passes, as in NLTK: "DON'T" is DO + N'T (two capital words), "IT'S' " is IT + 'S + '.
_NLTK_END_QUOTE = re.compile(r"(?<=[^'])'(?=[ «“‘„`;@#$%&?!\u2012-\u2015]|[:,](?!\d)|\.\.)")
_NLTK_CONTRACTIONS = (
    re.compile(r"(?<=[^'])(?:'[sSmMdD]|')$"),
    re.compile(r"(?<=[^'])(?:'ll|'LL|'re|'RE|'ve|'VE|n't|N'T)$"),
)
_NLTK_TWO_WORDS = re.compile(r"(?i)\b(can)(not)\b|\b(gim)(me)\b|\b(gon)(na)\b|\b(got)(ta)\b|\b(lem)(me)\b|\b(wan)(na)$")
_SENTENCE_CLOSERS = ")]}>\"'”’»"


def _nltk_like_words(text: str) -> list[str]:
    words: list[str] = []
    for chunk_match in re.finditer(r"\S+", text):
        chunk = chunk_match.group()
        # word_tokenize splits sentences first (punkt) and detaches each one's final period; here a '.' (closing
        # brackets or quotes after it aside) at the end of a chunk of non-space text ends a sentence.
        if chunk.rstrip(_SENTENCE_CLOSERS).endswith("."):
            chunk = chunk.rstrip(_SENTENCE_CLOSERS).rstrip(".") + " "
        else:
            chunk += text[chunk_match.end() : chunk_match.end() + 1]  # the white space after it, for _NLTK_END_QUOTE
        for token in _NLTK_WORD_BREAK.split(_NLTK_END_QUOTE.sub(" ", chunk)):
            for piece in _peel_contractions(token):
                words += _NLTK_TWO_WORDS.sub(_spaced_groups, piece).split()
    return words


def _peel_contractions(token: str) -> list[str]:
    tail: list[str] = []
    for contraction in _NLTK_CONTRACTIONS:
        if peeled := contraction.search(token):
            tail.insert(0, peeled.group())
            token = token[: peeled.start()]
    return [token, *tail]


def _spaced_groups(match: re.Match) -> str:
    return " " + " ".join(group for group in match.groups() if group) + " "


@register("casing:upper_word_count", relation=str, count=int)
def _upper_word_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of all-capital words ('NASA', 'U.S.A.', 'I') compares to `count` by `relation`.

    A word counts when its cased characters are all upper-case (str.isupper). Words are split as NLTK's
    word_tokenize splits them, which IFEval's capital_word_frequency uses (see `_NLTK_WORD_BREAK`):
    'STATE-OF-THE-ART' and 'AND/OR' are one word each, "DON'T" and 'CANNOT' two. NLTK's punkt sentence splitter is
    approximated (a '.' before white space ends a sentence); that matters only for a contraction before a period.
    """
    found = sum(word.isupper() for word in _nltk_like_words(answer))
    return _compare(found, relation, count, "capital word(s)")


@register("length:word_count", relation=str, count=int)
def _word_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of words compares to `count` by `relation`; a word is a run of letters, digits or '_' (\\w+).

    IFEval's number_words counts so: "don't" and '1,000' are two words, 'state-of-the-art' four, an emoji none.
    `length:max_words` and `length:min_words` split on white space instead.
    """
    return _compare(len(re.findall(r"\w+", answer)), relation, count, "word(s)")


# Sentence ends: '.', '!' or '?' (repeats and closing quotes or brackets included) before white space or the end.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs"})
_DOTTED_ABBREVIATION = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # e.g, i.e, U.S, a.m (their last '.' is the end)


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, split without NLTK's punkt model (not available offline), simply and predictably.

    A sentence ends at '.', '!' or '?' followed by white space or the end of the text, except a single '.' after
    a common title (Mr., Dr., St., vs.), a dotted abbreviation (e.g., i.e., U.S., a.m.), a single capital initial
    (J. K. Rowling) or a list number at the start of a line ('1. Buy milk.'). Line breaks alone end nothing, as in
    punkt; a stretch without a letter or digit is no sentence.

    >>> split_sentences("Dr. Who arrived. Did he? Yes!!\\n1. Go on")
    ['Dr. Who arrived.', 'Did he?', 'Yes!!', '1. Go on']
    """
    sentences: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        if end.group().rstrip("\"'”’)]") == "." and _period_ends_nothing(text, end.start()):
            continue
        sentences.append(text[start : end.end()].strip())
        start = end.end()
    sentences.append(text[start:].strip())
    return [sentence for sentence in sentences if any(c.isalnum() for c in sentence)]


def _period_ends_nothing(text: str, period: int) -> bool:
    line_start = text.rfind("\n", 0, period) + 1
    before = text[line_start:period].split()
    word = before[-1].lstrip("\"'“‘([") if before else ""
    return (
        word.lower() in _ABBREVIATIONS
        or bool(_DOTTED_ABBREVIATION.fullmatch(word))
        or (len(word) == 1 and word.isupper())
        or (word.isdigit() and len(before) == 1)
    )


@register("sentences:count", relation=str, count=int)
def _sentence_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of sentences (see `split_sentences`) compares to `count` by `relation`.

    IFEval's number_sentences counts with NLTK's punkt model, which ftdata does not use: expect the odd difference
    on abbreviations punkt has learned.
    """
    return _compare(len(split_sentences(answer)), relation, count, "sentence(s)")


@register("paragraphs:divider_count", relation=str, count=int)
def _divider_paragraph_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of paragraphs separated by markdown dividers (***) compares to `count` by `relation`.

    IFEval's number_paragraphs: an empty stretch before the first or after the last divider is no paragraph; one
    between two dividers fails the check. '****' is a divider plus a paragraph '*'.
    """
    paragraphs = re.split(r"\s?\*\*\*\s?", answer)
    last = len(paragraphs) - 1
    if any(not p.strip() for i, p in enumerate(paragraphs) if 0 < i < last):
        return CheckResult(False, "an empty paragraph between two *** dividers")
    found = sum(1 for p in paragraphs if p.strip())
    return _compare(found, relation, count, "paragraph(s)")


def _blank_line_paragraphs(answer: str) -> list[str]:
    # Split on every '\n\n' exactly as IFEval: three or four line breaks leave empty or '\n'-led pieces.
    return answer.split("\n\n")


@register("paragraphs:blank_line_count", relation=str, count=int)
def _blank_line_paragraph_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of non-empty paragraphs between blank lines ('\\n\\n') compares to `count` by `relation`."""
    found = sum(1 for p in _blank_line_paragraphs(answer) if p.strip())
    return _compare(found, relation, count, "paragraph(s)")


@register("paragraphs:nth_first_word", n=int, word=str)
def _nth_paragraph_first_word(answer: str, *, n: int, word: str) -> CheckResult:
    """Paragraph `n` (1-based, paragraphs split at '\\n\\n') starts with `word`, ignoring case.

    IFEval's nth_paragraph_first_word reads paragraph n as the n-th piece between '\\n\\n' separators, empty pieces
    included, so four line breaks in a row put an empty paragraph in the count of places (and fail when it is the
    n-th); n beyond the number of non-empty paragraphs fails. The first word is the first white-space token,
    without leading quotes, cut at the first of . , ? ! ' ".
    """
    pieces = _blank_line_paragraphs(answer)
    if n > sum(1 for p in pieces if p.strip()) or not pieces[n - 1].strip():
        return CheckResult(False, f"no paragraph {n}")
    token = pieces[n - 1].split()[0].lstrip("'").lstrip('"')
    first = re.split(r"[.,?!'\"]", token)[0].lower()
    return CheckResult(True) if first == word.lower() else CheckResult(False, f"paragraph {n} starts with {first!r}")


@register("placeholders:count", relation=str, count=int)
def _placeholder_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of [placeholders] in square brackets compares to `count` by `relation`.

    IFEval's number_placeholders: the shortest '[...]' within a line, so '[]' and a markdown link's '[text]' count.
    """
    return _compare(len(re.findall(r"\[.*?\]", answer)), relation, count, "placeholder(s)")


@register("postscript:present", marker=str)
def _postscript(answer: str, *, marker: str) -> CheckResult:
    """A postscript marked `marker` (e.g. 'P.S.') appears, anywhere and in either case (IFEval's postscript).

    For 'P.S.' and 'P.P.S' a space or line break may follow each period ('P. S.'); 'P.S.' is found inside
    'P.P.S.' too. Other markers are literal text (lm-eval reads them as a regex).
    """
    marker = marker.strip()
    if marker == "P.P.S":
        pattern = r"p\.\s?p\.\s?s"
    elif marker == "P.S.":
        pattern = r"p\.\s?s\."
    else:
        pattern = re.escape(marker.lower())
    return CheckResult(True) if re.search(pattern, answer.lower()) else CheckResult(False, f"no {marker!r}")


@register("text:starts_with", phrase=str)
def _starts_with(answer: str, *, phrase: str) -> CheckResult:
    """The answer starts with `phrase`, ignoring case and outer white space (IFEval's repeat_prompt)."""
    if answer.strip().lower().startswith(phrase.strip().lower()):
        return CheckResult(True)
    return CheckResult(False, f"starts with {answer.strip()[:40]!r}")


@register("text:ends_with", phrase=str)
def _ends_with(answer: str, *, phrase: str) -> CheckResult:
    """The answer ends with `phrase`, ignoring case, outer white space and outer double quotes (IFEval's end_checker).

    The quotes are ignored so that an answer can be both wrapped in quotes and end with the phrase.
    """
    if answer.strip().strip('"').lower().endswith(phrase.strip().lower()):
        return CheckResult(True)
    return CheckResult(False, f"ends with {answer.strip()[-40:]!r}")


@register("text:wrapped_in_quotes")
def _wrapped_in_quotes(answer: str) -> CheckResult:
    """The answer, outer white space aside, starts and ends with a straight double quote (\") (IFEval's quotation).

    Curly quotes (“ ”) do not count; a lone '"' is not wrapped.
    """
    text = answer.strip()
    ok = len(text) > 1 and text[0] == '"' and text[-1] == '"'
    return CheckResult(ok, "" if ok else "not wrapped in double quotes")


@register("text:two_responses", separator=str)
def _two_responses(answer: str, *, separator: str) -> CheckResult:
    """Exactly two different, non-empty responses separated by `separator` (IFEval's two_responses: '******').

    Empty text before the first or after the last separator is allowed; an empty response between two is not.
    """
    parts = answer.split(separator)
    last = len(parts) - 1
    if any(not p.strip() for i, p in enumerate(parts) if 0 < i < last):
        return CheckResult(False, "an empty response between two separators")
    responses = [p.strip() for p in parts if p.strip()]
    if len(responses) != 2:
        return CheckResult(False, f"{len(responses)} response(s), need 2")
    return CheckResult(True) if responses[0] != responses[1] else CheckResult(False, "the two responses are the same")


# --- the spec ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfiguredCheck:
    id: str
    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __call__(self, answer: str) -> CheckResult:
        definition = REGISTRY[self.name]
        return definition.function(answer, **_prepare(definition, self.parameters))


@dataclass(frozen=True)
class StyleSpec:
    name: str
    checks: tuple[ConfiguredCheck, ...]
    source: str = "<spec>"

    @classmethod
    def load(cls, path: str | os.PathLike) -> StyleSpec:
        return cls.from_dict(read_yaml_mapping(path), source=str(path))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "<spec>") -> StyleSpec:
        unknown = sorted(set(raw) - {"name", "description", "checks"})
        if unknown:
            raise StyleSpecError(f"{source}: {unknown[0]}: unknown key (expected name, description, checks)")
        entries = raw.get("checks")
        if not isinstance(entries, list) or not entries:
            raise StyleSpecError(f"{source}: checks: must be a non-empty list")
        checks: list[ConfiguredCheck] = []
        for index, entry in enumerate(entries):
            where = f"{source}: checks[{index}]"
            if not isinstance(entry, dict) or "check" not in entry:
                raise StyleSpecError(f"{where}: must be a mapping with a 'check' name")
            definition = _definition(entry["check"], where)
            parameters = {k: v for k, v in entry.items() if k not in ("check", "id", "description")}
            _validate_parameters(definition, parameters, where)
            check_id = str(entry.get("id") or definition.name)
            if any(c.id == check_id for c in checks):
                raise StyleSpecError(f"{where}: id {check_id!r} used twice: give one of them its own 'id'")
            checks.append(
                ConfiguredCheck(check_id, definition.name, parameters, entry.get("description", definition.description))
            )
        return cls(name=str(raw.get("name", "style")), checks=tuple(checks), source=source)

    def evaluate(self, answer: str) -> dict[str, CheckResult]:
        """Every check's result for one answer, by check id (in spec order)."""
        return {check.id: check(answer) for check in self.checks}


def _definition(name: Any, where: str) -> CheckDefinition:
    if name not in REGISTRY:
        raise StyleSpecError(f"{where}: unknown check {name!r} (known: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name]


def _validate_parameters(definition: CheckDefinition, parameters: Mapping[str, Any], where: str) -> None:
    for key in parameters:
        if key not in definition.parameters:
            expected = ", ".join(definition.parameters) or "none"
            raise StyleSpecError(f"{where}: {definition.name}: unknown parameter {key!r} (takes: {expected})")
    for key, expected_type in definition.parameters.items():
        if key not in parameters:
            raise StyleSpecError(f"{where}: {definition.name}: missing parameter {key!r}")
        value = parameters[key]
        if isinstance(value, bool) or not isinstance(value, expected_type):
            raise StyleSpecError(
                f"{where}: {definition.name}: {key} must be {_type_name(expected_type)}, got {value!r}"
            )
    if "pattern" in parameters:
        try:
            re.compile(parameters["pattern"])
        except (re.error, OverflowError, RecursionError) as error:  # a{99999999999}, or groups nested too deep
            raise StyleSpecError(f"{where}: {definition.name}: pattern is not a valid regex: {error}") from None
    if definition.name == "casing:style" and parameters["style"] not in CASING_STYLES:
        raise StyleSpecError(f"{where}: casing:style: style must be one of {', '.join(CASING_STYLES)}")
    for key in ("phrases", "headings", "words"):
        if key in parameters and not all(isinstance(item, str) and item for item in parameters[key]):
            raise StyleSpecError(f"{where}: {definition.name}: {key} must be a list of non-empty strings")
    for key in ("phrase", "word", "marker", "separator"):
        if key in parameters and not parameters[key].strip():
            raise StyleSpecError(f"{where}: {definition.name}: {key} must be a non-empty string")
    if "relation" in parameters and parameters["relation"] not in RELATIONS:
        raise StyleSpecError(f"{where}: {definition.name}: relation must be one of {', '.join(RELATIONS)}")
    if parameters.get("count", 0) < 0 or parameters.get("n", 1) < 1:
        raise StyleSpecError(f"{where}: {definition.name}: count must be 0 or more, and n 1 or more")
    if "letter" in parameters and not (len(parameters["letter"]) == 1 and parameters["letter"].isalpha()):
        raise StyleSpecError(f"{where}: {definition.name}: letter must be a single letter")
    if definition.name == "format:json_schema":
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(parameters["schema"])
        except jsonschema.exceptions.SchemaError as error:
            raise StyleSpecError(f"{where}: format:json_schema: invalid schema: {error.message}") from None


_COMPILED: dict[str, re.Pattern] = {}


def _prepare(definition: CheckDefinition, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as the check function takes them: patterns compiled once and cached."""
    prepared = dict(parameters)
    if "pattern" in prepared:
        pattern = prepared["pattern"]
        if pattern not in _COMPILED:
            _COMPILED[pattern] = re.compile(pattern, re.MULTILINE)
        prepared["pattern"] = _COMPILED[pattern]
    return prepared


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "a mapping"}
    return names.get(expected, str(expected)) if isinstance(expected, type) else " or ".join(map(str, expected))
