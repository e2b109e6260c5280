"""Block Kit checks: the stand-in refuses what Slack refuses, with Slack's own errors.

Slack answers a payload over a limit with ``invalid_blocks`` (messages) or
``invalid_arguments`` (views), and says where in ``response_metadata.messages``:
``"[ERROR] <what> [json-pointer:/view/private_metadata]"`` (the shape Slack's
responses show). The per-object limits come from ``slack_sdk.models`` (its
``JsonValidator``s carry Slack's documented limits); what slack_sdk does not check
is written here, each with the page of Slack's reference it comes from.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block, BlockElement, ConfirmObject, Option, OptionGroup, TextObject
from slack_sdk.models.views import View

JSONDict = dict[str, Any]

# https://docs.slack.dev/reference/methods/chat.postMessage ("blocks": up to 50 blocks per message)
MESSAGE_MAX_BLOCKS = 50
# https://docs.slack.dev/reference/views/modal-views ("blocks": max of 100 blocks; same for Home tabs)
VIEW_MAX_BLOCKS = 100
# https://docs.slack.dev/reference/block-kit/composition-objects/text-object ("text": max 3000 characters)
TEXT_OBJECT_MAX = 3000
# https://docs.slack.dev/reference/block-kit/block-elements/radio-button-group-element and
# .../checkboxes-element ("options": a maximum of 10 options)
RADIO_CHECKBOX_MAX_OPTIONS = 10
# https://docs.slack.dev/reference/block-kit/block-elements/plain-text-input-element
# ("initial_value"; "max_length": maximum 3000)
PLAIN_TEXT_INPUT_MAX = 3000

_TEXT_KEYS = ("text", "title", "label", "hint", "placeholder", "description", "submit", "close", "confirm", "deny")
_ELEMENT_KEYS = ("element", "accessory")
_OPTION_LIST_KEYS = ("options", "initial_options")

# slack_sdk logs "Unknown ... detected and skipped" for types it does not know; Slack itself refuses them.
logging.getLogger("slack_sdk.models").setLevel(logging.ERROR)


class BlockKitError(Exception):
    """One or more problems, each ``[ERROR] what [json-pointer:/path]`` like Slack's."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def _check(obj: JsonObject | None, pointer: str, problems: list[str]) -> None:
    """Run slack_sdk's own validators of one object (not of its children)."""
    if obj is None:
        problems.append(f"[ERROR] unsupported type [json-pointer:{pointer}/type]")
        return
    try:
        obj.validate_json()
    except SlackObjectFormationError as e:
        # slack_sdk's messages start with the field ("private_metadata cannot exceed ..."): point at it, as Slack does.
        field = str(e).split(" ", 1)[0]
        where = f"{pointer}/{field}" if field in getattr(obj, "attributes", ()) or hasattr(obj, field) else pointer
        problems.append(f"[ERROR] {e} [json-pointer:{where}]")


def _build(factory: Any, data: JSONDict, pointer: str, problems: list[str]) -> JsonObject | None:
    try:
        return factory(data)
    except (TypeError, SlackObjectFormationError, AttributeError, KeyError, ValueError) as e:
        problems.append(f"[ERROR] {e} [json-pointer:{pointer}]")
        return None


def _text(node: Any, pointer: str, problems: list[str]) -> None:
    if isinstance(node, str):
        return  # legacy shorthands (confirm texts) are plain strings
    if not isinstance(node, dict) or node.get("type") not in ("plain_text", "mrkdwn"):
        problems.append(f"[ERROR] must provide a text object [json-pointer:{pointer}]")
        return
    text = node.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"[ERROR] must be more than 0 characters [json-pointer:{pointer}/text]")
    elif len(text) > TEXT_OBJECT_MAX:
        problems.append(f"[ERROR] must be less than {TEXT_OBJECT_MAX + 1} characters [json-pointer:{pointer}/text]")
    else:
        _check(_build(TextObject.parse, node, pointer, problems), pointer, problems)


def _option(node: Any, pointer: str, problems: list[str]) -> None:
    if not isinstance(node, dict):
        problems.append(f"[ERROR] must provide an object [json-pointer:{pointer}]")
        return
    if "value" not in node or "text" not in node:
        problems.append(f"[ERROR] missing required field: {'value' if 'value' not in node else 'text'} [json-pointer:{pointer}]")
        return
    _check(_build(lambda d: Option(**d), node, pointer, problems), pointer, problems)
    _text(node["text"], f"{pointer}/text", problems)
    if "description" in node:
        _text(node["description"], f"{pointer}/description", problems)


def _element(node: Any, pointer: str, problems: list[str]) -> None:
    if not isinstance(node, dict):
        problems.append(f"[ERROR] must provide an object [json-pointer:{pointer}]")
        return
    if node.get("type") in ("plain_text", "mrkdwn"):  # context elements may be text objects
        _text(node, pointer, problems)
        return
    _check(_build(BlockElement.parse, node, pointer, problems), pointer, problems)
    _children(node, pointer, problems)
    kind = node.get("type")
    options = node.get("options")
    if kind in ("radio_buttons", "checkboxes") and isinstance(options, list) and len(options) > RADIO_CHECKBOX_MAX_OPTIONS:
        problems.append(f"[ERROR] no more than {RADIO_CHECKBOX_MAX_OPTIONS} items allowed [json-pointer:{pointer}/options]")
    if kind == "plain_text_input":
        initial = node.get("initial_value")
        if isinstance(initial, str) and len(initial) > PLAIN_TEXT_INPUT_MAX:
            problems.append(f"[ERROR] must be less than {PLAIN_TEXT_INPUT_MAX + 1} characters [json-pointer:{pointer}/initial_value]")
        max_length = node.get("max_length")
        if isinstance(max_length, int) and not 1 <= max_length <= PLAIN_TEXT_INPUT_MAX:
            problems.append(f"[ERROR] must be between 1 and {PLAIN_TEXT_INPUT_MAX} [json-pointer:{pointer}/max_length]")
        if isinstance(initial, str) and isinstance(max_length, int) and len(initial) > max_length:
            problems.append(f"[ERROR] initial_value is longer than max_length [json-pointer:{pointer}/initial_value]")


def _children(node: JSONDict, pointer: str, problems: list[str]) -> None:
    """Text objects, options, nested elements and confirm dialogs inside a block or element."""
    for key in _TEXT_KEYS:
        if key in node and key not in ("confirm",):
            if node.get("type") in ("plain_text", "mrkdwn"):
                continue
            value = node[key]
            if key == "text" and node.get("type") == "markdown":
                continue  # a markdown block's text is a plain string (slack_sdk checks its 12,000 limit)
            _text(value, f"{pointer}/{key}", problems)
    if isinstance(node.get("confirm"), dict):
        confirm = node["confirm"]
        _check(_build(lambda d: ConfirmObject(**d), confirm, f"{pointer}/confirm", problems), f"{pointer}/confirm", problems)
    for key in _ELEMENT_KEYS:
        if key in node:
            _element(node[key], f"{pointer}/{key}", problems)
    for key in _OPTION_LIST_KEYS:
        if isinstance(node.get(key), list):
            for i, option in enumerate(node[key]):
                _option(option, f"{pointer}/{key}/{i}", problems)
    if isinstance(node.get("initial_option"), dict):
        _option(node["initial_option"], f"{pointer}/initial_option", problems)
    if isinstance(node.get("option_groups"), list):
        for i, group in enumerate(node["option_groups"]):
            gp = f"{pointer}/option_groups/{i}"
            _check(_build(lambda d: OptionGroup(**d), group, gp, problems), gp, problems)
            for j, option in enumerate(group.get("options") or []):
                _option(option, f"{gp}/options/{j}", problems)
    if isinstance(node.get("fields"), list):
        for i, field in enumerate(node["fields"]):
            _text(field, f"{pointer}/fields/{i}", problems)


def check_blocks(blocks: Any, pointer: str, *, max_blocks: int) -> list[str]:
    """Problems with a ``blocks`` array (empty when Slack would accept it)."""
    problems: list[str] = []
    if not isinstance(blocks, list):
        return [f"[ERROR] must provide an array [json-pointer:{pointer}]"]
    if len(blocks) > max_blocks:
        problems.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    # https://docs.slack.dev/reference/block-kit/blocks ("block_id": unique for each message and each iteration of a
    # message; within a view, unique among all blocks)
    seen_block_ids: dict[str, int] = {}
    for i, block in enumerate(blocks):
        bp = f"{pointer}/{i}"
        if not isinstance(block, dict) or "type" not in block:
            problems.append(f"[ERROR] missing required field: type [json-pointer:{bp}]")
            continue
        _check(_build(Block.parse, block, bp, problems), bp, problems)
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_block_ids:
                problems.append(f"[ERROR] duplicate block_id: {block_id} [json-pointer:{bp}/block_id]")
            seen_block_ids[block_id] = i
        if block.get("type") in ("actions", "context") and isinstance(block.get("elements"), list):
            # https://docs.slack.dev/reference/block-kit/block-elements ("action_id": unique among all other
            # action_ids in the containing block)
            action_ids: set[str] = set()
            for j, element in enumerate(block["elements"]):
                _element(element, f"{bp}/elements/{j}", problems)
                action_id = element.get("action_id") if isinstance(element, dict) else None
                if isinstance(action_id, str):
                    if action_id in action_ids:
                        problems.append(f"[ERROR] duplicate action_id: {action_id} [json-pointer:{bp}/elements/{j}/action_id]")
                    action_ids.add(action_id)
        _children(block, bp, problems)
    return problems


def check_message(params: JSONDict) -> None:
    """chat.postMessage / chat.update / chat.postEphemeral blocks: raise ``BlockKitError`` (``invalid_blocks``)."""
    blocks = params.get("blocks")
    if blocks is None or blocks == []:
        return
    problems = check_blocks(blocks, "/blocks", max_blocks=MESSAGE_MAX_BLOCKS)
    if problems:
        raise BlockKitError(problems)


def check_view(view: JSONDict) -> None:
    """views.open / views.push / views.update / views.publish: raise ``BlockKitError`` (``invalid_arguments``)."""
    problems: list[str] = []
    for key in ("title", "submit", "close"):
        if key in view and view[key] is not None:
            node = view[key]
            if not isinstance(node, dict) or node.get("type") != "plain_text":
                problems.append(f"[ERROR] must be a plain_text text object [json-pointer:/view/{key}]")
    view_object = _build(lambda d: View(**d), {k: v for k, v in view.items() if k != "state"}, "/view", problems)
    _check(view_object, "/view", problems)
    blocks = view.get("blocks", [])
    problems += check_blocks(blocks, "/view/blocks", max_blocks=VIEW_MAX_BLOCKS)
    # https://docs.slack.dev/reference/views/modal-views ("submit" is required when an input block is within blocks)
    if view.get("type") == "modal" and not view.get("submit") and isinstance(blocks, list):
        for i, block in enumerate(blocks):
            if isinstance(block, dict) and block.get("type") == "input":
                problems.append(f"[ERROR] must define `submit` to use an `input` block in modals [json-pointer:/view/blocks/{i}]")
                break
    if problems:
        raise BlockKitError(["[ERROR] failed to match all allowed schemas [json-pointer:/view]", *problems])
