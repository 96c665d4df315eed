"""`fttrain`: training commands. Each one parses flags and calls one library function."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ftdata.cli_base import ToolGroup
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
    click.echo(json.dumps(summary, indent=2))
    click.echo(f"run folder: {config.output_dir}", err=True)


if __name__ == "__main__":  # `python -m fttrain.cli`, e.g. under accelerate launch or torchrun
    main()
