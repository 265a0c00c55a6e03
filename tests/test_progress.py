"""Progress of long commands when output is not a terminal: plain lines, each tenth of the work and
at least every 10 s, with the rate and the time left, and a closing line."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from precursor_watch.progress import EVERY_SECONDS, PlainProgress, TerminalProgress, duration, progress, rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_line_for_each_tenth_with_rate_and_time_left():
    out, clock = io.StringIO(), Clock()
    bar = PlainProgress("truth 2026-11-15", 200, "slots", out, clock=clock)
    for _ in range(200):
        clock.now += 0.01  # 100 slots/s
        bar.advance()
    bar.finish(ok=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10  # 10% .. 90%, then the closing line (100% is said by it)
    assert lines[0] == "truth 2026-11-15: 20/200 slots (10%), 100.0 slots/s, about 2 s left"
    assert lines[8].startswith("truth 2026-11-15: 180/200 slots (90%), 100.0 slots/s, about 0 s left")
    assert lines[-1] == "truth 2026-11-15: done, 200 slots in 2 s (100.0 slots/s)"


def test_a_slow_job_says_it_is_alive_every_10_seconds_and_a_fast_rate_per_minute():
    out, clock = io.StringIO(), Clock()
    bar = PlainProgress("pwatch run", 100, "days", out, clock=clock)
    clock.now += EVERY_SECONDS - 0.1
    bar.update(0)
    assert out.getvalue() == ""
    clock.now += 0.2
    bar.update(0)
    clock.now += 29.9
    bar.update(1)  # 1% after 40 s: no tenth yet, but 30 s since the last line
    assert out.getvalue().splitlines() == [
        "pwatch run: 0/100 days (0%)",
        "pwatch run: 1/100 days (1%), 1.5 days/min, about 1 h 06 min left",
    ]


def test_a_growing_total_reports_by_time_only_and_a_failure_says_stopped():
    out, clock = io.StringIO(), Clock()
    bar = PlainProgress("crawl chemdir 2026-11-30", None, "pages", out, total_grows=True, clock=clock)
    bar.update(1, 2)
    bar.update(2, 2)
    assert out.getvalue() == ""  # 50% and 100% of a total that will grow mean nothing
    clock.now += EVERY_SECONDS
    bar.update(40, 400)
    bar.finish(ok=False)
    assert out.getvalue().splitlines() == [
        "crawl chemdir 2026-11-30: 40/400 pages (10%), 4.0 pages/s, about 1 min 30 s left",
        "crawl chemdir 2026-11-30: stopped, 40 pages in 10 s (4.0 pages/s)",
    ]


def test_not_a_terminal_gives_plain_lines_and_an_error_ends_with_stopped():
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        with progress("job", 3, "steps", stream=out) as bar:
            assert isinstance(bar, PlainProgress)
            bar.advance()
            raise RuntimeError("boom")
    assert out.getvalue().splitlines()[-1].startswith("job: stopped, 1 steps in ")


def test_a_terminal_gets_the_rich_bar():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with progress("job", 3, "steps", stream=out) as bar:
        assert isinstance(bar, TerminalProgress)
        bar.advance(3)
    assert "3/3" in out.getvalue() and "job" in out.getvalue()


def test_formats():
    assert [duration(s) for s in (0.4, 59, 61, 3599, 7800)] == ["0 s", "59 s", "1 min 01 s", "59 min 59 s", "2 h 10 min"]
    assert rate(2.5, "pages") == "2.5 pages/s" and rate(0.05, "days") == "3.0 days/min"


def test_fixtures_truth_prints_progress_lines_on_stderr_and_results_on_stdout(tmp_path):
    out = tmp_path / "truth.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "precursor_watch", "fixtures", "truth", "--date", "2026-11-15", "--scale", "500",
         "--seed", "3", "--out", str(out), "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("truth 2026-11-15:")]
    assert lines[0].startswith("truth 2026-11-15: ") and "slots (10%)" in lines[0] and "slots/s" in lines[0]
    assert lines[-1].startswith("truth 2026-11-15: done, ") and len(lines) == 10
    assert "truth 2026-11-15" not in done.stdout
    assert len(out.read_text().splitlines()) == int(done.stdout.split()[1])
    assert all(json.loads(line) for line in out.read_text().splitlines())
