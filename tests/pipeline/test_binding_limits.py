"""Issue 14 (low): chat binding codes count towards the per-address cap, and a new binding request
from one chat does not void the code another chat is about to type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dsr.channels.telegram.conversation.binding import start_binding
from dsr.controllers import load_profile
from dsr.intents.rights import Right
from dsr.pipeline.loop_guard import AUTO_REPLY_LIMIT
from dsr.store.models import DataSubject, OutboxItem, Ticket, VerificationChallenge
from dsr.store.tickets.services import open_ticket

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
VICTIM = "vera@example.org"


def _subject(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        s.add(DataSubject(controller="kmb2", name="Vera", email=VICTIM, created_at=NOW, updated_at=NOW))
        open_ticket(s, controller="kmb2", land="NI", channel="telegram", received_at=NOW,
                    rights=[Right.ACCESS], now=NOW, reply_to="424242")


def _bind(sessions: sessionmaker[Session], at: datetime) -> int | None:
    with sessions.begin() as s:
        ticket = s.scalars(select(Ticket)).first()
        return start_binding(s, profile=load_profile("kmb2"), typed_address=VICTIM, ticket=ticket, now=at,
                             ttl=timedelta(hours=24), max_attempts=5)


def test_a_new_binding_request_does_not_void_another_chats_code(sessions: sessionmaker[Session]) -> None:
    _subject(sessions)
    victims_code = _bind(sessions, NOW)
    attackers = _bind(sessions, NOW + timedelta(minutes=1))
    assert victims_code is not None and attackers is not None
    with sessions() as s:
        challenge = s.get(VerificationChallenge, victims_code)
        assert challenge is not None and challenge.state == "pending"


def test_binding_code_mails_count_towards_the_per_address_cap(sessions: sessionmaker[Session]) -> None:
    _subject(sessions)
    results = [_bind(sessions, NOW + timedelta(seconds=n)) for n in range(AUTO_REPLY_LIMIT + 5)]
    assert all(r is not None for r in results[:AUTO_REPLY_LIMIT])
    assert all(r is None for r in results[AUTO_REPLY_LIMIT:])
    with sessions() as s:
        sent = s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.recipient == VICTIM))
    assert sent == AUTO_REPLY_LIMIT
