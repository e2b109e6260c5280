"""What Slack sends, checked once at the edge (`bot.app.build_web_app`) before bolt dispatches it.

A request our listeners cannot read is refused with HTTP 400 and one log line, instead of a listener
failing on it (a 500) or bolt waiting 3 s for an ack nobody gives (its 404). The models hold only the
fields the bot and bolt read, with the types they read them as; everything else passes as it is:

    form, `command=`          slash command: command, user_id, channel_id, trigger_id, response_url, text
    form, `ssl_check=`        Slack's certificate check (bolt answers it)
    form, `payload=<JSON>`    block_actions, view_submission, view_closed, shortcut, message_action
    JSON                      event_callback (app_mention, message, app_home_opened), url_verification

No string may hold a NUL character (Slack never sends one; PostgreSQL cannot store it).
A well-formed request of a kind we do not handle (another `type`, another event) is left to bolt,
which answers it as unhandled. Listeners can rely on these shapes: `body["user"]["id"]`, `body["view"]["state"]`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

# Slack's ids (U…, C…, V…, T…): letters and digits; our columns hold 40 characters.
SlackId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+$", min_length=1, max_length=40)]
Text = Annotated[str, StringConstraints(max_length=40_000)]  # Slack's own limit for a message's text
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=2_000)]  # response_url: bolt posts to it


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Ref(_Shape):
    id: SlackId


class _ResponseUrl(_Shape):
    response_url: Url


class _Envelope(_Shape):
    """What bolt reads from any request to find its team, user and channel."""

    team: _Ref | SlackId | None = None
    enterprise: _Ref | SlackId | None = None
    channel: _Ref | SlackId | None = None
    user: _Ref | SlackId | None = None
    authorizations: list[dict[str, Any]] | None = None
    is_enterprise_install: bool | str | None = None
    response_url: Url | None = None
    response_urls: list[_ResponseUrl] | None = None


class SlashCommand(_Shape):
    command: Annotated[str, StringConstraints(pattern=r"^/[^\s/]+$", max_length=100)]
    user_id: SlackId
    channel_id: SlackId
    trigger_id: Text
    response_url: Url
    text: Text = ""


class _Option(_Shape):
    value: Text


class _Input(_Shape):
    """One input's state in `view.state.values[block_id][action_id]`."""

    value: Text | None = None
    selected_option: _Option | None = None
    selected_user: SlackId | None = None


class _State(_Shape):
    values: dict[str, dict[str, _Input]]


class _View(_Shape):
    id: SlackId
    callback_id: Text = ""
    private_metadata: Text = ""
    blocks: list[dict[str, Any]] = []


class _Modal(_View):
    type: Literal["modal"]  # bolt reads it (a `workflow_step` view would need more)
    callback_id: Text


class _SubmittedView(_Modal):
    state: _State


class _Action(_Shape):
    action_id: Text
    value: Text | None = None
    selected_option: _Option | None = None


class _Interaction(_Envelope):
    user: _Ref
    channel: _Ref | None = None


class BlockActions(_Interaction):
    type: Literal["block_actions"]
    actions: Annotated[list[_Action], Field(min_length=1)]
    trigger_id: Text
    container: dict[str, Any] | None = None
    view: _View | None = None
    message: dict[str, Any] | None = None
    response_url: Url | None = None


class ViewSubmission(_Interaction):
    type: Literal["view_submission"]
    view: _SubmittedView
    trigger_id: Text


class ViewClosed(_Interaction):
    type: Literal["view_closed"]
    view: _Modal


class _QuotedMessage(_Shape):
    text: Text = ""
    ts: Text | None = None


class Shortcut(_Interaction):
    type: Literal["shortcut"]
    callback_id: Text
    trigger_id: Text


class MessageAction(_Interaction):
    type: Literal["message_action"]
    callback_id: Text
    trigger_id: Text
    channel: _Ref
    message: _QuotedMessage
    response_url: Url | None = None


class _Event(_Shape):
    type: Text


class _Mention(_Event):
    user: SlackId
    channel: SlackId
    text: Text
    ts: Text


class _MessageEvent(_Event):
    channel: SlackId
    ts: Text
    user: SlackId | None = None
    text: Text | None = None
    thread_ts: Text | None = None
    subtype: Text | None = None
    bot_id: Text | None = None


class _HomeOpened(_Event):
    user: SlackId
    tab: Text = "home"


class EventCallback(_Envelope):
    type: Literal["event_callback"]
    event: _Event
    event_id: Text | None = None
    team_id: SlackId | None = None


class UrlVerification(_Shape):
    type: Literal["url_verification"]
    challenge: Text


class _AttachmentAction(_Envelope):
    """Not ours, but bolt reads its first action."""

    type: Literal["interactive_message"]
    actions: Annotated[list[dict[str, Any]], Field(min_length=1)]


class _WorkflowStepEdit(_Envelope):
    """Not ours, but bolt reads its step."""

    type: Literal["workflow_step_edit"]
    workflow_step: dict[str, Any]


INTERACTIONS: dict[str, type[_Shape]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (BlockActions, ViewSubmission, ViewClosed, Shortcut, MessageAction, _AttachmentAction, _WorkflowStepEdit)
}
EVENTS: dict[str, type[_Shape]] = {"app_mention": _Mention, "message": _MessageEvent, "app_home_opened": _HomeOpened}


def problem(body: Any, form: bool) -> str | None:
    """None when `body` (as bolt parsed it; `form`: it came as form fields) has the shape its kind needs,
    else what is wrong, in one line."""
    if not isinstance(body, dict):
        return f"the body is a JSON {type(body).__name__}, not an object"
    if (where := _nul_in(body)) is not None:
        return f"a NUL character in {where}"  # Slack never sends one; PostgreSQL cannot store it
    if form and "payload" not in body and not isinstance(body.get("type"), str):  # form fields, not an interaction
        if "ssl_check" in body:
            return None
        return _check(SlashCommand, body, "slash command")
    kind = body.get("type")
    if not isinstance(kind, str):
        return "no request type"
    if kind in INTERACTIONS:
        return _check(INTERACTIONS[kind], body, kind)
    if kind == "event_callback":
        found = _check(EventCallback, body, kind)
        event_model = EVENTS.get(body["event"].get("type")) if found is None else None
        return found or (_check(event_model, body["event"], f"{body['event']['type']} event") if event_model else None)
    if kind == "url_verification":
        return _check(UrlVerification, body, kind)
    return _check(_Envelope, body, kind)  # not ours: bolt answers it, once it can read who sent it


def _nul_in(node: Any, path: str = "") -> str | None:
    """Where the first string holding "\\x00" is (a key or a value), or None."""
    if isinstance(node, str):
        return (path or "(body)") if "\x00" in node else None
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        here = f"{path}.{key}" if path else str(key)
        if "\x00" in here:
            return repr(here)
        if (found := _nul_in(value, here)) is not None:
            return found
    return None


def _check(model: type[_Shape], body: dict[str, Any], kind: str) -> str | None:
    try:
        model.model_validate(body)
        return None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(body)"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        return f"{kind}: {where}: {first['msg']}{more}"
