"""Durable delivery: every post the bot owes Slack goes out once, also when Slack is down, slow or behind a proxy.

An owed post is an `outbox` row written with the change that owes it (see
`storage.outbox`). Delivery works like the SLA scheduler's timers:

- A row is claimed with a lease (`claimed_by`, `lease_until`). While its
  attempt runs, a `LeaseKeeper` extends the lease, so no other replica takes
  over a post that may still be in flight; a replica that dies stops
  extending, and its rows come back when the lease runs out.
- Each post carries message metadata naming its row. A retried row first
  looks in the thread (or the channel's latest messages) for a post Slack
  already accepted, and records that one instead of posting again.
- The client used here never retries on its own after a 5xx or a timeout
  (Slack may have accepted the post): those come back through the check
  above, with backoff. A 429 is waited out only while the lease is held.
- Errors that will not pass (`channel_not_found`, `not_in_channel`, ...) fail
  the row with the error; an announcement that its triage channel refuses is
  posted where the ticket was reported instead.

Handlers call `deliver(ids)` right after their ack, to tell the person what
happened; anything not sent then is retried by `tick()` (run by the scheduler).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Sequence

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot import views
from bot.metrics import InstrumentedWebClient, Metrics
from bot.services import Services
from storage.models import OutboxPost, Ticket
from storage.outbox import OutboxStore, PostOutcome
from storage.tickets import evaluate_ticket

log = logging.getLogger(__name__)

METADATA_EVENT = "triage_outbox_post"
# Slack errors a retry cannot mend (timers and owed posts alike): the post is marked failed and someone is told.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "msg_too_long",
        "no_text",
        "restricted_action",
        "invalid_blocks",
        "invalid_arguments",
        "thread_not_found",
    }
)
HISTORY_LOOKBACK = 200  # a retried top-level post is looked for among the channel's latest messages


def slack_error_code(e: SlackApiError) -> str:
    """Slack's error code, or the HTTP status when a proxy answered something that is not Slack's JSON."""
    resp = e.response
    data = getattr(resp, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {getattr(resp, 'status_code', '?')}"


def is_transient(error: Exception) -> bool:
    """A Slack failure that may pass: 429, 5xx, a proxy's page, no answer, no connection."""
    if isinstance(error, SlackApiError):
        return slack_error_code(error) not in PERMANENT_ERRORS
    return True  # no answer, no connection, a retry dropped with its lease (LeaseLost): try again later


# -- leases that outlive their attempts -----------------------------------------------------------
@dataclass
class AttemptBudget:
    """Until when (event-loop time) this attempt may still start a request: the lease it holds."""

    deadline: float


ATTEMPT_BUDGET: contextvars.ContextVar[AttemptBudget | None] = contextvars.ContextVar("attempt_budget", default=None)


class LeaseLost(Exception):
    """A retry would start after the lease last confirmed: it is not sent (another replica may take the row over)."""


class LeaseBoundRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out a 429's Retry-After, then sends the retry only if the lease is still confirmed (`ATTEMPT_BUDGET`).

    slack_sdk's own handler retries whatever the lease; past it another replica may take the row over and
    post it too. While the `LeaseKeeper` extends the lease, waiting is safe; if it cannot (the database is
    away), the retry is dropped (`LeaseLost`) and the row comes back through its lease, looked for first.
    """

    def __init__(self, max_retry_count: int = 3, request_timeout: float = 30.0):
        super().__init__(max_retry_count=max_retry_count)
        self.request_timeout = request_timeout

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        await super().prepare_for_next_attempt_async(state=state, request=request, response=response, error=error)
        budget = ATTEMPT_BUDGET.get()
        if budget is not None and asyncio.get_running_loop().time() > budget.deadline:
            raise LeaseLost("the lease ran out while waiting out Retry-After; not retrying")


class LeaseKeeper:
    """Extends the leases of rows being worked on every third of the lease, and keeps `ATTEMPT_BUDGET` in step.

    If an extension fails (the database is away), the budget is not moved: the
    attempt starts no request that could outlive the lease it last confirmed.
    """

    def __init__(self, extend: Callable[[datetime], Awaitable[Any]], now: Callable[[], datetime], lease: timedelta, request_timeout: float):
        self.extend, self.now, self.lease, self.request_timeout = extend, now, lease, request_timeout
        self.budget = AttemptBudget(0.0)
        self._task: asyncio.Task[None] | None = None
        self._token: contextvars.Token[AttemptBudget | None] | None = None

    async def __aenter__(self) -> "LeaseKeeper":
        self.budget.deadline = asyncio.get_running_loop().time() + self.lease.total_seconds()
        self._token = ATTEMPT_BUDGET.set(self.budget)
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the heartbeat's own failures are logged
                pass
        if self._token is not None:
            ATTEMPT_BUDGET.reset(self._token)

    async def _beat(self) -> None:
        period = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            started = asyncio.get_running_loop().time()
            try:
                await self.extend(self.now() + self.lease)
            except Exception as e:  # noqa: BLE001 - keep the old budget; the attempt winds down within it
                log.warning("could not extend leases (%s: %s); finishing within the current one", type(e).__name__, e)
                continue
            self.budget.deadline = started + self.lease.total_seconds()


def delivery_client(
    token: str | None, base_url: str, timeout: float = 30.0, session: aiohttp.ClientSession | None = None, metrics: Metrics | None = None
) -> AsyncWebClient:
    """A client with no retry of its own after a 5xx, a timeout or a dropped connection; 429s only under the lease.

    With `metrics`, its requests are counted like the app client's (bot.metrics)."""
    args: dict[str, Any] = {
        "token": token,
        "base_url": base_url,
        "timeout": timeout,
        "session": session,
        "retry_handlers": [LeaseBoundRateLimitHandler(request_timeout=timeout)],
    }
    return InstrumentedWebClient(**args, metrics=metrics) if metrics is not None else AsyncWebClient(**args)


@dataclass
class Delivered:
    """What a handler tells the person about one owed post."""

    kind: str
    state: str  # sent, pending, failed
    channel: str | None = None
    error: str | None = None


class Delivery(OutboxStore):
    services: Services  # the whole of it: the outbox's queries need only a StoreContext

    def __init__(
        self,
        services: Services,
        client: AsyncWebClient,
        replica_id: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 100,
    ):
        self.services = services
        self.client = client
        self.replica_id = replica_id or f"{socket.gethostname()}-{os.getpid()}"
        self.lease = lease
        self.batch_size = batch_size
        self._request_timeout = float(getattr(client, "timeout", 30) or 30)

    async def deliver(self, ids: Sequence[int]) -> list[Delivered]:
        """Post these owed rows now (a handler, right after its ack). Rows held elsewhere are reported pending."""
        if not ids:
            return []
        rows = await self.claim(self.services.clock.now(), ids=ids)
        outcomes = await self._run(rows)
        done = {o.row_id: o for o in outcomes}
        return [Delivered(o.kind, o.state, o.channel, o.error) if (o := done.get(i)) else Delivered("", "pending") for i in ids]

    async def tick(self) -> int:
        """Retry what is due; returns how many rows were tried."""
        total = 0
        while True:
            rows = await self.claim(self.services.clock.now(), limit=self.batch_size)
            if not rows:
                return total
            total += len(rows)
            await self._run(rows)
            if len(rows) < self.batch_size:
                return total

    async def _run(self, rows: list[OutboxPost]) -> list[PostOutcome]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        tickets = await self.tickets_of(rows)
        outcomes: list[PostOutcome] = []
        async with LeaseKeeper(lambda until: self.extend_leases(ids, until), self.services.clock.now, self.lease, self._request_timeout):
            for row in rows:  # in order: an announcement before the thread posts that wait for it
                try:
                    outcome = await self._post(row, tickets.get(row.ticket_id))
                except Exception as e:  # noqa: BLE001 - a bug in one post must not stop the others; retried later
                    log.exception("outbox row %s failed unexpectedly", row.id)
                    outcome = self._retry(row, f"{type(e).__name__}: {e}")
                outcomes.append(outcome)
                if outcome.state == "sent" and outcome.kind == "announcement" and row.ticket_id in tickets:
                    t = tickets[row.ticket_id]
                    t.announce_channel_id, t.thread_ts = outcome.channel, outcome.ts
                if outcome.state == "sent" and outcome.kind == "customer" and row.ticket_id in tickets:
                    t = tickets[row.ticket_id]  # later customer posts of this batch reply in the thread this one started
                    t.customer_thread_ts = t.customer_thread_ts or t.source_message_ts or outcome.ts
        await self.record(outcomes, self.services.clock.now())
        return outcomes

    async def _post(self, row: OutboxPost, ticket: Ticket | None) -> PostOutcome:
        if ticket is None:
            return PostOutcome(row.id, row.kind, "failed", error="ticket deleted")
        thread_ts: str | None = None
        channel = row.channel_id
        if row.kind == "thread":
            if not ticket.thread_ts or not ticket.announce_channel_id:
                if await self.announcement_owed(ticket.id):
                    return self._retry(row, "waiting for the announcement", log_it=False)
                return PostOutcome(row.id, row.kind, "failed", error="the ticket was never announced: no thread to post in")
            channel, thread_ts = ticket.announce_channel_id, ticket.thread_ts
        elif row.kind == "customer":
            thread_ts = ticket.customer_thread_ts or ticket.source_message_ts  # none yet: this post starts it
        if channel is None:
            return PostOutcome(row.id, row.kind, "failed", error="no channel")
        if row.attempts > 1:
            found = await self._already_posted(row, channel, thread_ts)
            if found:
                log.info("outbox row %s (%s of %s) was already posted; not posting again", row.id, row.kind, ticket.key)
                return PostOutcome(row.id, row.kind, "sent", channel=channel, ts=found, recovered=True)
        try:
            channel, ts = await self._send(row, ticket, channel, thread_ts)
        except Exception as e:
            if not is_transient(e):
                error = slack_error_code(e) if isinstance(e, SlackApiError) else str(e)
                if row.kind == "announcement" and channel != ticket.channel_id:
                    log.warning("announcing %s in %s failed (%s); announcing where it was reported", ticket.key, channel, error)
                    row.channel_id = ticket.channel_id
                    return await self._post(row, ticket)
                log.error("%s post of %s failed for good: %s", row.kind, ticket.key, error)
                return PostOutcome(row.id, row.kind, "failed", error=error)
            return self._retry(row, slack_error_code(e) if isinstance(e, SlackApiError) else f"{type(e).__name__}: {e}")
        return PostOutcome(row.id, row.kind, "sent", channel=channel, ts=ts)

    async def _send(self, row: OutboxPost, ticket: Ticket, channel: str, thread_ts: str | None) -> tuple[str, str]:
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row.id, "ticket": ticket.key}}
        if row.kind == "announcement":
            plan = self.services.policies.plan(ticket.plan_id)
            status = evaluate_ticket(plan, ticket, ticket.events, self.services.clock.now())
            customer = await self.services.customer_for_channel(ticket.channel_id)
            resp = await self.client.chat_postMessage(
                channel=channel,
                text=views.announcement_text(ticket, plan),
                metadata=metadata,
                blocks=views.announcement_blocks(ticket, plan, status, customer.name if customer else None),
            )
        else:
            resp = await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=row.text or "", metadata=metadata)
        return resp["channel"], resp["ts"]

    async def _already_posted(self, row: OutboxPost, channel: str, thread_ts: str | None) -> str | None:
        """The ts of this row's post if Slack already has it (its answer was lost), else None."""
        try:
            if thread_ts:
                resp = await self.client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True, limit=1000)
            else:
                resp = await self.client.conversations_history(channel=channel, include_all_metadata=True, limit=HISTORY_LOOKBACK)
        except Exception as e:  # noqa: BLE001 - cannot look: post (a lost answer is rarer than a lost post)
            log.warning("cannot check %s for outbox row %s: %s", channel, row.id, e)
            return None
        messages: list[dict[str, Any]] = resp.get("messages", [])
        for m in messages:
            meta = m.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("outbox_id") == row.id:
                return str(m["ts"])
        return None

    def _retry(self, row: OutboxPost, error: str, log_it: bool = True) -> PostOutcome:
        backoff = min(timedelta(seconds=5 * 2 ** min(row.attempts - 1, 6)), timedelta(minutes=5))
        if log_it:
            log.warning("outbox row %s (%s): Slack said %s; retrying in %s", row.id, row.kind, error, backoff)
        return PostOutcome(
            row.id,
            row.kind,
            "pending",
            error=error,
            run_at=self.services.clock.now() + backoff,
            channel=row.channel_id,  # an announcement may have moved to where the ticket was reported
        )
