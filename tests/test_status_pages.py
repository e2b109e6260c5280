"""`/sla status` and the App Home from stored clock state: rows chosen in SQL, only those evaluated, "next 20" pages."""

from __future__ import annotations

from datetime import timedelta

import storage.reporting
from tests.helpers import CHANNEL, REPORT_WAIT, eventually
from tests.test_managers_e2e import MANAGER, RESPONDER, STRANGER, block_ids, block_text, open_ticket, sla, team


async def many_breached(bot, n: int) -> None:
    """`n` business-critical tickets opened 09:00 (first response due 09:30), one at risk, one on track; now 09:45."""
    for i in range(n):
        await open_ticket(bot, f"breached {i + 1}")
    bot.clock.advance(timedelta(minutes=30))
    await open_ticket(bot, "at risk")  # due 10:00, 15 min left at 09:45
    await open_ticket(bot, "on track", severity="general-guidance")
    bot.clock.advance(timedelta(minutes=15))


def counting_evaluations(monkeypatch) -> list[str]:
    """The tickets whose status is worked out (from their clock records or by replaying their events)."""
    evaluated: list[str] = []
    original = storage.reporting._facts

    def counted(ticket, *args, **kwargs):  # type: ignore[no-untyped-def]
        evaluated.append(f"INC-{ticket.id}")
        return original(ticket, *args, **kwargs)

    monkeypatch.setattr(storage.reporting, "_facts", counted)
    return evaluated


async def test_status_evaluates_only_the_rows_it_shows_and_pages_the_rest(bot, monkeypatch) -> None:
    team(bot)
    await many_breached(bot, 43)
    evaluated = counting_evaluations(monkeypatch)
    body = await sla(bot, "status", RESPONDER)
    assert body["text"] == "SLA status: 45 open tickets (43 breached, 1 at risk, 1 on track)"
    assert block_ids(body) == ["status_breached", "status_more_breached", "status_at_risk", "status_on_track"]
    breached = block_text(body, "status_breached")
    assert "*INC-1* breached 1" in breached and "*INC-40* breached 40" in breached and "INC-41" not in breached
    assert breached.endswith("…and 3 more")
    assert sorted(evaluated, key=lambda k: int(k[4:])) == [f"INC-{i}" for i in range(1, 41)] + ["INC-44", "INC-45"]

    button = next(b for b in body["blocks"] if b.get("block_id") == "status_more_breached")["elements"][0]
    assert button["value"] == "breached:40" and button["text"]["text"] == "Next 20 breached"
    evaluated.clear()
    n = len(bot.slack.response_posts)
    r = await bot.sender.block_action("status_more", RESPONDER, value=button["value"], channel_id=CHANNEL, message_ts="1.000001")
    assert r.status == 200
    page = (await eventually(lambda: bot.slack.response_posts[n:]))[0].body
    assert page["text"] == "SLA status, breached: 41-43 of 43"
    lines = block_text(page, "status_breached").splitlines()[1:]
    assert [line.split("*")[1] for line in lines] == ["INC-41", "INC-42", "INC-43"]
    assert "first response late by 15m" in lines[0]
    assert evaluated == ["INC-41", "INC-42", "INC-43"]
    assert "status_more_breached" not in block_ids(page)  # the last page


async def test_next_page_is_for_the_team_only(bot) -> None:
    team(bot)
    await many_breached(bot, 1)
    n = len(bot.slack.response_posts)
    await bot.sender.block_action("status_more", STRANGER, value="breached:0", channel_id=CHANNEL, message_ts="1.000001")
    await eventually(lambda: len(bot.slack.calls_to("chat.postEphemeral")) + len(bot.slack.response_posts) > n)
    replies = [p.body.get("text", "") for p in bot.slack.response_posts[n:]] + [
        c.params.get("text", "") for c in bot.slack.calls_to("chat.postEphemeral")
    ]
    assert any(t.startswith("Only responders and managers") for t in replies)
    assert not any("INC-1" in t for t in replies)


async def test_a_next_page_click_with_nowhere_to_answer_is_told_to_run_status_again(bot) -> None:
    """The button is only ever on a `/sla status` answer, whose clicks bring a response_url; one without (a forged
    payload, no message, no view) gets a line by direct message instead of failing."""
    team(bot)
    await many_breached(bot, 1)
    await bot.sender.block_action("status_more", RESPONDER, value="breached:0")
    told = await eventually(lambda: [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") == RESPONDER])
    assert told[0].params["text"] == "That button is out of date: run `/sla status` again."


async def test_home_reads_only_the_rows_it_shows(bot, monkeypatch) -> None:
    team(bot)
    await many_breached(bot, 25)
    evaluated = counting_evaluations(monkeypatch)
    await bot.sender.event({"type": "app_home_opened", "user": MANAGER, "channel": "D0HOME", "tab": "home"})
    await eventually(lambda: bot.slack.calls_to("views.publish"))
    view = bot.slack.calls_to("views.publish")[-1].params["view"]
    view = view if isinstance(view, dict) else __import__("json").loads(view)
    risk = next(b for b in view["blocks"] if b.get("block_id") == "home_risk")["text"]["text"]
    assert "*INC-20*" in risk and "*INC-21*" not in risk and "…and 6 more" in risk  # 25 breached + 1 at risk, 20 shown
    shown_on_board = {k for k in evaluated if int(k[4:]) <= 21}
    assert shown_on_board == {f"INC-{i}" for i in range(1, 22)}  # 20 listed + 1 read to know there are more


async def test_long_report_says_it_is_working_first(bot, monkeypatch) -> None:
    import handlers.managers

    team(bot)
    await many_breached(bot, 2)
    monkeypatch.setattr(handlers.managers, "LONG_REPORT", 4)
    n = len(bot.slack.response_posts)
    first = await sla(bot, "report", MANAGER)
    assert first["text"] == ":hourglass_flowing_sand: Working on the 2026-11 report (4 tickets): it follows here in a moment."
    report = (await eventually(lambda: bot.slack.response_posts[n + 1 :], REPORT_WAIT))[0].body
    assert "2026-11" in report["text"] and "Working on" not in report["text"]
    monkeypatch.setattr(handlers.managers, "LONG_REPORT", 5)
    n = len(bot.slack.response_posts)
    assert "Working on" not in (await sla(bot, "report", MANAGER))["text"]  # shorter ones just come


async def test_home_reuses_this_months_figures_then_refreshes_them(bot, monkeypatch) -> None:
    import json

    import handlers.managers

    team(bot)
    await many_breached(bot, 3)  # 5 tickets this month

    async def home() -> str:
        n = len(bot.slack.calls_to("views.publish"))
        await bot.sender.event({"type": "app_home_opened", "user": MANAGER, "channel": "D0HOME", "tab": "home"})
        await eventually(lambda: len(bot.slack.calls_to("views.publish")) > n)
        view = bot.slack.calls_to("views.publish")[-1].params["view"]
        view = view if isinstance(view, dict) else json.loads(view)
        return next(b for b in view["blocks"] if b.get("block_id") == "home_compliance")["text"]["text"]

    assert "5 tickets opened" in await home()
    evaluated = counting_evaluations(monkeypatch)
    computed: list[object] = []
    original_totals = handlers.managers.period_totals

    async def counted_totals(*args, **kwargs):  # type: ignore[no-untyped-def]
        computed.append(args)
        return await original_totals(*args, **kwargs)

    monkeypatch.setattr(handlers.managers, "period_totals", counted_totals)
    await open_ticket(bot, "one more")
    assert "5 tickets opened" in await home()  # within MONTH_FIGURES_TTL: reused, not recomputed
    assert len(evaluated) <= 6  # only the tickets the lists show
    monkeypatch.setattr(handlers.managers, "MONTH_FIGURES_TTL", 0.0)
    assert "5 tickets opened" in await home()  # stale: shown at once, refreshed in the background
    await eventually(lambda: computed)  # refreshed in the background (in SQL: no ticket is evaluated for it)
    for _ in range(50):
        if "6 tickets opened" in await home():
            break
    else:
        raise AssertionError("the figures were never refreshed")
