"""`/sla report`'s answer, chart and CSV; a big report is built in a child process.

A report of tens of thousands of tickets is some 10^6 Python objects and seconds of CPU. Built in
threads of the bot, it still holds the interpreter between bytecodes (other users' acks wait behind
it) and the bot keeps the memory after it is freed. In a child (`python -m bot.report_process`) the
bot only waits on a pipe: the child reads a pickled `ReportJob` on stdin, builds the report with its
own database engine, renders the reply, the chart and the CSV, and writes a pickled `ReportReply`
on stdout. Only what goes to Slack comes back. The child's log lines go to the bot's stderr.

A small report is not worth a new interpreter (about a second of start-up): `build_reply` runs in
the bot, its figures and files in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.compliance import Report
from rules.errors import Unavailable
from rules.periods import Period
from rules.policy import PolicySet
from storage.db import StoreContext

log = logging.getLogger(__name__)

EXIT_DATABASE_UNAVAILABLE = 75  # EX_TEMPFAIL: the child could not use the database; the bot says "try again"
REPORT_DATABASE_DOWN = "Could not make the report just now: the database is not answering. Try again in a minute."


@dataclass(frozen=True, repr=False)
class ReportReply:
    """What `/sla report` sends: the message, then (for a period with tickets) the chart and the CSV."""

    label: str
    tickets: int
    text: str
    blocks: list[dict[str, Any]]
    files: list[dict[str, Any]] = field(default_factory=list)  # files_upload_v2's file_uploads

    def __repr__(self) -> str:  # the CSV of a big report is megabytes
        return f"ReportReply({self.label}, {self.tickets} tickets, {len(self.files)} files)"


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


def report_files(report: Report) -> list[dict[str, Any]]:
    """The chart (PNG) and the CSV, named after the period and the scope."""
    from bot.chart import compliance_chart_png
    from bot.exports import report_csv

    label = report.period.label
    suffix = re.sub(r"[^A-Za-z0-9_.-]+", "_", "".join(f"-{x}" for x in (report.customer, report.plan_id) if x))
    return [
        {"file": compliance_chart_png(report), "filename": f"sla-report-{label}{suffix}.png", "title": f"SLA compliance {label}"},
        {"content": report_csv(report), "filename": f"sla-report-{label}{suffix}.csv", "title": f"SLA report {label} (CSV)"},
    ]


def reply_message(report: Report, policies: PolicySet) -> tuple[str, list[dict[str, Any]]]:
    from bot import views

    note = "The chart (PNG) and the CSV follow in this conversation." if report.tickets else None
    return views.report_message(report, policies.plans, note)


async def build_reply(services: StoreContext, job: ReportJob, off_loop: bool) -> ReportReply:
    """The report's message and files. `off_loop` (in the bot): figures, chart and CSV in worker threads."""
    from bot.services.reporting import build_period_report
    from storage.reporting import gc_paused

    # Some 10^6 objects at 50,000 tickets: the cyclic collector would walk them all, again and again, while
    # they live; reference counting frees them once the reply is made.
    with gc_paused():
        report, _loaded = await build_period_report(services, job.period, job.now, job.customer, job.plan_id, off_loop=off_loop)
        text, blocks = reply_message(report, job.policies)
        files: list[dict[str, Any]] = []
        if report.tickets:
            files = await asyncio.to_thread(report_files, report) if off_loop else report_files(report)
    return ReportReply(report.period.label, len(report.tickets), text, blocks, files)


async def reply_in_child(job: ReportJob) -> ReportReply:
    """Run `build_reply` in `python -m bot.report_process`; a cancelled wait (the bot stopping) kills the child."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.report_process", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    try:
        out, _ = await proc.communicate(pickle.dumps(job))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if proc.returncode == EXIT_DATABASE_UNAVAILABLE:
        raise Unavailable(REPORT_DATABASE_DOWN)
    if proc.returncode != 0:
        raise RuntimeError(f"the report process exited with {proc.returncode} (its error is logged above)")
    reply = pickle.loads(out)
    assert isinstance(reply, ReportReply)
    return reply


@dataclass
class _ChildStore:
    sessions: Any
    policies: PolicySet


async def _child(job: ReportJob) -> ReportReply:
    from storage.db import create_engine, session_factory

    engine = create_engine(job.database_url)
    try:
        return await build_reply(_ChildStore(session_factory(engine), job.policies), job, off_loop=False)
    finally:
        await engine.dispose()


def main() -> int:
    """The child: a `ReportJob` on stdin, a `ReportReply` on stdout; errors are logged to stderr."""
    from bot.logs import bind, configure_logging
    from storage.db import database_unavailable

    job = pickle.loads(sys.stdin.buffer.read())
    assert isinstance(job, ReportJob)
    configure_logging(job.log_level, job.log_format, [])
    bind(**job.log_context)
    try:
        reply = asyncio.run(_child(job))
    except Exception as e:
        reason = database_unavailable(e)
        if reason is not None:
            log.warning("report %s: the database is not answering (%s)", job.period.label, reason)
            return EXIT_DATABASE_UNAVAILABLE
        log.exception("report %s failed", job.period.label)
        return 1
    sys.stdout.buffer.write(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":  # `python -m`: run as bot.report_process, so what is pickled names that module
    from bot.report_process import main as _main

    sys.exit(_main())
