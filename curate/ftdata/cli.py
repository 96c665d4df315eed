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

# Results go to stdout and progress, hints and warnings to stderr, so `ftdata check > lint.txt` keeps the
# report. soft_wrap: a problem stays on one line, so grep and editors can jump to file:line.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftdata")
def main() -> None:
    """Curate fine-tuning data: import, lint, review in Argilla, export a versioned training set."""


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Input format; auto picks by extension, then by content.",
)


def map_option(example: str):
    """`--map ROLE=COLUMN,...`: which columns hold the turns (import and draft read files the same way)."""
    return click.option("--map", "mapping", metavar="ROLE=COLUMN,...", help=f"Columns holding the turns, {example}.")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the normalised examples (with their stable ids) here as JSONL; only when every input is valid.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout instead of text.")
@click.option("--max-problems", default=50, show_default=True, help="Problems to list per file (0: all).")
def validate(files: tuple[Path, ...], out_path: Path | None, as_json: bool, max_problems: int) -> None:
    """Check JSONL files of examples against the contract and report every problem.

    Exit code 0 when all are valid, 1 when problems were found, 2 when a file cannot be read.
    """
    report = validate_files(files, out_path)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for file_report in report.files:
            shown = file_report.problems if max_problems <= 0 else file_report.problems[:max_problems]
            for problem in shown:
                out.print(escape_invisible(str(problem)), markup=False)
            if len(shown) < len(file_report.problems):
                out.print(f"{file_report.path}: … and {len(file_report.problems) - len(shown)} more problem(s)")
            status = f"[red]{len(file_report.problems)} problem(s)[/]" if file_report.problems else "[green]ok[/]"
            out.print(f"{file_report.path}: {file_report.valid_examples} valid example(s), {status}")
        if report.written:
            out.print(f"wrote {len(report.examples)} example(s) to {report.written}")
        elif out_path is not None:
            err.print(f"[yellow]nothing written to {out_path}: fix the problems above first[/]")
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
@click.option(
    "--style",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Style spec (YAML) of the house format: named in ftdata.yaml and written out in the starter guidelines.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing ftdata.yaml and guidelines file.")
def init(directory: Path, dataset: str | None, style: Path | None, force: bool) -> None:
    """Start a curation project: a commented ftdata.yaml with every setting at its default, and starter
    annotation guidelines (from the style spec, with --style)."""
    path = init_project(directory, dataset=dataset, force=force, style=style)
    guidelines = Project.open(directory).guidelines_path
    out.print(f"wrote {path} and the starter guidelines {guidelines}: edit them, then `ftdata import FILE...`")


@main.command(name="import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option
@map_option("e.g. user=question,assistant=answer[,system=instructions]")
@project_option
@set_option
@json_option
def import_(sources, fmt, mapping, project_dir, overrides, as_json) -> None:
    """Read raw examples (JSONL, CSV, Parquet, a saved `datasets` folder) into the project's store.

    Re-importing a file adds nothing: ids come from the content. Rows that break the contract are
    kept aside and reported by `ftdata check`, until a later import of the same file replaces them. A file
    that cannot be read, or whose columns do not map to the contract (pass --map), changes nothing (exit 2).
    """
    project = Project.open(project_dir, overrides)
    column_map = ColumnMap.parse(mapping) if mapping else None
    with progress_bars(err, disable=as_json) as bars:
        results = import_files(project, sources, fmt, column_map, progress=bars.counter("importing rows"))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        table = Table("format", "rows", "added", "already in store", "rejected", "source", box=None)
        for r in results:
            table.add_row(r.format, str(r.rows), str(r.added), str(r.already_present), str(len(r.rejected)), r.source)
        out.print(table)
        for r in results:
            if r.superseded:
                err.print(f"{r.source}: its {r.superseded} earlier rejected row(s) are replaced by this import's")
            if r.test_prompts:
                err.print(
                    f"[yellow]{r.source}: {r.test_prompts} example(s) hold test prompts (fteval's review queue): "
                    "marked, and kept out of train by `ftdata export`[/]"
                )
        if any(r.rejected for r in results):
            err.print("rejected rows are listed by `ftdata check` (kind: schema)")
    sys.exit(EXIT_PROBLEMS if any(r.rejected for r in results) else EXIT_OK)


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--model",
    help="The model that drafts: with draft.endpoint, the name the server knows; else a local folder, hub id or "
    "GGUF file (default: draft.model / draft.endpoint.model in ftdata.yaml).",
)
@click.option("--n", "candidates", type=click.IntRange(min=1), help="Candidates per prompt (default: draft.n).")
@click.option("--limit", type=click.IntRange(min=0), help="Draft only the first N distinct prompts of the input.")
@click.option("--dry-run", is_flag=True, help="Print the drafting prompt of one prompt and the estimated tokens and "
              "cost; send nothing, store nothing.")  # fmt: skip
@format_option
@map_option("e.g. user=question[,system=instructions][,assistant=answer to improve]")
@project_option
@set_option
@json_option
def draft(sources, model, candidates, limit, dry_run, fmt, mapping, project_dir, overrides, as_json) -> None:
    """Draft answers for prompts with a model, into the store as examples for annotators to accept or correct.

    SOURCES are read like `ftdata import` reads them (--map, --format); rows need no answer (a row's answer is
    shown to the model as the one to improve). The prompt is built from the project: the style spec in words,
    the guidelines' house-style section and accepted examples as few-shot turns. Each prompt gets n candidates,
    scored by the style spec; the best is the draft, the others stay in its metadata. Rerunning adds nothing;
    a run cut off resumes from the cache (draft.cache) without paying twice. Exit 1 when rows were no prompt.
    """
    from ftdata.draft import draft_prompts

    overrides = (*overrides, *([f"draft.n={candidates}"] if candidates else []))
    project = Project.open(project_dir, overrides)
    column_map = ColumnMap.parse(mapping, answer_required=False) if mapping else None
    with progress_bars(err, disable=as_json or dry_run) as bars:
        result = draft_prompts(project, sources, fmt, column_map, model, limit, dry_run, progress=bars.staged)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif result.dry_run is not None:
        _print_dry_run(result)
    else:
        _print_draft_result(result)
    for row in result.rejected[:10] if not as_json else []:
        problems = "; ".join(f"{f}: {r}" if f else r for f, r in row.problems)
        err.print(escape_invisible(f"{row.location}: not a prompt: {problems}"), markup=False)
    if len(result.rejected) > 10 and not as_json:
        err.print(f"… and {len(result.rejected) - 10} more rows that are no prompt (--json lists them all)")
    sys.exit(EXIT_PROBLEMS if result.rejected else EXIT_OK)


def _print_dry_run(result) -> None:
    plan = result.dry_run
    out.print(f"[bold]The drafting prompt[/] of the first of {plan.prompts} prompt(s) to draft, by {result.model}:")
    for message in plan.conversation:
        out.print(f"\n[bold]--- {message['role']} ---[/]")
        out.print(escape_invisible(message["content"], keep_line_breaks=True), markup=False)
    out.print(f"\nfew-shot examples: {result.shot_source}")
    skipped = f"; {result.already_drafted} drafted before by this model" if result.already_drafted else ""
    out.print(f"prompts: {result.prompts} read, {plan.prompts} to draft{skipped}, {plan.cached} of them in the cache")
    how = "estimated at 4 characters per token" if plan.tokens_estimated else "counted with the model's tokenizer"
    what = "request(s) to send" if plan.tokens_estimated else "candidate(s) to generate"
    out.print(
        f"{plan.requests} {what}: {plan.prompt_tokens:,} prompt tokens ({how}), "
        f"at most {plan.max_completion_tokens:,} completion tokens"
    )
    if plan.max_cost is not None:
        out.print(f"cost: at most {plan.max_cost:,.4f} at the endpoint's prices (less: answers end before the limit)")
    out.print("dry run: nothing sent, nothing stored")


def _print_draft_result(result) -> None:
    if result.drafted:
        failing = result.drafted - result.passing
        out.print(
            f"drafted {result.drafted} prompt(s) with {result.model} into the store ({result.version}): "
            f"{result.passing} pass every style check, {failing} do not"
        )
    else:
        out.print(f"nothing new drafted with {result.model}")
    details = [
        (result.already_drafted, "drafted before by this model"),
        (result.repeated, "repeat an earlier prompt of the input"),
        (result.already_in_store, "drafted an answer the store holds already"),
        (result.unusable, "got only empty candidates"),
    ]
    for n, what in details:
        if n:
            out.print(f"  {n} prompt(s) {what}")
    spent = f"{result.requests} generated or sent, {result.cached} from the cache"
    tokens = f"{result.prompt_tokens:,} prompt + {result.completion_tokens:,} completion tokens"
    cost = f", cost {result.cost:,.4f}" if result.cost is not None else ""
    if result.requests or result.cached:
        out.print(f"  {spent}; {tokens}{cost}; few-shot: {result.shot_source}")
    if result.drafted:
        out.print("next: `ftdata push`, then annotators accept, pick or correct each draft")


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
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Export folder whose splits are checked for leakage (default: the latest `ftdata export`).",
)
@project_option
@set_option
@json_option
def check(style_path, fail_on, limit, export_dir, project_dir, overrides, as_json) -> None:
    """Lint the store: schema, duplicates, near-duplicates, leakage, PII and secrets, length, style, count.

    The report goes to stdout (progress to stderr). Exit code 0 when clean, 1 when problems were found,
    2 on bad usage or unreadable input.
    """
    from ftdata.lint import lint  # the checks pull in detect-secrets, MinHash, transformers: not for --help

    project = Project.open(project_dir, overrides)
    with progress_bars(err, disable=as_json) as bars:
        report = lint(project, style_path=style_path, progress=bars.staged, export_dir=export_dir)
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
    """Counts by source and tag, token distributions, training tokens, and what training will cost.

    Without lint.tokenizer the token counts are estimates (4 characters per token), and it says so."""
    from ftdata.stats import compute_stats, plot_token_histogram

    project = Project.open(project_dir, overrides)
    with progress_bars(err, disable=as_json) as bars:
        result = compute_stats(project, progress=bars.counter("counting tokens"))
    plot_path = plot_token_histogram(
        result, plot or project.resolve(".ftdata/token_histogram.png"), project.config.lint.seq_len
    )
    if result.estimated:
        err.print(
            "[yellow]token counts are estimates (4 characters per token): set lint.tokenizer in ftdata.yaml to "
            "the base model's tokenizer for exact ones[/]"
        )
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "plot": str(plot_path)}, ensure_ascii=False, indent=2))
        return
    out.print(f"[bold]{result.examples}[/] examples, tokenizer {result.tokenizer}")
    counts = Table("source", "examples", box=None)
    for source, n in result.by_source.items():
        counts.add_row(source, str(n))
    out.print(counts)
    if result.by_tag:
        tags = Table("tag", "examples", box=None)
        for tag, n in result.by_tag.items():
            tags.add_row(tag, str(n))
        out.print(tags)
    tokens = Table("tokens", "min", "p50", "p95", "max", "mean", box=None)
    for name, dist in (("prompt", result.prompt_tokens), ("completion", result.completion_tokens)):
        tokens.add_row(name, *(str(v) for v in (dist.min, dist.p50, dist.p95, dist.max, dist.mean)))
    out.print(tokens)
    out.print(f"training tokens: {result.dataset_tokens:,} x {result.epochs:g} epochs = {result.training_tokens:,}")
    for name, usd in result.costs.items():
        out.print(f"  {name}: ${usd:,.2f}")
    out.print(
        f"  your GPU: {result.gpu_hours:.2f} h at {result.gpu_tokens_per_second:g} tokens/s, "
        f"${result.gpu_cost:,.2f} at ${result.gpu_usd_per_hour:g}/h"
    )
    out.print(f"histogram: {plot_path}")
    out.print("origin: " + ", ".join(f"{n} {origin}" for origin, n in result.origins.items()))
    if result.reviewed:
        kept = sum(result.reviewed.values())
        shares = ", ".join(f"{n} {k} ({n / kept * 100:.0f} %)" for k, n in result.reviewed.items())
        out.print(f"kept by the reviews of snapshot {result.snapshot}: {kept} ({shares})")
    for warning in result.warnings:
        err.print(f"[yellow]warning: {warning}[/]")


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
        first = "; ".join(issues[0].locations[:3]) if issues else ""
        table.add_row(kind, f"[{colour}]{severity if issues else 'ok'}[/]", str(len(issues)), first)
    out.print(f"[bold]{report.examples}[/] examples, [bold]{report.usable}[/] usable")
    out.print(table)
    if report.style_failures:
        out.print("style checks failed by answers: " + ", ".join(f"{k}: {v}" for k, v in report.style_failures.items()))
    for kind in KINDS:
        issues = report.issues[kind]
        if not issues:
            continue
        out.print(f"\n[bold]{kind}[/] ({len(issues)})")
        for issue in issues if limit <= 0 else issues[:limit]:
            place = "; ".join(issue.locations[:4]) + (" …" if len(issue.locations) > 4 else "")
            line = f"  {place}: {issue.message}" if place else f"  {issue.message}"
            out.print(escape_invisible(line), markup=False)
        if 0 < limit < len(issues):
            out.print(f"  … and {len(issues) - limit} more (--limit 0 or --json for all)")


@main.command()
@click.option("--include-secrets", is_flag=True, help="Also push examples in which a credential was found.")
@project_option
@set_option
@json_option
def push(include_secrets, project_dir, overrides, as_json) -> None:
    """Create or update the Argilla review dataset and upsert every reviewable example (never duplicates).

    The guidelines, the style spec and the server are checked before the lint runs."""
    from ftdata.review import push as push_examples

    project = Project.open(project_dir, overrides)
    connection = ArgillaConnection.from_env()
    with progress_bars(err, disable=as_json) as bars:
        result = push_examples(project, connection, include_secrets=include_secrets, progress=bars.staged)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    out.print(f"pushed {result.pushed} record(s) to {project.config.workspace}/{project.config.dataset}")
    if result.drafted:
        out.print(f"  {result.drafted} with a model's draft, pre-filled as the suggestion for `corrected`")
    for reason, ids in result.skipped.items():
        out.print(f"  not pushed: {len(ids)} ({reason})")
    for note in result.notes:
        err.print(f"[yellow]note: {note}[/]")
    out.print(f"review it at {result.url}")


@main.group()
def annotators() -> None:
    """Annotator accounts in the project's Argilla workspace."""


@annotators.command(name="add")
@click.argument("usernames", nargs=-1, required=True)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Credentials file to write (mode 600). Default: .ftdata/credentials/annotators-<time>.json",
)
@click.option("--senior", is_flag=True, help="Senior reviewers: members of the adjudication workspace instead.")
@project_option
@set_option
def annotators_add(usernames, out_path, senior, project_dir, overrides) -> None:
    """Create annotators (role annotator, this workspace only); their credentials go to a private file."""
    from ftdata.annotators import add_annotators
    from ftdata.review import senior_workspace

    project = Project.open(project_dir, overrides)
    workspace = senior_workspace(project) if senior else project.config.workspace
    created, path = add_annotators(project, ArgillaConnection.from_env(), list(usernames), out_path, workspace)
    for annotator in created:
        state = "created" if annotator.created else "exists (credentials not re-issued)"
        out.print(f"{annotator.username}: {state}, member of {workspace}")
    if path is not None:
        out.print(f"one-time credentials (passwords and API keys) written to {path} (readable by you only)")
    if any(not a.created for a in created):
        err.print("lost an existing annotator's password? `ftdata annotators reset-password NAME` issues a new one")


@annotators.command(name="reset-password")
@click.argument("usernames", nargs=-1, required=True)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Credentials file to write (mode 600). Default: .ftdata/credentials/annotators-<time>.json",
)
@project_option
@set_option
def annotators_reset_password(usernames, out_path, project_dir, overrides) -> None:
    """New random passwords for existing annotators of this workspace (as the owner), written to a private file."""
    from ftdata.annotators import reset_passwords

    project = Project.open(project_dir, overrides)
    path = reset_passwords(project, ArgillaConnection.from_env(), list(usernames), out_path)
    out.print(f"new passwords for {', '.join(usernames)} written to {path} (readable by you only)")


@annotators.command(name="list")
@click.option("--senior", is_flag=True, help="Members of the adjudication workspace instead.")
@project_option
@set_option
@json_option
def annotators_list(senior, project_dir, overrides, as_json) -> None:
    """Members of the project's workspace, with their roles (never keys)."""
    from ftdata.annotators import list_annotators
    from ftdata.review import senior_workspace

    project = Project.open(project_dir, overrides)
    members = list_annotators(project, ArgillaConnection.from_env(), senior_workspace(project) if senior else None)
    if as_json:
        click.echo(json.dumps([{"username": m.username, "role": m.role} for m in members], indent=2))
        return
    table = Table("username", "role", box=None)
    for member in members:
        table.add_row(member.username, member.role)
    out.print(table)


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
    out.print(f"{result.records} records: {result.completed} completed, {result.records - result.completed} pending")
    table = Table("annotator", "submitted", "discarded", "draft", "pending", box=None)
    for a in result.annotators:
        table.add_row(a.username, str(a.submitted), str(a.discarded), str(a.draft), str(a.pending))
    out.print(table)
    for lead, n in result.bulk_accepts.items():
        out.print(f"{lead}: {n} bulk accept(s) (`ftdata accept`), left out of agreement")
    for report in (result.verdict, result.style_score):
        alpha = "n/a" if report.alpha is None else f"{report.alpha:.3f}"
        out.print(
            f"{report.question}: Krippendorff's alpha ({report.level}) {alpha} "
            f"over {report.records_with_overlap} records with 2+ reviews"
        )
        for pair in report.pairwise_kappa:
            kappa = "n/a" if pair.kappa is None else f"{pair.kappa:.3f}"
            out.print(f"  kappa {pair.first} / {pair.second}: {kappa} ({pair.shared_records} shared)")
    shown = result.verdict.disagreements if disagreements <= 0 else result.verdict.disagreements[:disagreements]
    if shown:
        out.print(f"verdict disagreements ({len(result.verdict.disagreements)}):")
        for d in shown:
            votes = ", ".join(f"{u}={v}" for u, v in d.values.items())
            out.print(escape_invisible(f"  {result.label(d.record_id)}: {votes}"), markup=False)


@main.command()
@project_option
@set_option
@json_option
def pull(project_dir, overrides, as_json) -> None:
    """Snapshot every record with all responses and suggestions into an immutable local folder."""
    from ftdata.snapshot import pull as pull_snapshot

    project = Project.open(project_dir, overrides)
    with progress_bars(err, disable=as_json) as bars:
        snapshot = pull_snapshot(project, ArgillaConnection.from_env(), progress=bars.staged)
    summary = {k: snapshot.info[k] for k in ("id", "records", "responses", "pulled_at")} | {
        "unchanged": snapshot.unchanged
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    responses = ", ".join(f"{n} {status}" for status, n in snapshot.info["responses"].items()) or "no responses"
    if snapshot.unchanged:
        err.print(f"nothing changed on the server since snapshot {snapshot.id}: it stays the latest")
    out.print(f"snapshot {snapshot.id}: {snapshot.info['records']} records, {responses}")
    if snapshot.senior:
        out.print(f"  senior decisions: {snapshot.info.get('senior_decisions', 0)} on {len(snapshot.senior)} record(s)")
    out.print(f"  {project.snapshots_path / snapshot.id}")


@main.command(name="export")
@click.option("--snapshot", "snapshot_id", help="Snapshot id (default: the latest `ftdata pull`).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Export folder (default: exports/<dataset>-<snapshot> in the project).",
)
@click.option("--allow-small", is_flag=True, help="Export even below export.min_examples (with a warning).")
@project_option
@set_option
@json_option
def export_(snapshot_id, out_dir, allow_small, project_dir, overrides, as_json) -> None:
    """Build the train/validation/test set from a snapshot: consensus, corrections, lint, a leak-free split.

    Fewer examples than export.min_examples: nothing is written, the reasons are counted, exit 1."""
    from ftdata.export import ExportTooSmall, export_dataset

    project = Project.open(project_dir, overrides)
    try:
        with progress_bars(err, disable=as_json) as bars:
            result = export_dataset(project, snapshot_id, out_dir, allow_small, progress=bars.staged)
    except ExportTooSmall as refusal:  # a data condition, not bad usage: exit 1, the reasons counted
        if as_json:
            click.echo(json.dumps({"error": str(refusal), **refusal.details}, ensure_ascii=False, indent=2))
        else:
            err.print(escape_invisible(f"Error: {refusal}"), markup=False)
        sys.exit(EXIT_PROBLEMS)
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
        err.print(f"[yellow]warning: {warning}[/]")
    counts = ", ".join(f"{name} {n}" for name, n in manifest.counts().items())
    out.print(f"exported {counts} to {result.folder}")
    for reason, n in manifest.drops.items():
        out.print(f"  left out {n}: {reason}")
    if result.adjudication:
        out.print(
            f"  {len(result.adjudication)} record(s) await adjudication: {result.folder / 'adjudication.jsonl'} "
            "(`ftdata adjudicate` sends them to a senior reviewer)"
        )


@main.command()
@click.option("--snapshot", "snapshot_id", help="Snapshot id (default: the latest `ftdata pull`).")
@project_option
@set_option
@json_option
def adjudicate(snapshot_id, project_dir, overrides, as_json) -> None:
    """Send the adjudication queue to the senior reviewers' Argilla dataset; `pull` and `export` apply their calls.

    The dataset is <dataset>-adjudication in the workspace <workspace>-senior (review.senior_workspace), whose
    members are added with `ftdata annotators add NAME --senior`. Pushing again keeps their decisions.
    """
    from ftdata.adjudicate import push_adjudication

    project = Project.open(project_dir, overrides)
    result = push_adjudication(project, ArgillaConnection.from_env(), snapshot_id)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    out.print(f"{result.pushed} record(s) await a senior decision in {result.workspace}/{result.url.split('/')[-2]}")
    for reason, n in result.reasons.items():
        out.print(f"  {n}: {reason}")
    out.print(f"decide them at {result.url}; then `ftdata pull` and `ftdata export` apply the decisions")


@main.command()
@click.option("--unflagged", is_flag=True, help="Accept the records no lint check flagged and no reviewer disputed.")
@click.option("--as", "lead", metavar="USERNAME", help="The lead whose responses these are (default: you).")
@click.option("--dry-run", is_flag=True, help="Count what would be accepted; change nothing.")
@project_option
@set_option
@json_option
def accept(unflagged, lead, dry_run, project_dir, overrides, as_json) -> None:
    """A reviewer-lead's bulk accept: their own responses, marked `bulk_accepted_by` on each record.

    How a bulk accept counts toward the quorum is export.bulk_accept (meets-quorum or one-vote).
    """
    from ftdata.accept import accept_unflagged

    if not unflagged:
        raise click.UsageError("say what to accept: --unflagged (the records no lint check flagged)")
    project = Project.open(project_dir, overrides)
    with progress_bars(err, disable=as_json) as bars:
        result = accept_unflagged(project, ArgillaConnection.from_env(), lead, dry_run, progress=bars.staged)
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "dry_run": dry_run}, indent=2))
        return
    verb = "would accept" if dry_run else "accepted"
    out.print(f"{result.lead} {verb} {result.accepted} unflagged record(s) in bulk")
    for reason, n in result.skipped.items():
        out.print(f"  not accepted: {n} ({reason})")
    if result.log is not None:
        out.print(f"  logged in {result.log}")


@main.group()
def store() -> None:
    """The local store's versions: list them, roll back, drop rejected rows."""


@store.command(name="list")
@project_option
@set_option
@json_option
def store_list(project_dir, overrides, as_json) -> None:
    """Every version kept: what made it (import, rollback, drop-rejected), when, and its counts."""
    from ftdata.store import Store

    project = Project.open(project_dir, overrides)
    versions = Store(project.store_path, project.config.store_history).describe()
    if as_json:
        click.echo(json.dumps([v.to_dict() for v in versions], ensure_ascii=False, indent=2))
        return
    table = Table("", "version", "made by", "at", "examples", "rejected", "detail", box=None)
    for v in versions:
        table.add_row(
            "*" if v.current else "", v.version, v.action, v.at or "", str(v.examples), str(v.rejected), v.detail
        )
    out.print(table)


@store.command(name="rollback")
@click.argument("version")
@project_option
@set_option
def store_rollback(version, project_dir, overrides) -> None:
    """Make VERSION's content current again (as a new version: a rollback can be rolled back)."""
    from ftdata.store import Store

    project = Project.open(project_dir, overrides)
    made = Store(project.store_path, project.config.store_history).rollback(version)
    out.print(f"{made}: the content of {version} is current again")


@store.command(name="drop-rejected")
@click.option("--source", help="Only the rows rejected from this source (as `ftdata check` names it).")
@project_option
@set_option
def store_drop_rejected(source, project_dir, overrides) -> None:
    """Forget the rows rejected at import (all, or one source's), so `ftdata check` no longer lists them."""
    from ftdata.store import Store

    project = Project.open(project_dir, overrides)
    made, dropped = Store(project.store_path, project.config.store_history).drop_rejected(source)
    out.print(f"{made}: {dropped} rejected row(s) dropped" if made else "no rejected rows to drop")


@main.command()
def ping() -> None:
    """Check the Argilla server named by ARGILLA_API_URL / ARGILLA_API_KEY: version and who we are."""
    connection = ArgillaConnection.from_env()
    version = connection.server_version()
    me = connection.client().me
    role = getattr(me.role, "value", me.role)
    out.print(f"Argilla {version} at {connection.api_url}: signed in as {me.username} ({role})")


if __name__ == "__main__":  # `python -m ftdata.cli`
    main()
