"""Header hygiene: control characters never survive from a received header into our data.

A header value is decoded from RFC 2047 encoded words *after* the MIME parser has checked the
raw line, so "=?utf-8?b?PHAKWDp5Pg==?=" becomes "<p\\nX:y>": a newline inside a Message-ID.
Stored as is, it breaks every later mail that quotes it in In-Reply-To/References (the header
folding refuses it) and it forges log lines.  Every decoded header value therefore passes here at
parse time, and outgoing headers built from stored values pass `outgoing_msg_ids` again, so data
stored before this rule existed cannot break a reply either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A msg-id as we keep and send it: angle brackets around printable ASCII without space or brackets.
SAFE_MSG_ID = re.compile(r"<[!-;=?-~]+>")


def strip_controls(value: str, replacement: str = " ") -> str:
    """`value` with every control character replaced (by a space for text, "" for identifiers)."""
    return CONTROL.sub(replacement, value)


def safe_msg_id(value: str | None) -> str | None:
    """`value` if it is a msg-id that can go into a header unchanged, else None."""
    return value if value and SAFE_MSG_ID.fullmatch(value) else None


def outgoing_msg_ids(values: Iterable[str | None]) -> list[str]:
    """Only the safe msg-ids of `values` (stored data of any age), in order, without duplicates."""
    return [v for v in dict.fromkeys(values) if v is not None and safe_msg_id(v)]
