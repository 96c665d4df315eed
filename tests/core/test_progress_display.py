"""The CLIs' progress display (ftcore.cli): one line per phase, finished when its count reaches its total, with
rate and time left."""

import io

from rich.console import Console
from rich.progress import Progress

from ftcore.cli import ProgressBars, progress_columns


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def display(clock: Clock) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=140, force_terminal=False, color_system=None)
    return Progress(*progress_columns(), console=console, get_time=clock, auto_refresh=False), out


def line(progress: Progress, stage: str) -> str:
    task = next(t for t in progress.tasks if t.description == stage)
    return " ".join(str(column(task)) for column in progress.columns if not hasattr(column, "spinner"))


def test_a_phase_of_unknown_size_gets_its_total_later_and_finishes():
    clock = Clock()
    progress, _ = display(clock)
    bars = ProgressBars(progress)
    bars.staged("lm-eval capability suite: base", 0, None)
    [task] = progress.tasks
    assert task.total is None and not task.finished
    bars.staged("lm-eval capability suite: base", 0, 30)  # the requests are known
    bars.staged("lm-eval capability suite: base", 0, 36)  # more of another kind: the total grows
    bars.staged("lm-eval capability suite: base", 0, 20)  # never shrinks
    for _ in range(36):
        clock.now += 0.5
        bars.staged("lm-eval capability suite: base", 1, 36)
    assert task.total == 36 and task.finished and task.finished_time == 18.0
    clock.now += 100  # the phase is over: the time shown stands still
    assert "36/36" in line(progress, "lm-eval capability suite: base")
    assert "0:00:18" in line(progress, "lm-eval capability suite: base")
    assert "2.0/s" in line(progress, "lm-eval capability suite: base")  # 36 requests in 18 s


def test_slow_phases_say_seconds_per_item_and_time_left():
    clock = Clock()
    progress, _ = display(clock)
    bars = ProgressBars(progress)
    for _ in range(3):
        clock.now += 8.0
        bars.staged("generating: finetuned", 4, 16)  # a batch of 4 answers every 8 s
    text = line(progress, "generating: finetuned")
    assert "12/16" in text and "2.0 s each" in text and "0:00:08" in text  # 4 answers left at 0.5/s: 8 s
    for _ in range(10):
        bars.staged("loading the base model", 0, 1)
    assert not progress.tasks[-1].finished
    bars.staged("loading the base model", 1, 1)
    assert progress.tasks[-1].finished


def test_a_phase_is_timed_from_its_announcement_and_one_that_failed_unstarted_leaves_no_line():
    """Generators announce a phase (n = 0) before their first batch: its clock counts that batch. A command that
    fails before a phase's first item keeps its error on one line: that phase's bar goes, a started one stays."""
    import pytest

    from ftcore.cli import progress_bars

    clock = Clock()
    progress, _ = display(clock)
    bars = ProgressBars(progress)
    bars.staged("generating: base", 0, 32)
    clock.now += 40.0  # the first batch of 16
    bars.staged("generating: base", 16, 32)
    clock.now += 40.0
    bars.staged("generating: base", 16, 32)
    assert "0:01:20" in line(progress, "generating: base")  # both batches, not the second alone

    out = io.StringIO()
    console = Console(file=out, width=140, force_terminal=False, color_system=None)
    with pytest.raises(RuntimeError), progress_bars(console) as bars:
        bars.staged("pulling records", 3, 10)
        bars.staged("drafting", 0, 2)
        raise RuntimeError("HTTP 429")
    assert "pulling records" in out.getvalue() and "drafting" not in out.getvalue()
