"""What people type, read in one place with its bounds: ticket keys, whole numbers, years.

Bounds are what the rest of the code can hold: a ticket id fits the `tickets.id` column (a 32-bit
INTEGER on PostgreSQL), a year keeps every date computed from it inside what `datetime` can hold
(a period's end, a rotation's hand-offs). Digits are ASCII only: `str.isdigit` also takes `²` and
`int` takes `٣` and `1_000`, which nobody means. Each refusal says what is valid.
"""

from __future__ import annotations

import re
from datetime import datetime

from rules.errors import InvalidInput

TICKET_ID_MAX = 2**31 - 1  # tickets.id: INTEGER
YEAR_MIN, YEAR_MAX = 1970, 2100  # reports, rotations and instants people type
_TICKET_KEY = re.compile(r"(?:INC-)?([0-9]{1,10})")
_WHOLE = re.compile(r"[0-9]{1,12}")


def parse_ticket_key(text: str) -> int:
    """`INC-42`, `inc-42` or `42` -> 42."""
    m = _TICKET_KEY.fullmatch(text.strip().upper())
    if m is None or not 1 <= int(m.group(1)) <= TICKET_ID_MAX:
        raise InvalidInput(f"{text!r} is not a ticket id (like INC-42: INC- and a number from 1 to {TICKET_ID_MAX})")
    return int(m.group(1))


def parse_whole(text: str, low: int, high: int, refusal: str) -> int:
    """A whole number from `low` to `high` in ASCII digits; else InvalidInput(`refusal`), which says what is valid."""
    if _WHOLE.fullmatch(text) is None or not low <= int(text) <= high:
        raise InvalidInput(refusal)
    return int(text)


def year_in_range(year: int) -> bool:
    return YEAR_MIN <= year <= YEAR_MAX


def check_year(value: datetime, what: str) -> datetime:
    """`value` if its year is one we take, else InvalidInput naming `what` and the valid years."""
    if not year_in_range(value.year):
        raise InvalidInput(f"{what}: the year must be from {YEAR_MIN} to {YEAR_MAX}")
    return value
