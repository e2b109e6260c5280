"""The SLA scheduler: claims due timer rows and posts reminders and escalation pings through an outbox.

Exactly once, across restarts and replicas:
- Timers are rows (`sla_timers`). A tick claims due rows in one short
  transaction; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas never
  claim the same row. A claim is a lease: `run_at` becomes the lease's end,
  so a replica that dies holding it (even `kill -9`) leaves a row that any
  replica reclaims once the lease runs out.
- The claim is committed before the post. Each post carries message metadata
  with the timer id; a reclaimed timer first looks in the ticket's thread for
  a post Slack already accepted, and records that one instead of posting again.
- Before posting, the ticket's clocks are evaluated again: a reminder that
  became moot (acknowledged, updated, paused, resolved, reclassified) is
  dropped. Several overdue timers of one clock (after downtime) are folded
  into the latest, sent once and marked late.
- Slack errors that may pass (429, 5xx, timeouts) are retried with backoff;
  others mark the timer failed with the error, for the operator.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import selectinload
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import views
from bot.oncall import OnCallSetting, all_oncall
from bot.services import Services, evaluate_ticket, timer_row
from rules.durations import format_timedelta
from rules.sla import CLOCK_LABELS, Notification, SlaStatus, next_repeat, still_applies
from storage.models import SlaTimer, Ticket

log = logging.getLogger(__name__)

METADATA_EVENT = "triage_sla_notification"
PERMANENT_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive", "token_revoked", "msg_too_long", "no_text", "restricted_action"}


def default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class TickResult:
    claimed: int = 0
    sent: int = 0
    dropped: int = 0
    retried: int = 0
    failed: int = 0
    recovered: int = 0  # posted before a crash, found in the thread, not posted again


class SlaScheduler:
    def __init__(
        self,
        services: Services,
        client: AsyncWebClient,
        replica_id: str | None = None,
        batch_size: int = 500,
        lease: timedelta = timedelta(seconds=60),
        late_after: timedelta = timedelta(seconds=60),
        concurrency: int = 32,
    ):
        self.services = services
        self.client = client
        self.replica_id = replica_id or default_replica_id()
        self.batch_size = batch_size
        self.lease = lease
        self.late_after = late_after
        self.concurrency = concurrency
        self._lock = asyncio.Lock()
        self._stopping = False
        self.next_due: datetime | None = None  # the earliest timer seen at the last claim
        self.on_next_due: Callable[[datetime], None] | None = None  # set by build_apscheduler: wake then

    # -- claiming ------------------------------------------------------------------------
    async def claim(self, now: datetime) -> list[SlaTimer]:
        async with self.services.sessions() as s:
            query = (
                select(SlaTimer)
                .where(SlaTimer.state.in_(("pending", "claimed")), SlaTimer.run_at <= now)
                .order_by(SlaTimer.run_at)
                .limit(self.batch_size)
            )
            if s.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list((await s.execute(query)).scalars())
            for row in rows:
                row.state = "claimed"
                row.claimed_by = self.replica_id
                row.lease_until = row.run_at = now + self.lease
                row.attempts += 1
            if len(rows) < self.batch_size:
                self.next_due = await self._next_run_at(s)
            await s.commit()
            return rows

    @staticmethod
    async def _next_run_at(s: Any) -> datetime | None:
        """The earliest run_at of any pending or claimed timer: one index probe per state."""
        t = SlaTimer.__table__
        firsts = [
            select(func.min(t.c.run_at)).where(t.c.state == state).scalar_subquery() for state in ("pending", "claimed")
        ]
        values = (await s.execute(select(*firsts))).one()
        found = [v for v in values if v is not None]  # typed by the column: aware UTC datetimes
        return min(found) if found else None

    async def tick(self) -> TickResult:
        """Claim what is due and deliver it; a full batch is followed at once by the next.

        One tick at a time per replica. Database work is done per batch (a few
        statements for all its timers), posts run concurrently over one HTTP
        connection pool.
        """
        async with self._lock:
            result = TickResult()
            while not self._stopping:
                now = self.services.clock.now()
                timers = await self.claim(now)
                result.claimed += len(timers)
                if timers:
                    await self._deliver(timers, now, result)
                if len(timers) < self.batch_size:
                    if self.next_due is not None and self.on_next_due is not None:
                        self.on_next_due(self.next_due)
                    return result
            return result

    async def drain(self, timeout: float = 10.0) -> None:
        """Start no new batch and wait for the one in progress, so the engine is never closed under it.

        A tick abandoned mid-batch would be cancelled inside a database call
        at shutdown; with aiosqlite that cancellation can wait forever on a
        connection whose thread is already gone.
        """
        self._stopping = True
        try:
            await asyncio.wait_for(self._lock.acquire(), timeout)
        except asyncio.TimeoutError:
            log.warning("a scheduler batch was still running after %ss at shutdown; its leases bring it back", timeout)
        else:
            self._lock.release()

    # -- delivery ------------------------------------------------------------------------
    async def _deliver(self, timers: list[SlaTimer], now: datetime, result: TickResult) -> None:
        by_ticket: dict[int, list[SlaTimer]] = defaultdict(list)
        for t in timers:
            by_ticket[t.ticket_id].append(t)
        tickets, newest = await self._load(list(by_ticket), now)
        oncall = await all_oncall(self.services)
        outcomes: list[_Outcome] = []
        to_post: list[tuple[Ticket, Any, SlaStatus, SlaTimer, int]] = []
        for ticket_id, rows in by_ticket.items():
            ticket = tickets.get(ticket_id)
            if ticket is None:
                outcomes += [_Outcome(r, "dropped", error="ticket deleted") for r in rows]
                continue
            plan = self.services.policies.plan(ticket.plan_id)
            status = evaluate_ticket(plan, ticket, ticket.events, now)
            by_clock: dict[str, list[SlaTimer]] = defaultdict(list)
            for r in rows:
                if still_applies(status, r.clock, r.kind, r.deadline):  # type: ignore[arg-type]
                    by_clock[r.clock].append(r)
                else:
                    outcomes.append(_Outcome(r, "dropped", error="moot when it came due"))
            for clock, clock_rows in by_clock.items():
                clock_rows.sort(key=lambda r: (r.due_at, r.kind == "escalation", r.level or 0, r.repeat))
                *older, latest = clock_rows
                later = newest.get((ticket_id, clock, latest.deadline))
                folded_into = latest.id
                if later is not None and later > (latest.due_at, latest.id):
                    older, latest, folded_into = clock_rows, None, later[1]  # a later notice is due too, maybe held elsewhere
                outcomes += [_Outcome(r, "dropped", error=f"folded into timer {folded_into}") for r in older]
                if latest is not None:
                    to_post.append((ticket, plan, status, latest, len(older)))

        if to_post:
            gate = asyncio.Semaphore(self.concurrency)
            async with aiohttp.ClientSession() as http:  # one connection pool for the batch's posts
                client = AsyncWebClient(
                    token=self.client.token, base_url=self.client.base_url, session=http,
                    retry_handlers=list(self.client.retry_handlers),
                )

                async def one(item: tuple[Ticket, Any, SlaStatus, SlaTimer, int]) -> None:
                    async with gate:
                        try:
                            outcomes.append(await self._post(client, *item, now, oncall))
                        except Exception:  # this timer stays claimed; its lease brings it back
                            log.exception("posting timer %s failed", item[3].id)

                await asyncio.gather(*(one(item) for item in to_post))
        await self._record(outcomes, now)
        for o in outcomes:
            setattr(result, o.counter, getattr(result, o.counter) + 1)

    async def _load(self, ticket_ids: list[int], now: datetime) -> tuple[dict[int, Ticket], dict[tuple[int, str, datetime], tuple[datetime, int]]]:
        """The batch's tickets with their events, and per clock and deadline the latest notice already due."""
        async with self.services.sessions() as s:
            tickets = (
                await s.execute(select(Ticket).where(Ticket.id.in_(ticket_ids)).options(selectinload(Ticket.events)))
            ).scalars().all()
            due = (
                await s.execute(
                    select(SlaTimer.ticket_id, SlaTimer.clock, SlaTimer.deadline, SlaTimer.due_at, SlaTimer.id).where(
                        SlaTimer.ticket_id.in_(ticket_ids),
                        SlaTimer.due_at <= now,
                        SlaTimer.state.in_(("pending", "claimed", "sent")),
                    )
                )
            ).all()
        newest: dict[tuple[int, str, datetime], tuple[datetime, int]] = {}
        for ticket_id, clock, deadline, due_at, timer_id in due:
            key = (ticket_id, clock, deadline)
            if key not in newest or (due_at, timer_id) > newest[key]:
                newest[key] = (due_at, timer_id)
        return {t.id: t for t in tickets}, newest

    async def _post(
        self, client: AsyncWebClient, ticket: Ticket, plan: Any, status: SlaStatus, row: SlaTimer, folded: int,
        now: datetime, oncall: dict[str, OnCallSetting],
    ) -> "_Outcome":
        channel = ticket.announce_channel_id or ticket.channel_id
        if row.attempts > 1:
            found = await self._already_posted(client, channel, ticket.thread_ts, row.id)
            if found:
                return _Outcome(row, "sent", channel=channel, ts=found, sent_at=now, counter="recovered", plan=plan)
        late = now - row.due_at > self.late_after
        text, blocks = render_notification(ticket, plan, status, row, now, oncall, late, folded)
        try:
            resp = await client.chat_postMessage(
                channel=channel,
                thread_ts=ticket.thread_ts,
                text=text,
                blocks=blocks,
                metadata={"event_type": METADATA_EVENT, "event_payload": {"timer_id": row.id, "ticket": ticket.key}},
            )
        except SlackApiError as e:
            error = str(e.response.get("error"))
            if error in PERMANENT_ERRORS:
                log.error("timer %s of %s failed for good: %s", row.id, ticket.key, error)
                return _Outcome(row, "failed", error=error)
            return self._retry(row, now, error)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            return self._retry(row, now, f"{type(e).__name__}: {e}")
        return _Outcome(row, "sent", channel=resp["channel"], ts=resp["ts"], sent_at=now, late=late, plan=plan)

    async def _already_posted(self, client: AsyncWebClient, channel: str, thread_ts: str | None, timer_id: int) -> str | None:
        if not thread_ts:
            return None
        try:
            resp = await client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True, limit=1000)
        except SlackApiError as e:
            log.warning("cannot check thread %s for timer %s: %s", thread_ts, timer_id, e.response.get("error"))
            return None
        for m in resp.get("messages", []):
            meta = m.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("timer_id") == timer_id:
                return m["ts"]
        return None

    def _retry(self, row: SlaTimer, now: datetime, error: str) -> "_Outcome":
        backoff = min(timedelta(seconds=5 * 2 ** min(row.attempts - 1, 6)), timedelta(minutes=5))
        log.warning("timer %s: Slack said %s; retrying in %s", row.id, error, backoff)
        return _Outcome(row, "pending", error=error, run_at=now + backoff, counter="retried")

    async def _record(self, outcomes: list["_Outcome"], now: datetime) -> None:
        """All outcomes of a batch in a few statements. Only rows this replica still holds are changed."""
        if not outcomes:
            return
        t = SlaTimer.__table__
        held = (t.c.id == bindparam("b_id")) & (t.c.claimed_by == self.replica_id) & (t.c.state == "claimed")
        finished = [o for o in outcomes if o.state != "pending"]
        retried = [o for o in outcomes if o.state == "pending"]
        repeats = [n for o in outcomes if o.state == "sent" and (n := o.next_repeat()) is not None]
        async with self.services.sessions() as s:
            if finished:
                await s.execute(
                    update(t).where(held).values(
                        state=bindparam("b_state"), error=bindparam("b_error"), lease_until=None,
                        message_channel=bindparam("b_channel"), message_ts=bindparam("b_ts"),
                        sent_at=bindparam("b_sent_at"), late=bindparam("b_late"),
                    ),
                    [o.params() for o in finished],
                )
            if retried:
                await s.execute(
                    update(t).where(held).values(state="pending", error=bindparam("b_error"), lease_until=None, run_at=bindparam("b_run_at")),
                    [{"b_id": o.row.id, "b_error": o.error, "b_run_at": o.run_at} for o in retried],
                )
            if repeats:
                keys = {(tid, n.key) for tid, n in repeats}
                existing = set(
                    (await s.execute(
                        select(SlaTimer.ticket_id, SlaTimer.key).where(SlaTimer.ticket_id.in_({tid for tid, _ in repeats}))
                    )).all()
                )
                s.add_all(timer_row(tid, n) for tid, n in repeats if (tid, n.key) not in existing and (tid, n.key) in keys)
            await s.commit()


@dataclass
class _Outcome:
    row: SlaTimer
    state: str  # sent, dropped, failed, or pending (a retry)
    error: str | None = None
    channel: str | None = None
    ts: str | None = None
    sent_at: datetime | None = None
    late: bool = False
    run_at: datetime | None = None
    counter: str = ""
    plan: Any = None

    def __post_init__(self) -> None:
        self.counter = self.counter or {"sent": "sent", "dropped": "dropped", "failed": "failed", "pending": "retried"}[self.state]

    def params(self) -> dict[str, Any]:
        return {
            "b_id": self.row.id, "b_state": self.state, "b_error": self.error, "b_channel": self.channel,
            "b_ts": self.ts, "b_sent_at": self.sent_at, "b_late": self.late,
        }

    def next_repeat(self) -> tuple[int, Notification] | None:
        """The last escalation level pings again until someone acts."""
        r = self.row
        sent = Notification(
            kind=r.kind, clock=r.clock, at=r.due_at, due=r.deadline,  # type: ignore[arg-type]
            level=r.level, notify=r.notify, label=r.label, repeat=r.repeat,
        )
        nxt = next_repeat(sent, self.plan.notifications) if self.plan is not None else None
        return (r.ticket_id, nxt) if nxt is not None else None


def _mention(row: SlaTimer, ticket: Ticket, plan: Any, oncall: dict[str, OnCallSetting], now: datetime) -> str:
    role = row.notify if row.kind == "escalation" else None
    if role is None:  # reminders go to the assignee, else to level 1
        if ticket.assignee_id:
            return f"<@{ticket.assignee_id}>"
        ladder = plan.notifications.escalation
        role = ladder[0].notify if ladder else None
    setting = oncall.get(role or "")
    if setting is None:
        return f"(no one is on call as {role}: `/sla oncall set {role} @someone`)" if role else ""
    return setting.mention(plan.timezone, now)


def render_notification(
    ticket: Ticket, plan: Any, status: SlaStatus, row: SlaTimer, now: datetime,
    oncall: dict[str, OnCallSetting], late: bool, folded: int,
) -> tuple[str, list[dict[str, Any]]]:
    clock = status.clocks[row.clock]  # type: ignore[index]
    label = CLOCK_LABELS[row.clock]
    who = _mention(row, ticket, plan, oncall, now)
    if row.kind == "reminder":
        left = clock.remaining(now)
        text = (
            f":alarm_clock: {ticket.key}: {label} due {views.slack_date(row.deadline)}"
            f" ({format_timedelta(left) if left is not None else '-'} of support time left, {row.label} of the target used). {who}"
        )
    else:
        text = (
            f":rotating_light: {ticket.key}: {label} deadline missed {views.slack_date(row.deadline)},"
            f" {format_timedelta(now - row.deadline)} late. Escalation {row.label}: {who}"
        )
    if late:
        text += f"\n_Sent late ({format_timedelta(now - row.due_at)} after it was due)"
        text += f"; {folded} earlier notice(s) folded into this one._" if folded else "._"
    text += f"\n{views.escape(ticket.summary)}"
    buttons = []
    if row.clock == "first_response":
        buttons.append({"type": "button", "action_id": "ticket_acknowledge", "text": {"type": "plain_text", "text": "Acknowledge"}, "style": "primary", "value": ticket.key})
    buttons.append({"type": "button", "action_id": "ticket_update", "text": {"type": "plain_text", "text": "Post update"}, "value": ticket.key})
    if row.kind == "escalation":
        buttons.append({"type": "button", "action_id": "escalation_ack", "text": {"type": "plain_text", "text": "I'm on it (stop pings)"}, "value": f"{ticket.key}|{row.clock}"})
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": "timer_actions", "elements": buttons},
    ]
    return text.split("\n")[0], blocks


def build_apscheduler(sla: SlaScheduler, tick_seconds: float) -> AsyncIOScheduler:
    """APScheduler drives the scheduler: a steady poll every `tick_seconds`, plus a wake-up at the next due timer.

    The poll notices timers other replicas or handlers created; the wake-up
    keeps lateness low without a fast poll. The timers themselves live in the database.
    """
    scheduler = AsyncIOScheduler()
    scheduler.add_job(
        sla.tick, "interval", seconds=tick_seconds, id="sla-tick", max_instances=1, coalesce=True,
        misfire_grace_time=None, next_run_time=datetime.now().astimezone(),
    )
    poll = timedelta(seconds=tick_seconds)

    def wake_at(due: datetime) -> None:
        wait = due - sla.services.clock.now()  # on the bot's clock; APScheduler runs on the wall clock
        if timedelta(0) < wait < poll:
            scheduler.add_job(
                sla.tick, "date", run_date=datetime.now().astimezone() + wait, id="sla-wake",
                replace_existing=True, misfire_grace_time=None,
            )

    sla.on_next_due = wake_at
    return scheduler
