"""Helpers for the store tests: tickets in a given state, a DPO account, fixed receipt times."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dsr.intents.rights import Right
from dsr.store.models import Ticket, TicketState, User
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


@pytest.fixture
def dpo(session: Session) -> str:
    session.add(User(username="dpo", password_hash="x", role="dpo", created_at=RECEIVED))
    session.add(User(username="manager", password_hash="x", role="manager", created_at=RECEIVED))
    session.flush()
    return "dpo"


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One session (autobegun transaction), rolled back after the test."""
    with sessions() as s:
        yield s
        s.rollback()
