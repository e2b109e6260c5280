"""The hypothesis strategies and word lists the listener fuzz test (tests/test_fuzz_listeners.py) draws from.

Kept apart from the test so each file reads on its own: here what is generated, there what every answer must hold.
The test runs them derandomized, so the examples stay the same from run to run.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from rules.actions import BY_COMMAND
from tests.helpers import REPORTER

RESPONDER, MANAGER, ADMIN = "U0RESPONDER", "U0MANAGER", "UADMIN"
USERS = [REPORTER, RESPONDER, MANAGER, ADMIN]
BROADCASTS = ["<!channel>", "<!here>", "<!everyone>", "<!channel|@channel>", "<!here|here>", "@channel", "@here", "@everyone"]
TYPED_TARGETS = ["<@U0TYPED>", "<@U0TYPED|bob>", "<!subteam^S0TYPED|@team>"]
ODD = [
    "",
    " ",
    "²",
    "¹²³",
    "٣",
    "1_000",
    "-1",
    "0",
    "99999999999999999999",
    "9" * 400,
    "1e400",
    "NaN",
    "\u202e",
    "\x7f",
    "payload",
    "payload=",
    "&lt;!channel&gt;",
    "<https://evil.example|click>",
    "<#C0INCIDENT|incidents>",
    '"',
    "'",
    "\\",
    "*bold*",
    "`x`",
]
KEYS = ["INC-1", "inc-1", "1", "INC-2", "INC-²", "INC-٣", "INC-0", "INC--1", "INC-99999999999999999999", "INC-2147483648"]
OPTIONS = [
    "next=30m",
    "next=99999999999d",
    "next=0m",
    "next=²h",
    "every=7",
    "every=99999999999",
    "every=0",
    "start=2026-12-07T09:00",
    "start=9999-12-31T23:59",
    "start=0001-01-01T00:00+05:00",
    "severity=business-critical",
    "severity=<!channel>",
    "priority=p1",
    "--period",
    "9999-12",
    "2026-11",
    "2026-Q4",
    "--customer",
    "--plan",
    "rotation",
    "primary",
    "triage=none",
    "plan=x",
    "channel=<#C0INCIDENT>",
    "<@U0LEGIT>",
    "<!subteam^S0LEGIT|@leads>",
    "on-call",
    "list",
    "add",
]
SUBCOMMANDS = [
    "customers",
    "contacts",
    "status",
    "ticket",
    "report",
    "oncall",
    "oncall set",
    "oncall clear",
    "help",
    "",
    "nope",
    *BY_COMMAND,
]
TARGET_TAKERS = ("assign", "oncall", "contacts", "customers")  # a typed user or group there is the target: it is named back
ACTION_IDS = [
    "open_report",
    "status_more",
    "ticket_acknowledge",
    "ticket_update",
    "ticket_assign",
    "ticket_reclassify",
    "ticket_pause",
    "ticket_resume",
    "ticket_resolve",
    "ticket_reopen",
    "escalation_ack",
]
CALLBACKS = [
    "incident_step1",
    "incident_step2",
    "ticket_assign_modal",
    "ticket_update_modal",
    "ticket_reclassify_modal",
    "ticket_resolve_modal",
    "ticket_pause_modal",
]
BLOCKS = [
    "summary",
    "description",
    "service",
    "q:business_stopped",
    "q:question_only",
    "severity",
    "priority",
    "reason",
    "text",
    "next",
    "note",
    "assignee",
]

# -- text and values -------------------------------------------------------------------------------

numbers = st.integers(min_value=-(10**25), max_value=10**25).map(str)
# What Slack sends is UTF-8: never a NUL (handlers/payloads.py) nor a lone surrogate (no UTF-8 encodes one).
slack_characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
scraps = st.text(slack_characters, max_size=12)
free_word = st.one_of(st.sampled_from(BROADCASTS + TYPED_TARGETS + ODD + KEYS), numbers, scraps)
target_word = st.one_of(st.sampled_from(BROADCASTS + ODD + KEYS + OPTIONS), numbers, scraps)
mention = st.sampled_from(BROADCASTS + TYPED_TARGETS)
free_text = st.one_of(  # half of them carry a mention somewhere
    st.lists(free_word, max_size=6).map(" ".join),
    st.tuples(st.lists(free_word, max_size=2), mention, st.lists(free_word, max_size=2)).map(lambda t: " ".join([*t[0], t[1], *t[2]])),
)
target_text = st.lists(target_word, max_size=4).map(" ".join)
users = st.sampled_from(USERS)
staff = st.sampled_from([RESPONDER, RESPONDER, MANAGER, ADMIN, REPORTER])
button_values = st.one_of(
    st.sampled_from(KEYS),
    free_text,
    st.sampled_from(
        ["breached:0", "at_risk:20", "breached:99999999999999999999", "breached:²", "bogus:1", "INC-1|resolution", "INC-1|nope"]
    ),
)
event_kinds = st.sampled_from(["message_action", "shortcut", "app_mention", "thread_reply", "app_home_opened"])
home_tabs = st.sampled_from(["home", "messages", "", "about"])


def sla_text(sub: str) -> st.SearchStrategy[str]:
    """`/sla SUB …`: a ticket command mostly on INC-1 (so it does its work), then an option and text."""
    rest = target_text if sub.startswith(TARGET_TAKERS) else free_text
    if sub in BY_COMMAND:
        key = st.one_of(st.just("INC-1"), st.sampled_from(KEYS))
        option = st.lists(st.sampled_from(OPTIONS), max_size=1)
        return st.tuples(key, option, rest).map(lambda t: " ".join([sub, t[0], *t[1], t[2]]).strip())
    words = st.lists(st.one_of(st.sampled_from(OPTIONS + KEYS), target_word), max_size=3)
    return st.tuples(words, rest).map(lambda t: " ".join([sub, *t[0], t[1]]).strip())


COMMAND_GROUPS = {
    "ticket actions": [c for c in SUBCOMMANDS if c in BY_COMMAND],
    "other /sla": [c for c in SUBCOMMANDS if c not in BY_COMMAND],
}


# -- modal submissions ------------------------------------------------------------------------------


def input_state(block: str) -> st.SearchStrategy[dict]:
    option = st.one_of(st.sampled_from(["business-critical", "p1", "yes", "no", "15", "30", "1440", "99999999999"]), free_text)
    return st.one_of(
        free_text.map(lambda v: {"type": "plain_text_input", "value": v}),
        option.map(lambda v: {"type": "static_select", "selected_option": {"value": v}}),
        st.sampled_from([REPORTER, RESPONDER, "U0TYPED"]).map(lambda u: {"type": "users_select", "selected_user": u}),
    ).map(lambda state: {block: {"value": state}})


private_metadata = st.one_of(
    st.sampled_from(KEYS).map(lambda k: json.dumps({"ticket": k})),
    free_text,
    st.sampled_from(["", "{}", "[]", "null", '{"ticket": 5}', '{"ticket": null}', '{"channel_id": "C0OTHER"}']),
)
view_states = st.lists(st.sampled_from(BLOCKS).flatmap(input_state), max_size=6).map(
    lambda parts: {k: v for p in parts for k, v in p.items()}
)


# -- malformed shapes ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # NUL too: the edge refuses it (handlers/payloads.py)
    | st.sampled_from(BROADCASTS + TYPED_TARGETS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(scraps, inner, max_size=3),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            found += paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += paths(v, prefix + (i,))
    return found


def mutated(base: Any, path: tuple, value: Any, delete: bool) -> Any:
    copy = json.loads(json.dumps(base))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy
