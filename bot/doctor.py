"""`triage-bot doctor`: is this installation able to work? One line per check, with what to do when it fails.

Checks, in order: the settings, the policies, the database (answering, at the
newest migration), the token (auth.test), the scopes the code needs against
those granted (Slack's `x-oauth-scopes` response header), every customer's
channels (exist, the bot is a member), and the scheduler (no timer late).
Nothing is changed: no migration is applied, nothing is posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from rules.errors import PolicyError
from rules.policy import PolicySet
from rules.policy_load import load_policies

# The Bot Token Scopes the code uses (app-manifest.yml lists the same; tests/test_manifest.py keeps them equal).
REQUIRED_SCOPES = {
    "app_mentions:read": "@triage-bot opens a report",
    "channels:history": "responders' thread replies in public channels",
    "groups:history": "the same in private channels",
    "im:history": "the same in DMs",
    "mpim:history": "the same in group DMs",
    "channels:join": "joining customers' channels",
    "channels:read": "this check of customers' channels",
    "groups:read": "the same for private channels",
    "im:read": "conversations.info (DMs)",
    "mpim:read": "conversations.info (group DMs)",
    "chat:write": "announcements, confirmations, reminders",
    "chat:write.public": "posting where the bot has not joined",
    "commands": "/incident, /sla and the message shortcut",
    "usergroups:read": "on-call and responder groups",
    "files:write": "the report's chart and CSV",
    "im:write": "sending report files by DM",
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<20} {self.detail}"


async def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    policies = _policies(settings, checks)
    services = await _database(settings, policies, checks)
    try:
        client = await _slack(settings, checks)
        if services is not None and client is not None:
            await _channels(services, client, checks)
        if services is not None:
            await _timers(services, checks)
    finally:
        if services is not None:
            await services.close()
    return checks


def _policies(settings: Settings, checks: list[Check]) -> PolicySet | None:
    try:
        policies = load_policies(settings.policy_dir)
    except PolicyError as e:
        checks.append(Check("policies", False, f"{' '.join(str(e).split())}: fix the file in POLICY_DIR"))  # on one line
        return None
    unset = [p.id for p in policies.plans.values() if p.has_placeholders]
    note = f"; plans with targets to set (no deadlines until then): {', '.join(unset)}" if unset else ""
    checks.append(Check("policies", True, f"{len(policies.plans)} plans loaded{note}"))
    return policies


async def _database(settings: Settings, policies: PolicySet | None, checks: list[Check]) -> Any:
    from bot.services import build_services
    from storage.db import current_revision
    from storage.ops import schema_problem

    if policies is None:
        checks.append(Check("database", False, "not checked: the policies must load first"))
        return None
    try:
        services = build_services(settings, policies=policies)
    except Exception as e:  # a malformed DATABASE_URL
        checks.append(Check("database", False, f"{e}: set DATABASE_URL"))
        return None
    problem = await schema_problem(services.engine)
    if problem is not None:  # channels and timers are read from the database: not checked either
        checks.append(Check("database", False, problem if "upgrade" in problem else f"{problem}: check DATABASE_URL"))
        await services.close()
        return None
    checks.append(Check("database", True, f"answering, at migration {await current_revision(services.engine)}"))
    return services


async def _slack(settings: Settings, checks: list[Check]) -> AsyncWebClient | None:
    if not settings.slack_bot_token:
        checks.append(Check("slack token", False, "SLACK_BOT_TOKEN is not set: set it to the app's Bot User OAuth Token (xoxb-...)"))
        return None
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    try:
        resp = await client.auth_test()
    except SlackApiError as e:
        checks.append(
            Check("slack token", False, f"auth.test: {e.response.get('error')}: set a valid bot token (xoxb-...) for this workspace")
        )
        return None
    except Exception as e:  # network
        checks.append(Check("slack token", False, f"cannot reach {settings.slack_api_url} ({type(e).__name__}): check SLACK_API_URL"))
        return None
    checks.append(Check("slack token", True, f"auth.test: @{resp.get('user')} in {resp.get('team')} ({resp.get('team_id')})"))
    header = next((v for k, v in (resp.headers or {}).items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        checks.append(Check("scopes", False, "Slack did not say which scopes the token has (no x-oauth-scopes header)"))
        return client
    granted = {s.strip() for s in str(header).split(",") if s.strip()}
    missing = sorted(set(REQUIRED_SCOPES) - granted)
    if missing:
        checks.append(
            Check(
                "scopes",
                False,
                f"missing {', '.join(missing)}: add them under OAuth & Permissions (or update from app-manifest.yml), then reinstall the app",
            )
        )
    else:
        checks.append(Check("scopes", True, f"all {len(REQUIRED_SCOPES)} the bot needs are granted"))
    return client


async def _channels(services: Any, client: AsyncWebClient, checks: list[Check]) -> None:
    customers = await services.list_customers()
    if not customers:
        checks.append(Check("channels", True, "no customers yet (triage-bot customers add ...)"))
        return
    for c in customers:
        for role, channel in (("channel", c.channel_id), ("triage channel", c.triage_channel_id)):
            if not channel:
                continue
            name = f"{c.name} {role}"
            try:
                info = (await client.conversations_info(channel=channel))["channel"]
            except SlackApiError as e:
                error = e.response.get("error")
                checks.append(
                    Check(
                        name,
                        False,
                        f"{channel}: {error}: the channel is gone or private without the bot; "
                        f"fix the customer's channel (triage-bot customers add) or invite @triage-bot",
                    )
                )
                continue
            if info.get("is_archived"):
                checks.append(Check(name, False, f"#{info.get('name')} ({channel}) is archived: map the customer to a live channel"))
            elif not info.get("is_member"):
                checks.append(Check(name, False, f"the bot is not in #{info.get('name')} ({channel}): /invite @triage-bot there"))
            else:
                checks.append(Check(name, True, f"#{info.get('name')} ({channel}), the bot is a member"))


async def _timers(services: Any, checks: list[Check]) -> None:
    from storage.ops import LATE_AFTER, overdue_timers

    async with services.sessions() as s:
        late = await overdue_timers(s, services.clock.now())
    if late:
        checks.append(
            Check(
                "scheduler",
                False,
                f"{late} reminders are over {int(LATE_AFTER.total_seconds())} s late: start `triage-bot run` with SCHEDULER_ENABLED=true "
                "(one replica at least), and check its log",
            )
        )
    else:
        checks.append(Check("scheduler", True, "no reminder is late"))
