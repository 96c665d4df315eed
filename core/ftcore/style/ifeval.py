"""Checks for IFEval's verifiable instructions (`fteval.ifeval` maps an instruction and its kwargs onto them).

Where IFEval (lm-eval's verifier) reads text in an unusual way, the check reads it the same way and says so: a score
here then means what an IFEval score means. Counts compare with a `relation`: less than, at most, exactly, at least
or more than.

>>> from ftcore.style import run_check
>>> run_check("markdown:bullet_count", "* one\\n* two", relation="exactly", count=2).passed
True
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import regex

from ftcore.style.json_checks import NotJson, read_json
from ftcore.style.registry import CheckResult, Param, integer, one_of, register, strings, text

RELATIONS: dict[str, Callable[[int, int], bool]] = {
    "less than": lambda count, target: count < target,
    "at most": lambda count, target: count <= target,
    "exactly": lambda count, target: count == target,
    "at least": lambda count, target: count >= target,
    "more than": lambda count, target: count > target,
}


# The parameters of every count: `relation` and `count` (0 or more).
COUNTED = {"relation": one_of(*RELATIONS), "count": integer(minimum=0)}


def _single_letter(value: str) -> str | None:
    return None if len(value) == 1 and value.isalpha() else "must be a single letter"


LETTER = Param(str, "a single letter", validate=_single_letter)


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
    # IFEval's steps on positions rather than on copies of the text, so that a message names the answer's own lines.
    start, end = _stripped(answer, 0, len(answer))
    for prefix in ("```json", "```Json", "```JSON", "```"):
        if answer.startswith(prefix, start, end):
            start += len(prefix)
    if answer.endswith("```", start, end):
        end -= 3
    start, end = _stripped(answer, start, end)
    try:
        read_json(answer, strict=False, start=start, end=end)  # Python's json, as IFEval: NaN and repeated keys pass
    except NotJson as problem:
        return CheckResult(False, str(problem))
    return CheckResult(True)


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    """`start, end` moved past white space at both ends, as str.strip() does."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# IFEval's bullet patterns, kept as they are: a line whose first non-space character is '*' followed by anything but
# '*', or is '-'. So '---' rules and '-5 degrees' count, '**bold**' and '+ item' do not, and a line that is a lone
# '*' swallows the next line ('^\s*' and '[^*]' may cross a line break).
_STAR_BULLET = re.compile(r"^\s*\*[^\*].*$", re.MULTILINE)
_DASH_BULLET = re.compile(r"^\s*-.*$", re.MULTILINE)


@register("markdown:bullet_count", **COUNTED)
def _bullet_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of markdown bullet lines ('* item' or '- item') compares to `count` by `relation`.

    Counted as IFEval's number_bullet_lists does: see `_STAR_BULLET` and `_DASH_BULLET`.
    """
    found = len(_STAR_BULLET.findall(answer)) + len(_DASH_BULLET.findall(answer))
    return _compare(found, relation, count, "bullet(s)")


_SINGLE_HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n\*]*\*\*")


@register("markdown:highlight_count", **COUNTED)
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


@register("sections:count", marker=text(), **COUNTED)
def _section_count(answer: str, *, marker: str, relation: str, count: int) -> CheckResult:
    """The number of section headers '`marker` N' (e.g. 'Section 2') compares to `count` by `relation`.

    IFEval's multiple_sections: the marker is case-sensitive and counts anywhere, mid-line too, with at most one
    space before the number ('SECTION1' counts, 'Sections 1' does not). lm-eval reads the marker as a regex; here it
    is literal text (the same for every marker in IFEval, which are plain words).
    """
    found = len(re.findall(re.escape(marker.strip()) + r"\s?\d+", answer))
    return _compare(found, relation, count, f"{marker.strip()!r} section(s)")


@register("phrases:contains_any", phrases=strings())
def _contains_any(answer: str, *, phrases: list) -> CheckResult:
    """At least one of `phrases` appears, exactly as written (case-sensitive)."""
    return CheckResult(True) if any(p in answer for p in phrases) else CheckResult(False, "none of the phrases")


@register("phrases:required", phrases=strings())
def _required_phrases(answer: str, *, phrases: list) -> CheckResult:
    """Every one of `phrases` appears (case-insensitive; inside a longer word counts: 'cat' in 'category')."""
    missing = [p for p in phrases if not re.search(re.escape(p), answer, re.IGNORECASE)]
    return CheckResult(False, f"missing {missing[0]!r}") if missing else CheckResult(True)


@register("phrases:count", phrase=text(), **COUNTED)
def _phrase_count(answer: str, *, phrase: str, relation: str, count: int) -> CheckResult:
    """How often `phrase` occurs (case-insensitive, non-overlapping, inside words too) compares to `count`."""
    found = len(re.findall(re.escape(phrase), answer, re.IGNORECASE))
    return _compare(found, relation, count, f"time(s) {phrase!r}")


@register("words:forbidden", words=strings())
def _forbidden_words(answer: str, *, words: list) -> CheckResult:
    """None of `words` appears as a whole word (case-insensitive: 'cat' is not found in 'category').

    Unlike `phrases:forbidden`, which finds a phrase inside longer words too. Whole word means regex word
    boundaries (\\b) at both ends, as IFEval's forbidden_words.
    """
    for word in words:
        if re.search(r"\b" + re.escape(word) + r"\b", answer, re.IGNORECASE):
            return CheckResult(False, f"contains {word!r}")
    return CheckResult(True)


@register("letters:count", letter=LETTER, **COUNTED)
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


@register("casing:upper_word_count", **COUNTED)
def _upper_word_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of all-capital words ('NASA', 'U.S.A.', 'I') compares to `count` by `relation`.

    A word counts when its cased characters are all upper-case (str.isupper). Words are split as NLTK's
    word_tokenize splits them, which IFEval's capital_word_frequency uses (see `_NLTK_WORD_BREAK`):
    'STATE-OF-THE-ART' and 'AND/OR' are one word each, "DON'T" and 'CANNOT' two. NLTK's punkt sentence splitter is
    approximated (a '.' before white space ends a sentence); that matters only for a contraction before a period.
    """
    found = sum(word.isupper() for word in _nltk_like_words(answer))
    return _compare(found, relation, count, "capital word(s)")


# IFEval's number_words counts nltk's RegexpTokenizer(r"\w+") tokens, which nltk compiles with the `regex` engine: its
# \w holds the combining marks (Unicode Mn, Mc) of Indic and Thai scripts, where Python's re breaks a word at each
# vowel sign ('नमस्ते' is one word, not three).
_WORD = regex.compile(r"\w+")


@register("length:word_count", **COUNTED)
def _word_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of words compares to `count` by `relation`; a word is a run of word characters (\\w+, with the
    `regex` engine's Unicode word characters: letters with their combining marks, digits, '_').

    IFEval's number_words counts so: "don't" and '1,000' are two words, 'state-of-the-art' four, an emoji none,
    'नमस्ते दुनिया' and 'สวัสดี ชาวโลก' two each. `length:max_words` and `length:min_words` split on white space.
    """
    return _compare(len(_WORD.findall(answer)), relation, count, "word(s)")


# Where a sentence may end, as NLTK's punkt looks for one: a run of '.', '!' or '?' followed by white space or the
# end (closing quotes, brackets or markdown emphasis may come between), or directly by punctuation that cannot
# start a word (punkt's non-word characters): '."' before ',' inside JSON, '.**' before a space, '.)' before ','.
_SENTENCE_END = re.compile(r"[.!?]+(?:[\"'”’)\]}*_]*(?=\s|$)|(?=[)\";}\]*:@'({\[]))")
_CLOSERS = "\"')]}"
# Closing quotes and brackets that open the next stretch, before white space: punkt hands them back to the sentence
# before ('Hi.\n}' is one sentence).
_CLOSERS_BEFORE_SPACE = re.compile(r"(?:\s*[\"')\]}]+(?=\s|$))?")
# Abbreviations after which '.' ends nothing (a part of punkt's English list: titles, companies, months, states).
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "v", "vs", "messrs", "gen", "sen", "rep", "lt", "col", "maj",
    "adm", "inc", "ltd", "corp", "co", "bros", "ave", "ft", "jan", "feb", "aug", "sept", "oct", "nov", "dec", "calif",
    "fla", "mich", "wash",
})  # fmt: skip
# Dotted abbreviations punkt knows (their last '.' ends nothing); others, such as e.g. and i.e., end a sentence there
# as they do in punkt.
_DOTTED_ABBREVIATIONS = frozenset({"u.s", "u.k", "u.n", "u.s.a", "a.m", "p.m", "ph.d", "d.c", "n.y", "l.a"})
# A list marker punkt ends a sentence after when a capital follows: a number, a roman numeral, or a letter that is
# not one of the single-letter abbreviations punkt learned (c., d., ... v., w.).
_LIST_MARKER = re.compile(r"\d+|[IVXLC]+|[ABIJOQUXYZabijoquxyz]")
_INITIAL = re.compile(r"[A-Z]\.")  # 'J. K. Rowling': initials, not a list
_NUMBER = re.compile(r"-?[.,]?\d[\d,.-]*")  # punkt's ##number## token


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, split as NLTK's punkt splits English (IFEval counts them so), without its trained
    model (not available offline): by a few rules, which agree with punkt's count on 96.9 % of GPT-4's answers to
    IFEval's prompts (on 81.9 % before these rules) and 99.5 % of GSM8K's questions and answers.

    A sentence ends at a run of '.', '!' or '?' followed by white space or the end of the text (closing quotes,
    brackets or markdown '*' may come between), or directly by punctuation that cannot start a word ('."' before a
    comma in JSON, '.)' before a comma). A single '.' ends nothing after a common abbreviation (Mr., Dr., Inc., U.S.,
    a.m.; not e.g. or i.e., as in punkt) or a capital initial (J. K. Rowling), nor after a number before a lower-case
    word ('in 3. then'); a list marker opening a line before a capital ('1. Buy milk.', 'IV. Results') is a
    sentence of its own, as punkt counts it. An ellipsis ends nothing; line breaks alone end nothing. Closing
    quotes and brackets that open a stretch belong to the sentence before; a stretch of nothing else is none.

    >>> split_sentences("Dr. Who arrived. Did he? Yes!!\\n1. Go on")
    ['Dr. Who arrived.', 'Did he?', 'Yes!!', '1.', 'Go on']
    """
    ends = [0]
    for end in _SENTENCE_END.finditer(text):
        if not _ends_nothing(text, end):
            ends.append(end.end() + len(_CLOSERS_BEFORE_SPACE.match(text, end.end()).group()))
    ends.append(len(text))
    sentences = [text[start:end].strip() for start, end in itertools.pairwise(ends)]
    return [sentence for sentence in sentences if any(c not in _CLOSERS for c in sentence)]


def _ends_nothing(text: str, end: re.Match) -> bool:
    """Whether the run of marks `end` ends no sentence (see `split_sentences`)."""
    marks = end.group().rstrip("\"'”’)]}*_")
    if set(marks) != {"."}:
        return False  # '!' and '?' always end one
    if len(marks) > 1:
        return True  # an ellipsis: punkt ends a sentence there only before a word it learned opens sentences
    following = text[end.end() :].lstrip()
    lower_follows = bool(following) and following[0].islower()
    line_start = text.rfind("\n", 0, end.start()) + 1
    before = text[line_start : end.start()].split()
    word = before[-1].lstrip("\"'“‘([*_") if before else ""
    if len(before) == 1 and _LIST_MARKER.fullmatch(word) and not _INITIAL.match(following):
        return lower_follows
    return (
        word.lower() in _ABBREVIATIONS
        or word.lower() in _DOTTED_ABBREVIATIONS
        or (len(word) == 1 and word.isupper())
        or (bool(_NUMBER.fullmatch(word)) and lower_follows)
    )


@register("sentences:count", **COUNTED)
def _sentence_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of sentences (see `split_sentences`) compares to `count` by `relation`.

    IFEval's number_sentences counts with NLTK's punkt model, which is not available offline: the count agrees with
    punkt's on most answers (97 % of GPT-4's answers to IFEval), not all; the rest differ where punkt's decision rests
    on the words it learned (an initial or an outline letter before a name).
    """
    return _compare(len(split_sentences(answer)), relation, count, "sentence(s)")


@register("paragraphs:divider_count", **COUNTED)
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


@register("paragraphs:blank_line_count", **COUNTED)
def _blank_line_paragraph_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of non-empty paragraphs between blank lines ('\\n\\n') compares to `count` by `relation`."""
    found = sum(1 for p in _blank_line_paragraphs(answer) if p.strip())
    return _compare(found, relation, count, "paragraph(s)")


@register(
    "paragraphs:nth_first_word", n=integer(minimum=1, note="paragraphs are numbered from 1: n 1 or more"), word=text()
)
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


@register("placeholders:count", **COUNTED)
def _placeholder_count(answer: str, *, relation: str, count: int) -> CheckResult:
    """The number of [placeholders] in square brackets compares to `count` by `relation`.

    IFEval's number_placeholders: the shortest '[...]' within a line, so '[]' and a markdown link's '[text]' count.
    """
    return _compare(len(re.findall(r"\[.*?\]", answer)), relation, count, "placeholder(s)")


@register("postscript:present", marker=text())
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


@register("text:starts_with", phrase=text())
def _starts_with(answer: str, *, phrase: str) -> CheckResult:
    """The answer starts with `phrase`, ignoring case and outer white space (IFEval's repeat_prompt)."""
    if answer.strip().lower().startswith(phrase.strip().lower()):
        return CheckResult(True)
    return CheckResult(False, f"starts with {answer.strip()[:40]!r}")


@register("text:ends_with", phrase=text())
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


@register("text:two_responses", separator=text())
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
