"""Benchmark: the SLA scheduler (timer rows + claim/tick) vs APScheduler 3's SQLAlchemyJobStore.

Both run as real, separate processes against the same PostgreSQL server and the
Slack stand-in (tests/slack_standin) served by this benchmark process:

* ours: ``python -m bot.cli run`` (SCHEDULER_TICK_SECONDS=0.1 unless --tick),
  on a fresh database ``bench_<hex>`` migrated with ``storage.db.upgrade``;
* baseline: this file run with ``--aps-worker``: an ``AsyncIOScheduler`` with a
  persistent ``SQLAlchemyJobStore`` (sync engine, psycopg2) on a second fresh
  database ``bench_<hex>_aps``, one job per timer, whose job posts
  chat.postMessage through ``slack_sdk.AsyncWebClient``.

Data (same shape for both): ``--tickets`` open tickets (default 100,000) on
comarch-cci-premium, each with the 6 timers ``planned_notifications`` gives (3
reminders + 3 escalation levels), so ~600k timer rows / jobs. Background
tickets (general-guidance or system-impaired, opened in the last hours) have
every timer 2 h or more ahead. ``--due`` of them (default 1,000) are
business-critical tickets opened 15 minutes before an instant T, so their 50%
reminders are all due at exactly T. Rows are cloned (with shifted instants and
keys) from tickets made by ``Services.open_ticket``, checked against
``rules.notifications`` and bulk-loaded with COPY.

Phases, for each system: (A) 1,000 open tickets: start the process, measure
idle CPU over ``--idle`` seconds; stop. (B) load up to ``--tickets``, start
the process again (startup time), steady RSS, idle CPU at full size, EXPLAIN of
the claim query (ours), then the burst at T: lateness of each due post as seen
by the stand-in (arrival time - T), RSS sampled every 10 ms.

Caveats printed with the results: the APScheduler job only posts (no ticket
re-evaluation, no outcome recorded, no exactly-once), so it does less work per
timer than ours; its jobs use ``misfire_grace_time=None`` (with the default
of 1 s every job later than 1 s would be skipped, not posted).

Run from the repo root (needs PostgreSQL at TEST_POSTGRES_URL or
127.0.0.1:5432, and psycopg2 in the venv for the baseline):

    .venv/bin/python bench/bench_scheduler.py [--tickets 100000] [--due 1000]

Every process this script starts is stopped, and both databases are dropped,
also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import math
import os
import pickle
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import procstats  # bench/procstats.py: this script's own folder is on sys.path; it puts the repository's there too
from procstats import REPO_ROOT, free_port, proc_cpu, proc_mem

UTC = timezone.utc
CHANNEL = "C0INCIDENT"
PLAN = "comarch-cci-premium"
METADATA_EVENT = "triage_sla_notification"  # bot.scheduler.METADATA_EVENT (checked at run time)
APS_FUNC_REF = "bench_scheduler:aps_post"
BACKGROUND_SEVERITIES = {"general-guidance": timedelta(hours=10), "system-impaired": timedelta(hours=4)}  # opened up to this long ago
DUE_SEVERITY = "business-critical"  # 30 min first response: the 50% reminder is 15 min after opening


# ----------------------------------------------------------------------------- the APScheduler job
# Imported by the worker process as bench_scheduler:aps_post; keep this module's top level light.
_aps_client = None


async def aps_post(timer_id: int, channel: str) -> None:
    """The baseline's job: one chat.postMessage, with the same kind of metadata our scheduler sends."""
    global _aps_client
    if _aps_client is None:
        from slack_sdk.web.async_client import AsyncWebClient

        _aps_client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    text = f":alarm_clock: timer {timer_id}: first response due soon (50% of the target used)."
    await _aps_client.chat_postMessage(
        channel=channel,
        text=text,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        metadata={"event_type": METADATA_EVENT, "event_payload": {"timer_id": timer_id}},
    )


# ----------------------------------------------------------------------------- /proc helpers


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------- the stand-in, with arrival times
_arrived: contextvars.ContextVar[float] = contextvars.ContextVar("arrived", default=0.0)


def timed_standin_class():
    from tests.slack_standin import SlackStandIn

    class TimedStandIn(SlackStandIn):
        """Records (arrival time, timer id) for every chat.postMessage carrying a timer id."""

        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.arrivals: list[tuple[float, int]] = []
            post = self._methods["chat.postMessage"]

            def recorded(params: dict[str, Any]) -> dict[str, Any]:
                result = post(params)
                meta = params.get("metadata")
                if isinstance(meta, str):
                    meta = json.loads(meta)
                timer_id = ((meta or {}).get("event_payload") or {}).get("timer_id")
                if timer_id is not None:
                    self.arrivals.append((_arrived.get() or time.time(), int(timer_id)))
                return result

            self._methods["chat.postMessage"] = recorded

        async def _handle_api(self, request):  # type: ignore[no-untyped-def]
            _arrived.set(time.time())  # headers in: before the body is read and the call handled
            return await super()._handle_api(request)

    return TimedStandIn


# ----------------------------------------------------------------------------- processes
class Processes(procstats.Processes):
    async def start(self, *cmd: str, env: dict[str, str], pipes: bool = False) -> tuple[asyncio.subprocess.Process, str]:
        log = tempfile.NamedTemporaryFile(prefix="bench-scheduler-", suffix=".log", delete=False)
        self.logs.append(log.name)
        # stderr to a file: an undrained pipe would block the child once full.
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            env=env,
            cwd=REPO_ROOT,
            stderr=log,
            stdin=asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL,
        )
        log.close()
        self.procs.append(proc)
        return proc, log.name


# ----------------------------------------------------------------------------- data: templates and clones
@dataclass
class Template:
    """The rows `Services.open_ticket` stored for one ticket, to clone with shifted instants."""

    severity: str
    opened_at: datetime
    rows: dict[str, list[dict[str, Any]]]  # table -> rows (one ticket's)
    timer_offsets: list[tuple[str, timedelta]]  # (label, due_at - opened_at), for the baseline's jobs


TABLES = ("tickets", "ticket_events", "sla_clocks", "sla_timers")
SHIFTED = {
    "tickets": ("opened_at", "earliest_due_at", "earliest_at_risk_at"),
    "ticket_events": ("at",),
    "sla_clocks": ("due_at", "at_risk_at"),
    "sla_timers": ("deadline", "due_at", "run_at", "lease_until"),
}


@dataclass
class TicketSpec:
    severity: str
    opened_at: datetime
    summary: str


class Cloner:
    def __init__(self, templates: dict[str, Template], plan_tz: Any, next_ids: dict[str, int]):
        self.templates = templates
        self.tz = plan_tz
        self.next_ids = next_ids
        self.columns = {t: list(templates[DUE_SEVERITY].rows[t][0].keys()) for t in TABLES}

    def clone(self, spec: TicketSpec, out: dict[str, list[tuple]], due_ids: list[int] | None) -> None:
        tpl = self.templates[spec.severity]
        delta = spec.opened_at - tpl.opened_at
        ticket_id = self.next_ids["tickets"]
        self.next_ids["tickets"] += 1
        for table in TABLES:
            cols = self.columns[table]
            for row in tpl.rows[table]:
                new = dict(row)
                if table == "tickets":
                    new["id"] = ticket_id
                    new["summary"] = spec.summary
                else:
                    new["id"] = self.next_ids[table]
                    self.next_ids[table] += 1
                    new["ticket_id"] = ticket_id
                for col in SHIFTED[table]:
                    if new[col] is not None:
                        new[col] = new[col] + delta
                if table == "sla_timers":
                    old_iso = row["deadline"].astimezone(self.tz).isoformat()
                    new_iso = new["deadline"].astimezone(self.tz).isoformat()
                    assert old_iso in row["key"], (row["key"], old_iso)
                    new["key"] = row["key"].replace(old_iso, new_iso)
                    if due_ids is not None and new["label"] == "50%":
                        due_ids.append(new["id"])
                out[table].append(tuple(new[c] for c in cols))


async def make_templates(services: Any, conn: Any) -> dict[str, Template]:
    """One ticket per severity through Services.open_ticket; read back, then deleted."""
    from bot.services import ReportDraft

    opened = services.clock.now()
    templates = {}
    for severity in (*BACKGROUND_SEVERITIES, DUE_SEVERITY):
        opened_ticket = await services.open_ticket(
            ReportDraft(channel_id=CHANNEL, reporter_id="U0REPORTER", summary="template", severity=severity)
        )
        tid = opened_ticket.ticket.id
        rows = {}
        for table in TABLES:
            key = "id" if table == "tickets" else "ticket_id"
            rows[table] = [dict(r) for r in await conn.fetch(f"SELECT * FROM {table} WHERE {key} = $1 ORDER BY id", tid)]
        offsets = [(r["label"], r["due_at"] - opened) for r in rows["sla_timers"]]
        templates[severity] = Template(severity, opened, rows, offsets)
    for table in reversed(TABLES):
        await conn.execute(f"DELETE FROM {table}")
    assert all(len(t.rows["sla_timers"]) == 6 for t in templates.values()), {s: len(t.rows["sla_timers"]) for s, t in templates.items()}
    return templates


def check_clones(cloner: Cloner, specs: list[TicketSpec], policies: Any) -> None:
    """The cloned timer rows equal what rules.notifications plans for those tickets (a sample)."""
    from rules.notifications import planned_notifications
    from rules.sla import evaluate

    plan = policies.plan(PLAN)
    for spec in random.Random(7).sample(specs, min(25, len(specs))):
        out: dict[str, list[tuple]] = {t: [] for t in TABLES}
        saved = dict(cloner.next_ids)
        cloner.clone(spec, out, None)
        cloner.next_ids.update(saved)
        cols = cloner.columns["sla_timers"]
        got = sorted((r[cols.index("key")], r[cols.index("due_at")], r[cols.index("deadline")]) for r in out["sla_timers"])
        status = evaluate(plan, spec.severity, spec.opened_at, [], now=spec.opened_at)
        want = sorted((n.key, n.at, n.due) for n in planned_notifications(status, plan.notifications))
        assert got == want, f"cloned timers differ from rules.notifications for {spec}: {got} != {want}"


async def copy_tickets(conn: Any, cloner: Cloner, specs: list[TicketSpec], due_ids: list[int] | None, chunk: int = 10_000) -> int:
    """COPY tickets with their events, clocks and timers; FK triggers off (the rows are consistent by construction)."""
    timers = 0
    await conn.execute("SET session_replication_role = replica")
    try:
        for start in range(0, len(specs), chunk):
            out: dict[str, list[tuple]] = {t: [] for t in TABLES}
            for spec in specs[start : start + chunk]:
                cloner.clone(spec, out, due_ids)
            for table in TABLES:
                await conn.copy_records_to_table(table, records=out[table], columns=cloner.columns[table])
            timers += len(out["sla_timers"])
    finally:
        await conn.execute("SET session_replication_role = origin")
    for table in TABLES:
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")
    return timers


def background_specs(n: int, now: datetime, seed: int = 1) -> list[TicketSpec]:
    rng = random.Random(seed)
    severities = list(BACKGROUND_SEVERITIES)
    specs = []
    for i in range(n):
        severity = severities[i % len(severities)]
        ago = BACKGROUND_SEVERITIES[severity] * rng.random()
        specs.append(TicketSpec(severity, now - ago, f"background ticket {i}"))
    return specs


def due_specs(n: int, T: datetime) -> list[TicketSpec]:
    return [TicketSpec(DUE_SEVERITY, T - timedelta(minutes=15), f"due ticket {i}") for i in range(n)]


# ----------------------------------------------------------------------------- measuring
@dataclass
class Idle:
    seconds: float
    cpu: float  # process CPU seconds over the window
    db_cpu: float | None  # the process's PostgreSQL backends, CPU seconds over the window
    rss: float
    wakeups: float | None = None  # ticks / wakeups in the window
    scans: dict[str, int] | None = None  # sla_timers seq/idx scans seen in pg_stat (cross-check of ticks, and index use)

    def per_wakeup_ms(self) -> float | None:
        return None if not self.wakeups else 1000 * self.cpu / self.wakeups

    def db_per_wakeup_ms(self) -> float | None:
        return None if not self.wakeups or self.db_cpu is None else 1000 * self.db_cpu / self.wakeups


async def backend_pids(conn: Any, db: str) -> list[int]:
    return [
        r["pid"]
        for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'", db
        )
    ]


def sum_cpu(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            out[pid] = proc_cpu(pid)
        except OSError:
            pass
    return out


async def timer_scans(conn: Any) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT t.seq_scan, coalesce(i.idx_scan, 0) AS idx_scan FROM pg_stat_user_tables t "
        "LEFT JOIN pg_stat_user_indexes i ON i.relid = t.relid AND i.indexrelname = 'ix_sla_timers_runnable' "
        "WHERE t.relname = 'sla_timers'"
    )
    return {"seq_scan": row["seq_scan"], "idx_scan": row["idx_scan"]}


async def wait_stats_flush(conn: Any, timeout: float = 2.5) -> dict[str, int]:
    """Poll the sla_timers scan counters until they move: a backend just flushed its stats (they lag up to ~1 s)."""
    first = await timer_scans(conn)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        await asyncio.sleep(0.005)
        now = await timer_scans(conn)
        if now != first:
            return now
    return first


async def measure_idle(pid: int, conn: Any, db: str, seconds: float, with_scans: bool) -> Idle:
    """Process CPU (and its PostgreSQL backends' CPU) over an idle window.

    With scans: the window starts and ends just after the bot's backend flushed its
    statistics, so the claim statements counted in pg_stat match the window; each
    idle tick is 4 index scans: the claim (one per value of `state IN (...)`) and the
    look-up of the next due instant (one probe per state), or 1 sequential scan.
    """
    scans0 = await wait_stats_flush(conn) if with_scans else None
    pids0 = await backend_pids(conn, db)
    db0 = sum_cpu(pids0)
    cpu0, t0 = proc_cpu(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    scans1 = await wait_stats_flush(conn) if with_scans else None
    cpu1, t1 = proc_cpu(pid), time.perf_counter()
    db1 = sum_cpu(list(db0))
    db_cpu = sum(db1[p] - db0[p] for p in db1) if db0 else 0.0
    idle = Idle(t1 - t0, cpu1 - cpu0, db_cpu, proc_mem(pid)["VmRSS"])
    if scans0 is not None and scans1 is not None:
        idle.scans = {k: scans1[k] - scans0[k] for k in scans0}
        idle.wakeups = idle.scans["seq_scan"] + idle.scans["idx_scan"] / 4
    return idle


@dataclass
class Burst:
    lateness: list[float]
    expected: int
    rss_peak: float
    hwm: float
    first: float | None
    last: float | None
    cpu: float  # process CPU seconds from T until the last due post arrived
    db_cpu: float  # its PostgreSQL backends' CPU over the same span
    outcome: dict[str, int] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        return len(self.lateness)


async def measure_burst(pid: int, slack: Any, conn: Any, db: str, due_ids: set[int], T: datetime, timeout: float) -> Burst:
    slack.arrivals.clear()
    t_due = T.timestamp()
    await sleep_until(t_due - 0.3)
    pids0 = await backend_pids(conn, db)
    db0 = sum_cpu(pids0)
    cpu0 = proc_cpu(pid)
    rss_peak = 0.0
    deadline = t_due + timeout
    while time.time() < deadline:
        try:
            rss_peak = max(rss_peak, proc_mem(pid)["VmRSS"])
        except OSError:
            break
        if time.time() > t_due and sum(1 for _, tid in slack.arrivals if tid in due_ids) >= len(due_ids):
            break
        await asyncio.sleep(0.01)
    cpu1 = proc_cpu(pid)
    db1 = sum_cpu(await backend_pids(conn, db))
    await asyncio.sleep(0.2)
    mem = proc_mem(pid)
    first_seen: dict[int, float] = {}
    for at, tid in slack.arrivals:
        if tid in due_ids and tid not in first_seen:
            first_seen[tid] = at
    lateness = [at - t_due for at in first_seen.values()]
    return Burst(
        lateness,
        len(due_ids),
        max(rss_peak, mem["VmRSS"]),
        mem["VmHWM"],
        min(lateness) if lateness else None,
        max(lateness) if lateness else None,
        cpu1 - cpu0,
        sum(c - db0.get(p, 0.0) for p, c in db1.items()),
        outcome={"posts": sum(1 for _, tid in slack.arrivals if tid in due_ids)},
    )


async def wait_log(path: str, needle: str, proc: asyncio.subprocess.Process, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.returncode is not None:
            raise RuntimeError(f"process exited with {proc.returncode}; log {path}:\n{Path(path).read_text()[-3000:]}")
        if needle in Path(path).read_text(errors="replace"):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {needle!r} in {path}")


async def sleep_until(instant: float) -> None:
    delay = instant - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


# ----------------------------------------------------------------------------- ours
@dataclass
class Result:
    name: str
    idle_small: Idle | None = None
    idle_full: Idle | None = None
    startup: float | None = None
    rss_start: float | None = None
    burst: Burst | None = None
    load_seconds: float | None = None
    api_add: tuple[int, float] | None = None  # (jobs, seconds) through the public API
    probe_small: float | None = None  # ms per wakeup with nothing due (APScheduler, in-process)
    probe_full: float | None = None
    explain: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def claim_sql(now: datetime, batch: int) -> tuple[str, list[Any]]:
    """SlaScheduler.claim's statement (`TimerStore.acquire`), compiled as the bot's asyncpg dialect sends it."""
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

    from storage.timers import acquire_query

    query = acquire_query(now, batch).with_for_update(skip_locked=True)
    compiled = query.compile(dialect=pg_asyncpg.dialect(), compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup]
    return str(compiled), params


async def explain_claim(conn: Any, batch: int) -> list[str]:
    """The claim query's plan: custom (as EXPLAIN with values) and generic (as a cached prepared statement may run)."""
    sql, params = claim_sql(datetime.now(UTC), batch)
    keep = ("Scan", "Index Cond", "Filter", "Execution Time", "Timing:")
    lines = []
    tr = conn.transaction()
    await tr.start()
    try:  # rolled back: EXPLAIN ANALYZE runs the SELECT ... FOR UPDATE (nothing is due, nothing is locked)
        plan = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *params)]
        lines.append("custom plan:  " + plan[0])
        lines += ["              " + p.strip() for p in plan[1:] if any(k in p for k in keep)]
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute("PREPARE bench_claim AS " + sql)
        try:
            literal = ", ".join(
                f"'{p.isoformat()}'" if isinstance(p, datetime) else (str(p) if isinstance(p, int) else f"'{p}'") for p in params
            )
            plan = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_claim({literal})")]
            lines.append("generic plan: " + plan[0])
            lines += ["              " + p.strip() for p in plan[1:] if any(k in p for k in keep)]
        finally:
            await conn.execute("DEALLOCATE bench_claim")
    finally:
        await tr.rollback()
    return lines


async def start_bot(procs: Processes, slack: Any, url: str, tick: float) -> tuple[asyncio.subprocess.Process, str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SCHEDULER_", "DATABASE_URL"))}
    env.update(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET="bench-signing-secret",
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=url,
        PORT=str(free_port()),
        SCHEDULER_TICK_SECONDS=str(tick),
        PYTHONPATH=str(REPO_ROOT),
    )
    t0 = time.perf_counter()
    proc, log = await procs.start(sys.executable, "-m", "bot.cli", "run", env=env)
    await wait_log(log, "listening on", proc)
    return proc, log, time.perf_counter() - t0


async def bench_ours(
    args: argparse.Namespace, procs: Processes, slack: Any, base_dsn: str, db: str, bg: list[TicketSpec]
) -> tuple[Result, dict[str, Template]]:
    import asyncpg

    import bot.scheduler
    from bot.services import build_services
    from bot.services.oncall import set_oncall
    from bot.settings import Settings
    from rules.clock import ManualClock
    from storage.db import upgrade

    assert bot.scheduler.METADATA_EVENT == METADATA_EVENT
    res = Result("ours")
    url = f"postgresql+asyncpg://{base_dsn.split('://', 1)[1].rsplit('/', 1)[0]}/{db}"
    settings = Settings(_env_file=None, database_url=url, default_plan=PLAN)
    services = build_services(settings, clock=ManualClock(datetime.now(UTC) - timedelta(days=1)))
    conn = await asyncpg.connect(base_dsn.rsplit("/", 1)[0] + "/" + db)
    try:
        await upgrade(services.engine)
        for role, user in (("on-call", "U0ONCALL"), ("next-level", "U0NEXT"), ("manager", "U0MANAGER")):
            await set_oncall(services, role, "UADMIN", user_id=user)
        templates = await make_templates(services, conn)
        next_ids = {t: 1 for t in TABLES}
        cloner = Cloner(templates, services.policies.plan(PLAN).timezone, next_ids)
        check_clones(cloner, bg[:500] + due_specs(3, datetime.now(UTC) + timedelta(minutes=1)), services.policies)
    finally:
        await services.close()

    try:
        # -- phase A: 1,000 open tickets
        small = bg[: args.small]
        t0 = time.perf_counter()
        timers = await copy_tickets(conn, cloner, small, None)
        await conn.execute("ANALYZE")
        say(f"ours: loaded {len(small):,} tickets / {timers:,} timers in {time.perf_counter() - t0:.1f}s; starting the bot")
        proc, log, _ = await start_bot(procs, slack, url, args.tick)
        await asyncio.sleep(args.settle)
        res.idle_small = await measure_idle(proc.pid, conn, db, args.idle, with_scans=True)
        res.explain.append(f"at {len(small):,} open tickets ({timers:,} timer rows):")
        res.explain += await explain_claim(conn, args.batch)
        await procs.stop(proc)

        # -- phase B: full size, and the due tickets
        rest = bg[args.small :]
        t0 = time.perf_counter()
        timers_rest = await copy_tickets(conn, cloner, rest, None)
        T = (datetime.now(UTC) + timedelta(seconds=args.lead)).replace(microsecond=0)
        due_ids: list[int] = []
        timers_due = await copy_tickets(conn, cloner, due_specs(args.due, T), due_ids)
        await conn.execute("ANALYZE")
        res.load_seconds = time.perf_counter() - t0
        total_tickets = await conn.fetchval("SELECT count(*) FROM tickets WHERE state = 'open'")
        total_timers = await conn.fetchval("SELECT count(*) FROM sla_timers WHERE state = 'pending'")
        res.counts = {"tickets": total_tickets, "timers": total_timers, "due": len(due_ids)}
        say(
            f"ours: loaded {len(rest) + args.due:,} more tickets / {timers_rest + timers_due:,} timers in {res.load_seconds:.1f}s "
            f"(now {total_tickets:,} open tickets, {total_timers:,} pending timers); T = {T:%H:%M:%S}"
        )
        proc, log, res.startup = await start_bot(procs, slack, url, args.tick)
        res.rss_start = proc_mem(proc.pid)["VmRSS"]
        await asyncio.sleep(args.settle)
        window = min(args.idle, T.timestamp() - time.time() - 4)
        if window < args.idle:
            res.notes.append(f"idle window at full size shortened to {window:.1f}s to end before T (raise --lead)")
        if window > 1:
            res.idle_full = await measure_idle(proc.pid, conn, db, window, with_scans=True)
        if T.timestamp() - time.time() > 2:
            res.explain.append(f"at {total_tickets:,} open tickets ({total_timers:,} pending timer rows):")
            res.explain += await explain_claim(conn, args.batch)
        if time.time() > T.timestamp() - 0.5:
            res.notes.append("setup overran T: the burst figures include start-up")
        say(f"ours: waiting for the burst of {len(due_ids):,} timers due at {T:%H:%M:%S}")
        res.burst = await measure_burst(proc.pid, slack, conn, db, set(due_ids), T, args.timeout)
        # what the bot recorded for the due timers
        end = time.monotonic() + 15
        while time.monotonic() < end:
            open_rows = await conn.fetchval(
                "SELECT count(*) FROM sla_timers WHERE id = ANY($1) AND state IN ('pending', 'claimed')", due_ids
            )
            if open_rows == 0:
                break
            await asyncio.sleep(0.2)
        rows = await conn.fetch("SELECT state, late, count(*) AS n FROM sla_timers WHERE id = ANY($1) GROUP BY state, late", due_ids)
        res.burst.outcome.update({f"{r['state']}{' (late)' if r['late'] else ''}": r["n"] for r in rows})
        errors = await conn.fetch(
            "SELECT error, count(*) AS n FROM sla_timers WHERE id = ANY($1) AND error IS NOT NULL GROUP BY error", due_ids
        )
        for r in errors:
            res.notes.append(f"{r['n']} due timer(s) ended with error: {r['error']}")
        await procs.stop(proc)
        skipped = Path(log).read_text(errors="replace").count("skipped: maximum number of running instances reached")
        if skipped:
            res.notes.append(
                f"the bot logged {skipped} WARNING lines 'Execution of job \"SlaScheduler.tick ...\" skipped: maximum number of running instances reached' "
                "(one per 0.1 s tick while a long tick runs)"
            )
    finally:
        await conn.close()
    return res, templates


# ----------------------------------------------------------------------------- APScheduler baseline
def aps_jobs(
    specs: list[TicketSpec], templates: dict[str, Template], first_id: int, due_label: str | None = None
) -> tuple[list[tuple[int, datetime]], list[int]]:
    """One job per timer: (job number, run time); and the numbers of the jobs that are the due 50% reminders."""
    jobs, due = [], []
    n = first_id
    for spec in specs:
        for label, offset in templates[spec.severity].timer_offsets:
            jobs.append((n, spec.opened_at + offset))
            if due_label is not None and label == due_label:
                due.append(n)
            n += 1
    return jobs, due


class ApsWorker:
    def __init__(self, proc: asyncio.subprocess.Process, log: str):
        self.proc, self.log = proc, log

    async def ask(self, command: str, timeout: float = 600) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((command + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"APScheduler worker died; log {self.log}:\n{Path(self.log).read_text()[-3000:]}")
        return json.loads(line)


async def start_aps(procs: Processes, slack: Any, sync_url: str) -> tuple[ApsWorker, float, dict[str, Any]]:
    env = dict(os.environ, SLACK_BOT_TOKEN=slack.bot_token, SLACK_API_URL=slack.api_url, APS_DB_URL=sync_url, PYTHONPATH=str(REPO_ROOT))
    t0 = time.perf_counter()
    proc, log = await procs.start(sys.executable, str(Path(__file__).resolve()), "--aps-worker", env=env, pipes=True)
    worker = ApsWorker(proc, log)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    if not line:
        raise RuntimeError(f"APScheduler worker did not start; log {log}:\n{Path(log).read_text()[-3000:]}")
    return worker, time.perf_counter() - t0, json.loads(line)


def job_states(jobs: list[tuple[int, datetime]]) -> list[tuple[str, float, bytes]]:
    """Rows as SQLAlchemyJobStore.add_job writes them (id, next_run_time, pickled Job state)."""
    from apscheduler.job import Job
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.util import datetime_to_utc_timestamp

    class _Sched:
        timezone = UTC

    sample = Job(
        _Sched(),
        id="sample",
        func=APS_FUNC_REF,
        trigger=DateTrigger(run_date=jobs[0][1]),
        executor="default",
        args=(0, CHANNEL),
        kwargs={},
        name="aps_post",
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        next_run_time=jobs[0][1],
    )
    base = sample.__getstate__()
    rows = []
    for n, at in jobs:
        state = dict(base, id=f"timer-{n}", args=(n, CHANNEL), trigger=DateTrigger(run_date=at), next_run_time=at)
        rows.append((f"timer-{n}", datetime_to_utc_timestamp(at), pickle.dumps(state, pickle.HIGHEST_PROTOCOL)))
    return rows


async def bench_aps(
    args: argparse.Namespace, procs: Processes, slack: Any, base_dsn: str, db: str, bg: list[TicketSpec], templates: dict[str, Template]
) -> Result:
    import asyncpg

    res = Result("APScheduler")
    host_part = base_dsn.split("://", 1)[1].rsplit("/", 1)[0]
    sync_url = f"postgresql+psycopg2://{host_part}/{db}"
    conn = await asyncpg.connect(base_dsn.rsplit("/", 1)[0] + "/" + db)
    try:
        # -- phase A: the jobs of 1,000 tickets, added through the public API (add_job on a running scheduler)
        worker, _, _ = await start_aps(procs, slack, sync_url)
        small_jobs, _ = aps_jobs(bg[: args.small], templates, 1)
        path = tempfile.NamedTemporaryFile(prefix="bench-aps-jobs-", suffix=".json", delete=False).name
        try:
            Path(path).write_text(json.dumps([(n, at.timestamp()) for n, at in small_jobs]))
            added = await worker.ask(f"add {path}")
        finally:
            os.unlink(path)
        res.api_add = (added["jobs"], added["seconds"])
        say(f"APScheduler: added {added['jobs']:,} jobs through add_job in {added['seconds']:.1f}s")
        await conn.execute("ANALYZE")
        await asyncio.sleep(args.settle)
        before = await worker.ask("stats")
        res.idle_small = await measure_idle(worker.proc.pid, conn, db, args.idle, with_scans=False)
        res.idle_small.wakeups = (await worker.ask("stats"))["wakeups"] - before["wakeups"]
        res.probe_small = (await worker.ask(f"probe 50 {args.tick}"))["cpu_ms"]
        await worker.ask("quit")
        await procs.stop(worker.proc)

        # -- phase B: bulk-load the rest (COPY of the rows add_job would write), then start with all of them
        t0 = time.perf_counter()
        rest_jobs, _ = aps_jobs(bg[args.small :], templates, 1 + len(small_jobs))
        T = (datetime.now(UTC) + timedelta(seconds=args.lead)).replace(microsecond=0)
        due_jobs, due_ids = aps_jobs(due_specs(args.due, T), templates, 1 + len(small_jobs) + len(rest_jobs), due_label="50%")
        rows = job_states(rest_jobs + due_jobs)
        pickled = time.perf_counter() - t0
        for start in range(0, len(rows), 50_000):
            await conn.copy_records_to_table(
                "apscheduler_jobs", records=rows[start : start + 50_000], columns=["id", "next_run_time", "job_state"]
            )
        del rows
        await conn.execute("ANALYZE")
        res.load_seconds = time.perf_counter() - t0
        total = await conn.fetchval("SELECT count(*) FROM apscheduler_jobs")
        due_now = await conn.fetchval("SELECT count(*) FROM apscheduler_jobs WHERE next_run_time <= $1", T.timestamp())
        res.counts = {"jobs": total, "due": due_now}
        say(
            f"APScheduler: bulk-loaded {len(rest_jobs) + len(due_jobs):,} jobs in {res.load_seconds:.1f}s "
            f"(pickling {pickled:.1f}s; now {total:,} jobs, {due_now:,} due at T = {T:%H:%M:%S})"
        )
        worker, res.startup, ready = await start_aps(procs, slack, sync_url)
        res.rss_start = proc_mem(worker.proc.pid)["VmRSS"]
        await asyncio.sleep(args.settle)
        window = min(args.idle, T.timestamp() - time.time() - 4)
        if window < args.idle:
            res.notes.append(f"idle window at full size shortened to {window:.1f}s to end before T (raise --lead)")
        if window > 1:
            before = await worker.ask("stats")
            res.idle_full = await measure_idle(worker.proc.pid, conn, db, window, with_scans=False)
            res.idle_full.wakeups = (await worker.ask("stats"))["wakeups"] - before["wakeups"]
        if T.timestamp() - time.time() > 2:
            res.probe_full = (await worker.ask(f"probe 50 {args.tick}"))["cpu_ms"]
        if time.time() > T.timestamp() - 0.5:
            res.notes.append("setup overran T: the burst figures include start-up")
        say(f"APScheduler: waiting for the burst of {len(due_ids):,} jobs due at {T:%H:%M:%S}")
        res.burst = await measure_burst(worker.proc.pid, slack, conn, db, set(due_ids), T, args.timeout)
        left = await conn.fetchval("SELECT count(*) FROM apscheduler_jobs WHERE next_run_time <= $1", T.timestamp())
        res.burst.outcome["jobs still in the store"] = left
        stats = await worker.ask("stats")
        res.burst.outcome["missed/errors"] = stats["missed"] + stats["errors"]
        await worker.ask("quit")
        await procs.stop(worker.proc)
    finally:
        await conn.close()
    return res


# ----------------------------------------------------------------------------- the worker process
async def aps_worker_main() -> None:
    import logging

    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    logging.basicConfig(level=logging.WARNING)
    import bench_scheduler  # noqa: F401  - the job's module, as the jobstore will import it

    t0 = time.perf_counter()
    scheduler = AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=os.environ["APS_DB_URL"])},
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    stats = {"wakeups": 0, "missed": 0, "errors": 0}
    process_jobs = scheduler._process_jobs

    def counted():  # type: ignore[no-untyped-def]
        stats["wakeups"] += 1
        return process_jobs()

    scheduler._process_jobs = counted  # type: ignore[method-assign]

    def on_event(event):  # type: ignore[no-untyped-def]
        stats["missed" if event.code == EVENT_JOB_MISSED else "errors"] += 1

    scheduler.add_listener(on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    scheduler.start()
    await asyncio.sleep(0)  # the first wakeup (scheduled with call_soon) runs
    print(json.dumps({"ready": True, "start_seconds": time.perf_counter() - t0}), flush=True)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if not line or line == "quit":
            print(json.dumps({"bye": True}), flush=True)
            scheduler.shutdown(wait=False)
            return
        cmd, *rest = line.split()
        if cmd == "add":
            jobs = json.loads(Path(rest[0]).read_text())
            t = time.perf_counter()
            for i, (n, ts) in enumerate(jobs):
                scheduler.add_job(
                    APS_FUNC_REF,
                    "date",
                    run_date=datetime.fromtimestamp(ts, UTC),
                    id=f"timer-{n}",
                    name="aps_post",
                    args=(n, CHANNEL),
                )
                if i % 50 == 49:
                    await asyncio.sleep(0)  # let the wakeups each add_job schedules run, as in an application
            await asyncio.sleep(0.05)
            print(json.dumps({"jobs": len(jobs), "seconds": time.perf_counter() - t}), flush=True)
        elif cmd == "stats":
            print(json.dumps(stats), flush=True)
        elif cmd == "probe":
            # k idle wakeups (look for due jobs: none; compute the next wakeup), `gap` seconds apart as our ticks are:
            # CPU of the whole span / k, like the bot's process CPU over its idle window / ticks.
            k, gap = int(rest[0]), float(rest[1])
            c, t = time.process_time(), time.perf_counter()
            for _ in range(k):
                process_jobs()
                await asyncio.sleep(gap)
            print(json.dumps({"cpu_ms": 1000 * (time.process_time() - c) / k, "wall_ms": 1000 * (time.perf_counter() - t) / k}), flush=True)
        else:
            print(json.dumps({"error": f"unknown command {cmd}"}), flush=True)


# ----------------------------------------------------------------------------- report
def fmt(value: float | None, spec: str = ".2f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def report(args: argparse.Namespace, ours: Result, aps: Result | None) -> None:
    rows: list[tuple[str, str, str, str, str]] = []

    def add(metric: str, a: float | None, b: float | None, goal: str, spec: str = ".2f", unit: str = "") -> None:
        rows.append((metric, fmt(a, spec, unit), fmt(b, spec, unit) if aps else "-", goal, ratio(a, b) if aps else "-"))

    ob, ab = ours.burst, aps.burst if aps else None
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        add(
            f"burst lateness {name} (s)",
            pct(ob.lateness, q) if ob and ob.lateness else None,
            pct(ab.lateness, q) if ab and ab.lateness else None,
            "p99 < 1 s" if name == "p99" else "",
            ".3f",
        )
    add("burst lateness max (s)", ob.last if ob else None, ab.last if ab else None, "", ".3f")
    add("burst first post after T (s)", ob.first if ob else None, ab.first if ab else None, "", ".3f")

    def per_post_ms(burst: Burst | None, cpu: Callable[[Burst], float]) -> float | None:
        return 1000 * cpu(burst) / max(burst.delivered, 1) if burst else None

    for who, cpu in (("process", lambda b: b.cpu), ("DB backend", lambda b: b.db_cpu)):
        add(f"burst: {who} CPU per due post (ms)", per_post_ms(ob, cpu), per_post_ms(ab, cpu), "", ".2f")
    rows.append(
        (
            f"due posts delivered (of {args.due})",
            str(ob.delivered if ob else "n/a"),
            str(ab.delivered if ab else "n/a") if aps else "-",
            "all",
            "",
        )
    )
    add(
        "RSS at steady state, full size (MB)",
        ours.idle_full.rss if ours.idle_full else None,
        aps.idle_full.rss if aps and aps.idle_full else None,
        "< 200 MB",
        ".1f",
    )
    add("RSS peak during burst (MB)", ob.rss_peak if ob else None, ab.rss_peak if ab else None, "< 200 MB", ".1f")
    add("RSS high-water mark, VmHWM (MB)", ob.hwm if ob else None, ab.hwm if ab else None, "< 200 MB", ".1f")
    o_small = ours.idle_small.per_wakeup_ms() if ours.idle_small else None
    o_full = ours.idle_full.per_wakeup_ms() if ours.idle_full else None
    a_small = aps.probe_small if aps else None
    a_full = aps.probe_full if aps else None
    n_small = f"{args.small:,}"
    n_full = f"{args.tickets:,}"
    add(f"idle CPU per tick/wakeup @ {n_small} tickets (ms)", o_small, a_small, "", ".3f")
    add(f"idle CPU per tick/wakeup @ {n_full} tickets (ms)", o_full, a_full, "~ same as above", ".3f")
    rows.append((f"  ratio {n_full} / {n_small}", ratio(o_full, o_small), ratio(a_full, a_small) if aps else "-", "~ 1", ""))
    add(f"idle DB backend CPU per tick @ {n_small} (ms)", ours.idle_small.db_per_wakeup_ms() if ours.idle_small else None, None, "", ".3f")
    add(f"idle DB backend CPU per tick @ {n_full} (ms)", ours.idle_full.db_per_wakeup_ms() if ours.idle_full else None, None, "", ".3f")
    for label, o_idle, a_idle in (
        ("@ " + n_small, ours.idle_small, aps.idle_small if aps else None),
        ("@ " + n_full, ours.idle_full, aps.idle_full if aps else None),
    ):
        add(
            f"idle process CPU, % of a core {label}",
            100 * o_idle.cpu / o_idle.seconds if o_idle else None,
            100 * a_idle.cpu / a_idle.seconds if a_idle else None,
            "",
            ".2f",
            "%",
        )
        rows.append(
            (
                f"  ticks/wakeups in the idle window {label}",
                fmt(o_idle.wakeups if o_idle else None, ".0f"),
                fmt(a_idle.wakeups if a_idle else None, ".0f") if aps else "-",
                "",
                "",
            )
        )
    add(f"start-up at {n_full} tickets (s)", ours.startup, aps.startup if aps else None, "")
    add("bulk load of the full-size data (s)", ours.load_seconds, aps.load_seconds if aps else None, "", ".1f")
    if aps and aps.api_add:
        jobs, secs = aps.api_add
        full_jobs = aps.counts.get("jobs", 0)
        rows.append((f"add_job through the API: {jobs:,} jobs (s)", "-", f"{secs:.1f}", "", ""))
        rows.append((f"  extrapolated to {full_jobs:,} jobs (s)", "-", f"{secs / jobs * full_jobs:.0f}", "", ""))

    widths = [max(len(r[i]) for r in rows + [("metric", "ours", "APScheduler jobstore", "goal", "ratio")]) for i in range(5)]
    header = ("metric", "ours", "APScheduler jobstore", "goal", "ratio")
    print()
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)))
    print("(ratio = ours / APScheduler; lateness = arrival of chat.postMessage at the stand-in - T)")

    print()
    print(
        f"data: ours {ours.counts.get('tickets', 0):,} open tickets, {ours.counts.get('timers', 0):,} pending timer rows, "
        f"{ours.counts.get('due', 0):,} due at T"
        + (f"; APScheduler {aps.counts.get('jobs', 0):,} jobs, {aps.counts.get('due', 0):,} due at T" if aps else "")
    )
    if ob:
        print(f"ours, the due timers afterwards: {ob.outcome}")
    if ab:
        print(f"APScheduler, the due jobs afterwards: {ab.outcome}")
    for name, res in (("ours", ours), ("APScheduler", aps)):
        if res is None:
            continue
        for idle_label, idle in (("small", res.idle_small), ("full", res.idle_full)):
            if idle and idle.scans is not None:
                print(
                    f"{name}: sla_timers scans seen in pg_stat during the idle window ({idle_label}, {idle.seconds:.1f}s, "
                    f"nominal ticks {idle.seconds / args.tick:.0f}): {idle.scans}"
                )
    print()
    print("EXPLAIN of SlaScheduler.claim's statement:")
    for line in ours.explain:
        print("  " + line)
    notes = [f"ours: {n}" for n in ours.notes] + ([f"APScheduler: {n}" for n in aps.notes] if aps else [])
    notes += [
        f"ours: tick {args.tick}s, batch {args.batch} (SCHEDULER_BATCH_SIZE default), lease 60s; CPU per tick = process CPU over the idle window / ticks counted in pg_stat (4 index scans per idle tick: claim + next due instant).",
        f"APScheduler: idle per-wakeup CPU is measured in the worker (50 calls of _process_jobs with nothing due, {args.tick}s apart: get_due_jobs + get_next_run_time);"
        " between jobs it sleeps until the next run time, so it has no periodic wakeups (idle process CPU is the real idle cost).",
        "APScheduler: the job only posts (ours also re-evaluates the ticket, records the outcome, exactly-once across replicas);"
        " misfire_grace_time=None (the default 1 s would skip every job later than 1 s).",
        "APScheduler: a jobstore shared by several processes is not watched: a job added by another process is not seen until this one wakes up.",
    ]
    print()
    for n in notes:
        print("note: " + n)


# ----------------------------------------------------------------------------- main
async def run(args: argparse.Namespace) -> int:
    import asyncpg
    from sqlalchemy.engine import make_url

    base_url = make_url(os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"))
    base_dsn = base_url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(base_dsn)
    tag = uuid.uuid4().hex[:10]
    ours_db, aps_db = f"bench_{tag}", f"bench_{tag}_aps"
    procs = Processes()
    created: list[str] = []
    failed = True
    main_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)  # type: ignore[union-attr]
    try:
        for db in (ours_db, aps_db):
            await admin.execute(f'CREATE DATABASE "{db}"')
            created.append(db)
        say(f"databases {ours_db}, {aps_db}; {args.tickets:,} tickets, {args.due:,} due in the same second")
        bg = background_specs(args.tickets - args.due, datetime.now(UTC))
        async with timed_standin_class()() as slack:
            slack.add_channel(CHANNEL, "incidents")
            ours, templates = await bench_ours(args, procs, slack, base_dsn, ours_db, bg)
            aps = None
            if not args.skip_aps:
                await admin.execute(f'DROP DATABASE IF EXISTS "{ours_db}" WITH (FORCE)')  # free the disk / cache for the baseline
                created.remove(ours_db)
                aps = await bench_aps(args, procs, slack, base_dsn, aps_db, bg, templates)
        report(args, ours, aps)
        failed = False
        return 0
    finally:
        await procs.stop_all(timeout=5)
        for db in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
        procs.cleanup_logs(keep=failed or args.keep_logs)


def main() -> int:
    if "--aps-worker" in sys.argv:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        asyncio.run(aps_worker_main())
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tickets", type=int, default=100_000, help="open tickets at full size (6 timers each)")
    p.add_argument("--due", type=int, default=1_000, help="tickets whose reminder is due at the same instant T")
    p.add_argument("--small", type=int, default=1_000, help="open tickets for the small idle measurement")
    p.add_argument(
        "--tick", type=float, default=0.1, help="SCHEDULER_TICK_SECONDS for the bot (shipped default: 1.0; try --skip-aps --tick 1.0)"
    )
    p.add_argument("--batch", type=int, default=500, help="the bot's claim batch (SCHEDULER_BATCH_SIZE default), for EXPLAIN")
    p.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement")
    p.add_argument("--settle", type=float, default=2.0, help="seconds after start-up before measuring")
    p.add_argument("--lead", type=float, default=40.0, help="seconds from loading the due rows to T")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds after T to wait for every due post")
    p.add_argument("--skip-aps", action="store_true", help="only our scheduler")
    p.add_argument("--keep-logs", action="store_true", help="keep the child processes' logs")
    args = p.parse_args()
    if not args.skip_aps:
        try:
            import apscheduler  # noqa: F401
            import psycopg2  # noqa: F401  - SQLAlchemyJobStore needs a sync driver
        except ImportError as e:
            p.error(f"the APScheduler baseline needs {e.name}: .venv/bin/pip install psycopg2-binary (or pass --skip-aps)")
    args.small = min(args.small, args.tickets - args.due)
    if args.small < 1:
        p.error("--tickets must exceed --due")
    return procstats.run_main(lambda: run(args), "benchmark databases")


if __name__ == "__main__":
    sys.exit(main())
