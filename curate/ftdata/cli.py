"""`ftdata`: curation commands. Each one parses flags and calls one library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from ftdata import __version__
from ftdata.argilla_client import ArgillaConnection
from ftdata.cli_base import EXIT_BAD_INPUT, EXIT_OK, EXIT_PROBLEMS, ToolGroup
from ftdata.jsonl import validate_files

# soft_wrap: a problem stays on one line, so grep and editors can jump to file:line.
console = Console(stderr=True, highlight=False, soft_wrap=True)


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftdata")
def main() -> None:
    """Curate fine-tuning data: import, lint, review in Argilla, export a versioned training set."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the normalised examples "
    "(with their stable ids) here as JSONL; only when every input is valid.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout instead of text.")
@click.option("--max-problems", default=50, show_default=True, help="Problems to list per file (0: all).")
def validate(files: tuple[Path, ...], out: Path | None, as_json: bool, max_problems: int) -> None:
    """Check JSONL files of examples against the contract and report every problem.

    Exit code 0 when all are valid, 1 when problems were found, 2 when a file cannot be read.
    """
    report = validate_files(files, out)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for file_report in report.files:
            shown = file_report.problems if max_problems <= 0 else file_report.problems[:max_problems]
            for problem in shown:
                console.print(str(problem), markup=False)
            if len(shown) < len(file_report.problems):
                console.print(
                    f"{file_report.path}: … and {len(file_report.problems) - len(shown)} more problem(s)"
                )
            status = (
                f"[red]{len(file_report.problems)} problem(s)[/]" if file_report.problems else "[green]ok[/]"
            )
            console.print(f"{file_report.path}: {file_report.valid_examples} valid example(s), {status}")
        if report.written:
            console.print(f"wrote {len(report.examples)} example(s) to {report.written}")
        elif out is not None:
            console.print(f"[yellow]nothing written to {out}: fix the problems above first[/]")
    if not report.all_readable:
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(EXIT_PROBLEMS if report.problem_count else EXIT_OK)


@main.command()
def ping() -> None:
    """Check the Argilla server named by ARGILLA_API_URL / ARGILLA_API_KEY: version and who we are."""
    connection = ArgillaConnection.from_env()
    version = connection.server_version()
    me = connection.client().me
    role = getattr(me.role, "value", me.role)
    click.echo(f"Argilla {version} at {connection.api_url}: signed in as {me.username} ({role})")
