"""Progress of the long commands (`pwatch run`, `pwatch crawl`, `pwatch nlp train`, `pwatch fixtures
truth`): a bar with rate and time left when stderr is a terminal, plain lines when it is not.

Plain lines are for logs (CI, Airflow task logs, a crawl started by another process): one each
time another tenth of the total is done (unless the total grows as the work finds more, as a
crawl's does) and one at least every 10 s while the work goes on, so a short command prints about
ten lines and a long one shows it is alive. Progress goes to stderr; stdout is left to results.

    with progress("crawl chemdir", unit="pages", total_grows=True) as bar:
        bar.update(fetched, total=scheduled)   # or bar.advance() per unit of work
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

EVERY_SECONDS = 10.0  # a plain line at least this often while the work goes on
STEPS = 10  # ... and one each time another 1/STEPS of the total is done
REFRESH = 0.1  # seconds between updates pushed to the terminal bar (advance() may run per item)


class Progress(Protocol):
    def advance(self, n: int = 1) -> None: ...

    def update(self, completed: int, total: int | None = None) -> None: ...


def duration(seconds: float) -> str:
    """`45 s`, `3 min 05 s`, `2 h 10 min`."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def rate(per_second: float, unit: str) -> str:
    """Per second, or per minute when under one a second (days of `pwatch run`)."""
    if per_second >= 1:
        return f"{per_second:,.1f} {unit}/s"
    return f"{per_second * 60:,.1f} {unit}/min"


class PlainProgress:
    """Progress as plain lines (see the module docstring for when they are written)."""

    def __init__(
        self,
        what: str,
        total: int | None,
        unit: str,
        stream: TextIO,
        total_grows: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.total, self.unit, self.stream, self.clock = what, total, unit, stream, clock
        self.total_grows = total_grows  # a total found on the way (a crawl's): lines by time only
        self.completed = 0
        self.started = self.last_line = clock()
        self.step = 0  # tenths of the total reported so far

    def advance(self, n: int = 1) -> None:
        self.update(self.completed + n)

    def update(self, completed: int, total: int | None = None) -> None:
        self.completed = completed
        if total is not None:
            self.total = total
        now = self.clock()
        # all done: the closing line says so
        step = min(STEPS - 1, completed * STEPS // self.total) if self.total and not self.total_grows else 0
        if step > self.step or now - self.last_line >= EVERY_SECONDS:
            self.step = max(step, self.step)
            self._write(self._status(now))
            self.last_line = now

    def finish(self, ok: bool) -> None:
        elapsed = self.clock() - self.started
        done = f"{self.completed:,} {self.unit} in {duration(elapsed)}"
        if elapsed > 0 and self.completed:
            done += f" ({rate(self.completed / elapsed, self.unit)})"
        self._write(f"{self.what}: {'done' if ok else 'stopped'}, {done}")

    def _status(self, now: float) -> str:
        elapsed = now - self.started
        parts = [
            f"{self.what}: {self.completed:,}"
            + (f"/{self.total:,} {self.unit} ({self.completed / self.total:.0%})" if self.total else f" {self.unit}")
        ]
        per_second = self.completed / elapsed if elapsed > 0 else 0.0
        if per_second > 0:
            parts.append(rate(per_second, self.unit))
            if self.total and self.completed < self.total:
                parts.append(f"about {duration((self.total - self.completed) / per_second)} left")
        return ", ".join(parts)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


class TerminalProgress:
    """A `rich` bar: description, bar, done/total, rate, time left, elapsed."""

    def __init__(self, what: str, total: int | None, unit: str, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task) -> Text:
                return Text(rate(task.speed, unit) if task.speed else "", style="progress.data.speed")

        self.unit = unit
        self.bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            RateColumn(),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream),
        )
        self.task = self.bar.add_task(what, total=total)
        self.completed, self.total = 0, total
        self.pushed = 0.0
        self.handlers: list = []

    def start(self) -> None:
        self.bar.start()
        self._log_through_bar()

    def advance(self, n: int = 1) -> None:
        self.update(self.completed + n)

    def update(self, completed: int, total: int | None = None) -> None:
        self.completed = completed
        if total is not None:
            self.total = total
        now = time.monotonic()
        if now - self.pushed >= REFRESH:
            self.bar.update(self.task, completed=completed, total=self.total)
            self.pushed = now

    def finish(self, ok: bool) -> None:
        self.bar.update(self.task, completed=self.completed, total=self.total)
        for handler, stream in self.handlers:
            handler.setStream(stream)
        self.bar.stop()

    def _log_through_bar(self) -> None:
        """Log lines written to the terminal while the bar is drawn go above it, not through it:
        handlers opened on the real stderr/stdout write to the bar's redirected streams instead."""
        import logging

        for handler in logging.root.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and stream in (sys.__stderr__, sys.__stdout__):
                redirected = sys.stderr if stream is sys.__stderr__ else sys.stdout
                self.handlers.append((handler, handler.setStream(redirected)))


def on_terminal(stream: TextIO) -> bool:
    return stream.isatty() and os.environ.get("TERM") != "dumb"


@contextmanager
def progress(
    what: str, total: int | None = None, unit: str = "items", *, total_grows: bool = False, stream: TextIO | None = None
) -> Iterator[Progress]:
    """Report progress of `what` (`total` units of work, if known) until the block ends; the last
    line says whether it finished or stopped."""
    stream = stream or sys.stderr
    bar: PlainProgress | TerminalProgress
    if on_terminal(stream):
        bar = TerminalProgress(what, total, unit, stream)
        bar.start()
    else:
        bar = PlainProgress(what, total, unit, stream, total_grows)
    try:
        yield bar
    except BaseException:
        bar.finish(ok=False)
        raise
    bar.finish(ok=True)
