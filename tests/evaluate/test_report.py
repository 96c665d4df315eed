"""The report: three files, plots embedded, and hostile answers escaped (checked by parsing the page)."""

import json
from html.parser import HTMLParser

from click.testing import CliRunner

from fteval.cli import main
from fteval.report import write_report

HOSTILE = "<script>alert(1)</script> **bold** ‮reversed‬ </td></table><img src=x onerror=alert(2)>\x07"


def make_eval_folder(folder):
    results = {
        "schema_version": 1,
        "created_at": "2026-11-28T00:00:00+00:00",
        "metrics": {"strict": {"higher_is_better": True}, "loss": {"higher_is_better": False}},
        "style_checks": [{"id": "final-answer-line"}],
        "data": {"dataset": "demo <b>", "n": 2, "manifest_fingerprint": "f" * 64, "split": "test", "folder": "x"},
        "base_model": "tiny",
        "contestants": {
            "base": {"scores": {"strict": 0.0, "pass_rate/final-answer-line": 0.0, "loss": 3.0}},
            "finetuned": {"scores": {"strict": 0.5, "pass_rate/final-answer-line": 0.5, "loss": 1.0}},
        },
    }
    (folder / "answers").mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    for name in results["contestants"]:
        rows = [
            {
                "id": "ex_1",
                "prompt": [],
                "answer": HOSTILE,
                "reference": "#### 4",
                "failed_checks": {"final-answer-line": "x"},
            },
            {"id": "ex_2", "prompt": [], "answer": "2+2=4\n#### 4", "reference": "#### 4", "failed_checks": {}},
        ]
        (folder / "answers" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def test_report_files_plots_and_escaping(tmp_path):
    make_eval_folder(tmp_path)
    markdown, page = write_report(tmp_path)
    assert markdown.read_text().startswith("# fteval report: demo <b>")
    parser = Collector()
    parser.feed(page.read_text())
    assert "script" not in parser.tags  # the answer's <script> is text, not a tag
    assert [img["alt"] for img in parser.images] == ["pass_rate_vs_cost", "pass_rates", "lengths"]
    assert all(img["src"].startswith("data:image/png;base64,") for img in parser.images)  # self-contained
    text = "".join(parser.text)
    assert "<script>alert(1)</script>" in text and "demo <b>" in text
    assert "\u202e" not in page.read_text() and "\\u202e" in text and "\\u0007" in text  # overrides shown, not obeyed
    assert (tmp_path / "plots" / "pass_rates.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_report(tmp_path):
    make_eval_folder(tmp_path)
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 0 and "report.html" in result.output


def test_the_report_opens_with_the_verdict_and_the_paired_comparisons(tmp_path):
    from fteval.paired import paired_comparison

    make_eval_folder(tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    results["contestants"]["base+prompt"] = {"scores": {"strict": 0.1, "pass_rate/final-answer-line": 0.1}}
    comparison = paired_comparison("strict", "base+prompt", [0] * 36 + [1] * 4, "finetuned", [1] * 40)
    results["comparisons"] = [comparison.to_dict()]
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "answers" / "base+prompt.jsonl").write_text((tmp_path / "answers" / "base.jsonl").read_text())
    markdown, page = write_report(tmp_path)
    lines = markdown.read_text().splitlines()
    assert lines[4].startswith(
        "**Verdict.** The fine-tune beats the best prompting contestant, base+prompt: 50.0 % vs 10.0 % on format "
        "adherence, +90.0"
    )
    assert "| strict | finetuned | base+prompt | +90.0 |" in markdown.read_text()
    parser = Collector()
    parser.feed(page.read_text())
    text = "".join(parser.text)
    assert "Verdict. The fine-tune beats the best prompting contestant" in text and "Paired comparisons" in text
