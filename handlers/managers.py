"""SLA status and reports for responders and managers: `/sla status`, `/sla ticket`, `/sla report`, App Home.

Thin: parse the request (roles are checked by `require` middleware), load through bot.services.reporting
and storage.reporting, compute with rules.board and rules.compliance, render with bot.views.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs, views
from bot.delivery import slack_error_code
from bot.report_process import Files, ReportJob, ReportMessage, build_reply, files_in_child
from bot.roles import Role, Roles
from bot.services import Services
from bot.services.reporting import board_page, period_size
from bot.views.blocks import escape
from handlers.middleware import require
from handlers.sla_command import SlaCommand, SlaRequest
from rules.board import Urgency
from rules.calendar import AlwaysOpenCalendar
from rules.compliance import Totals, deadline_verdicts
from rules.errors import ConfigError, InvalidInput, PeriodError, UnknownIdError
from rules.inputs import parse_whole
from rules.periods import Period, parse_period
from storage.customers import _customer_name
from storage.reporting import period_totals, status_from_rows

log = logging.getLogger(__name__)

REPORT_USAGE = (
    "`/sla report [--period this-month|last-month|this-quarter|last-quarter|YYYY-MM|YYYY-Qn] [--customer NAME] [--plan PLAN]` (managers)"
)
USAGE = {
    "status": ["`/sla status`: open tickets by deadline, breached and at risk first (responders, managers)"],
    "ticket": ["`/sla ticket INC-42`: a ticket's deadlines and timeline (responders, managers)"],
    "report": [REPORT_USAGE],
}
TEAM_REFUSAL = (
    "Only responders and managers can see SLA status and ticket timelines. Ask a triage-bot admin to add you "
    "(RESPONDER_USER_IDS, the responder user group, or MANAGER_USER_IDS)."
)
MANAGER_REFUSAL = "Only managers can run SLA reports. Ask a triage-bot admin to add you to MANAGER_USER_IDS."


# -- arguments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportArgs:
    period: Period
    customer: str | None = None
    plan: str | None = None


_OPTIONS = ("--period", "--customer", "--plan")


def _usage_error(message: str) -> InvalidInput:
    return InvalidInput(f"{message}\nUsage: {REPORT_USAGE.replace('`', '').removesuffix(' (managers)')}")


def parse_report_args(words: Sequence[str], now: datetime) -> ReportArgs:
    """`--period X --customer Some Name --plan P` (also `--period=X`, or a bare period first).

    A customer name may be several words, quoted or not: it runs to the next option.
    """
    values: dict[str, str] = {}
    current: str | None = None
    for i, word in enumerate(words):
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            name = name.lower()
            if name not in _OPTIONS:
                raise _usage_error(f"Unknown option {word!r}; the options are {', '.join(_OPTIONS)}.")
            if name in values:
                raise _usage_error(f"{name} is given twice.")
            values[name] = value
            current = None if eq else name
            continue
        if current is None and i == 0:
            values["--period"] = word  # `/sla report last-month`
        elif current == "--customer" or (current is not None and not values[current]):
            values[current] = f"{values[current]} {word}".strip()
        else:
            raise _usage_error(f"Unexpected {word!r}.")
    for name, value in values.items():
        if not value.strip():
            raise _usage_error(f"{name} needs a value.")
    try:
        period = parse_period(values.get("--period"), now)
    except PeriodError as e:
        raise _usage_error(f"{e}.") from None
    return ReportArgs(period, values.get("--customer"), values.get("--plan"))


# -- files -------------------------------------------------------------------------------


async def upload_report_files(client: AsyncWebClient, channel_id: str, user_id: str, label: str, files: Files) -> str | None:
    """Post the chart and the CSV where the command was run; if that fails, in a DM.

    Returns None when they went to the channel, else the reason they went to the DM.
    """
    comment = f"SLA report {label}: compliance chart and CSV (one row per ticket)."
    try:
        await client.files_upload_v2(file_uploads=files, channel=channel_id, initial_comment=comment)
        return None
    except (SlackApiError, SlackRequestError) as e:
        reason = slack_error_code(e) if isinstance(e, SlackApiError) else str(e)
        log.warning("could not post the report files in %s (%s): sending them to %s directly", channel_id, reason, user_id)
    dm = (await client.conversations_open(users=user_id))["channel"]["id"]
    await client.files_upload_v2(file_uploads=files, channel=dm, initial_comment=comment)
    return str(reason)


def files_missing(label: str, reason: str) -> str:
    """The answer when the figures went out but their chart and CSV did not."""
    return (
        f":warning: The chart and CSV could not be attached ({escape(reason)}). "
        f"`triage-bot report --period {label} --csv FILE --chart FILE` gives the same files."
    )


# -- registration ------------------------------------------------------------------------


MONTH_FIGURES_TTL = 60.0  # seconds the App Home reuses this month's compliance figures before refreshing them
LONG_REPORT = 5_000  # tickets from which `/sla report` first says it is working on it
# `/sla report` is built in a child process (bot.report_process) whenever its period has tickets: even 1,000 of
# them in threads of the bot held other users' acks up to 120 ms (8.8x the bare app) and drew the chart with
# matplotlib loaded into the bot for good (+50 MB RSS). The child's start-up (about a second) is the price.
CHILD_REPORT = 1
HOME_MINE, HOME_URGENT = 15, 20  # rows the App Home lists (views.home_view caps them the same)
STATUS_OFFSET_MAX = 10_000_000  # a "next 20" button's offset: more open tickets than any board has


def register(app: AsyncApp, sla: SlaCommand, services: Services, roles: Roles) -> None:
    async def status(req: SlaRequest) -> None:
        if req.args:
            raise InvalidInput("`/sla status` takes no arguments; for one ticket use `/sla ticket INC-42`.")
        now = services.clock.now()
        # The first rows of each group, chosen in SQL from the stored clock state; "next 20" buttons for the rest.
        page = await board_page(services, now, per_urgency=dict(views.manager.LINES_PER_GROUP))
        text, blocks = views.status_message(page.rows, now, page.skipped, page.counts)
        await req.reply(text, blocks)

    async def ticket(req: SlaRequest) -> None:
        if len(req.args) != 1:
            raise InvalidInput("Which ticket? Use `/sla ticket INC-42`.")
        row = await services.get_ticket(req.args[0])
        try:
            plan = services.policies.plan(row.plan_id)
        except UnknownIdError:
            raise ConfigError(f"{row.key} is on plan {row.plan_id!r}, which is no longer loaded") from None
        now = services.clock.now()
        status = status_from_rows(plan, row, list(row.events), now, list(row.clocks))
        business: dict[str, bool] = {name: not isinstance(c.calendar, AlwaysOpenCalendar) for name, c in status.clocks.items()}
        text, blocks = views.ticket_message(
            row, plan, deadline_verdicts(status, now), await _customer_name(services, row.customer_id), now, business
        )
        await req.reply(text, blocks)

    async def report(req: SlaRequest) -> None:
        now = services.clock.now()
        args = parse_report_args(req.args, now)
        size = await period_size(services, args.period, args.customer, args.plan)
        if size >= LONG_REPORT:
            await req.reply(
                f":hourglass_flowing_sand: Working on the {args.period.label} report ({size:,} tickets): it follows here in a moment."
            )
        job = ReportJob(
            services.settings.database_url,
            services.policies,
            args.period,
            now,
            args.customer,
            args.plan,
            services.settings.log_level,
            services.settings.log_format,
            logs.current(),
        )
        label, answered = args.period.label, False

        async def send(message: ReportMessage) -> None:
            nonlocal answered
            await req.reply(message.text, message.blocks)
            answered = True

        try:
            if size >= CHILD_REPORT:
                async with services.report_slots:  # one report process at a time per bot: its memory is bounded
                    files = await files_in_child(job, send)
            else:
                files = await build_reply(services, job, send, off_loop=True)
            fallback = await upload_report_files(req.client, req.channel_id, req.user_id, label, files) if files else None
        except asyncio.CancelledError:  # the bot is stopping and its grace for listeners has run out
            log.warning("the %s report for %s was cut off by the bot stopping", label, req.user_id)
            told = (
                files_missing(label, "triage-bot is restarting")
                if answered
                else f":warning: triage-bot is restarting and stopped making the {label} report before it was ready. "
                f"Run `/sla {escape(req.text)}` again in a minute."
            )
            try:
                await req.reply(told)
            except Exception as e:  # stopping: nothing more can be done for this request
                log.warning("could not tell %s that the report was cut off (%s)", req.user_id, type(e).__name__)
            raise
        except Exception as e:
            if not answered:
                raise  # nothing delivered: the one error handler answers
            log.exception("could not make or upload the report files for %s", req.user_id)
            await req.reply(files_missing(label, type(e).__name__))
            return
        if fallback is not None:
            await req.reply(f"I could not post the chart and CSV here ({escape(fallback)}), so I sent them to you in a direct message.")

    team = [require(Role.RESPONDER, TEAM_REFUSAL)]
    sla.add("status", status, USAGE["status"], middleware=team)
    sla.add("ticket", ticket, USAGE["ticket"], middleware=team)
    sla.add("report", report, USAGE["report"], middleware=[require(Role.MANAGER, MANAGER_REFUSAL)])

    month_cache: dict[str, tuple[float, Totals]] = {}
    refreshing: dict[str, asyncio.Task] = {}

    async def month_figures(now: datetime) -> Totals:
        """This month's headline figures for the App Home, in SQL over the stored clock records (no ticket
        is evaluated); reused for MONTH_FIGURES_TTL seconds, then refreshed in the background."""
        period = parse_period("this-month", now)

        async def compute() -> Totals:
            figures = await period_totals(services, period, now)
            month_cache[period.label] = (time.monotonic(), figures)
            return figures

        cached = month_cache.get(period.label)
        if cached is None:
            return await compute()
        if time.monotonic() - cached[0] > MONTH_FIGURES_TTL and period.label not in refreshing:
            task = asyncio.create_task(compute())
            refreshing[period.label] = task
            task.add_done_callback(lambda _t: refreshing.pop(period.label, None))
        return cached[1]

    @app.action(views.STATUS_MORE, middleware=team)
    async def status_more(ack, body, action, respond) -> None:
        """The next page of one group of `/sla status`."""
        await ack()
        name, _, offset = (action.get("value") or "").partition(":")
        out_of_date = "That button is out of date: run `/sla status` again."
        if not body.get("response_url"):  # it is only ever on a `/sla status` answer, and that click brings one
            raise InvalidInput(out_of_date)
        try:
            urgency = Urgency(name)
        except ValueError:
            raise InvalidInput(out_of_date) from None
        start = parse_whole(offset, 0, STATUS_OFFSET_MAX, out_of_date)
        now = services.clock.now()
        page = await board_page(services, now, urgencies=(urgency,), offset=start, limit=views.STATUS_PAGE)
        text, blocks = views.status_page_message(page.rows, urgency, start, page.counts[urgency], now)
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    @app.event("app_home_opened")
    async def app_home_opened(event: dict, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        now = services.clock.now()
        # Only the rows the tab shows are read and evaluated (stored clock state, in SQL).
        mine = await board_page(services, now, user_id=user, limit=HOME_MINE + 1)
        if await roles.is_responder(user):
            urgent = await board_page(services, now, urgencies=(Urgency.BREACHED, Urgency.AT_RISK), limit=HOME_URGENT + 1)
            month = await month_figures(now)
            view = views.home_view(user, mine.rows, urgent.rows, month, now, mine.total, urgent.counts)
        else:
            view = views.home_view(user, mine.rows, None, None, now, mine.total)
        await client.views_publish(user_id=user, view=view)
