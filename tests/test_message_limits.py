"""Messages stay within Slack's limits by design: long escaped text is cut with a pointer, long timelines fit.

Through the signed HTTP path; the stand-in refuses blocks over Block Kit's limits, and the
`bot` fixture fails a test in which the bot sent anything Slack would refuse.
"""

from __future__ import annotations

from bot.services import record_action
from tests.helpers import CHANNEL, eventually, sla, ticket_with_responder

RESPONDER = "U0RESPONDER"
NOISY = "a & b < c > d " * 215  # 3,010 characters; escaped, about 4,700


async def test_an_update_that_escaping_inflates_is_cut_with_a_pointer(bot) -> None:
    ticket = await ticket_with_responder(bot, RESPONDER)
    await sla(bot, f"update INC-1 {NOISY}", RESPONDER)
    posted = await eventually(
        lambda: [m for m in bot.slack.messages_in(CHANNEL, thread_ts=ticket.thread_ts) if "posted an update on INC-1" in m.text]
    )
    text = posted[0].text
    assert len(text) <= 4000
    assert text.endswith("the full text is kept with the ticket: `/sla ticket INC-1`)_")
    assert "<" not in text.replace(f"<@{RESPONDER}>", "")  # no raw markup, no entity cut in half
    body = text.split(":\n", 1)[1].rsplit("…", 1)[0]
    assert body.count("&") == body.count(";")
    stored = next(e for e in (await bot.services.get_ticket("INC-1")).events if e.kind == "updated")
    assert stored.data["text"] == NOISY.strip()


async def test_sla_ticket_with_many_long_events_fits_in_one_message(bot) -> None:
    await ticket_with_responder(bot, RESPONDER)
    await record_action(bot.services, "INC-1", "acknowledged", RESPONDER)
    for i in range(57):
        await record_action(bot.services, "INC-1", "updated", RESPONDER, data={"text": f"{i}: " + NOISY})
    await sla(bot, "ticket INC-1", RESPONDER)
    reply = bot.slack.response_posts[-1].body
    assert reply.get("blocks") and len(reply["blocks"]) <= 50
    assert "INC-1" in reply["text"]
    assert bot.slack.refusals == []
