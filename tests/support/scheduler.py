"""The scheduler's desk: database, clock, and readers for what it queued."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.controllers.profile import ControllerProfile
from dsr.intents.rights import Right
from dsr.service.scheduler import Scheduler, TickReport
from dsr.store.models import AuditEvent, Message, OutboxItem, Ticket
from dsr.store.tickets.services import open_ticket
from tests.support.clock import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")


# Received Monday 2 March 2026 (kmb2, Niedersachsen): internal target 19 March, due soon from
# 30 March (3 working days before), due Thursday 2 April 2026.
RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


PERSON = "erika.mustermann@example.org"


PERSON_NAME = "Erika Mustermann"


SECRET_BODY = "Mein Geheimnis: Kontonummer DE0212345678"


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Europe/Berlin wall-clock time, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def mail_text(item: OutboxItem) -> tuple[str, str]:
    """(subject, text part) of a queued mail."""
    message = message_from_bytes(item.payload, policy=default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(message["Subject"]), str(body.get_content())


@dataclass
class Desk:
    """The scheduler with its database and clock, and readers for what it did."""

    sessions: sessionmaker[Session]
    clock: FakeClock
    profiles: dict[str, ControllerProfile]
    settings: Settings = field(default_factory=Settings)

    def scheduler(self, **kwargs: object) -> Scheduler:
        return Scheduler(sessions=self.sessions, profiles=self.profiles, clock=self.clock,
                         settings=self.settings, **kwargs)  # type: ignore[arg-type]

    def tick_at(self, moment: datetime) -> TickReport:
        self.clock.now = moment
        return self.scheduler().tick()

    def open(self, *, received: datetime = RECEIVED, rights: Sequence[Right] = (Right.ACCESS,),
             controller: str = "kmb2") -> int:
        with self.sessions.begin() as s:
            land = self.profiles[controller].state
            ticket = open_ticket(s, controller=controller, land=land, channel="email", received_at=received,
                                 rights=rights, now=received, reply_to=PERSON)
            s.add(Message(controller=controller, channel="email", direction="in",
                          dedupe_key=f"<{ticket.reference}@example.org>", sender=PERSON,
                          subject_line=f"Anfrage von {PERSON_NAME}", body_text=SECRET_BODY,
                          received_at=received, ticket_id=ticket.id))
            return ticket.id

    def edit(self, ticket_id: int, change: Callable[[Session, Ticket], None]) -> None:
        with self.sessions.begin() as s:
            ticket = s.get(Ticket, ticket_id)
            assert ticket is not None
            change(s, ticket)

    def items(self, kind: str) -> list[OutboxItem]:
        with self.sessions() as s:
            return list(s.scalars(select(OutboxItem).where(OutboxItem.kind == kind).order_by(OutboxItem.id)))

    def actions(self, action: str) -> list[AuditEvent]:
        with self.sessions() as s:
            query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            return list(s.scalars(query))
