"""Read-only ticket queries: lookup by reference and the due list behind dashboards and the CLI."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.store.models import Ticket, TicketState
from dsr.store.tickets.catalogue import OPEN_STATES
from dsr.store.tickets.common import berlin_date

REFERENCE_RE = re.compile(r"^DSR-(\d{4})-(\d{6})$")


def find_by_reference(session: Session, reference: str) -> Ticket | None:
    """The ticket with this reference (case and surrounding blanks ignored), or None."""
    ref = reference.strip().upper()
    if not REFERENCE_RE.match(ref):
        return None
    return session.scalars(select(Ticket).where(Ticket.reference == ref)).one_or_none()


def effective_due(ticket: Ticket, today: date) -> date | None:
    """The date that binds now: the extended date if any, else the due date.

    While a pause runs, the days paused so far push it provisionally (calendar days; the exact
    working-day roll is computed when the pause ends).
    """
    due = ticket.extended_due_date or ticket.due_date
    if due is None:
        return None
    if TicketState(ticket.state) is TicketState.PAUSED and ticket.paused_since is not None:
        due += timedelta(days=max(0, (today - berlin_date(ticket.paused_since)).days))
    return due


def due_tickets(
    session: Session,
    *,
    today: date,
    overdue_only: bool = False,
    within_days: int | None = None,
    controller: str | None = None,
) -> list[Ticket]:
    """Open tickets by effective due date; `within_days` includes the overdue ones (most urgent)."""
    stmt = select(Ticket).where(Ticket.state.in_([s.value for s in OPEN_STATES]))
    if controller is not None:
        stmt = stmt.where(Ticket.controller == controller)
    selected: list[tuple[date, str, Ticket]] = []
    for ticket in session.scalars(stmt):
        due = effective_due(ticket, today)
        if due is None:
            continue
        if overdue_only and not due < today:
            continue
        if within_days is not None and due > today + timedelta(days=within_days):
            continue
        selected.append((due, ticket.reference, ticket))
    selected.sort(key=lambda item: (item[0], item[1]))
    return [ticket for _, _, ticket in selected]
