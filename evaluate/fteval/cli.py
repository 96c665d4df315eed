"""`fteval`: evaluation commands."""

from __future__ import annotations

import click

from ftdata.cli_base import ToolGroup
from fteval import __version__


@click.group(cls=ToolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fteval")
def main() -> None:
    """Compare a fine-tuned model with the base model and a prompted baseline; report regressions."""


if __name__ == "__main__":  # `python -m fteval.cli`
    main()
