"""`fttrain`: training commands. Each one parses flags and calls one library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ftcore.cli import EXIT_PROBLEMS, ToolGroup
from ftcore.run_folder import RunFolder
from fttrain import __version__

config_argument = click.argument("config_path", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a setting, e.g. lora.r=8 or epochs=1."
)


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fttrain")
def main() -> None:
    """Train a LoRA/QLoRA adapter on an `ftdata export` folder (transformers + peft + bitsandbytes)."""


@main.command()
@config_argument
@set_option
@click.option("--resume", is_flag=True, help="Continue the run in output_dir from its last checkpoint.")
@click.option("--dry-run", is_flag=True, help="Check data, tokenizer and masks; print one example token by token.")
def run(config_path: Path, overrides: tuple[str, ...], resume: bool, dry_run: bool) -> None:
    """Train on the export named in CONFIG.yaml; the run folder records everything about the run."""
    from fttrain.config import load_train_config

    config = load_train_config(config_path, overrides)
    if dry_run:
        from fttrain.run import dry_run as explain

        click.echo(explain(config))
        return
    from fttrain.run import run as train

    summary = train(config, resume=resume)
    if config.evaluate:
        summary.evaluation = evaluate_run(config.evaluate, Path(config.output_dir))
        RunFolder(Path(config.output_dir)).write_summary(summary)
    click.echo(json.dumps(summary.to_dict(), indent=2))
    click.echo(f"run folder: {config.output_dir}", err=True)


def evaluate_run(eval_config_path: str, run_folder: Path) -> dict:
    """The `evaluate:` hook: `fteval run` on the adapter just trained, its results and report in run_folder/eval.

    The only place fttrain imports fteval (tests/test_layout.py pins it): the trainer's library never does.
    """
    from fteval.config import load_eval_config
    from fteval.report import write_report
    from fteval.run import run_eval

    output = run_folder / "eval"
    config = load_eval_config(eval_config_path, [f"run={run_folder}", f"output_dir={output}"])
    results = run_eval(config)
    _, page = write_report(output)
    for warning in results.warnings:
        click.echo(f"warning: {warning}", err=True)
    evaluation = {"results": str(output / "results.json"), "report": str(page), "verdict": results.verdict}
    return evaluation | ({"warnings": results.warnings} if results.warnings else {})


@main.command()
@config_argument
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout instead of a table.")
def plan(config_path: Path, overrides: tuple[str, ...], as_json: bool) -> None:
    """Before spending money: tokens, steps, peak GPU memory, hours and cost; exit 1 if it will not fit the GPU."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from fttrain.config import load_train_config
    from fttrain.plan import USABLE_SHARE, make_plan

    config = load_train_config(config_path, overrides)
    result = make_plan(config)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        console.print(
            f"[bold]{result.train_examples}[/] examples, {result.train_tokens:,} tokens "
            f"({result.trained_tokens:,} trained), max_seq_len {config.max_seq_len}, packing {config.packing}"
        )
        console.print(
            f"{result.total_steps} steps: {result.steps_per_epoch} per epoch x {config.epochs:g} epochs "
            f"(batch {config.batch_size} x accumulation {config.gradient_accumulation})"
        )
        share = result.trainable_parameters / result.parameters if result.parameters else 0
        trainable = f"{result.trainable_parameters:,} trainable ({share:.2%})"
        console.print(f"{config.method}: {result.parameters:,} parameters, {trainable}")
        memory = Table("memory", "GiB", box=None)
        for name in ("weights", "adapter", "gradients", "optimizer", "activations", "overhead"):
            memory.add_row(name, f"{getattr(result.memory, name):.2f}")
        memory.add_row("[bold]total[/]", f"[bold]{result.memory.total:.2f}[/]")
        console.print(memory)
        verdict = "[green]fits[/]" if result.fits else "[red]does not fit[/]"
        console.print(
            f"{verdict} a {result.gpu_memory_gb:g} GiB GPU ({result.gpu_memory_gb * USABLE_SHARE:.1f} GiB usable, "
            f"gradient_checkpointing {config.gradient_checkpointing})"
        )
        console.print(
            f"{result.hours:.2f} h at {config.gpu_tokens_per_second:g} tokens/s, "
            f"${result.cost_usd:,.2f} at ${config.gpu_usd_per_hour:g}/h"
        )
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/] {escape(warning)}")
    if not result.fits:
        sys.exit(EXIT_PROBLEMS)


@main.command()
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out", required=True, metavar="DIR", type=click.Path(path_type=Path), help="New or empty folder for the model."
)
@click.option(
    "--prompts", default=4, show_default=True, type=click.IntRange(min=1), help="Validation prompts to check on."
)
@click.option("--json", "as_json", is_flag=True, help="Print the merge report as JSON on stdout.")
def merge(run_dir: Path, out: Path, prompts: int, as_json: bool) -> None:
    """Merge RUN_DIR's adapter into full-precision base weights in --out; exit 1 if the logits disagree."""
    from fttrain.merge import MergeCheckError, merge_run

    try:
        report = merge_run(run_dir, out, prompts=prompts)
    except MergeCheckError as error:  # a problem found (exit 1), not bad input (exit 2)
        if as_json:
            click.echo(json.dumps(error.report.to_dict(), indent=2))
        click.echo(f"merge check failed: {error}", err=True)
        sys.exit(EXIT_PROBLEMS)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(
        f"merged into {report.out} ({report.dtype}); {report.prompts_checked} {report.split} prompts: "
        f"max |logit diff| {report.max_abs_logit_diff:.2e} <= tolerance {report.tolerance:.2e} "
        f"(the adapter itself moves logits by up to {report.adapter_logit_shift:.2e})"
    )


if __name__ == "__main__":  # `python -m fttrain.cli`, e.g. under accelerate launch or torchrun
    main()
