"""Limits on identity attempts: per ticket, and per data subject across tickets and channels.

Every wrong code or wrong set of facts is one `VerificationFailure` row, and so is every extra
candidate in a message that holds more than one (a message tests one value, never a list).  The
limits are counted from those rows, never from a challenge's own counter, so issuing a new code
(after expiry, or by opening another ticket or another chat) does not give an attacker fresh
attempts.  When a limit is reached, no further automatic check is made: a person decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dsr.store.models import VerificationFailure

TICKET_MAX_FAILURES = 5
SUBJECT_MAX_FAILURES = 10
SUBJECT_WINDOW = timedelta(days=30)


def record_failures(session: Session, *, ticket_id: int | None, subject_ids: Iterable[int | None],
                    purpose: str, now: datetime) -> None:
    """One failure row per entry of `subject_ids` (None: the attempt named no known subject)."""
    for subject_id in subject_ids:
        session.add(VerificationFailure(ticket_id=ticket_id, subject_id=subject_id, purpose=purpose, at=now))
    session.flush()


def ticket_failures(session: Session, ticket_id: int | None) -> int:
    if ticket_id is None:
        return 0
    return session.scalar(select(func.count()).select_from(VerificationFailure)
                          .where(VerificationFailure.ticket_id == ticket_id)) or 0


def subject_failures(session: Session, subject_id: int | None, now: datetime) -> int:
    if subject_id is None:
        return 0
    return session.scalar(select(func.count()).select_from(VerificationFailure).where(
        VerificationFailure.subject_id == subject_id, VerificationFailure.at > now - SUBJECT_WINDOW)) or 0


def ticket_locked(session: Session, ticket_id: int | None) -> bool:
    return ticket_failures(session, ticket_id) >= TICKET_MAX_FAILURES


def subject_locked(session: Session, subject_id: int | None, now: datetime) -> bool:
    return subject_failures(session, subject_id, now) >= SUBJECT_MAX_FAILURES


def locked(session: Session, *, ticket_id: int | None, subject_ids: Iterable[int | None],
           now: datetime) -> bool:
    """Whether no further automatic check may be made for this ticket or any of these subjects."""
    return ticket_locked(session, ticket_id) or any(subject_locked(session, s, now) for s in subject_ids)
