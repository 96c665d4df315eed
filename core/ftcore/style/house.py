"""House-format checks on the answer's text: patterns, the last line, length, sections, phrases and letter case.

They read the raw text, whatever format it is in: for a rule on one field of a JSON answer, use a `json:` check
(`ftcore.style.json_checks`), which fails when the answer is not JSON instead of passing on text it cannot read.

>>> from ftcore.style import run_check
>>> run_check("lines:last_matches", "4\\n#### 4", pattern="#### [0-9]+").passed
True
"""

from __future__ import annotations

import re

from ftcore.style.registry import CheckResult, integer, one_of, pattern, register, strings


@register("regex:must_match", pattern=pattern())
def _regex_must_match(answer: str, *, pattern: re.Pattern) -> CheckResult:
    """The answer contains a match of `pattern` (Python regex, search)."""
    return CheckResult(True) if pattern.search(answer) else CheckResult(False, f"no match for {pattern.pattern!r}")


@register("regex:must_not_match", pattern=pattern())
def _regex_must_not_match(answer: str, *, pattern: re.Pattern) -> CheckResult:
    """The answer contains no match of `pattern`."""
    found = pattern.search(answer)
    return CheckResult(False, f"found {found.group(0)[:60]!r}") if found else CheckResult(True)


@register("regex:count_min", pattern=pattern(), min=integer(minimum=0))
def _regex_count_min(answer: str, *, pattern: re.Pattern, min: int) -> CheckResult:
    """`pattern` occurs at least `min` times."""
    count = len(pattern.findall(answer))
    return CheckResult(count >= min, "" if count >= min else f"{count} match(es), need {min}")


@register("lines:last_matches", pattern=pattern())
def _last_line_matches(answer: str, *, pattern: re.Pattern) -> CheckResult:
    """The last non-empty line matches `pattern` in full."""
    lines = [line.strip() for line in answer.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return CheckResult(True) if pattern.fullmatch(last) else CheckResult(False, f"last line is {last[:60]!r}")


@register("length:max_words", max=integer(minimum=0))
def _max_words(answer: str, *, max: int) -> CheckResult:
    """At most `max` words (whitespace-separated)."""
    count = len(answer.split())
    return CheckResult(count <= max, "" if count <= max else f"{count} words, max {max}")


@register("length:min_words", min=integer(minimum=0))
def _min_words(answer: str, *, min: int) -> CheckResult:
    """At least `min` words."""
    count = len(answer.split())
    return CheckResult(count >= min, "" if count >= min else f"{count} words, min {min}")


@register("sections:required", headings=strings())
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


@register("phrases:forbidden", phrases=strings())
def _forbidden_phrases(answer: str, *, phrases: list) -> CheckResult:
    """None of `phrases` appears (case-insensitive)."""
    folded = answer.casefold()
    found = [p for p in phrases if p.casefold() in folded]
    return CheckResult(False, f"contains {found[0]!r}") if found else CheckResult(True)


CASING_STYLES = ("lower", "upper", "sentence")


@register("casing:style", style=one_of(*CASING_STYLES))
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
