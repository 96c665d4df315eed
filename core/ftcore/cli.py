"""What the three ftkit CLIs share: library errors become one clean line and exit code 2."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ftcore.atomic import describe_os_error
from ftcore.errors import FtdataError

EXIT_OK, EXIT_PROBLEMS, EXIT_BAD_INPUT = 0, 1, 2


# Control characters, line breaks and bidi overrides in a message come from the input (a JSON key, a YAML key, a
# CSV header): shown as escapes, so that an error stays one line and no input can drive the terminal.
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]} | {ord("\t"): "\\t", ord("\n"): "\\n"}
_ESCAPES |= {c: f"\\u{c:04x}" for c in [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


def one_line(text: str) -> str:
    """`text` with control characters, line breaks and bidi overrides written as escapes."""
    return text.translate(_ESCAPES)


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


class ToolGroup(click.Group):
    """A click group whose commands may raise `FtdataError`: the user sees its message, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FtdataError as error:
            raise BadInput(one_line(str(error))) from None
        except OSError as error:  # a full disk, a read-only folder, a file where a folder must be: still one line
            raise BadInput(one_line(describe_os_error(error))) from None


class ProgressBars:
    """Callbacks that library functions take (`progress=`), drawn as rich progress bars."""

    def __init__(self, progress: Progress):
        self._progress = progress
        self._tasks: dict[str, int] = {}

    def counter(self, label: str):
        """progress(n): n more items done, total unknown."""
        return lambda n: self.staged(label, n, None)

    def staged(self, stage: str, done: int, total: int | None, info: str | None = None) -> None:
        """progress(stage, n, total[, info]): n more items done in a named stage of known total; `info` is a
        short note shown after the bar (e.g. training's latest loss and tokens/s)."""
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=total, info="")
        self._progress.update(self._tasks[stage], advance=done, **({"info": info} if info is not None else {}))


class _InfoColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(task.fields.get("info", ""))


@contextlib.contextmanager
def progress_bars(console: Console, disable: bool = False) -> Iterator[ProgressBars]:
    """The one progress display of the three CLIs (rich), on `console`; `disable` for --json."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        _InfoColumn(),
    )
    with Progress(*columns, console=console, transient=False, disable=disable) as progress:
        yield ProgressBars(progress)
