"""`fttrain`: training commands. Each one parses flags and calls one library function."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from ftcore.cli import EXIT_PROBLEMS, ToolGroup, progress_bars
from ftcore.run_folder import RunFolder
from fttrain import __version__

config_argument = click.argument("config_path", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a setting, e.g. lora.r=8 or epochs=1."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of text on stderr.")


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fttrain")
def main() -> None:
    """Train a LoRA/QLoRA adapter on an `ftdata export` folder (transformers + peft + bitsandbytes)."""


@main.command()
@config_argument
@set_option
@click.option("--resume", is_flag=True, help="Continue the run in output_dir from its last checkpoint.")
@click.option("--dry-run", is_flag=True, help="Check data, tokenizer and masks; print one example token by token.")
@json_option
def run(config_path: Path, overrides: tuple[str, ...], resume: bool, dry_run: bool, as_json: bool) -> None:
    """Train on the export named in CONFIG.yaml; the run folder records everything about the run."""
    from fttrain.config import load_train_config

    config = load_train_config(config_path, overrides)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if dry_run:
        from fttrain.run import dry_run as explain

        found = explain(config)
        if as_json:
            click.echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
        else:
            console.print(found.text(), markup=False)
        return
    from fttrain import distributed
    from fttrain.card import write_model_card
    from fttrain.run import run as train

    main_rank = distributed.is_main()  # under torchrun / accelerate launch, rank 0 alone draws and prints
    try:
        stopping = distributed.stopping_in_one_line(config.output_dir, config.distributed_timeout_s)
        with progress_bars(console, disable=as_json or not main_rank) as bars:
            with stopping:
                summary = train(config, resume=resume, progress=bars.staged)
            distributed.finish()  # every rank is done: the evaluation below runs once, alone
            if main_rank and config.evaluate:  # its phases in the same display, after training's
                summary.evaluation = evaluate_run(config.evaluate, Path(config.output_dir), console, bars.staged)
                RunFolder(Path(config.output_dir)).write_summary(summary)
                write_model_card(config.output_dir)  # the card gains the verdict
    except distributed.RankStopped as error:  # one line; exit 1 for a failed job, 2 for a launch to correct
        if error.by_signal and main_rank and not as_json:
            console.line()  # the signal may have cut the progress line short
        if main_rank or error.exit_code != 2:  # a launch to correct is the same on every rank: said once
            console.print(f"[red]error:[/] {escape(str(error))}")
        sys.exit(error.exit_code)
    if not main_rank:
        return
    if as_json:
        click.echo(json.dumps({**summary.to_dict(), "run_folder": str(config.output_dir)}, indent=2))
        return
    _print_summary(console, summary, config.output_dir)


def _print_summary(console: Console, summary, folder: str) -> None:
    losses = " -> ".join(f"{loss:.4f}" for loss in (summary.first_loss, summary.final_loss) if loss is not None)
    eval_loss = f", validation loss {summary.eval_loss:.4f}" if summary.eval_loss is not None else ""
    console.print(
        f"{summary.steps} steps ({summary.epochs or 0:g} epochs) on {summary.train_examples} examples in "
        f"{summary.seconds} s, {summary.tokens_seen:,} tokens ({summary.tokens_per_second} tokens/s); "
        f"loss {losses or '-'}{eval_loss}"
    )
    if summary.truncated_examples:
        console.print(f"[yellow]warning:[/] {summary.truncated_examples} example(s) lost answer tokens to max_seq_len")
    if summary.evaluation:
        console.print(f"[bold]Verdict.[/] {escape(summary.evaluation['verdict'])}")
        console.print(f"evaluation: {summary.evaluation['results']}; report: {summary.evaluation['report']}")
    console.print(f"run folder: {folder}")


def evaluate_run(
    eval_config_path: str, run_folder: Path, console: Console | None = None, progress: Callable | None = None
) -> dict:
    """The `evaluate:` hook: `fteval run` on the adapter just trained, its results and report in run_folder/eval;
    `progress(stage, n, total)` hears of its phases as `fteval run` reports them.

    The only place fttrain imports fteval (tests/test_layout.py pins it): the trainer's library never does.
    """
    from fteval.config import load_eval_config
    from fteval.report import write_report
    from fteval.run import run_eval

    output = run_folder / "eval"
    config = load_eval_config(eval_config_path, [f"run={run_folder}", f"output_dir={output}"])
    results = run_eval(config, progress=progress)
    _, page = write_report(output)
    for warning in results.warnings:
        (console or Console(stderr=True)).print(f"[yellow]warning:[/] {escape(warning)}")
    evaluation = {"results": str(output / "results.json"), "report": str(page), "verdict": results.verdict}
    return evaluation | ({"warnings": results.warnings} if results.warnings else {})


@main.command()
@config_argument
@set_option
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda", "config"]),
    default="auto",
    show_default=True,
    help="auto: this machine's GPU, or its CPU without one; cpu, cuda: this machine's; config: the GPU the config "
    "names (gpu_memory_gb, gpu_tokens_per_second, gpu_usd_per_hour), e.g. one you are about to rent.",
)
@click.option(
    "--measure/--no-measure",
    default=None,
    help="Train a few real steps here first: tokens/s, and the measured peak beside the estimate (default: on a CPU).",
)
@click.option("--steps", default=3, show_default=True, type=click.IntRange(min=2), help="Steps --measure trains.")
@json_option
def plan(
    config_path: Path, overrides: tuple[str, ...], device: str, measure: bool | None, steps: int, as_json: bool
) -> None:
    """Before spending money: tokens, steps, peak memory on the device planned for, hours and cost; exit 1 if it
    will not fit."""
    from rich.table import Table

    from fttrain.config import load_train_config
    from fttrain.plan import USABLE_SHARE, make_plan

    config = load_train_config(config_path, overrides)
    result = make_plan(config, device=device, measure=measure, steps=steps)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        console.print(f"[bold]plan for {escape(result.device.describe())}[/]")
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
        names = ("weights", "adapter", "gradients", "optimizer", "activations", "overhead")
        for name in names:
            memory.add_row(name, f"{getattr(result.memory, name):.2f}")
        memory.add_row("[bold]total[/]", f"[bold]{result.memory.total:.2f}[/]")
        console.print(memory)
        verdict = "[green]fits[/]" if result.fits else "[red]does not fit[/]"
        where = f"a {result.device.memory_gb:g} GiB GPU" if result.device.kind == "cuda" else "this machine's RAM"
        console.print(
            f"{verdict} {where} ({result.device.memory_gb * USABLE_SHARE:.1f} GiB usable, "
            f"gradient_checkpointing {config.gradient_checkpointing})"
        )
        if result.measured:
            m = result.measured
            console.print(
                f"measured {m.steps} steps here ({m.dtype}) on the longest examples: peak {m.peak_gib:.2f} GiB against "
                f"{m.predicted_gib:.2f} GiB estimated for that batch ({m.batch_tokens:,} tokens): "
                f"error {m.error:+.0%}; {m.tokens_per_second:,.0f} tokens/s"
            )
        if result.hours is None:
            console.print("time: not estimated (no throughput for a CPU without --measure)")
        else:
            source = "measured" if result.throughput_source == "measured" else "gpu_tokens_per_second"
            cost = (
                f", ${result.cost_usd:,.2f} at ${config.gpu_usd_per_hour:g}/h"
                if result.cost_usd is not None
                else " on your own machine"
            )
            duration = f"{result.hours:.2f} h" if result.hours >= 1 else f"{result.hours * 60:.1f} min"
            console.print(f"{duration} at {result.tokens_per_second:,.0f} tokens/s ({source}){cost}")
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
