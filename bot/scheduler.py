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
from typing import Any

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select, update
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
            await s.commit()
            return rows

    async def tick(self) -> TickResult:
        """Claim what is due and deliver it. Safe to call concurrently: one tick at a time per replica."""
        async with self._lock:
            result = TickResult()
            now = self.services.clock.now()
            timers = await self.claim(now)
            result.claimed = len(timers)
            if not timers:
                return result
            by_ticket: dict[int, list[SlaTimer]] = defaultdict(list)
            for t in timers:
                by_ticket[t.ticket_id].append(t)
            oncall = await all_oncall(self.services)
            gate = asyncio.Semaphore(self.concurrency)

            async def one(ticket_id: int, rows: list[SlaTimer]) -> None:
                async with gate:
                    try:
                        await self._deliver_ticket(ticket_id, rows, now, oncall, result)
                    except Exception:  # one ticket's trouble must not stop the others; leases bring it back
                        log.exception("delivering timers of ticket %s failed", ticket_id)

            await asyncio.gather(*(one(tid, rows) for tid, rows in by_ticket.items()))
            return result

    # -- delivery ------------------------------------------------------------------------
    async def _deliver_ticket(
        self, ticket_id: int, rows: list[SlaTimer], now: datetime, oncall: dict[str, OnCallSetting], result: TickResult
    ) -> None:
        async with self.services.sessions() as s:
            ticket = (
                await s.execute(select(Ticket).where(Ticket.id == ticket_id).options(selectinload(Ticket.events)))
            ).scalar_one_or_none()
        if ticket is None:
            for r in rows:
                await self._finish(r, "dropped", error="ticket deleted")
            result.dropped += len(rows)
            return
        plan = self.services.policies.plan(ticket.plan_id)
        status = evaluate_ticket(plan, ticket, ticket.events, now)

        by_clock: dict[str, list[SlaTimer]] = defaultdict(list)
        for r in rows:
            if still_applies(status, r.clock, r.kind, r.deadline):  # type: ignore[arg-type]
                by_clock[r.clock].append(r)
            else:
                await self._finish(r, "dropped", error="moot when it came due")
                result.dropped += 1
        newest = await self._newest_due(ticket_id, now)
        for clock, clock_rows in by_clock.items():
            clock_rows.sort(key=lambda r: (r.due_at, r.kind == "escalation", r.level or 0, r.repeat))
            *older, latest = clock_rows
            later = newest.get((clock, latest.deadline))
            if later is not None and later[0] > latest.due_at:
                older, latest = clock_rows, None  # a later notice of this clock is due too (maybe claimed elsewhere)
            for r in older:
                await self._finish(r, "dropped", error=f"folded into timer {latest.id if latest else later[1]}")  # type: ignore[index]
                result.dropped += 1
            if latest is not None:
                await self._post(ticket, plan, status, latest, now, oncall, result, folded=len(older))

    async def _newest_due(self, ticket_id: int, now: datetime) -> dict[tuple[str, datetime], tuple[datetime, int]]:
        """Per clock and deadline, the latest notice already due, whichever replica holds it."""
        async with self.services.sessions() as s:
            rows = (
                await s.execute(
                    select(SlaTimer.clock, SlaTimer.deadline, SlaTimer.due_at, SlaTimer.id).where(
                        SlaTimer.ticket_id == ticket_id,
                        SlaTimer.due_at <= now,
                        SlaTimer.state.in_(("pending", "claimed", "sent")),
                    )
                )
            ).all()
        newest: dict[tuple[str, datetime], tuple[datetime, int]] = {}
        for clock, deadline, due_at, timer_id in rows:
            key = (clock, deadline)
            if key not in newest or (due_at, timer_id) > newest[key]:
                newest[key] = (due_at, timer_id)
        return newest

    async def _post(
        self, ticket: Ticket, plan: Any, status: SlaStatus, row: SlaTimer, now: datetime,
        oncall: dict[str, OnCallSetting], result: TickResult, folded: int,
    ) -> None:
        channel = ticket.announce_channel_id or ticket.channel_id
        if row.attempts > 1:
            found = await self._already_posted(channel, ticket.thread_ts, row.id)
            if found:
                await self._finish(row, "sent", message=(channel, found), sent_at=now)
                await self._schedule_repeat(row, plan)
                result.recovered += 1
                return
        late = now - row.due_at > self.late_after
        text, blocks = render_notification(ticket, plan, status, row, now, oncall, late, folded)
        try:
            resp = await self.client.chat_postMessage(
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
                await self._finish(row, "failed", error=error)
                result.failed += 1
            else:
                await self._retry(row, now, error)
                result.retried += 1
            return
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            await self._retry(row, now, f"{type(e).__name__}: {e}")
            result.retried += 1
            return
        await self._finish(row, "sent", message=(resp["channel"], resp["ts"]), sent_at=now, late=late)
        await self._schedule_repeat(row, plan)
        result.sent += 1

    async def _already_posted(self, channel: str, thread_ts: str | None, timer_id: int) -> str | None:
        if not thread_ts:
            return None
        try:
            resp = await self.client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True, limit=1000)
        except SlackApiError as e:
            log.warning("cannot check thread %s for timer %s: %s", thread_ts, timer_id, e.response.get("error"))
            return None
        for m in resp.get("messages", []):
            meta = m.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("timer_id") == timer_id:
                return m["ts"]
        return None

    async def _retry(self, row: SlaTimer, now: datetime, error: str) -> None:
        backoff = min(timedelta(seconds=5 * 2 ** min(row.attempts - 1, 6)), timedelta(minutes=5))
        async with self.services.sessions() as s:
            await s.execute(
                update(SlaTimer)
                .where(SlaTimer.id == row.id, SlaTimer.claimed_by == self.replica_id, SlaTimer.state == "claimed")
                .values(state="pending", run_at=now + backoff, error=error, lease_until=None)
            )
            await s.commit()
        log.warning("timer %s: Slack said %s; retrying in %s", row.id, error, backoff)

    async def _finish(
        self, row: SlaTimer, state: str, *, error: str | None = None, message: tuple[str, str] | None = None,
        sent_at: datetime | None = None, late: bool = False,
    ) -> None:
        """Only the replica holding the claim may finish it (its lease may have passed to another)."""
        values: dict[str, Any] = {"state": state, "error": error, "lease_until": None}
        if message:
            values.update(message_channel=message[0], message_ts=message[1], sent_at=sent_at, late=late)
        async with self.services.sessions() as s:
            await s.execute(
                update(SlaTimer)
                .where(SlaTimer.id == row.id, SlaTimer.claimed_by == self.replica_id, SlaTimer.state == "claimed")
                .values(**values)
            )
            await s.commit()

    async def _schedule_repeat(self, row: SlaTimer, plan: Any) -> None:
        sent = Notification(
            kind=row.kind, clock=row.clock, at=row.due_at, due=row.deadline,  # type: ignore[arg-type]
            level=row.level, notify=row.notify, label=row.label, repeat=row.repeat,
        )
        nxt = next_repeat(sent, plan.notifications)
        if nxt is None:
            return
        async with self.services.sessions() as s:
            exists = (await s.execute(select(SlaTimer.id).where(SlaTimer.ticket_id == row.ticket_id, SlaTimer.key == nxt.key))).first()
            if exists is None:
                s.add(timer_row(row.ticket_id, nxt))
                await s.commit()


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
    """APScheduler drives the short tick; the timers themselves live in the database."""
    scheduler = AsyncIOScheduler()
    scheduler.add_job(
        sla.tick, "interval", seconds=tick_seconds, id="sla-tick", max_instances=1, coalesce=True,
        misfire_grace_time=None, next_run_time=datetime.now().astimezone(),
    )
    return scheduler
