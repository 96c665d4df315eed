"""`fteval report`: results people would rather look at than read — report.md and a self-contained report.html.

Plots (embedded in the HTML as PNG data, saved beside the Markdown): each style check's pass rate
by contestant, and the answers' length distributions. Tables: the scores with their direction, and
the failing answers, each with the checks it broke. Every answer is HTML-escaped: model output is
untrusted text.

Usage:
    write_report("eval/latest")
    # -> (PosixPath('eval/latest/report.md'), PosixPath('eval/latest/report.html'))
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from ftcore.atomic import atomic_write
from fteval.compare import load_results

FAILURES_SHOWN = 40  # per contestant
ANSWER_CHARS = 600


def write_report(folder: str | os.PathLike) -> tuple[Path, Path]:
    """Build report.md, report.html and plots/ from the results.json and answers/ of an `fteval run`."""
    folder = Path(folder)
    results = load_results(folder / "results.json")
    answers = {name: _read_answers(folder / "answers" / f"{name}.jsonl") for name in results["contestants"]}
    plots = {"pass_rates": _pass_rate_plot(results), "lengths": _length_plot(answers)}
    (folder / "plots").mkdir(exist_ok=True)
    for name, png in plots.items():
        with atomic_write(folder / "plots" / f"{name}.png", "wb") as handle:
            handle.write(png)
    markdown = _markdown(results, answers)
    with atomic_write(folder / "report.md") as handle:
        handle.write(markdown)
    with atomic_write(folder / "report.html") as handle:
        handle.write(_html(results, answers, plots))
    return folder / "report.md", folder / "report.html"


def score_rows(results: dict[str, Any]) -> list[tuple[str, bool, dict[str, float]]]:
    """(metric, higher_is_better, value per contestant) in report order: strict, each check, the rest."""
    contestants = results["contestants"]
    names = ["strict", *(f"pass_rate/{c['id']}" for c in results["style_checks"])]
    names += [m for m in results["metrics"] if m not in names]
    directions = {m: meta["higher_is_better"] for m, meta in results["metrics"].items()}
    rows = []
    for metric in names:
        values = {c: contestants[c]["scores"].get(metric) for c in contestants}
        if any(v is not None for v in values.values()):
            rows.append((metric, directions.get(metric, True), values))
    return rows


# Bidirectional overrides and control characters could reorder or hide what a reader sees of an
# answer: they are shown as escapes instead.
_INVISIBLE = {c: f"\\u{c:04x}" for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0),
                                        0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                                        *range(0x2066, 0x206A)]}  # fmt: skip


def visible(text: str) -> str:
    """`text` with bidi overrides and control characters replaced by their escapes (newlines and tabs kept)."""
    return text.translate(_INVISIBLE)


def _read_answers(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    # split("\n"), not splitlines(): an answer may hold U+2028 or U+0085, which JSON leaves unescaped.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _figure_png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def _pass_rate_plot(results: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    checks = ["strict", *(f"pass_rate/{c['id']}" for c in results["style_checks"])]
    contestants = list(results["contestants"])
    figure, axis = plt.subplots(figsize=(max(6, 1.6 * len(checks)), 4), dpi=110)
    width = 0.8 / max(1, len(contestants))
    for index, name in enumerate(contestants):
        values = [results["contestants"][name]["scores"].get(check, 0.0) for check in checks]
        axis.bar(np.arange(len(checks)) + index * width, values, width, label=name)
    axis.set_xticks(np.arange(len(checks)) + width * (len(contestants) - 1) / 2)
    axis.set_xticklabels([c.removeprefix("pass_rate/") for c in checks], rotation=20, ha="right")
    axis.set_ylim(0, 1)
    axis.set_ylabel("share of test answers passing")
    axis.set_title("Style checks by contestant (higher is better)")
    axis.legend()
    return _figure_png(figure)


def _length_plot(answers: dict[str, list[dict[str, Any]]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4), dpi=110)
    lengths = {name: [len(a["answer"].split()) for a in rows] for name, rows in answers.items()}
    references = next((rows for rows in answers.values() if rows), [])
    if references:
        lengths["reference"] = [len(a["reference"].split()) for a in references]
    axis.boxplot(list(lengths.values()), tick_labels=list(lengths))
    axis.set_ylabel("words per answer")
    axis.set_title("Answer lengths")
    return _figure_png(figure)


def verdict_text(results: dict[str, Any]) -> str:
    """results.json's verdict, or one computed now for results written before verdicts existed."""
    from fteval.verdict import verdict

    return results.get("verdict") or verdict(results)


COMPARISON_HEADER = ("metric", "contestant", "baseline", "difference", "95 % CI", "McNemar p", "verdict")


def comparison_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """The paired comparisons as table cells; differences in points (x100) for shares, raw for other metrics."""
    rows = []
    for c in results.get("comparisons", []):
        scale = 100 if c["metric"] != "loss" else 1
        rows.append(
            (
                c["metric"],
                c["contestant"],
                c["baseline"],
                f"{c['difference'] * scale:+.1f}",
                f"{c['ci_low'] * scale:+.1f} to {c['ci_high'] * scale:+.1f}",
                "–" if c.get("p_value") is None else f"{c['p_value']:.3g}",
                c["verdict"],
            )
        )
    return rows


def _comparison_markdown(results: dict[str, Any]) -> list[str]:
    rows = comparison_rows(results)
    if not rows:
        return []
    lines = [
        "## Paired comparisons",
        "",
        "Every contestant answered the same test prompts: differences are per example, in points (percentage "
        "points for pass rates), with a paired bootstrap 95 % interval; 'better'/'worse' only where the interval "
        "excludes zero and McNemar's exact test agrees.",
        "",
        "| " + " | ".join(COMPARISON_HEADER) + " |",
        "|" + "---|" * len(COMPARISON_HEADER),
    ]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _comparison_html(results: dict[str, Any]) -> str:
    rows = comparison_rows(results)
    if not rows:
        return ""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in COMPARISON_HEADER)
    cells = ["".join(f"<td>{esc(cell)}</td>" for cell in row[:-1]) for row in rows]
    body = "".join(
        f"<tr>{text}<td class='{esc(row[-1])}'>{esc(row[-1])}</td></tr>" for text, row in zip(cells, rows, strict=True)
    )
    return (
        "<h2>Paired comparisons</h2><p>Same test prompts for every contestant: per-example differences with a paired "
        "bootstrap 95 % interval; 'better'/'worse' only where it excludes zero and McNemar's exact test agrees.</p>"
        f"<table><tr>{head}</tr>{body}</table>"
    )


def _failures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("failed_checks")]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _markdown(results: dict[str, Any], answers: dict[str, list[dict[str, Any]]]) -> str:
    contestants = list(results["contestants"])
    data = results["data"]
    lines = [
        f"# fteval report: {data['dataset']}",
        "",
        f"{data['n']} test examples; manifest `{data['manifest_fingerprint'][:12]}`; "
        f"base model `{results['base_model']}`.",
        "",
        f"**Verdict.** {verdict_text(results)}",
        "",
        "| metric | direction | " + " | ".join(contestants) + " |",
        "|---|---|" + "---|" * len(contestants),
    ]
    for metric, up, values in score_rows(results):
        cells = " | ".join(_fmt(values[c]) for c in contestants)
        lines.append(f"| {metric} | {'higher' if up else 'lower'} is better | {cells} |")
    lines += ["", *_comparison_markdown(results)]
    lines += ["", "![pass rates](plots/pass_rates.png)", "", "![lengths](plots/lengths.png)", ""]
    for name in contestants:
        failing = _failures(answers[name])
        lines += [f"## {name}: {len(failing)} answer(s) break the style", ""]
        for row in failing[:FAILURES_SHOWN]:
            broken = ", ".join(f"{k} ({v})" if v else k for k, v in row["failed_checks"].items())
            answer = visible(row["answer"][:ANSWER_CHARS])
            fence = "`" * max(3, _longest_backtick_run(answer) + 1)  # no line of the answer can close it
            lines += [
                f"- `{row['id']}` — {_code_span(broken)}",
                "",
                f"  {fence}",
                *("  " + t for t in answer.splitlines()),
                f"  {fence}",
                "",
            ]
    return "\n".join(lines) + "\n"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _code_span(text: str) -> str:
    """`text` as one Markdown code span (so no HTML or emphasis in it renders), whatever backticks it holds."""
    text = " ".join(visible(text).splitlines())
    ticks = "`" * (_longest_backtick_run(text) + 1)
    return f"{ticks} {text} {ticks}" if text.startswith("`") or text.endswith("`") else f"{ticks}{text}{ticks}"


def _html(results: dict[str, Any], answers: dict[str, list[dict[str, Any]]], plots: dict[str, bytes]) -> str:
    esc = html.escape
    contestants = list(results["contestants"])
    data = results["data"]
    head = "".join(f"<th>{esc(c)}</th>" for c in contestants)
    rows = []
    for metric, up, values in score_rows(results):
        present = [v for v in values.values() if v is not None]
        best = (max(present) if up else min(present)) if present else None
        cells = "".join(
            f"<td class='{'best' if values[c] is not None and values[c] == best else ''}'>{_fmt(values[c])}</td>"
            for c in contestants
        )
        rows.append(f"<tr><th>{esc(metric)}</th><td>{'higher' if up else 'lower'}</td>{cells}</tr>")
    images = "".join(
        f"<img alt='{esc(name)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        for name, png in plots.items()
    )
    sections = []
    for name in contestants:
        failing = _failures(answers[name])
        items = []
        for row in failing[:FAILURES_SHOWN]:
            broken = ", ".join(f"{k} ({v})" if v else k for k, v in row["failed_checks"].items())
            items.append(
                f"<tr><td><code>{esc(row['id'])}</code></td><td>{esc(broken)}</td>"
                f"<td><pre>{esc(visible(row['answer'][:ANSWER_CHARS]))}</pre></td></tr>"
            )
        sections.append(
            f"<h2>{esc(name)}: {len(failing)} answer(s) break the style</h2>"
            f"<table><tr><th>id</th><th>broken checks</th><th>answer</th></tr>{''.join(items)}</table>"
        )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;"
        "vertical-align:top}td.best{background:#e6f4ea;font-weight:600}pre{white-space:pre-wrap;margin:0;"
        "max-width:700px}img{max-width:100%;display:block;margin:1em 0}"
        ".verdict{font-size:1.1em;background:#f4f6fb;padding:.8em 1em;border-left:4px solid #3b5bdb}"
        "td.better{color:#0a7a2f;font-weight:600}td.worse{color:#b3261e;font-weight:600}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>fteval report: {esc(data['dataset'])}</title><style>{style}</style></head><body>"
        f"<h1>fteval report: {esc(data['dataset'])}</h1>"
        f"<p>{data['n']} test examples; manifest <code>{esc(data['manifest_fingerprint'][:12])}</code>; "
        f"base model <code>{esc(results['base_model'])}</code>; created {esc(results.get('created_at', ''))}.</p>"
        f"<p class='verdict'><strong>Verdict.</strong> {esc(verdict_text(results))}</p>"
        f"<table><tr><th>metric</th><th>direction</th>{head}</tr>{''.join(rows)}</table>"
        f"{_comparison_html(results)}"
        f"{images}{''.join(sections)}</body></html>\n"
    )
