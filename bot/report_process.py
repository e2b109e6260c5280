"""`/sla report`'s answer, chart and CSV, built in a child process.

A report of tens of thousands of tickets is some 10^6 Python objects and seconds of CPU. Built in
threads of the bot, it still holds the interpreter between bytecodes (other users' acks wait behind
it) and the bot keeps the memory after it is freed. In a child (`python -m bot.report_process`) the
bot only waits on a pipe: the child reads a pickled `ReportJob` on stdin, builds the report with its
own database engine, and writes on stdout (length-prefixed pickles) the reply as soon as the figures
are ready, then the chart and the CSV. Only what goes to Slack comes back. The child's log lines go
to the bot's stderr.

The handler sends every report with tickets there (about a second of start-up is the price);
`build_reply` also runs in the bot, its figures and files in worker threads, for a period with none.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import re
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable

from rules.chart_data import ChartData, chart_data
from rules.compliance import Report
from rules.errors import Unavailable
from rules.periods import Period
from rules.policy import PolicySet
from storage.db import StoreContext

log = logging.getLogger(__name__)

EXIT_DATABASE_UNAVAILABLE = 75  # EX_TEMPFAIL: the child could not use the database; the bot says "try again"
REPORT_DATABASE_DOWN = "Could not make the report just now: the database is not answering. Try again in a minute."


@dataclass(frozen=True)
class ReportMessage:
    """`/sla report`'s answer: sent as soon as the figures are ready; the chart and the CSV follow."""

    text: str
    blocks: list[dict[str, Any]]


Files = list[dict[str, Any]]  # files_upload_v2's file_uploads: the chart (PNG) and the CSV
Send = Callable[[ReportMessage], Awaitable[None]]


@dataclass(frozen=True)
class ReportJob:
    """What the child needs: no Slack tokens, just the database, the loaded policies and the request."""

    database_url: str
    policies: PolicySet
    period: Period
    now: datetime
    customer: str | None
    plan_id: str | None
    log_level: str = "INFO"
    log_format: str = "text"
    log_context: dict[str, Any] = field(default_factory=dict)  # the request's ids, for the child's log lines


@dataclass(frozen=True, repr=False)
class FileParts:
    """What the files need of a report: small once made (the chart's figures, the CSV text), so the
    report's objects can go before matplotlib draws."""

    label: str
    stem: str
    chart: ChartData
    csv: str


def report_files(report: Report) -> FileParts:
    """The chart's figures and the CSV, named after the period and the scope."""
    from bot.exports import report_csv

    label = report.period.label
    suffix = re.sub(r"[^A-Za-z0-9_.-]+", "_", "".join(f"-{x}" for x in (report.customer, report.plan_id) if x))
    return FileParts(label, f"sla-report-{label}{suffix}", chart_data(report), report_csv(report))


def drawn(parts: FileParts) -> Files:
    from bot.chart import draw

    return [
        {"file": draw(parts.chart), "filename": f"{parts.stem}.png", "title": f"SLA compliance {parts.label}"},
        {"content": parts.csv, "filename": f"{parts.stem}.csv", "title": f"SLA report {parts.label} (CSV)"},
    ]


def reply_message(report: Report, policies: PolicySet) -> tuple[str, list[dict[str, Any]]]:
    from bot import views

    note = "The chart (PNG) and the CSV follow in this conversation." if report.tickets else None
    return views.report_message(report, policies.plans, note)


async def build_reply(services: StoreContext, job: ReportJob, send: Send, off_loop: bool) -> Files:
    """`send` the report's message, then make its files (none for an empty period). `off_loop` (in the bot):
    figures, chart and CSV in worker threads."""
    from bot.services.reporting import build_period_report
    from storage.reporting import gc_paused

    started = time.monotonic()
    # Some 10^6 objects at 50,000 tickets: the cyclic collector would walk them all, again and again, while
    # they live; reference counting frees them (no cycles) once the report is dropped, before the chart is drawn.
    with gc_paused():
        report, _loaded = await build_period_report(services, job.period, job.now, job.customer, job.plan_id, off_loop=off_loop)
        text, blocks = reply_message(report, job.policies)
        figures = time.monotonic()
        tickets = len(report.tickets)
        await send(ReportMessage(text, blocks))
        parts = None
        if tickets:
            parts = await asyncio.to_thread(report_files, report) if off_loop else report_files(report)
        del report, _loaded
    files: Files = []
    if parts is not None:
        files = await asyncio.to_thread(drawn, parts) if off_loop else drawn(parts)
    log.info(
        "report %s: %d tickets, figures in %.1f s, chart and CSV in %.1f s, peak RSS %.0f MB",
        job.period.label,
        tickets,
        figures - started,
        time.monotonic() - figures,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # the child's (in the bot: the bot's own)
    )
    return files


async def files_in_child(job: ReportJob, send: Send) -> Files:
    """`build_reply` in `python -m bot.report_process`: its message is sent as soon as the child has it, its
    files are returned. A cancelled wait (the bot stopping) kills the child."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.report_process",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("SLACK_")},  # it never talks to Slack
    )
    assert proc.stdin is not None and proc.stdout is not None
    message = files = None
    try:
        proc.stdin.write(pickle.dumps(job))
        await proc.stdin.drain()
        proc.stdin.close()
        message = await _frame(proc.stdout)
        if message is not None:
            assert isinstance(message, ReportMessage)
            await send(message)
            files = await _frame(proc.stdout)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if proc.returncode == EXIT_DATABASE_UNAVAILABLE:
        raise Unavailable(REPORT_DATABASE_DOWN)
    if proc.returncode != 0 or message is None or files is None:
        raise RuntimeError(f"the report process exited with {proc.returncode} (its error is logged above)")
    assert isinstance(files, list)
    return files


async def _frame(stream: asyncio.StreamReader) -> Any:
    """One length-prefixed pickle from the child; None when it ended before writing one."""
    try:
        size = int.from_bytes(await stream.readexactly(8), "big")
        return pickle.loads(await stream.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


def _write_frame(value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.write(len(data).to_bytes(8, "big") + data)
    sys.stdout.buffer.flush()


@dataclass
class _ChildStore:
    sessions: Any
    policies: PolicySet


async def _child(job: ReportJob) -> None:
    from storage.db import create_engine, session_factory

    async def send(message: ReportMessage) -> None:
        _write_frame(message)

    engine = create_engine(job.database_url)
    try:
        files = await build_reply(_ChildStore(session_factory(engine), job.policies), job, send, off_loop=False)
    finally:
        await engine.dispose()
    _write_frame(files)


def main() -> int:
    """The child: a `ReportJob` on stdin; its `ReportMessage`, then its files, on stdout; errors logged to stderr."""
    from bot.logs import bind, configure_logging
    from storage.db import database_unavailable

    job = pickle.loads(sys.stdin.buffer.read())
    assert isinstance(job, ReportJob)
    configure_logging(job.log_level, job.log_format, [])
    bind(**job.log_context)
    try:
        asyncio.run(_child(job))
    except Exception as e:
        reason = database_unavailable(e)
        if reason is not None:
            log.warning("report %s: the database is not answering (%s)", job.period.label, reason)
            return EXIT_DATABASE_UNAVAILABLE
        log.exception("report %s failed", job.period.label)
        return 1
    return 0


if __name__ == "__main__":  # `python -m`: run as bot.report_process, so what is pickled names that module
    from bot.report_process import main as _main

    sys.exit(_main())
