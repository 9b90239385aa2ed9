"""Durable marks of scheduled work already done: "this reminder / digest / purge has happened".

A mark is a `ChannelState` row whose key names the work; it is written in the same transaction
as the work itself (the outbox item, the deletions), so after a crash or restart either both are
there or neither, and the primary key refuses a second mark for the same work even when two
ticks race.  Keys:

* ``reminder:<ticket-id>:<stage>:<due-date>``: a deadline reminder of one stage (internal
  target, due soon, overdue) for the binding due date it was about; an extension gives new
  stages for the new date;
* ``digest:<controller>:<iso-week>``: the weekly digest, e.g. ``digest:komsa:2026-W10``;
* ``retention:<controller>:<date>``: the daily automatic retention purge.

The value holds small facts for the operator (date sent, outbox ids, counts), never personal data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dsr.store.models import ChannelState

REMINDER_PREFIX = "reminder:"
DIGEST_PREFIX = "digest:"
RETENTION_PREFIX = "retention:"


def reminder_key(ticket_id: int, stage: str, due: date) -> str:
    return f"{REMINDER_PREFIX}{ticket_id}:{stage}:{due.isoformat()}"


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_key(controller: str, day: date) -> str:
    return f"{DIGEST_PREFIX}{controller}:{iso_week(day)}"


def retention_key(controller: str, day: date) -> str:
    return f"{RETENTION_PREFIX}{controller}:{day.isoformat()}"


def has_mark(session: Session, key: str) -> bool:
    return session.get(ChannelState, key) is not None


def add_mark(session: Session, key: str, *, now: datetime, detail: dict[str, Any]) -> None:
    """Record the work as done and flush: a mark that exists already raises IntegrityError."""
    session.add(ChannelState(key=key, value=dict(detail), updated_at=now))
    session.flush()


def reminder_marks(session: Session, ticket_id: int) -> list[ChannelState]:
    """Every reminder mark of one ticket (all stages and due dates)."""
    prefix = f"{REMINDER_PREFIX}{ticket_id}:"
    return list(session.scalars(select(ChannelState).where(ChannelState.key.startswith(prefix))))


def reminder_ticket_id(key: str) -> int | None:
    """The ticket id in a reminder mark's key, or None for any other key."""
    if not key.startswith(REMINDER_PREFIX):
        return None
    head = key[len(REMINDER_PREFIX):].split(":", 1)[0]
    return int(head) if head.isdigit() else None


def stale_marks(session: Session, *, controller: str, ticket_ids: set[int], before: date) -> list[str]:
    """Keys to drop with a retention purge: reminders of purged tickets, digest and purge marks
    of this controller from before `before`."""
    keys: list[str] = []
    candidates = select(ChannelState.key).where(
        ChannelState.key.startswith(REMINDER_PREFIX)
        | ChannelState.key.startswith(f"{DIGEST_PREFIX}{controller}:")
        | ChannelState.key.startswith(f"{RETENTION_PREFIX}{controller}:")
    )
    for key in session.scalars(candidates):
        ticket_id = reminder_ticket_id(key)
        if ticket_id is not None:
            if ticket_id in ticket_ids:
                keys.append(key)
            continue
        stamp = key.rsplit(":", 1)[1]
        # ISO weeks ("2026-W10") and ISO dates ("2026-03-02") both start with the year.
        if stamp[:4].isdigit() and int(stamp[:4]) < before.year:
            keys.append(key)
    return keys


def drop_marks(session: Session, keys: list[str]) -> int:
    dropped = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        dropped += len(chunk)
        session.execute(delete(ChannelState).where(ChannelState.key.in_(chunk)))
    return dropped
