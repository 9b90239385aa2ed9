"""Answers to our clarification question ("did I understand you correctly?") given by number.

The question lists the likeliest readings numbered 1..n (replies/templates/*/clarification.j2)
and asks the person to answer with the number(s).  E-mail and chat both accept "2", "(1)",
"1 und 3", "1, 2"; the numbers refer to the readings recorded with the question's audit event.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.intents.rights import Right
from dsr.store.models import AuditEvent, Ticket

CLARIFICATION_ACTION = "clarification_requested"
_NUMBERS_RE = re.compile(
    r"^\s*\(?\d\)?(?:(?:\s*(?:,|;|&|\+|und|and)\s*|\s+)\(?\d\)?)*\s*[.!]?\s*$", re.IGNORECASE)


def reading_numbers(text: str, count: int) -> list[int]:
    """The reading numbers in `text` ("2", "1 und 3"), or [] if it is not just numbers in range."""
    if count == 0 or not _NUMBERS_RE.match(text):
        return []
    numbers = [int(d) for d in re.findall(r"\d", text)]
    if not all(1 <= n <= count for n in numbers):
        return []
    return list(dict.fromkeys(numbers))


def offered_readings(session: Session, ticket: Ticket) -> list[Right]:
    """The readings our last clarification question on `ticket` offered, in their numbered order."""
    detail = session.scalar(
        select(AuditEvent.detail).where(AuditEvent.ticket_id == ticket.id,
                                        AuditEvent.action == CLARIFICATION_ACTION)
        .order_by(AuditEvent.id.desc()).limit(1))
    valid = {r.value for r in Right}
    return [Right(r) for r in (detail or {}).get("readings", []) if r in valid]


def first_written_line(body: str) -> str:
    """The first non-empty line the sender wrote above any quoted text (for numbered answers)."""
    for line in body.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            return ""
        return stripped
    return ""


def chosen_readings(session: Session, ticket: Ticket, body: str) -> list[Right]:
    """The readings a numbered answer picks, or [] when the answer is not a number list."""
    offered = offered_readings(session, ticket)
    numbers = reading_numbers(first_written_line(body), len(offered))
    return [offered[n - 1] for n in numbers]
