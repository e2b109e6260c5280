"""All Block Kit the bot sends, as small functions from data to blocks. User text is always escaped for mrkdwn.

- blocks: shared pieces (escaping, dates in each viewer's time zone, inputs, sections)
- intake: the report modal, the mention prompt, the reporter's confirmation
- ticket: a ticket's announcement, the responders' modals, thread messages, reminders and escalations
- manager: `/sla status`, `/sla ticket`, `/sla report`
- home: the App Home

The names below are what handlers and the scheduler use, as `views.name`.
"""

from bot.views.blocks import escape, slack_date
from bot.views.home import home_view
from bot.views.intake import (
    DESCRIPTION_MAX,
    STEP1,
    STEP2,
    SUMMARY_MAX,
    cannot_keep_report_view,
    done_view,
    mention_prompt_blocks,
    prefill,
    reporter_confirmation,
    step1_view,
    step2_view,
)
from bot.views.manager import STATUS_MORE, STATUS_PAGE, report_message, status_message, status_page_message, ticket_message
from bot.views.ticket import (
    action_posts,
    action_text,
    announcement_blocks,
    announcement_text,
    assign_modal,
    delivery_note,
    pause_modal,
    reclassify_modal,
    render_notification,
    resolve_modal,
    update_modal,
)

__all__ = [
    "DESCRIPTION_MAX",
    "STEP1",
    "STEP2",
    "SUMMARY_MAX",
    "action_posts",
    "action_text",
    "announcement_blocks",
    "announcement_text",
    "assign_modal",
    "cannot_keep_report_view",
    "delivery_note",
    "done_view",
    "escape",
    "home_view",
    "mention_prompt_blocks",
    "pause_modal",
    "prefill",
    "reclassify_modal",
    "render_notification",
    "report_message",
    "reporter_confirmation",
    "resolve_modal",
    "slack_date",
    "status_message",
    "status_page_message",
    "STATUS_MORE",
    "STATUS_PAGE",
    "step1_view",
    "step2_view",
    "ticket_message",
    "update_modal",
]
