"""`fteval`: evaluation commands. Each one parses flags and calls one library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ftcore.cli import EXIT_OK, EXIT_PROBLEMS, ToolGroup, progress_bars
from fteval import __version__


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fteval")
def main() -> None:
    """Compare a fine-tuned model with the base model and a prompted baseline; report regressions."""


@main.command()
@click.argument("config_path", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a setting, e.g. limit=50.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json's content on stdout instead of a table.")
def run(config_path: Path, overrides: tuple[str, ...], as_json: bool) -> None:
    """Answer the export's test split with every contestant and score them; writes answers and results.json."""
    from fteval.config import load_eval_config
    from fteval.report import write_report
    from fteval.run import run_eval

    config = load_eval_config(config_path, overrides)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    with progress_bars(console, disable=as_json) as bars:
        results = run_eval(config, progress=bars.staged)
    markdown, page = write_report(config.output_dir)
    files = {"results": str(Path(config.output_dir) / "results.json"), "report": str(page), "markdown": str(markdown)}
    if as_json:
        click.echo(json.dumps({**results.to_dict(), "files": files}, ensure_ascii=False, indent=2))
        return
    _print_results(console, results)
    console.print(f"results: {files['results']}; report: {page} and {markdown}")


def _print_results(console: Console, results) -> None:
    contestants = results.contestants
    metrics = ["strict", *(f"pass_rate/{c['id']}" for c in results.style_checks), "ifeval/inst_level_strict_acc"]
    metrics += ["rougeL", "exact_match", "loss"]
    table = Table("metric", *(escape(name) for name in contestants), box=None)
    for metric in metrics:
        cells = [_cell(contestant, metric) for contestant in contestants.values()]
        if any(cell != "–" for cell in cells):
            table.add_row(metric, *cells)
    table.add_row("tokens/s", *(f"{c.generation['tokens_per_second']:.0f}" for c in contestants.values()))
    currency = results.cost.get("currency", "USD")
    per_1k = [c.cost.get("per_1k_answers") for c in contestants.values()]
    table.add_row(f"{currency}/1k answers", *("–" if v is None else f"{v:.4g}" for v in per_1k))
    console.print(f"{results.data.n} test prompts of {results.data.dataset} ({results.data.kind})")
    console.print(table)
    for warning in results.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    console.print(f"[bold]Verdict.[/] {escape(results.verdict)}")


def _cell(contestant, metric: str) -> str:
    if metric in contestant.not_applicable:
        return "n/a"
    value = contestant.scores.get(metric)
    return "–" if value is None else f"{value:.3f}"


@main.command()
@click.argument("folder", metavar="EVAL_DIR", type=click.Path(file_okay=False, path_type=Path))
def report(folder: Path) -> None:
    """Write report.md and a self-contained report.html (plots embedded) from an `fteval run` folder."""
    from fteval.report import write_report

    markdown, page = write_report(folder)
    click.echo(f"{page}\n{markdown}")


@main.command()
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--max-drop", default=0.02, show_default=True, help="Allowed worsening of any metric.")
@click.option("--threshold", "thresholds", multiple=True, metavar="METRIC=DROP", help="Allowed drop for one metric.")
@click.option(
    "--contestant",
    "contestants",
    multiple=True,
    default=("finetuned",),
    show_default=True,
    help="A contestant to compare (repeatable; endpoint contestants by their name); 'all': every one in both.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
def compare(old: Path, new: Path, max_drop: float, thresholds, contestants, as_json: bool) -> None:
    """The regression table between two results.json files; exit 1 on a regression beyond the thresholds."""
    from fteval.compare import compare as compare_results
    from fteval.compare import load_results

    limits = {}
    for item in thresholds:
        metric, sep, value = item.partition("=")
        try:
            limits[metric] = float(value)
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: expected METRIC=DROP, e.g. strict=0.01", param_hint="--threshold"
            ) from None
        if not sep:
            raise click.BadParameter(f"{item!r}: expected METRIC=DROP", param_hint="--threshold")
    changes = compare_results(load_results(old), load_results(new), max_drop, limits, tuple(contestants))
    regressions = [c for c in changes if c.regressed]
    if as_json:
        rows = [{**c.__dict__, "worsening": c.worsening, "regressed": c.regressed} for c in changes]
        click.echo(json.dumps({"regressions": len(regressions), "changes": rows}, indent=2))
    else:
        for change in changes:
            mark = "REGRESSION" if change.regressed else "ok"
            click.echo(f"{mark:>10}  {change.describe()}")
        click.echo(f"{len(regressions)} regression(s) in {len(changes)} metric(s)", err=True)
    sys.exit(EXIT_PROBLEMS if regressions else EXIT_OK)


if __name__ == "__main__":  # `python -m fteval.cli`
    main()
