"""`ftdata`: curation commands. Each one parses flags and calls one library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ftcore import __version__
from ftcore.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_PROBLEMS, ToolGroup, progress_bars
from ftcore.jsonl import validate_files
from ftcore.text import escape_invisible
from ftdata.argilla_client import ArgillaConnection
from ftdata.importers import FORMATS, ColumnMap, import_files
from ftdata.project import Project, init_project

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
    help="Write the normalised examples (with their stable ids) here as JSONL; only when every input is valid.",
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
                console.print(escape_invisible(str(problem)), markup=False)
            if len(shown) < len(file_report.problems):
                console.print(f"{file_report.path}: … and {len(file_report.problems) - len(shown)} more problem(s)")
            status = f"[red]{len(file_report.problems)} problem(s)[/]" if file_report.problems else "[green]ok[/]"
            console.print(f"{file_report.path}: {file_report.valid_examples} valid example(s), {status}")
        if report.written:
            console.print(f"wrote {len(report.examples)} example(s) to {report.written}")
        elif out is not None:
            console.print(f"[yellow]nothing written to {out}: fix the problems above first[/]")
    if not report.all_readable:
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(EXIT_PROBLEMS if report.problem_count else EXIT_OK)


project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project folder (with ftdata.yaml). Default: the current folder.",
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a setting of ftdata.yaml, e.g. lint.max_seq_len=4096.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout instead of text.")


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dataset", help="Dataset name to write into the config.")
@click.option("--force", is_flag=True, help="Overwrite an existing ftdata.yaml.")
def init(directory: Path, dataset: str | None, force: bool) -> None:
    """Start a curation project: write a commented ftdata.yaml with every setting at its default."""
    path = init_project(directory, dataset=dataset, force=force)
    console.print(f"wrote {path}: edit it, then `ftdata import FILE...`")


@main.command(name="import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Input format; auto picks by extension, then by content.",
)
@click.option(
    "--map",
    "mapping",
    metavar="ROLE=COLUMN,...",
    help="Columns holding the turns, e.g. user=question,assistant=answer[,system=instructions].",
)
@project_option
@set_option
@json_option
def import_(sources, fmt, mapping, project_dir, overrides, as_json) -> None:
    """Read raw examples (JSONL, CSV, Parquet, a saved `datasets` folder) into the project's store.

    Re-importing a file adds nothing: ids come from the content. Rows that break the contract are
    kept aside and reported by `ftdata check`. A file that cannot be read changes nothing (exit 2).
    """
    project = Project.open(project_dir, overrides)
    column_map = ColumnMap.parse(mapping) if mapping else None
    with progress_bars(console, disable=as_json) as bars:
        results = import_files(project, sources, fmt, column_map, progress=bars.counter("importing rows"))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        table = Table("format", "rows", "added", "already in store", "rejected", "source", box=None)
        for r in results:
            table.add_row(r.format, str(r.rows), str(r.added), str(r.already_present), str(len(r.rejected)), r.source)
        console.print(table)
        if any(r.rejected for r in results):
            console.print("rejected rows are listed by `ftdata check` (kind: schema)")
    sys.exit(EXIT_PROBLEMS if any(r.rejected for r in results) else EXIT_OK)


@main.command()
@click.option(
    "--style",
    "style_path",
    type=click.Path(dir_okay=False),
    help="Style spec to check answers against (default: style in ftdata.yaml).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "error"]),
    default="warning",
    show_default=True,
    help="Lowest severity that makes the exit code 1.",
)
@click.option("--limit", default=5, show_default=True, help="Issues to list per kind (0: all).")
@project_option
@set_option
@json_option
def check(style_path, fail_on, limit, project_dir, overrides, as_json) -> None:
    """Lint the store: schema, duplicates, near-duplicates, leakage, PII and secrets, length, style, count.

    Exit code 0 when clean, 1 when problems were found, 2 on bad usage or unreadable input.
    """
    from ftdata.lint import lint  # the checks pull in detect-secrets, MinHash, transformers: not for --help

    project = Project.open(project_dir, overrides)
    with progress_bars(console, disable=as_json) as bars:
        report = lint(project, style_path=style_path, progress=bars.staged)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_lint_report(report, limit)
    worst = report.worst()
    failing = worst == "error" or (worst == "warning" and fail_on == "warning")
    sys.exit(EXIT_PROBLEMS if failing else EXIT_OK)


@main.command()
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save the token histogram (default: .ftdata/token_histogram.png in the project).",
)
@project_option
@set_option
@json_option
def stats(plot, project_dir, overrides, as_json) -> None:
    """Counts by source and tag, token distributions, training tokens, and what training will cost."""
    from ftdata.stats import compute_stats, plot_token_histogram

    project = Project.open(project_dir, overrides)
    with progress_bars(console, disable=as_json) as bars:
        result = compute_stats(project, progress=bars.counter("counting tokens"))
    plot_path = plot_token_histogram(
        result, plot or project.resolve(".ftdata/token_histogram.png"), project.config.lint.seq_len
    )
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "plot": str(plot_path)}, ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]{result.examples}[/] examples, tokenizer {result.tokenizer}")
    counts = Table("source", "examples", box=None)
    for source, n in result.by_source.items():
        counts.add_row(source, str(n))
    console.print(counts)
    if result.by_tag:
        tags = Table("tag", "examples", box=None)
        for tag, n in result.by_tag.items():
            tags.add_row(tag, str(n))
        console.print(tags)
    tokens = Table("tokens", "min", "p50", "p95", "max", "mean", box=None)
    for name, dist in (("prompt", result.prompt_tokens), ("completion", result.completion_tokens)):
        tokens.add_row(name, *(str(v) for v in (dist.min, dist.p50, dist.p95, dist.max, dist.mean)))
    console.print(tokens)
    console.print(f"training tokens: {result.dataset_tokens:,} x {result.epochs:g} epochs = {result.training_tokens:,}")
    for name, usd in result.costs.items():
        console.print(f"  {name}: ${usd:,.2f}")
    console.print(
        f"  your GPU: {result.gpu_hours:.2f} h at {result.gpu_tokens_per_second:g} tokens/s, "
        f"${result.gpu_cost:,.2f} at ${result.gpu_usd_per_hour:g}/h"
    )
    console.print(f"histogram: {plot_path}")


def _print_lint_report(report, limit: int) -> None:
    from ftdata.lint import KINDS

    table = Table("check", "severity", "count", "first", box=None)
    for kind in KINDS:
        issues = report.issues[kind]
        if kind in report.skipped:
            table.add_row(kind, "-", "skipped", report.skipped[kind])
            continue
        severity = report.severity(kind)
        colour = "green" if not issues else ("red" if severity == "error" else "yellow")
        first = ", ".join(issues[0].locations[:3]) if issues else ""
        table.add_row(kind, f"[{colour}]{severity if issues else 'ok'}[/]", str(len(issues)), first)
    console.print(f"[bold]{report.examples}[/] examples, [bold]{report.usable}[/] usable")
    console.print(table)
    if report.style_failures:
        console.print(
            "style checks failed by answers: " + ", ".join(f"{k}: {v}" for k, v in report.style_failures.items())
        )
    for kind in KINDS:
        issues = report.issues[kind]
        if not issues:
            continue
        console.print(f"\n[bold]{kind}[/] ({len(issues)})")
        for issue in issues if limit <= 0 else issues[:limit]:
            place = ", ".join(issue.locations[:4]) + (" …" if len(issue.locations) > 4 else "")
            line = f"  {place}: {issue.message}" if place else f"  {issue.message}"
            console.print(escape_invisible(line), markup=False)
        if 0 < limit < len(issues):
            console.print(f"  … and {len(issues) - limit} more (--limit 0 or --json for all)")


@main.command()
@click.option("--include-secrets", is_flag=True, help="Also push examples in which a credential was found.")
@project_option
@set_option
@json_option
def push(include_secrets, project_dir, overrides, as_json) -> None:
    """Create or update the Argilla review dataset and upsert every reviewable example (never duplicates)."""
    from ftdata.review import push as push_examples

    project = Project.open(project_dir, overrides)
    connection = ArgillaConnection.from_env()
    with progress_bars(console, disable=as_json) as bars:
        result = push_examples(project, connection, include_secrets=include_secrets, progress=bars.staged)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    console.print(f"pushed {result.pushed} record(s) to {project.config.workspace}/{project.config.dataset}")
    for reason, ids in result.skipped.items():
        console.print(f"  not pushed: {len(ids)} ({reason})")
    console.print(f"review it at {result.url}")


@main.group()
def annotators() -> None:
    """Annotator accounts in the project's Argilla workspace."""


@annotators.command(name="add")
@click.argument("usernames", nargs=-1, required=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Credentials file to write (mode 600). Default: .ftdata/credentials/annotators-<time>.json",
)
@project_option
@set_option
def annotators_add(usernames, out, project_dir, overrides) -> None:
    """Create annotators (role annotator, this workspace only); their credentials go to a private file."""
    from ftdata.annotators import add_annotators

    project = Project.open(project_dir, overrides)
    created, path = add_annotators(project, ArgillaConnection.from_env(), list(usernames), out)
    for annotator in created:
        state = "created" if annotator.created else "exists (credentials not re-issued)"
        console.print(f"{annotator.username}: {state}, member of {project.config.workspace}")
    if path is not None:
        console.print(f"one-time credentials (passwords and API keys) written to {path} (readable by you only)")


@annotators.command(name="list")
@project_option
@set_option
@json_option
def annotators_list(project_dir, overrides, as_json) -> None:
    """Members of the project's workspace, with their roles (never keys)."""
    from ftdata.annotators import list_annotators

    project = Project.open(project_dir, overrides)
    members = list_annotators(project, ArgillaConnection.from_env())
    if as_json:
        click.echo(json.dumps([{"username": m.username, "role": m.role} for m in members], indent=2))
        return
    table = Table("username", "role", box=None)
    for member in members:
        table.add_row(member.username, member.role)
    console.print(table)


@main.command()
@click.option("--disagreements", default=10, show_default=True, help="Disagreements to list (0: all).")
@project_option
@set_option
@json_option
def status(disagreements, project_dir, overrides, as_json) -> None:
    """Review progress per annotator, and inter-annotator agreement (Krippendorff's alpha, Cohen's kappa)."""
    from ftdata.status import review_status

    project = Project.open(project_dir, overrides)
    result = review_status(project, ArgillaConnection.from_env())
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    console.print(
        f"{result.records} records: {result.completed} completed, {result.records - result.completed} pending"
    )
    table = Table("annotator", "submitted", "discarded", "draft", "pending", box=None)
    for a in result.annotators:
        table.add_row(a.username, str(a.submitted), str(a.discarded), str(a.draft), str(a.pending))
    console.print(table)
    for report in (result.verdict, result.style_score):
        alpha = "n/a" if report.alpha is None else f"{report.alpha:.3f}"
        console.print(
            f"{report.question}: Krippendorff's alpha ({report.level}) {alpha} "
            f"over {report.records_with_overlap} records with 2+ reviews"
        )
        for pair in report.pairwise_kappa:
            kappa = "n/a" if pair.kappa is None else f"{pair.kappa:.3f}"
            console.print(f"  kappa {pair.first} / {pair.second}: {kappa} ({pair.shared_records} shared)")
    shown = result.verdict.disagreements if disagreements <= 0 else result.verdict.disagreements[:disagreements]
    if shown:
        console.print(f"verdict disagreements ({len(result.verdict.disagreements)}):")
        for d in shown:
            console.print("  " + d.record_id + ": " + ", ".join(f"{u}={v}" for u, v in d.values.items()), markup=False)


@main.command()
@project_option
@set_option
@json_option
def pull(project_dir, overrides, as_json) -> None:
    """Snapshot every record with all responses and suggestions into an immutable local folder."""
    from ftdata.snapshot import pull as pull_snapshot

    project = Project.open(project_dir, overrides)
    with progress_bars(console, disable=as_json) as bars:
        snapshot = pull_snapshot(project, ArgillaConnection.from_env(), progress=bars.staged)
    summary = {k: snapshot.info[k] for k in ("id", "records", "responses", "pulled_at")} | {
        "unchanged": snapshot.unchanged
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    responses = ", ".join(f"{n} {status}" for status, n in snapshot.info["responses"].items()) or "no responses"
    if snapshot.unchanged:
        console.print(f"nothing changed on the server since snapshot {snapshot.id}: it stays the latest")
    console.print(f"snapshot {snapshot.id}: {snapshot.info['records']} records, {responses}")
    console.print(f"  {project.snapshots_path / snapshot.id}")


@main.command(name="export")
@click.option("--snapshot", "snapshot_id", help="Snapshot id (default: the latest `ftdata pull`).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Export folder (default: exports/<dataset>-<snapshot> in the project).",
)
@click.option("--allow-small", is_flag=True, help="Export even below export.min_examples (with a warning).")
@project_option
@set_option
@json_option
def export_(snapshot_id, out, allow_small, project_dir, overrides, as_json) -> None:
    """Build the train/validation/test set from a snapshot: consensus, corrections, lint, a leak-free split."""
    from ftdata.export import export_dataset

    project = Project.open(project_dir, overrides)
    with progress_bars(console, disable=as_json) as bars:
        result = export_dataset(project, snapshot_id, out, allow_small, progress=bars.staged)
    manifest = result.manifest
    if as_json:
        click.echo(
            json.dumps(
                {"folder": str(result.folder), **manifest.to_dict(), "warnings": result.warnings},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for warning in result.warnings:
        console.print(f"[yellow]warning: {warning}[/]")
    counts = ", ".join(f"{name} {n}" for name, n in manifest.counts().items())
    console.print(f"exported {counts} to {result.folder}")
    for reason, n in manifest.drops.items():
        console.print(f"  left out {n}: {reason}")
    if result.adjudication:
        console.print(
            f"  {len(result.adjudication)} record(s) await adjudication: {result.folder / 'adjudication.jsonl'}"
        )


@main.command()
def ping() -> None:
    """Check the Argilla server named by ARGILLA_API_URL / ARGILLA_API_KEY: version and who we are."""
    connection = ArgillaConnection.from_env()
    version = connection.server_version()
    me = connection.client().me
    role = getattr(me.role, "value", me.role)
    click.echo(f"Argilla {version} at {connection.api_url}: signed in as {me.username} ({role})")


if __name__ == "__main__":  # `python -m ftdata.cli`
    main()
