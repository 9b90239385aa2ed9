"""A pipeline over a real database, fed with parsed RFC 5322 messages; the test mails."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers.profile import ControllerProfile
from dsr.inbound import InboundMessage, Outcome
from dsr.mail.parse import parse_email
from dsr.pipeline.core import Pipeline
from dsr.store.models import AuditEvent, Message, OutboxItem, Ticket
from tests.support.clock import FakeClock

KMB2 = "klaus.marwede@kmb2.de"


ERIKA = "erika.mustermann@example.org"  # demo data subject of kmb2: K-10001, 38100


STRANGER = "jana.unbekannt@example.com"


ACCESS_BODY = (
    "Sehr geehrte Damen und Herren,\n\nhiermit bitte ich um Auskunft nach Art. 15 DSGVO darüber, "
    "welche personenbezogenen Daten Sie über mich verarbeiten, und um eine Kopie dieser Daten.\n\n"
    "Mit freundlichen Grüßen\nErika Mustermann"
)


CODE_LINE = re.compile(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.MULTILINE)




def make_mail(*, sender: str = ERIKA, subject: str = "Auskunft nach Art. 15 DSGVO", body: str = ACCESS_BODY,
              to: str = KMB2, message_id: str | None = None, headers: dict[str, str] | None = None,
              date: datetime | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2])
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def parsed(payload: bytes) -> EmailMessage:
    message = message_from_bytes(payload, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(payload: bytes) -> str:
    body = parsed(payload).get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


@dataclass
class Harness:
    pipeline: Pipeline
    sessions: sessionmaker[Session]
    clock: FakeClock
    profiles: dict[str, ControllerProfile] = field(default_factory=dict)

    def inbound(self, raw: bytes, *, envelope: str | None = None, controller: str = "kmb2") -> InboundMessage:
        recipient = self.profiles[controller].from_address
        sender = envelope if envelope is not None else parsed(raw)["From"].addresses[0].addr_spec
        return parse_email(raw, controller=controller, recipient=recipient, received_at=self.clock.now,
                           envelope_sender=sender)

    def send(self, raw: bytes, *, envelope: str | None = None, controller: str = "kmb2") -> Outcome:
        return self.pipeline.handle(self.inbound(raw, envelope=envelope, controller=controller))

    def outbox(self) -> list[OutboxItem]:
        with self.sessions() as s:
            return list(s.scalars(select(OutboxItem).order_by(OutboxItem.id)))

    def items(self, ids: tuple[int, ...]) -> list[OutboxItem]:
        return [i for i in self.outbox() if i.id in ids]

    def ticket(self, reference: str | None) -> Ticket:
        with self.sessions() as s:
            ticket = s.scalar(select(Ticket).where(Ticket.reference == reference))
            assert ticket is not None, reference
            return ticket

    def tickets(self) -> list[Ticket]:
        with self.sessions() as s:
            return list(s.scalars(select(Ticket).order_by(Ticket.id)))

    def actions(self, reference: str | None = None) -> list[str]:
        with self.sessions() as s:
            stmt = select(AuditEvent.action).order_by(AuditEvent.id)
            if reference is not None:
                stmt = stmt.join(Ticket, Ticket.id == AuditEvent.ticket_id).where(
                    Ticket.reference == reference)
            return list(s.scalars(stmt))

    def inbound_messages(self) -> list[Message]:
        with self.sessions() as s:
            return list(s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)))

    def code_from(self, item: OutboxItem) -> str:
        match = CODE_LINE.search(text_of(item.payload))
        assert match, "no code line in the verification mail"
        return match.group(1)


HarnessFactory = Callable[..., Harness]


UNCLEAR = ("hab ich bei euch überhaupt ein konto? bekomm dauernd mails von euch obwohl ich da nie was "
           "gemacht hab")
