"""`fttrain`: training commands."""

from __future__ import annotations

import click

from ftdata.cli_base import ToolGroup
from fttrain import __version__


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fttrain")
def main() -> None:
    """Train a LoRA/QLoRA adapter on an `ftdata export` folder (transformers + peft + bitsandbytes)."""
