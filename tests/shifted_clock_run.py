"""`triage-bot` on a clock the test sets: `python -m tests.shifted_clock_run FILE run`.

Real bot processes read time from `rules.clock.SystemClock`. Here that clock
reads the instant written in FILE (ISO 8601, re-read on every call), so a
multi-process test drives the bots' time by rewriting FILE, as in-process
tests move a ManualClock, instead of waiting on wall-clock margins. Leases,
retries and deadlines then move only when the test moves time.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

from rules.clock import SystemClock


class FileClock:
    """The instant in a file; the test that owns the file is the only thing that moves it."""

    def __init__(self, path: Path):
        self.path = path
        self.set(datetime.fromisoformat(path.read_text().strip()) if path.exists() else SystemClock().now())

    def now(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text().strip())

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FileClock needs a timezone-aware instant")
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(instant.isoformat())
        tmp.replace(self.path)  # atomic: a bot never reads half an instant

    def advance(self, delta: timedelta) -> datetime:
        instant = self.now() + delta
        self.set(instant)
        return instant


def main() -> int:
    clock_file, *argv = sys.argv[1:]
    clock = FileClock(Path(clock_file))
    SystemClock.now = lambda self: clock.now()  # type: ignore[method-assign]
    from bot.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
