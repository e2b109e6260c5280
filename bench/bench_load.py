"""Benchmark: the bot under load, side by side with a bare slack-bolt AsyncApp on the same fake Slack.

Both run as real, separate processes on this machine, talking to the Slack
stand-in (tests/slack_standin) served by this benchmark process, over loopback:

* ours: ``python -m bot.cli run`` on a fresh PostgreSQL database ``bench_load_<hex>``
  (SCHEDULER_ENABLED stays on; the tickets carry no timers, so it idles);
* baseline: this file run with ``--bare-app PORT``: a bolt ``AsyncApp`` on aiohttp
  whose listeners do only the Slack part (ack, views.open of a small modal,
  respond, views.publish), no database.

Tickets: ``--sizes`` open tickets (default 1,000 / 10,000 / 50,000, every one open: the
worst case), spread over 20 customers (comarch-cci-premium) and the last 10 hours, cloned
with shifted instants from tickets opened through ``Services.open_ticket`` and bulk-loaded
with COPY (tickets, ticket_events, sla_clocks; no timers).

Measured (each figure beside the bare app's in the same run, with the ratio):

1. ``/incident`` at ``--rates`` commands/s (default 50 and 100) for ``--seconds`` each
   (open loop, a new user and trigger_id per command): the ack (HTTP response time) and the
   ``views.open`` lateness (its arrival at fake Slack minus the command's send time; on real
   Slack a trigger_id expires after 3 s), and CPU per command.
2. The final step of the report modal submitted by ``--concurrency`` users at once
   (default 20), ``--rounds`` times: response time p50/p99.
3. At each size: ``/sla status`` (time until its answer reaches the response_url), App Home
   (until views.publish) and ``/sla report`` (until its answer), each while other users send
   ``/incident`` at ``--bg-rate``/s: their ack p99, against the bare app's under the same stream.
4. ``triage-bot report --json`` at the largest size: wall time, peak RSS, output size.

The bot's RSS is sampled every 100 ms throughout (max and VmHWM printed).

    .venv/bin/python bench/bench_load.py                     # full run (~10 min)
    .venv/bin/python bench/bench_load.py --quick             # 1k/5k tickets, short phases (~2 min)

Needs PostgreSQL at TEST_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test).
Every process it starts is stopped and the database dropped, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import math
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import procstats  # bench/procstats.py: this script's own folder is on sys.path; it puts the repository's there too
from procstats import REPO_ROOT, free_port, proc_cpu, proc_mem

UTC = timezone.utc
PLAN = "comarch-cci-premium"
SIGNING_SECRET = "bench-signing-secret"
BOSS = "U0BOSS0001"  # responder and manager
CUSTOMERS = 20
USERS = 400
TEMPLATE_SEVERITIES = ("general-guidance", "system-impaired", "production-impaired", "business-critical")


# ----------------------------------------------------------------------------- small helpers
def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def channel_of(i: int) -> str:
    return f"C0CUST{i:04d}"


def user_of(i: int) -> str:
    return f"U0LOAD{i % USERS:04d}"


# ----------------------------------------------------------------------------- the bare app (baseline process)
def bare_app_main(port: int) -> None:
    """A bolt AsyncApp doing only the Slack part of each listener: the floor any bolt bot stands on."""
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=False)

    def modal(callback_id: str, text: str) -> dict[str, Any]:
        return {
            "type": "modal",
            "callback_id": callback_id,
            "title": {"type": "plain_text", "text": "Report an incident"},
            "submit": {"type": "plain_text", "text": "Next"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "summary",
                    "label": {"type": "plain_text", "text": "What happened?"},
                    "element": {"type": "plain_text_input", "action_id": "value", "initial_value": text},
                },
            ],
        }

    @app.command("/incident")
    async def incident(ack, body, client) -> None:  # type: ignore[no-untyped-def]
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=modal("bare_step", body.get("text", "")))

    @app.command("/sla")
    async def sla(ack, respond) -> None:  # type: ignore[no-untyped-def]
        await ack()
        await respond(text="ok", response_type="ephemeral")

    @app.view("bare_step")
    async def step(ack) -> None:  # type: ignore[no-untyped-def]
        done = {
            "type": "modal",
            "title": {"type": "plain_text", "text": "Done"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Saved"}}],
        }
        await ack(response_action="update", view=done)

    @app.event("app_home_opened")
    async def home(event, client) -> None:  # type: ignore[no-untyped-def]
        await client.views_publish(
            user_id=event["user"], view={"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Home"}}]}
        )

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.add_routes([web.post("/slack/events", events)])
    print("listening on", port, file=sys.stderr, flush=True)
    web.run_app(web_app, host="127.0.0.1", port=port, print=None, access_log=None)


# ----------------------------------------------------------------------------- fake Slack, with arrival times
_arrived: contextvars.ContextVar[float] = contextvars.ContextVar("arrived", default=0.0)


def load_standin_class():  # type: ignore[no-untyped-def]
    from tests.slack_standin import SlackStandIn

    class LoadStandIn(SlackStandIn):
        """Records when views.open (per trigger_id), views.publish (per user) and response_url posts arrive."""

        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.opens: dict[str, tuple[float, dict[str, Any] | None]] = {}  # trigger_id -> (arrival, view or None)
            self.publishes: dict[str, list[float]] = {}
            self.responses: dict[str, float] = {}  # url_id -> arrival of the answer (a "working on it" note is skipped)
            views_open, views_publish = self._methods["views.open"], self._methods["views.publish"]

            def opened(params: dict[str, Any]) -> dict[str, Any]:
                trigger = str(params.get("trigger_id"))
                try:
                    result = views_open(params)
                except Exception:
                    self.opens[trigger] = (_arrived.get() or time.time(), None)
                    raise
                self.opens[trigger] = (_arrived.get() or time.time(), result["view"])
                return result

            def published(params: dict[str, Any]) -> dict[str, Any]:
                result = views_publish(params)
                self.publishes.setdefault(str(params.get("user_id")), []).append(_arrived.get() or time.time())
                return result

            self._methods["views.open"] = opened
            self._methods["views.publish"] = published

        async def _handle_api(self, request):  # type: ignore[no-untyped-def]
            _arrived.set(time.time())
            return await super()._handle_api(request)

        async def _handle_response_url(self, request):  # type: ignore[no-untyped-def]
            arrived = time.time()
            n = len(self.response_posts)
            response = await super()._handle_response_url(request)
            text = str(self.response_posts[-1].body.get("text", "")) if len(self.response_posts) > n else ""
            if not text.startswith(":hourglass"):  # "working on it" is not the answer
                self.responses.setdefault(request.match_info["url_id"], arrived)
            return response

    return LoadStandIn


class Sender:
    """Signed Slack requests over one pooled aiohttp session (a new session per request would cost more than the bot)."""

    def __init__(self, slack: Any, url: str) -> None:
        import aiohttp

        from tests.slack_standin.sender import SlackSender

        self.slack = slack
        self.signer = SlackSender(url, SIGNING_SECRET, slack=slack)
        self.url = self.signer.url
        self.failures: list[str] = []
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=180))

    async def close(self) -> None:
        await self.session.close()

    async def post(self, body: str, content_type: str) -> tuple[int, Any]:
        ts = str(int(time.time()))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": self.signer.sign(body, ts)}
        async with self.session.post(self.url, data=body.encode(), headers=headers) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text.startswith("{") else None)

    async def command(self, command: str, text: str, user: str, channel: str) -> tuple[float, float, str, str]:
        """(send time, ack seconds, trigger_id, response_url id)."""
        trigger = self.slack.new_trigger_id(user)
        response_url = self.slack.new_response_url(channel, user)
        fields = {
            "token": "t",
            "team_id": self.slack.team_id,
            "team_domain": self.slack.team_domain,
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.slack.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger,
        }
        t0 = time.time()
        status, _ = await self.post(urlencode(fields), "application/x-www-form-urlencoded")
        if status != 200:  # bolt answers 404 when the listener did not ack within 3 s
            self.failures.append(f"{command}: HTTP {status}")
        return t0, time.time() - t0, trigger, response_url.rsplit("/", 1)[1]

    async def submit(self, view: dict[str, Any], user: str, values: dict[str, Any]) -> tuple[float, Any]:
        """A view_submission; (seconds until the answer, the answer)."""
        submitted = json.loads(json.dumps(view))
        submitted["state"] = {"values": values}
        payload = {
            "type": "view_submission",
            "team": {"id": self.slack.team_id, "domain": self.slack.team_domain},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.slack.team_id},
            "api_app_id": self.slack.app_id,
            "token": "t",
            "trigger_id": self.slack.new_trigger_id(user, view_id=view["id"]),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
        }
        t0 = time.time()
        status, answer = await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
        took = time.time() - t0
        if status != 200:  # bolt answers 404 when the listener did not ack within 3 s: Slack shows the user an error
            self.failures.append(f"view_submission: HTTP {status}")
            return took, None
        self.slack.apply_view_submission_response(view["id"], answer)
        return took, answer

    async def home_opened(self, user: str) -> float:
        event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home", "event_ts": f"{time.time():.6f}"}
        t0 = time.time()
        status, _ = await self.post(json.dumps(self.signer.event_envelope(event)), "application/json")
        if status != 200:
            raise RuntimeError(f"app_home_opened answered HTTP {status}")
        return t0


async def until(check: Any, timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = check()
        if result:
            return result
        await asyncio.sleep(0.01)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


# ----------------------------------------------------------------------------- processes
class Processes(procstats.Processes):
    stop_timeout = 10.0

    async def start(self, *cmd: str, env: dict[str, str], ready: str, timeout: float = 90) -> asyncio.subprocess.Process:
        log = tempfile.NamedTemporaryFile(prefix="bench-load-", suffix=".log", delete=False)
        self.logs.append(log.name)
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, cwd=REPO_ROOT, stderr=log, stdout=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL
        )
        log.close()
        self.procs.append(proc)
        end = time.monotonic() + timeout
        while ready not in Path(log.name).read_text(errors="replace"):
            if proc.returncode is not None or time.monotonic() > end:
                raise RuntimeError(f"{cmd[-1]} did not start; log {log.name}:\n{Path(log.name).read_text()[-3000:]}")
            await asyncio.sleep(0.05)
        return proc


class RssSampler:
    """The bot's VmRSS every 100 ms, and its child processes' (a `/sla report` runs in one); `max` and
    `child_max` since the last `reset()`."""

    def __init__(self, pid: int) -> None:
        self.pid, self.max, self.child_max = pid, 0.0, 0.0
        self.task = asyncio.create_task(self._run())

    def _children(self) -> list[int]:
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    async def _run(self) -> None:
        while True:
            try:
                self.max = max(self.max, proc_mem(self.pid)["VmRSS"])
            except (OSError, KeyError):  # the process has ended
                return
            for child in self._children():
                try:
                    self.child_max = max(self.child_max, proc_mem(child)["VmRSS"])
                except (OSError, KeyError):  # it ended meanwhile
                    pass
            await asyncio.sleep(0.1)

    def reset(self) -> None:
        self.max, self.child_max = proc_mem(self.pid)["VmRSS"], 0.0


# ----------------------------------------------------------------------------- data
@dataclass
class Loader:
    conn: Any
    templates: list[dict[str, list[dict[str, Any]]]]  # per template ticket: table -> rows
    next_ids: dict[str, int] = field(default_factory=lambda: {"tickets": 1, "ticket_events": 1, "sla_clocks": 1})
    loaded: int = 0

    TABLES = ("tickets", "ticket_events", "sla_clocks")

    async def grow_to(self, n: int, customer_ids: list[int], now: datetime, chunk: int = 10_000) -> None:
        """COPY clones until `n` open tickets exist: every instant shifted so each ticket opened in the last 10 hours."""
        rng = random.Random(self.loaded)
        for table in self.TABLES:  # the bot opened tickets of its own meanwhile
            self.next_ids[table] = max(self.next_ids[table], await self.conn.fetchval(f"SELECT coalesce(max(id), 0) + 1 FROM {table}"))
        columns = {t: list(self.templates[0][t][0].keys()) for t in self.TABLES}
        await self.conn.execute("SET session_replication_role = replica")
        try:
            while self.loaded < n:
                out: dict[str, list[tuple]] = {t: [] for t in self.TABLES}
                for _ in range(min(chunk, n - self.loaded)):
                    tpl = self.templates[self.loaded % len(self.templates)]
                    delta = now - timedelta(hours=10) * rng.random() - tpl["tickets"][0]["opened_at"]
                    ticket_id = self.next_ids["tickets"]
                    for table in self.TABLES:
                        for row in tpl[table]:
                            new = {k: (v + delta if isinstance(v, datetime) else v) for k, v in row.items()}
                            if table == "tickets":
                                new.update(
                                    id=ticket_id,
                                    idempotency_key=None,
                                    summary=f"load ticket {ticket_id}",
                                    customer_id=customer_ids[ticket_id % len(customer_ids)],
                                )
                            else:
                                new.update(id=self.next_ids[table], ticket_id=ticket_id)
                            self.next_ids[table] += 1
                            out[table].append(tuple(new[c] for c in columns[table]))
                    self.loaded += 1
                for table in self.TABLES:
                    await self.conn.copy_records_to_table(table, records=out[table], columns=columns[table])
        finally:
            await self.conn.execute("SET session_replication_role = origin")
        for table in self.TABLES:
            await self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")
        # As autovacuum would have by the time a database holds this many tickets (this machine's cluster runs
        # with it off): without the visibility map, the board's index-only counts read every heap page too.
        await self.conn.execute("VACUUM ANALYZE")


async def prepare(url: str, conn: Any) -> tuple[Loader, list[int]]:
    """Migrate, add the customers, open one template ticket per severity through the service; keep their rows."""
    from bot.services import ReportDraft, build_services
    from bot.settings import Settings
    from storage.db import upgrade

    services = build_services(Settings(_env_file=None, database_url=url, default_plan=PLAN))
    try:
        await upgrade(services.engine)
        customer_ids = []
        for i in range(CUSTOMERS):
            c = await services.add_customer(name=f"Customer {i:02d}", channel_id=channel_of(i), plan_id=PLAN)
            customer_ids.append(c.id)
        ids = []
        for severity in TEMPLATE_SEVERITIES:
            opened = await services.open_ticket(
                ReportDraft(channel_id=channel_of(0), reporter_id=user_of(0), summary="template", severity=severity, priority="p2")
            )
            ids.append(opened.ticket.id)
    finally:
        await services.close()
    templates = []
    for tid in ids:
        rows = {}
        for table in Loader.TABLES:
            key = "id" if table == "tickets" else "ticket_id"
            rows[table] = [dict(r) for r in await conn.fetch(f"SELECT * FROM {table} WHERE {key} = $1 ORDER BY id", tid)]
        templates.append(rows)
    for table in ("sla_timers", "ticket_events", "sla_clocks", "tickets"):
        await conn.execute(f"DELETE FROM {table}")
    return Loader(conn, templates), customer_ids


# ----------------------------------------------------------------------------- phases
@dataclass
class Target:
    name: str
    proc: Any
    sender: Sender
    submit_kind: str  # "ours" (two-step modal) or "bare"


async def intake(t: Target, slack: Any, rate: float, seconds: float) -> dict[str, Any]:
    """`/incident` open loop at `rate`/s: ack and views.open lateness."""
    n = int(rate * seconds)
    cpu0 = proc_cpu(t.proc.pid)
    start = time.time() + 0.2
    sent: list[tuple[float, float, str]] = []

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, start + i / rate - time.time()))
        t0, ack, trigger, _ = await t.sender.command("/incident", f"load {i}", user_of(i), channel_of(i % CUSTOMERS))
        sent.append((t0, ack, trigger))

    await asyncio.gather(*(one(i) for i in range(n)))
    await until(lambda: all(tr in slack.opens for _, _, tr in sent), 60 + seconds, "every views.open")
    cpu = proc_cpu(t.proc.pid) - cpu0
    late = [slack.opens[tr][0] - t0 for t0, _, tr in sent]
    return {
        "n": n,
        "ack": [a for _, a, _ in sent],
        "late": late,
        "over3": sum(1 for x in late if x > 3.0),
        "failed": sum(1 for _, _, tr in sent if slack.opens[tr][1] is None),
        "cpu_ms": 1000 * cpu / n,
    }


def _answer_values(view: dict[str, Any]) -> dict[str, Any]:
    """Values for whatever our step-1 or step-2 modal asks (the suggested severity kept, first priority)."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        bid, element = block.get("block_id", ""), block.get("element") or {}
        if block.get("type") != "input":
            continue
        action = element.get("action_id", "value")
        if element.get("type") in ("static_select", "radio_buttons"):
            chosen = element.get("initial_option") or (element.get("options") or [{}])[0]
            if bid.startswith("q:"):
                chosen = next((o for o in element.get("options", []) if o.get("value") == "no"), chosen)
            values[bid] = {action: {"type": element["type"], "selected_option": {"value": chosen.get("value")}}}
        elif element.get("type") == "plain_text_input":
            values[bid] = {
                action: {"type": "plain_text_input", "value": element.get("initial_value") or ("Bench load" if bid == "summary" else "")}
            }
    return values


async def submissions(t: Target, slack: Any, concurrency: int, rounds: int, conn: Any = None) -> list[float]:
    """`concurrency` users submit the final step at once, `rounds` times: response seconds."""
    times: list[float] = []
    for r in range(rounds):
        finals = []
        for i in range(concurrency):
            user = user_of(1000 + r * concurrency + i)
            _, _, trigger, _ = await t.sender.command("/incident", f"concurrent {r}/{i}", user, channel_of(i % CUSTOMERS))
            view = (await until(lambda: slack.opens.get(trigger), 30, "views.open"))[1]
            if view is None:
                raise RuntimeError(f"{t.name}: views.open failed during the submission phase")
            if t.submit_kind == "ours":
                # the bot stores the modal's draft once views.open returned: wait for it (this step is not timed)
                for _ in range(3000):
                    if await conn.fetchval("SELECT 1 FROM report_drafts WHERE view_id = $1", view["id"]):
                        break
                    await asyncio.sleep(0.01)
                _, answer = await t.sender.submit(view, user, _answer_values(view))
                if not answer or answer.get("response_action") != "update":
                    raise RuntimeError(f"step 1 answered {answer}")
                view = slack.views[view["id"]]
            finals.append((view, user))
        results = await asyncio.gather(*(t.sender.submit(v, u, _answer_values(v)) for v, u in finals))
        for took, answer in results:
            if answer is not None and answer.get("response_action") != "update":
                raise RuntimeError(f"{t.name}: final step answered {answer}")
            times.append(took)  # a failure (no ack in 3 s) counts with its time
    return times


async def background(t: Target, rate: float, stop: asyncio.Event, acks: list[tuple[float, float]]) -> None:
    """Other users' `/incident` at `rate`/s until `stop`: (send time, ack seconds)."""
    i, start, tasks = 0, time.time(), []

    async def one(k: int) -> None:
        t0, ack, _, _ = await t.sender.command("/incident", f"bg {k}", user_of(2000 + k), channel_of(k % CUSTOMERS))
        acks.append((t0, ack))

    while not stop.is_set():
        tasks.append(asyncio.create_task(one(i)))
        i += 1
        await asyncio.sleep(max(0.0, start + i / rate - time.time()))
    await asyncio.gather(*tasks)


async def timed_op(t: Target, slack: Any, op: str, bg_rate: float, timeout: float) -> tuple[float, list[float]]:
    """One status / home / report request while others send `/incident`: (its seconds, their acks meanwhile)."""
    stop, acks = asyncio.Event(), []
    bg = asyncio.create_task(background(t, bg_rate, stop, acks))
    await asyncio.sleep(1.0)  # the stream runs first
    took: float | None
    try:
        if op == "home":
            before = len(slack.publishes.get(BOSS, []))
            t0 = await t.sender.home_opened(BOSS)
            await until(lambda: len(slack.publishes.get(BOSS, [])) > before, timeout, "views.publish")
            t1 = slack.publishes[BOSS][-1]
        else:
            uploads = len(slack.calls_to("files.completeUploadExternal"))
            t0, _, _, url_id = await t.sender.command("/sla", "status" if op == "status" else "report", BOSS, channel_of(0))
            t1 = await until(lambda: slack.responses.get(url_id), timeout, f"/sla {op}'s answer")
            if op == "report" and t.name == "ours":  # its chart and CSV follow: wait, so the next measurement runs alone
                await until(lambda: len(slack.calls_to("files.completeUploadExternal")) > uploads, timeout, "the report's files")
        took = t1 - t0
    except RuntimeError as e:  # no answer within --op-timeout: reported as such
        say(f"{t.name}: {e}")
        t1, took = time.time(), None
    await asyncio.sleep(0.5)
    stop.set()
    await bg
    during = [a for s, a in acks if t0 <= s <= t1 + 0.5]
    return took, during


async def stream_only(t: Target, bg_rate: float, seconds: float) -> list[float]:
    stop, acks = asyncio.Event(), []
    bg = asyncio.create_task(background(t, bg_rate, stop, acks))
    await asyncio.sleep(seconds)
    stop.set()
    await bg
    return [a for _, a in acks]


def cli_report(url: str) -> dict[str, float]:
    """`triage-bot report --json` in a child process: wall seconds, peak RSS (MB), output bytes."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env.update(DATABASE_URL=url, PYTHONPATH=str(REPO_ROOT), DEFAULT_PLAN=PLAN)
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "report", "--json"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode != 0:
            raise RuntimeError(f"triage-bot report --json exited {proc.returncode}: {err[-2000:]}")
        size = out.tell()
    return {"seconds": wall, "peak_mb": usage.ru_maxrss / 1024, "bytes": size}


# ----------------------------------------------------------------------------- printing
def ms(x: float | None) -> str:
    if x == math.inf:
        return "no answer"
    return "-" if x is None else f"{1000 * x:,.0f} ms"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or not b or a == math.inf:
        return "-"
    return f"{a / b:.1f}x"


def row(label: str, ours: float | None, bare: float | None, fmt: Any = ms) -> str:
    return f"  {label:<46} {fmt(ours):>12} {fmt(bare):>12} {ratio(ours, bare):>8}"


# ----------------------------------------------------------------------------- main
async def run(args: argparse.Namespace) -> int:
    import asyncpg
    from sqlalchemy.engine import make_url

    base_url = make_url(os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"))
    base_dsn = base_url.set(drivername="postgresql").render_as_string(hide_password=False)
    db = f"bench_load_{uuid.uuid4().hex[:10]}"
    url = base_url.set(database=db).render_as_string(hide_password=False)
    admin = await asyncpg.connect(base_dsn)
    procs = Processes()
    created, failed = False, True
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)  # type: ignore[union-attr]
    senders: list[Sender] = []
    try:
        await admin.execute(f'CREATE DATABASE "{db}"')
        created = True
        conn = await asyncpg.connect(base_dsn.rsplit("/", 1)[0] + "/" + db)
        loader, customer_ids = await prepare(url, conn)
        sizes = sorted(args.sizes)
        await loader.grow_to(sizes[0], customer_ids, datetime.now(UTC))
        say(f"database {db}: {sizes[0]:,} open tickets over {CUSTOMERS} customers")
        async with load_standin_class()(trigger_ttl=3600, strict=False) as slack:
            for i in range(CUSTOMERS):
                slack.add_channel(channel_of(i), f"customer-{i}")
            for i in range(USERS):
                slack.add_user(user_of(i), f"user{i}")
            slack.add_user(BOSS, "boss")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SCHEDULER_", "DATABASE_URL"))}
            env.update(
                SLACK_BOT_TOKEN=slack.bot_token,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=slack.api_url,
                PYTHONPATH=str(REPO_ROOT),
                LOG_LEVEL="WARNING",
            )
            ours_port, bare_port = free_port(), free_port()
            ours_proc = await procs.start(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                ready="listening on",
                env={
                    **env,
                    "DATABASE_URL": url,
                    "PORT": str(ours_port),
                    "DEFAULT_PLAN": PLAN,
                    "RESPONDER_USER_IDS": BOSS,
                    "MANAGER_USER_IDS": BOSS,
                    "LOG_LEVEL": "INFO",
                },
            )
            bare_proc = await procs.start(
                sys.executable, str(Path(__file__).resolve()), "--bare-app", str(bare_port), ready="listening on", env=env
            )
            ours = Target("ours", ours_proc, Sender(slack, f"http://127.0.0.1:{ours_port}"), "ours")
            bare = Target("bare", bare_proc, Sender(slack, f"http://127.0.0.1:{bare_port}"), "bare")
            senders += [ours.sender, bare.sender]
            rss = RssSampler(ours_proc.pid)
            out: dict[str, Any] = {"intake": {}, "ops": {}}
            # warm both up (imports, pools)
            for t in (bare, ours):
                await intake(t, slack, 10, 1)
            for rate in args.rates:
                for t in (bare, ours):
                    out["intake"][(rate, t.name)] = await intake(t, slack, rate, args.seconds)
                    r = out["intake"][(rate, t.name)]
                    say(
                        f"{t.name}: /incident at {rate}/s: ack p99 {ms(pct(r['ack'], 0.99))}, views.open late p99 {ms(pct(r['late'], 0.99))}, "
                        f">3 s: {r['over3']}, {r['cpu_ms']:.1f} ms CPU/command"
                    )
                    await asyncio.sleep(args.pause)
            for t in (bare, ours):
                out[("submit", t.name)] = await submissions(t, slack, args.concurrency, args.rounds, conn)
                say(f"{t.name}: final step at {args.concurrency} concurrent: p99 {ms(pct(out[('submit', t.name)], 0.99))}")
            out["bare_stream"] = await stream_only(bare, args.bg_rate, args.bg_seconds)
            out["ours_stream"] = await stream_only(ours, args.bg_rate, args.bg_seconds)
            say(f"ack p99 at {args.bg_rate}/s alone: bare {ms(pct(out['bare_stream'], 0.99))}, ours {ms(pct(out['ours_stream'], 0.99))}")
            for size in sizes:
                await loader.grow_to(size, customer_ids, datetime.now(UTC))
                for op in args.ops:
                    times, acks = [], []
                    rss.reset()
                    for _ in range(args.repeat):
                        took, during = await timed_op(ours, slack, op, args.bg_rate, args.op_timeout)
                        times.append(math.inf if took is None else took)
                        acks += during
                        if took is None:
                            await asyncio.sleep(args.op_timeout)  # let the bot finish before the next measurement
                            break
                    out["ops"][(size, op)] = {"time": statistics.median(times), "acks": acks, "rss": rss.max, "child_rss": rss.child_max}
                    say(
                        f"ours at {size:,} open tickets: {op} {ms(statistics.median(times))} (median of {len(times)}); "
                        f"others' ack p99 meanwhile {ms(pct(acks, 0.99))}; RSS max {rss.max:.0f} MB"
                        + (f", its report process {rss.child_max:.0f} MB" if rss.child_max else "")
                    )
            out["bare_op"] = {}
            for op in args.ops:
                times, acks = [], []
                for _ in range(args.repeat):
                    took, during = await timed_op(bare, slack, op, args.bg_rate, args.op_timeout)
                    times.append(math.inf if took is None else took)
                    acks += during
                out["bare_op"][op] = {"time": statistics.median(times), "acks": acks}
            out["cli"] = await asyncio.to_thread(cli_report, url)
            say(f"triage-bot report --json at {sizes[-1]:,}: {out['cli']['seconds']:.1f} s, peak {out['cli']['peak_mb']:.0f} MB")
            out["failures"] = {t.name: t.sender.failures for t in (ours, bare)}
            out["bot_mem"] = proc_mem(ours_proc.pid)
            out["bot_rss_max"] = max(rss.max, out["bot_mem"]["VmHWM"])
        print_report(args, sizes, out)
        await conn.close()
        failed = False
        return 0
    finally:
        for s in senders:
            await s.close()
        await procs.stop_all()
        if created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
        procs.cleanup_logs(keep=failed or args.keep_logs)


def print_report(args: argparse.Namespace, sizes: list[int], out: dict[str, Any]) -> None:
    print()
    print(f"=== bench_load: ours (triage-bot run, PostgreSQL) vs a bare slack-bolt AsyncApp, same fake Slack, {os.cpu_count()} CPUs ===")
    print(f"  {'':<46} {'ours':>12} {'bare':>12} {'ratio':>8}")
    for rate in args.rates:
        o, b = out["intake"][(rate, "ours")], out["intake"][(rate, "bare")]
        print(f"/incident at {rate}/s for {args.seconds:.0f} s ({o['n']:,} commands):")
        print(row("ack p50", pct(o["ack"], 0.5), pct(b["ack"], 0.5)))
        print(row("ack p99", pct(o["ack"], 0.99), pct(b["ack"], 0.99)))
        print(row("views.open lateness p50", pct(o["late"], 0.5), pct(b["late"], 0.5)))
        print(row("views.open lateness p99", pct(o["late"], 0.99), pct(b["late"], 0.99)))
        print(row("views.open lateness max", max(o["late"]), max(b["late"])))
        print(row("modals later than 3 s (count)", o["over3"], b["over3"], lambda x: f"{x:,}"))
        print(row("CPU per command", o["cpu_ms"], b["cpu_ms"], lambda x: f"{x:.1f} ms"))
    so, sb = out[("submit", "ours")], out[("submit", "bare")]
    print(f"final modal step, {args.concurrency} concurrent x {args.rounds} rounds:")
    print(row("response p50", pct(so, 0.5), pct(sb, 0.5)))
    print(row("response p99", pct(so, 0.99), pct(sb, 0.99)))
    print(
        f"other users' /incident at {args.bg_rate}/s, ack p99 (bare app alone: {ms(pct(out['bare_stream'], 0.99))}; "
        f"ours idle: {ms(pct(out['ours_stream'], 0.99))}):"
    )
    bare_ack = pct(out["bare_stream"], 0.99)
    for size in sizes:
        for op in args.ops:
            r = out["ops"].get((size, op))
            if r is None:
                continue
            b = out["bare_op"][op]
            label = {"status": "/sla status", "home": "App Home", "report": "/sla report"}[op]
            print(row(f"{label} at {size:,} open: time", r["time"], b["time"]))
            print(row("  others' ack p99 meanwhile (vs bare alone)", pct(r["acks"], 0.99), bare_ack))
            print(f"  {'  bot RSS max during it':<46} {r['rss']:>9.0f} MB")
            if r["child_rss"]:
                print(f"  {'  its report process, RSS max (sampled)':<46} {r['child_rss']:>9.0f} MB")
    cli = out["cli"]
    print(
        f"triage-bot report --json at {sizes[-1]:,} tickets: {cli['seconds']:.1f} s, peak RSS {cli['peak_mb']:.0f} MB, "
        f"{cli['bytes'] / 1e6:.2f} MB of JSON"
    )
    print(
        f"bot RSS: max sampled {out['bot_rss_max']:.0f} MB (VmHWM {out['bot_mem']['VmHWM']:.0f} MB, now {out['bot_mem']['VmRSS']:.0f} MB)"
    )
    for name, failures in out["failures"].items():
        if failures:
            kinds = {f: failures.count(f) for f in sorted(set(failures))}
            print(
                f"{name}: requests not acked within Slack's 3 s (bolt answered 404): " + ", ".join(f"{n} x {k}" for k, n in kinds.items())
            )
    print(
        "goals: status < 1 s at 50k; others' ack p99 <= 1.5x bare; views.open p99 < 1.5 s and none > 3 s at 100/s; "
        "submission p99 < 500 ms; report < 10 s and < 250 MB; bot RSS < 200 MB"
    )
    print(
        "note: the bare app does only the Slack side of each listener (no database); the load generator and fake Slack "
        "share this process and the machine with both apps and PostgreSQL."
    )


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--bare-app":
        bare_app_main(int(sys.argv[2]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1_000, 10_000, 50_000],
        help="open tickets at each step (comma-separated)",
    )
    p.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[50.0, 100.0], help="/incident per second")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of /incident at each rate")
    p.add_argument("--concurrency", type=int, default=20, help="final-step submissions at once")
    p.add_argument("--rounds", type=int, default=5, help="rounds of concurrent submissions")
    p.add_argument("--bg-rate", type=float, default=20.0, help="other users' /incident per second during status/home/report")
    p.add_argument("--bg-seconds", type=float, default=5.0, help="seconds of the stream alone (the baseline)")
    p.add_argument("--ops", type=lambda s: s.split(","), default=["status", "home", "report"], help="status,home,report")
    p.add_argument("--repeat", type=int, default=2, help="runs of each op per size (median)")
    p.add_argument("--op-timeout", type=float, default=180.0, help="seconds to wait for one op's answer")
    p.add_argument("--pause", type=float, default=2.0, help="seconds between intake phases")
    p.add_argument("--quick", action="store_true", help="1k/5k tickets, 3 s per rate, 2 rounds, 1 run per op")
    p.add_argument("--keep-logs", action="store_true", help="keep the child processes' logs")
    args = p.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.repeat, args.bg_seconds = 3.0, 2, 1, 3.0
        if args.sizes == p.get_default("sizes"):
            args.sizes = [1_000, 5_000]
    bad = [op for op in args.ops if op not in ("status", "home", "report")]
    if bad:
        p.error(f"unknown --ops {bad}; valid: status, home, report")
    return procstats.run_main(lambda: run(args), "benchmark database")


if __name__ == "__main__":
    sys.exit(main())
