"""What the three ftkit CLIs share: library errors become one clean line and exit code 2."""

from __future__ import annotations

import click

from ftdata.errors import FtdataError

EXIT_OK, EXIT_PROBLEMS, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


class ToolGroup(click.Group):
    """A click group whose commands may raise `FtdataError`: the user sees its message, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FtdataError as error:
            raise BadInput(str(error)) from None
