"""Prometheus metrics: one registry per app (built by `Metrics()`), so two bots in one process never share counters.

What an operator watches: tickets opened, timers (due, sent, failed, folded, how
late), Slack Web API calls (by method and outcome, with latency), how fast
listeners ack, the scheduler's ticks, and from the stored state the open
tickets and breached clocks per plan (read at scrape, cached a few seconds).
Label values are bounded: plans, severities, Slack method names, outcome
classes; never a ticket id or text a user typed.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Callable, Optional

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "InstrumentedWebClient", "listener_kind"]

LATENESS_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
BATCH_BUCKETS = (0, 1, 5, 10, 25, 50, 100, 250, 500, 1000)
_ERROR_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Metrics:
    """The bot's metrics in their own registry; `exposition()` is what `/metrics` serves."""

    def __init__(self, stored_state_ttl: float = 5.0) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.tickets_opened = Counter("triage_tickets_opened_total", "Tickets opened", ["plan", "severity"], registry=r)
        self.timers_due = Counter(
            "triage_timers_due_total", "Timers claimed for delivery by this replica (a retry or a reclaim counts again)", registry=r
        )
        self.timers_sent = Counter("triage_timers_sent_total", "Reminders and escalation pings posted", ["kind"], registry=r)
        self.timers_failed = Counter("triage_timers_failed_total", "Timers failed for good (a permanent Slack error)", registry=r)
        self.timers_folded = Counter(
            "triage_timers_folded_total", "Overdue timers folded into a later notice of the same clock", registry=r
        )
        self.timers_dropped = Counter("triage_timers_dropped_total", "Timers dropped as moot when they came due", registry=r)
        self.timers_retried = Counter("triage_timers_retried_total", "Timer posts put back for a retry (429, 5xx, timeouts)", registry=r)
        self.timer_lateness = Histogram(
            "triage_timer_lateness_seconds", "Seconds past due when a timer was posted", buckets=LATENESS_BUCKETS, registry=r
        )
        self.slack_calls = Counter(
            "triage_slack_api_calls_total",
            "Slack Web API requests (each HTTP attempt) by outcome: ok, 429, 5xx, an error code, or network",
            ["method", "outcome"],
            registry=r,
        )
        self.slack_latency = Histogram(
            "triage_slack_api_call_duration_seconds", "Slack Web API call time, retries included", ["method"], registry=r
        )
        self.ack_latency = Histogram(
            "triage_listener_ack_duration_seconds", "Time from receiving a Slack request to its ack", ["kind"], registry=r
        )
        self.tick_duration = Histogram("triage_scheduler_tick_duration_seconds", "Scheduler tick time (claim, deliver, record)", registry=r)
        self.batch_size = Histogram("triage_scheduler_claimed_batch_size", "Timers claimed per batch", buckets=BATCH_BUCKETS, registry=r)
        self.open_tickets = Gauge("triage_open_tickets", "Open tickets (not resolved) per plan, from the database", ["plan"], registry=r)
        self.breached_clocks = Gauge(
            "triage_breached_clocks",
            "Running SLA clocks past their deadline on open tickets, per plan, from the database",
            ["plan"],
            registry=r,
        )
        self.timers_overdue = Gauge(
            "triage_timers_overdue", "Timers whose run time passed more than a minute ago and that no replica holds", registry=r
        )
        self.outbox_posts = Gauge(
            "triage_outbox_posts",
            "Posts owed to Slack (announcements, thread posts): pending, claimed, or failed for good",
            ["state"],
            registry=r,
        )
        ProcessCollector(registry=r)  # process_resident_memory_bytes, CPU, open fds (Linux /proc)
        self._stored_ttl = stored_state_ttl
        self._stored_at: float | None = None
        self._stored_lock = asyncio.Lock()

    async def exposition(self, read_stored: Callable[[], Any] | None = None) -> bytes:
        """The text format; `read_stored` (async, returns `StoredState`) refreshes the database gauges at most every few seconds."""
        if read_stored is not None:
            async with self._stored_lock:
                if self._stored_at is None or time.monotonic() - self._stored_at >= self._stored_ttl:
                    self.set_stored(await read_stored())
                    self._stored_at = time.monotonic()
        return generate_latest(self.registry)

    def set_stored(self, state: Any) -> None:
        for gauge, values in ((self.open_tickets, state.open_tickets), (self.breached_clocks, state.breached_clocks)):
            gauge.clear()  # a plan with nothing left shows no series, not a stale count
            for plan, count in values.items():
                gauge.labels(plan=plan).set(count)
        self.timers_overdue.set(state.overdue_timers)
        for outbox_state, count in state.outbox.items():
            self.outbox_posts.labels(state=outbox_state).set(count)

    def observe_call(self, method: str, outcome: str) -> None:
        self.slack_calls.labels(method=method, outcome=outcome).inc()


def outcome_of(status: int, body: Any) -> str:
    """ok, 429, 5xx, Slack's error code (when it looks like one), or other."""
    if status == 429:
        return "429"
    if status >= 500:
        return "5xx"
    if isinstance(body, dict):
        if body.get("ok"):
            return "ok"
        error = str(body.get("error") or "")
        return error if _ERROR_CODE.match(error) else "other"
    return "ok" if status < 400 else "other"


def _method_of(url: str) -> str:
    method = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    return method if re.fullmatch(r"[A-Za-z][A-Za-z0-9_.]{0,63}", method) else "other"


class _CallObserver(AsyncRetryHandler):
    """Sees every HTTP attempt of the client (it is asked first whether to retry, and never does)."""

    def __init__(self, metrics: Metrics):
        super().__init__(max_retry_count=1_000_000)
        self.metrics = metrics

    async def _can_retry_async(
        self, *, state: RetryState, request: HttpRequest, response: Optional[HttpResponse] = None, error: Optional[Exception] = None
    ) -> bool:
        method = _method_of(request.url)
        if response is not None:
            self.metrics.observe_call(method, outcome_of(response.status_code, response.body))
        elif error is not None:
            self.metrics.observe_call(method, "other" if isinstance(error, SlackApiError) else "network")
        return False


class InstrumentedWebClient(AsyncWebClient):
    """An AsyncWebClient that counts each request by method and outcome and times each call."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.metrics = metrics
        self.retry_handlers.insert(0, _CallObserver(metrics))

    async def _request(self, *, http_verb: str, api_url: str, req_args: dict) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            return await super()._request(http_verb=http_verb, api_url=api_url, req_args=req_args)
        finally:
            self.metrics.slack_latency.labels(method=_method_of(api_url)).observe(time.perf_counter() - start)


_KINDS = {
    "event_callback": "event",
    "block_actions": "action",
    "view_submission": "view_submission",
    "view_closed": "view_closed",
    "shortcut": "shortcut",
    "message_action": "shortcut",
    "block_suggestion": "options",
    "url_verification": "url_verification",
}


def listener_kind(body: dict[str, Any]) -> str:
    """A bounded label for what Slack sent: event, command, action, view_submission, view_closed, shortcut, options, other."""
    if "command" in body:
        return "command"
    return _KINDS.get(str(body.get("type")), "other")
