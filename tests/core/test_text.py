"""One escape for untrusted text shown to a person: error lines (ftcore.cli) and report answers (fteval.report)."""

import pytest

from ftcore.text import escape_invisible

# Written out by hand from the docstring's list: C0 controls, DEL and C1 controls, ALM, LRM, RLM, the line and
# paragraph separators, bidi embeddings/overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
ESCAPED = {*range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D,
           0x202E, 0x2066, 0x2067, 0x2068, 0x2069}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "one_line", "lines_kept"),
    [
        ("plain ünïcode 😊 مرحبا", "plain ünïcode 😊 مرحبا", "plain ünïcode 😊 مرحبا"),
        ("key\nforged line", "key\\nforged line", "key\nforged line"),
        ("a\tb\r\nc", "a\\tb\\r\\nc", "a\tb\r\nc"),
        ("bell\x07 esc\x1b[2J nul\x00", "bell\\u0007 esc\\u001b[2J nul\\u0000", "bell\\u0007 esc\\u001b[2J nul\\u0000"),
        ("\u202eexe.txt\u202c", "\\u202eexe.txt\\u202c", "\\u202eexe.txt\\u202c"),
        ("next\x85line\u2028sep\x0bvt", "next\\u0085line\\u2028sep\\u000bvt", "next\\u0085line\\u2028sep\\u000bvt"),
    ],
)
def test_escape_invisible(text, one_line, lines_kept):
    assert escape_invisible(text) == one_line
    assert escape_invisible(text, keep_line_breaks=True) == lines_kept


def test_exactly_the_listed_characters_are_escaped():
    changed = {c for c in range(0x30000) if escape_invisible(chr(c)) != chr(c)}
    assert changed == ESCAPED
    kept = {c for c in range(0x30000) if escape_invisible(chr(c), keep_line_breaks=True) != chr(c)}
    assert kept == ESCAPED - {ord("\n"), ord("\r"), ord("\t")}


def test_escaped_text_is_one_line_whatever_it_held():
    everything = "".join(map(chr, sorted(ESCAPED)))
    assert escape_invisible(everything).splitlines() == [escape_invisible(everything)]
    assert escape_invisible(everything).isprintable()
