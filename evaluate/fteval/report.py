"""`fteval report`: results people would rather look at than read — report.md and a self-contained report.html.

Plots (embedded in the HTML as PNG data, saved beside the Markdown): pass rate against cost per 1,000 answers,
each style check's pass rate by contestant, and the answers' length distributions. Tables: the contestants (pass
rate with its 95 % interval, cost per 1,000 answers), the scores with their direction, and the failing answers,
each with the checks it broke. Both files are Jinja2 templates (fteval/templates/) filled from
one context built from the results: the HTML one autoescaped, the Markdown one with every answer in a fence that no
line of it can close. Model output is untrusted text.

Usage:
    write_report("eval/latest")
    # -> (PosixPath('eval/latest/report.md'), PosixPath('eval/latest/report.html'))
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ftcore.atomic import atomic_write
from ftcore.text import escape_invisible
from fteval.compare import load_results

FAILURES_SHOWN = 40  # per contestant
ANSWER_CHARS = 600


def write_report(folder: str | os.PathLike) -> tuple[Path, Path]:
    """Build report.md, report.html and plots/ from the results.json and answers/ of an `fteval run`."""
    folder = Path(folder)
    results = load_results(folder / "results.json")
    answers = {name: _read_answers(folder / "answers" / f"{name}.jsonl") for name in results["contestants"]}
    plots = {
        "pass_rate_vs_cost": _cost_plot(results),
        "pass_rates": _pass_rate_plot(results),
        "lengths": _length_plot(answers),
    }
    (folder / "plots").mkdir(exist_ok=True)
    for name, png in plots.items():
        with atomic_write(folder / "plots" / f"{name}.png", "wb") as handle:
            handle.write(png)
    with atomic_write(folder / "report.md") as handle:
        handle.write(render_markdown(results, answers))
    with atomic_write(folder / "report.html") as handle:
        handle.write(render_html(results, answers, plots))
    return folder / "report.md", folder / "report.html"


def score_rows(results: Mapping[str, Any]) -> list[tuple[str, bool, dict[str, float]]]:
    """(metric, higher_is_better, value per contestant) in report order: strict, each check, the rest."""
    contestants = results["contestants"]
    names = ["strict", *(f"pass_rate/{c['id']}" for c in results["style_checks"])]
    names += [m for m in results["metrics"] if m not in names]
    directions = {m: meta["higher_is_better"] for m, meta in results["metrics"].items()}
    rows = []
    for metric in names:
        values = {c: contestants[c]["scores"].get(metric) for c in contestants}
        not_applicable = any(metric in (contestants[c].get("not_applicable") or {}) for c in contestants)
        if not_applicable or any(v is not None for v in values.values()):
            rows.append((metric, directions.get(metric, True), values))
    return rows


def contestant_rows(results: Mapping[str, Any]) -> list[dict[str, str]]:
    """One row per contestant: what it is, its strict pass rate with a 95 % Wilson interval, its cost per 1,000
    answers and how that was priced."""
    from fteval.paired import wilson_interval

    currency = (results.get("cost") or {}).get("currency", "USD")
    prompting = set((results.get("settings") or {}).get("prompting") or [])
    rows = []
    for name, contestant in results["contestants"].items():
        strict, n = contestant["scores"].get("strict"), contestant.get("n", 0)
        if strict is None or not n:
            rate = "–"
        else:
            low, high = wilson_interval(round(strict * n), n)
            rate = f"{strict * 100:.1f} % ({low * 100:.1f}–{high * 100:.1f})"
        cost = contestant.get("cost") or {}
        per_1k = cost.get("per_1k_answers")
        kind = contestant.get("kind", "local")
        endpoint = contestant.get("endpoint") or {}
        what = f"endpoint {endpoint.get('model', '')}".strip() if kind == "endpoint" else "local"
        if name in prompting:
            what += ", prompting"
        rows.append({
            "name": name,
            "what": what,
            "rate": rate,
            "cost": "not priced" if per_1k is None else f"{per_1k:.4g} {currency}",
            "basis": cost.get("basis", ""),
        })  # fmt: skip
    return rows


def visible(text: str) -> str:
    """An answer as the report shows it: line breaks and tabs kept, control and bidi characters as escapes."""
    return escape_invisible(text, keep_line_breaks=True)


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


def _cost_plot(results: Mapping[str, Any]) -> bytes:
    """Strict pass rate (95 % Wilson interval) against cost per 1,000 answers, one point per contestant; a contestant
    without a price sits at 0, drawn hollow and marked 'not priced'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fteval.paired import wilson_interval

    currency = (results.get("cost") or {}).get("currency", "USD")
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, contestant in results["contestants"].items():
        strict, n = contestant["scores"].get("strict"), contestant.get("n", 0)
        if strict is None or not n:
            continue
        low, high = wilson_interval(round(strict * n), n)
        per_1k = (contestant.get("cost") or {}).get("per_1k_answers")
        x = 0.0 if per_1k is None else per_1k
        axis.errorbar([x], [strict], yerr=[[max(0.0, strict - low)], [max(0.0, high - strict)]], fmt="o", capsize=4,
                      mfc="none" if per_1k is None else None)  # fmt: skip
        axis.annotate(name + (" (not priced)" if per_1k is None else ""), (x, strict), textcoords="offset points",
                      xytext=(6, 4), fontsize=8)  # fmt: skip
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel(f"cost per 1,000 answers ({currency})")
    axis.set_ylabel("strict pass rate (95 % interval)")
    axis.set_title("Pass rate against cost (up and to the left is better)")
    return _figure_png(figure)


def _pass_rate_plot(results: Mapping[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    checks = ["strict", *(f"pass_rate/{c['id']}" for c in results["style_checks"])]
    checks += [m for m in ("ifeval/inst_level_strict_acc",) if m in results["metrics"]]
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
    if references and all(a.get("reference") is not None for a in references):  # prompts without answers: none
        lengths["reference"] = [len(a["reference"].split()) for a in references]
    axis.boxplot(list(lengths.values()), tick_labels=list(lengths))
    axis.set_ylabel("words per answer")
    axis.set_title("Answer lengths")
    return _figure_png(figure)


def verdict_text(results: Mapping[str, Any]) -> str:
    """results.json's verdict, or one computed now for results written before verdicts existed."""
    from fteval.verdict import verdict

    return results.get("verdict") or verdict(results)


COMPARISON_HEADER = ("metric", "contestant", "baseline", "difference", "95 % CI", "McNemar p", "verdict")


def comparison_rows(results: Mapping[str, Any]) -> list[tuple[str, ...]]:
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


def _failures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("failed_checks")]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def report_context(results: Mapping[str, Any], answers: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What both templates show, from results.json's content and each contestant's answers: plain values, cut and
    with invisible characters escaped, that a template only places."""
    contestants = list(results["contestants"])
    data = results["data"]
    scores = []
    for metric, up, values in score_rows(results):
        present = [v for v in values.values() if v is not None]
        best = (max(present) if up else min(present)) if present else None
        cells = [
            {
                "text": "n/a" if metric in (results["contestants"][c].get("not_applicable") or {}) else _fmt(values[c]),
                "best": values[c] is not None and values[c] == best,
            }
            for c in contestants
        ]
        scores.append({"metric": metric, "direction": "higher" if up else "lower", "cells": cells})
    sections = []
    for name in contestants:
        failing = _failures(answers[name])
        failures = [
            {
                "id": row["id"],
                "broken": ", ".join(f"{k} ({v})" if v else k for k, v in row["failed_checks"].items()),
                "answer": visible(row["answer"][:ANSWER_CHARS]),
            }
            for row in failing[:FAILURES_SHOWN]
        ]
        sections.append({"contestant": name, "failing": len(failing), "failures": failures})
    return {
        "contestant_rows": contestant_rows(results),
        "notes": list(results.get("warnings") or []),
        "fewshot": _fewshot_line(results.get("fewshot")),
        "dataset": data["dataset"],
        "n": data["n"],
        "fingerprint": data["manifest_fingerprint"][:12],
        "base_model": results["base_model"],
        "created_at": results.get("created_at", ""),
        "verdict": verdict_text(results),
        "contestants": contestants,
        "scores": scores,
        "comparison_header": COMPARISON_HEADER,
        "comparisons": comparison_rows(results),
        "sections": sections,
    }


def _fewshot_line(fewshot: Mapping[str, Any] | None) -> str:
    if not fewshot:
        return ""
    ids = ", ".join(fewshot.get("ids") or []) or "none"
    strata = f", strata {', '.join(fewshot['strata'])}" if fewshot.get("strata") else ""
    return (
        f"Few-shot examples (from {fewshot.get('source')}, train split, seed {fewshot.get('seed')}): {ids}"
        f" ({fewshot.get('tokens')} tokens of {fewshot.get('max_tokens')}{strata})"
    )


def render_markdown(results: Mapping[str, Any], answers: Mapping[str, list[dict[str, Any]]]) -> str:
    """report.md's text for results.json's content and the answers by contestant."""
    return _template("report.md.j2").render(report_context(results, answers))


def render_html(
    results: Mapping[str, Any], answers: Mapping[str, list[dict[str, Any]]], plots: Mapping[str, bytes]
) -> str:
    """report.html's text, with `plots` (name -> PNG bytes) embedded as data URIs: one file that stands alone."""
    embedded = {name: base64.b64encode(png).decode("ascii") for name, png in plots.items()}
    return _template("report.html.j2").render(report_context(results, answers), plots=embedded)


@cache
def _template(name: str) -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("fteval", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,  # a name missing from the context is an error, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["code_span"] = _code_span
    environment.filters["fence"] = _fence
    return environment.get_template(name)


def _fence(text: str) -> str:
    """A Markdown code fence that no line of `text` can close: longer than its longest run of backticks."""
    return "`" * max(3, _longest_backtick_run(text) + 1)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _code_span(text: str) -> str:
    """`text` as one Markdown code span (so no HTML or emphasis in it renders), whatever backticks it holds."""
    text = " ".join(visible(text).splitlines())
    ticks = "`" * (_longest_backtick_run(text) + 1)
    return f"{ticks} {text} {ticks}" if text.startswith("`") or text.endswith("`") else f"{ticks}{text}{ticks}"
