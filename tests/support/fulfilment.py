"""Fulfilment test helpers: the demo CRM and tickets to carry out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from dsr.intents.rights import Right
from dsr.store.models import IdentityLevel, Ticket, TicketState
from dsr.store.subjects import find_subject
from dsr.store.tickets.services import open_ticket, transition

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


KEY = "w9Jx4pQh0n0jz3wq5m9Bq8b2X7mVdQy1hZ6tC0kR3uE"


@dataclass
class Tickets:
    sessions: sessionmaker[Session]

    def verified(self, email: str, rights: tuple[Right, ...], *, controller: str = "kmb2",
                 language: str = "de") -> int:
        """An in-progress ticket of a demo subject, identity confirmed by the contact on file."""
        with self.sessions.begin() as session:
            subject = find_subject(session, controller, email=email)
            assert subject is not None
            ticket: Ticket = open_ticket(
                session, controller=controller, land="NI", channel="email", received_at=NOW, rights=rights,
                now=NOW, subject_id=subject.id, reply_to=email, language=language,
                identity_level=IdentityLevel.CONTACT_ON_FILE, identity_method="sender address on file")
            transition(session, ticket, TicketState.IN_PROGRESS, actor="test", reason="verified", now=NOW)
            return ticket.id
