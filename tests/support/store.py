"""Tickets made directly in the store, for the store tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from dsr.intents.rights import Right
from dsr.store.models import Ticket, TicketState
from dsr.store.tickets.services import open_ticket

# Received Saturday 31.01.2026 in Niedersachsen: due Monday 02.03.2026, extended 28.04.2026
# (28.02. + 2 months; LEGAL.md 2.2, issues 2 and 15).
RECEIVED = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


def new_ticket(
    session: Session,
    *,
    rights: Sequence[Right] = (Right.ACCESS,),
    received_at: datetime = RECEIVED,
    state: TicketState = TicketState.NEW,
    controller: str = "kmb2",
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket and, for test set-up only, put it straight into `state`."""
    ticket = open_ticket(
        session, controller=controller, land="NI", channel="email", received_at=received_at,
        rights=rights, now=now or received_at, reply_to="person@example.org",
    )
    if state is not TicketState.NEW:
        ticket.state = state.value
        if state is TicketState.PAUSED:
            ticket.paused_since = now or received_at
    session.flush()
    return ticket
