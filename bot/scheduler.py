"""The SLA scheduler: claims due timer rows and posts reminders and escalation pings through an outbox.

Exactly once, across restarts and replicas:
- Timers are rows (`sla_timers`). A tick claims due rows in one short
  transaction; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas never
  claim the same row. A claim is a lease in its own columns (`claimed_by`,
  `lease_until`), so a replica that dies holding it (even `kill -9`) leaves a
  row that any replica reclaims once `lease_until` has passed.
- The claim is committed before the post. Each post carries message metadata
  with the timer id; a reclaimed timer first looks in the ticket's thread for
  a post Slack already accepted, and records that one instead of posting again.
- Before posting, the ticket's clocks are evaluated again: a reminder that
  became moot (acknowledged, updated, paused, resolved, reclassified) is
  dropped. Several overdue timers of one clock (after downtime) are folded
  into the latest (`rules.notifications.fold`, the rule `due_notifications`
  uses too), sent once and marked late.
- Slack errors that may pass (429, 5xx, timeouts) are retried with backoff;
  others mark the timer failed with the error, for the operator. The client
  never repeats a post on its own after a 5xx or a timeout: the retry is a new
  attempt, which looks in the thread first.
- The lease outlives the attempt: while a batch is being posted its leases
  are extended every third of the lease (`bot.delivery.LeaseKeeper`), also
  while a 429's Retry-After is waited out; no retry is sent once the lease is
  no longer confirmed. So a replica never takes over a timer whose post may
  still be in flight elsewhere.
- At shutdown (`drain`) no new batch starts; posts under way finish, and the
  batch's timers not yet posted are released (`TimerStore.release`), so
  another replica takes them at its next tick rather than after the lease.

The queries are `storage.timers.TimerStore` (acquire, load, release); the notices
themselves are rendered by `bot.views.ticket.render_notification`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import PERMANENT_ERRORS, Delivery, LeaseKeeper, delivery_client, slack_error_code
from bot.logs import bind
from bot.services import Services
from bot.views import render_notification
from rules.notifications import fold, next_repeat, still_applies
from rules.oncall import OnCallSetting
from rules.sla import SlaStatus
from storage.db import database_unavailable
from storage.models import SlaTimer, Ticket
from storage.oncall import all_oncall
from storage.tickets import evaluate_ticket
from storage.timers import Release, TimerStore, notice

log = logging.getLogger(__name__)

METADATA_EVENT = "triage_sla_notification"


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
    outbox: int = 0  # owed posts tried (see bot.delivery)


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
        delivery: Delivery | None = None,
    ):
        self.services = services
        self.client = client
        self.replica_id = replica_id or default_replica_id()
        self.batch_size = batch_size
        self.timers = TimerStore(services.sessions, self.replica_id, lease)
        self.late_after = late_after
        self.concurrency = concurrency
        self._lock = asyncio.Lock()
        self._stopping = False
        self._database_down: str | None = None  # why, while ticks find the database not answering
        self.next_due: datetime | None = None  # the earliest timer seen at the last claim
        self.on_next_due: Callable[[datetime], None] | None = None  # set by build_apscheduler: wake then
        # Owed posts (announcements, action posts) that did not go out at once are retried on the same tick.
        self.delivery = delivery or Delivery(
            services, delivery_client(client.token, client.base_url, metrics=services.metrics), replica_id=self.replica_id, lease=lease
        )

    async def tick(self) -> TickResult:
        """Claim what is due and deliver it; a full batch is followed at once by the next.

        One tick at a time per replica. Database work is done per batch (a few
        statements for all its timers), posts run concurrently over one HTTP
        connection pool.
        """
        async with self._lock:
            start = time.perf_counter()
            try:
                result = await self._tick()
            except Exception as e:
                # The database is down: one line when it starts and one when it is back, not a stack per tick.
                # Timers and owed posts wait in the database; their leases bring back any claimed mid-batch.
                if (why := database_unavailable(e)) is None:
                    raise
                if self._database_down is None:
                    log.warning("scheduler paused: the database is not answering (%s); timers wait until it is back", why)
                self._database_down = why
                return TickResult()
            finally:
                self.services.metrics.tick_duration.observe(time.perf_counter() - start)
            if self._database_down is not None:
                log.info("scheduler resumed: the database answers again")
                self._database_down = None
            return result

    async def _tick(self) -> TickResult:
        metrics = self.services.metrics
        result = TickResult()
        while not self._stopping:
            now = self.services.clock.now()
            timers = await self.claim(now)
            result.claimed += len(timers)
            if timers:
                metrics.timers_due.inc(len(timers))
                metrics.batch_size.observe(len(timers))
                await self._deliver(timers, now, result)
            if len(timers) < self.batch_size:
                if self.next_due is not None and self.on_next_due is not None:
                    self.on_next_due(self.next_due)
                result.outbox = await self.delivery.tick()
                return result
        return result

    async def claim(self, now: datetime) -> list[SlaTimer]:
        """Acquire a batch of due timers under this replica's lease; note when the next one is due."""
        rows, next_run = await self.timers.acquire(now, self.batch_size)
        if len(rows) < self.batch_size:
            self.next_due = next_run
        return rows

    @property
    def stopping(self) -> bool:
        """`drain` was called: no new batch starts."""
        return self._stopping

    async def drain(self, timeout: float = 10.0) -> None:
        """Start no new batch and wait for the one in progress (its posts finish, its unstarted ones are released),
        so the engine is never closed under it.

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
        tickets, due = await self.timers.load(list(by_ticket), now)
        due_by_ticket: dict[int, list[Any]] = defaultdict(list)
        for d in due:
            due_by_ticket[d.ticket_id].append(d)
        oncall = await all_oncall(self.services)
        outcomes: list[Release] = []
        to_post: list[tuple[Ticket, Any, SlaStatus, SlaTimer, int]] = []
        for ticket_id, rows in by_ticket.items():
            ticket = tickets.get(ticket_id)
            if ticket is None:
                outcomes += [Release(r, "dropped", error="ticket deleted") for r in rows]
                continue
            plan = self.services.policies.plan(ticket.plan_id)
            status = evaluate_ticket(plan, ticket, ticket.events, now)
            ours = {r.id for r in rows}
            wanted: list[Any] = []
            for r in rows:
                if still_applies(status, r.clock, r.kind, r.deadline):
                    wanted.append(r)
                else:
                    outcomes.append(Release(r, "dropped", error="moot when it came due"))
            # Due notices of the same clock held elsewhere (another replica, or already sent) fold with ours.
            wanted += [d for d in due_by_ticket[ticket_id] if d.id not in ours and still_applies(status, d.clock, d.kind, d.deadline)]
            for group in fold(wanted, notice):
                older = [r for r in group.older if r.id in ours]
                outcomes += [Release(r, "dropped", error=f"folded into timer {group.latest.id}") for r in older]
                if group.latest.id in ours:
                    to_post.append((ticket, plan, status, group.latest, len(older)))

        unposted: list[SlaTimer] = []
        if to_post:
            gate = asyncio.Semaphore(self.concurrency)
            held = [item[3].id for item in to_post]
            timeout = float(self.client.timeout or 30)
            keeper = LeaseKeeper(lambda until: self.timers.extend_leases(held, until), self.services.clock.now, self.timers.lease, timeout)
            async with aiohttp.ClientSession() as http, keeper:  # one connection pool; leases held while posting
                # No retry of the client's own after a 5xx or a timeout (Slack may have the post: the next
                # attempt looks in the thread first); a 429 is waited out only while the lease is held.
                client = delivery_client(self.client.token, self.client.base_url, timeout, session=http, metrics=self.services.metrics)

                # Slack takes about one post per second per channel and answers a burst with 429 + Retry-After:
                # one post at a time per channel lets the client's retry handler pace them instead of all of
                # them exhausting their retries at once (https://docs.slack.dev/apis/web-api/rate-limits).
                per_channel: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

                async def one(item: tuple[Ticket, Any, SlaStatus, SlaTimer, int]) -> None:
                    channel = item[0].announce_channel_id or item[0].channel_id
                    bind(ticket=item[0].key, timer_id=item[3].id, channel_id=channel)
                    async with per_channel[channel], gate:
                        if self._stopping:  # shutting down: posts under way finish, this one is handed back
                            unposted.append(item[3])
                            return
                        try:
                            outcomes.append(await self._post(client, *item, now, oncall))
                        except Exception:  # this timer stays claimed; its lease brings it back
                            log.exception("posting timer %s failed", item[3].id)

                await asyncio.gather(*(one(item) for item in to_post))
        await self.timers.release(outcomes)
        if unposted:
            released = await self.timers.hand_back(unposted, now)
            log.info("shutting down: released %d claimed timers for the other replicas", released)
        for o in outcomes:
            setattr(result, o.counter, getattr(result, o.counter) + 1)
        self._count(outcomes, now)

    def _count(self, outcomes: list[Release], now: datetime) -> None:
        m = self.services.metrics
        for o in outcomes:
            if o.state == "sent":
                m.timers_sent.labels(kind=o.row.kind).inc()
                m.timer_lateness.observe(max((now - o.row.due_at).total_seconds(), 0.0))
            elif o.state == "failed":
                m.timers_failed.inc()
            elif o.state == "pending":
                m.timers_retried.inc()
            elif (o.error or "").startswith("folded"):
                m.timers_folded.inc()
            else:
                m.timers_dropped.inc()

    async def _post(
        self,
        client: AsyncWebClient,
        ticket: Ticket,
        plan: Any,
        status: SlaStatus,
        row: SlaTimer,
        folded: int,
        now: datetime,
        oncall: dict[str, OnCallSetting],
    ) -> Release:
        channel = ticket.announce_channel_id or ticket.channel_id
        if row.attempts > 1:
            found = await self._already_posted(client, channel, ticket.thread_ts, row.id)
            if found:
                return Release(
                    row,
                    "sent",
                    channel=channel,
                    ts=found,
                    sent_at=now,
                    counter="recovered",
                    repeat=next_repeat(notice(row), plan.notifications, status.clocks[row.clock].calendar),
                )
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
            error = slack_error_code(e)
            if error in PERMANENT_ERRORS:
                log.error("timer %s of %s failed for good: %s", row.id, ticket.key, error)
                return Release(row, "failed", error=error)
            return self._retry(row, now, error)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            return self._retry(row, now, f"{type(e).__name__}: {e}")
        log.info("sent %s %s of %s%s", row.kind, row.label, row.clock, " (late)" if late else "")
        return Release(
            row,
            "sent",
            channel=resp["channel"],
            ts=resp["ts"],
            sent_at=now,
            late=late,
            repeat=next_repeat(
                notice(row), plan.notifications, status.clocks[row.clock].calendar
            ),  # the last level pings again until someone acts
        )

    async def _already_posted(self, client: AsyncWebClient, channel: str, thread_ts: str | None, timer_id: int) -> str | None:
        if not thread_ts:
            return None
        try:
            resp = await client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True, limit=1000)
        except SlackApiError as e:
            log.warning("cannot check thread %s for timer %s: %s", thread_ts, timer_id, slack_error_code(e))
            return None
        messages: list[dict[str, Any]] = resp.get("messages", [])
        for m in messages:
            meta = m.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("timer_id") == timer_id:
                return m["ts"]
        return None

    def _retry(self, row: SlaTimer, now: datetime, error: str) -> Release:
        backoff = min(timedelta(seconds=5 * 2 ** min(row.attempts - 1, 6)), timedelta(minutes=5))
        log.warning("timer %s: Slack said %s; retrying in %s", row.id, error, backoff)
        return Release(row, "pending", error=error, run_at=now + backoff, counter="retried")


def build_apscheduler(sla: SlaScheduler, tick_seconds: float) -> AsyncIOScheduler:
    """APScheduler drives the scheduler: a steady poll every `tick_seconds`, plus a wake-up at the next due timer.

    The poll notices timers other replicas or handlers created; the wake-up
    keeps lateness low without a fast poll. The timers themselves live in the database.
    """
    scheduler = AsyncIOScheduler()
    scheduler.add_job(
        sla.tick,
        "interval",
        seconds=tick_seconds,
        id="sla-tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=datetime.now().astimezone(),
    )
    poll = timedelta(seconds=tick_seconds)

    def wake_at(due: datetime) -> None:
        wait = due - sla.services.clock.now()  # on the bot's clock; APScheduler runs on the wall clock
        if timedelta(0) < wait < poll:
            scheduler.add_job(
                sla.tick,
                "date",
                run_date=datetime.now().astimezone() + wait,
                id="sla-wake",
                replace_existing=True,
                misfire_grace_time=None,
            )

    sla.on_next_due = wake_at
    return scheduler
