"""Untrusted text shown to a person: characters that would hide, reorder or break it are written as escapes.

Input reaches messages and reports (a JSON key in an error, a CSV header, a model's answer): control characters could
drive a terminal, line breaks could forge a second line of output, and bidirectional overrides could show a reader
text in an order other than the one it has. `escape_invisible` writes each of them as `\\uXXXX`.

>>> escape_invisible("bad key\\n\\u202egnp.exe")
'bad key\\\\n\\\\u202egnp.exe'
>>> escape_invisible("line one\\nline two\\x07", keep_line_breaks=True)
'line one\\nline two\\\\u0007'
"""

from __future__ import annotations

import unicodedata

# C0 and C1 controls and DEL; the Arabic letter mark, left-to-right and right-to-left marks; the line and paragraph
# separators; bidi embeddings, overrides and isolates.
_INVISIBLE = [
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_NAMED = {ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"}
_ONE_LINE = {c: f"\\u{c:04x}" for c in _INVISIBLE} | _NAMED
_LINES_KEPT = {c: escape for c, escape in _ONE_LINE.items() if c not in _NAMED}


def escape_invisible(text: str, keep_line_breaks: bool = False) -> str:
    """`text` with control characters, line breaks and bidi controls written as escapes (`\\u202e`, `\\n`).

    With `keep_line_breaks`, line feeds, carriage returns and tabs stay as they are (an answer shown in a report);
    without, the text stays on one line (an error message).
    """
    return text.translate(_LINES_KEPT if keep_line_breaks else _ONE_LINE)


def duplicate_key(text: str) -> str:
    """The form two texts share when they are exact duplicates: NFKC, casefolded, whitespace collapsed.

    >>> duplicate_key("  Ｗhat is\\n2+2?\\u00a0 ")
    'what is 2+2?'
    """
    # NFKC folds compatibility forms (full-width letters, ligatures, non-breaking spaces) that a
    # copy-paste introduces; str.split() without arguments splits on every Unicode whitespace run.
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
