"""Model answers are untrusted text: in report.html and report.md they stay text, whatever they hold.

Checked by parsing: the HTML page with the stdlib parser (the same tags as with benign answers, no script, the
answers in the text escaped), the Markdown with markdown-it (each answer one fenced block that gives it back whole).
"""

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt
from report_helpers import make_eval_folder

from fteval.report import ANSWER_CHARS, FAILURES_SHOWN, visible, write_report

HOSTILE = [
    "<script>alert(1)</script>",
    "</pre></td></tr></table><script src=//evil.example/x.js></script><table><tr><td><pre>",
    "<img src=x onerror=alert(2)><svg onload=alert(3)><iframe src=javascript:alert(4)></iframe>",
    '" onmouseover="alert(5)" x="',
    "' onfocus='alert(6)' autofocus='",
    "<style>body{display:none}</style><base href=//evil.example/><meta http-equiv=refresh content=0>",
    "<!-- an unclosed comment",
    "<![CDATA[ ]]> &lt;already escaped&gt; &amp; &#x3C;script&#x3E;",
    "```\n# an injected heading\n```\n<script>alert(7)</script>\n```",
    "````\nfour backticks\n`````\n~~~\ntildes\n~~~",
    "   ```python\nindented fence\n   ```",
    "</details>\n\n| a | table |\n|---|---|\n\n[click](javascript:alert(8)) ![](//evil.example/pixel.png)",
    "* list\n> quote\n---\n<div>a block</div>\n\n- `code` with ` a lone backtick",
    "x" * 100_000,
    "a" + " long line" * 20_000,
    "bell\x07 nul\x00 escape\x1b[2J erase\x7f vtab\x0b feed\x0c c1\x85\x9b",
    "\u202eevil.exe\u202c \u2066isolate\u2069 \u200fRLM \u2067\u2068",
    "line\u2028separator\u2029paragraph\r\ncrlf\rcr",
    "#### 42\n#### <b>43</b>",
]
BENIGN = [f"Plain answer number {i}, with nothing special in it." for i in range(len(HOSTILE))]
CONTESTANTS = ("base", "base+prompt", "finetuned")
# C0 and C1 controls but newline, tab and carriage return; bidi marks, embeddings, overrides and isolates.
BIDI_AND_CONTROL = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), 0x061C,
                                     0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]]  # fmt: skip


class Page(HTMLParser):
    """Every start tag with its attribute names, and the text; anything the parser could not place."""

    def __init__(self):
        super().__init__()
        self.tags, self.text, self.odd = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, tuple(name for name, _ in attrs)))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        self.tags.append((f"/{tag}", ()))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.odd.append(("comment", data))

    def handle_decl(self, decl):
        if decl.lower() != "doctype html":
            self.odd.append(("decl", decl))

    def unknown_decl(self, data):
        self.odd.append(("unknown", data))

    def handle_pi(self, data):
        self.odd.append(("pi", data))


def parse(path) -> Page:
    page = Page()
    page.feed(path.read_bytes().decode("utf-8"))  # read_text would turn \r\n into \n
    page.close()
    return page


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """(benign, hostile): the report files of two runs that differ only in their answers."""
    built = []
    for name, answers in (("benign", BENIGN), ("hostile", HOSTILE)):
        folder = make_eval_folder(tmp_path_factory.mktemp(name), dict.fromkeys(CONTESTANTS, answers))
        built.append(write_report(folder))
    return built


def test_answers_add_no_element_or_attribute_to_the_page(reports):
    (_, benign), (_, hostile) = reports
    page, baseline = parse(hostile), parse(benign)
    assert len(HOSTILE) <= FAILURES_SHOWN  # every hostile answer is on the page
    assert page.tags == baseline.tags  # the same elements, in the same order, with the same attribute names
    assert not any(tag == "script" for tag, _ in page.tags)
    assert page.odd == []  # no comment, CDATA or declaration came from an answer
    raw = hostile.read_bytes().decode("utf-8")
    assert raw.endswith("</html>\n") and raw.count("</html>") == 1


def test_answers_show_as_escaped_text(reports):
    _, (_, hostile) = reports
    text = "".join(parse(hostile).text)
    for answer in HOSTILE:
        assert visible(answer[:ANSWER_CHARS]) in text, answer[:80]
    raw = hostile.read_bytes().decode("utf-8")
    assert "<script" not in raw.lower()
    assert [char for char in BIDI_AND_CONTROL if char in raw] == []  # shown as escapes, never obeyed
    assert "\\u202e" in text and "\\u0007" in text and "\\u001b[2J" in text
    assert "x" * 100_000 not in raw and "x" * ANSWER_CHARS in text  # a 100k-character line is cut, not dropped


def markdown_fences(path):
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    return tokens, [t for t in tokens if t.type in ("fence", "code_block")]


def test_markdown_keeps_every_answer_inside_its_fence(reports):
    (hostile_md, _), (benign_md, _) = reports[1], reports[0]
    tokens, fences = markdown_fences(hostile_md)
    _, benign_fences = markdown_fences(benign_md)
    assert len(fences) == len(benign_fences) == len(HOSTILE) * len(CONTESTANTS)
    for fence, answer in zip(fences, HOSTILE * len(CONTESTANTS), strict=True):
        shown = "\n".join(visible(answer[:ANSWER_CHARS]).splitlines())
        assert fence.content.rstrip("\n") == shown.replace("\x00", "\ufffd"), answer[:80]
    # Outside the fences: only what the report itself writes (no heading, HTML or table from an answer).
    headings = [t for t in tokens if t.type == "heading_open"]
    assert len(headings) == 1 + len(CONTESTANTS) + (1 if "## Paired comparisons" in hostile_md.read_text() else 0)
    assert not [t for t in tokens if t.type == "html_block"]
    inline_html = [c for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "html_inline"]
    assert inline_html == []


def test_review_queue_keeps_answers_that_hold_line_separators(tmp_path):
    """answers/*.jsonl is split on "\n" only: U+2028, U+2029 and U+0085 stay inside the answer that holds them."""
    from ftcore import read_examples
    from fteval.run import review_queue

    answers = ["line\u2028separator", "paragraph\u2029separator", "next\x85line", "plain, no final line"]
    folder = make_eval_folder(tmp_path, {"finetuned": answers})
    queue = read_examples(review_queue(folder, "finetuned"))
    assert [example.completion for example in queue] == answers  # none of them holds the '#### n' line
