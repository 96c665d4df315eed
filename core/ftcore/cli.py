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
from ftcore.text import escape_invisible

EXIT_OK, EXIT_PROBLEMS, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


class ToolGroup(click.Group):
    """A click group whose commands may raise `FtdataError`: the user sees its message, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FtdataError as error:
            raise BadInput(escape_invisible(str(error))) from None  # input in a message stays on its line
        except OSError as error:  # a full disk, a read-only folder, a file where a folder must be: still one line
            raise BadInput(escape_invisible(describe_os_error(error))) from None


class ProgressBars:
    """Callbacks that library functions take (`progress=`), drawn as rich progress bars."""

    def __init__(self, progress: Progress):
        self._progress = progress
        self._tasks: dict[str, int] = {}
        self._totals: dict[str, int | None] = {}

    def drop_unstarted(self) -> None:
        """Remove the phases announced but with nothing done yet."""
        for task in self._progress.tasks:
            if task.id in self._tasks.values() and not task.completed:
                self._progress.remove_task(task.id)

    def counter(self, label: str):
        """progress(n): n more items done, total unknown."""
        return lambda n: self.staged(label, n, None)

    def staged(self, stage: str, done: int, total: int | None, info: str | None = None) -> None:
        """progress(stage, n, total[, info]): n more items done in a named stage; `info` is a short note shown
        after the bar (e.g. training's latest loss and tokens/s). A stage is one line of the display, finished
        (its clock stopped) when its count reaches its total. The total may be None at first (not known yet)
        and given, or raised, later."""
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=total, info="")
            self._totals[stage] = total
        update: dict = {"advance": done} | ({"info": info} if info is not None else {})
        known = self._totals[stage]
        if total is not None and (known is None or total > known):
            update["total"] = self._totals[stage] = total
        self._progress.update(self._tasks[stage], **update)


class _InfoColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(task.fields.get("info", ""))


class _RateColumn(ProgressColumn):
    """Items per second, or seconds per item when slower than one a second (a CPU generating answers)."""

    def render(self, task) -> Text:
        # Once a phase is over, its whole rate; while it runs, the recent one (rich needs two updates for it).
        speed = task.completed / task.finished_time if task.finished and task.finished_time else task.speed
        if not speed:
            return Text("")
        if speed >= 1:
            return Text(f"{speed:.0f}/s" if speed >= 10 else f"{speed:.1f}/s")
        return Text(f"{1 / speed:.1f} s each")


def progress_columns() -> tuple[ProgressColumn, ...]:
    """A phase per line: spinner while it runs, name, bar, count, rate, time spent, time left, and a note."""
    return (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        _InfoColumn(),
    )


@contextlib.contextmanager
def progress_bars(console: Console, disable: bool = False) -> Iterator[ProgressBars]:
    """The one progress display of the three CLIs (rich), on `console`; `disable` for --json."""
    with Progress(*progress_columns(), console=console, transient=False, disable=disable) as progress:
        bars = ProgressBars(progress)
        try:
            yield bars
        except BaseException:
            bars.drop_unstarted()  # a phase that failed before its first item adds a line and says nothing
            raise
