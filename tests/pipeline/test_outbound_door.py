"""The one door out (`dsr.pipeline.outbound.send`): the typed chat payload and the recipient guard.

That nothing else writes to the outbox is an import contract (`one-door-out` in pyproject.toml,
checked by tests/test_layout.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import load_profile
from dsr.datamap import load_datamap_for
from dsr.intents.rights import Right
from dsr.mail.compose import ComposedMail, compose_mail
from dsr.pipeline.outbound import (
    POSTAL_LETTER_KIND,
    Outgoing,
    RecipientRefusedError,
    TelegramPayload,
    recipient_problem,
    send,
    send_chat,
)
from dsr.store.models import DataSubject, IdentityLevel, OutboxItem, Ticket
from dsr.store.tickets.services import open_ticket

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s
        s.rollback()


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(OutboxItem)) or 0)


def test_chat_payload_has_only_the_keys_that_are_set() -> None:
    assert json.loads(TelegramPayload(chat_id=42, text="Grüße").encode()) == {"chat_id": 42, "text": "Grüße"}
    reply = TelegramPayload(chat_id=42, text="x", reference="DSR-2026-000001", kind="receipt_confirmation")
    assert json.loads(reply.encode()) == {"chat_id": 42, "text": "x", "reference": "DSR-2026-000001",
                                          "kind": "receipt_confirmation"}
    buttons = TelegramPayload(chat_id=42, text="Welche?", buttons=((("Auskunft", "r:access"),),),
                              edit_message_id=7)
    assert json.loads(buttons.encode()) == {
        "chat_id": 42, "text": "Welche?", "edit_message_id": 7,
        "reply_markup": {"inline_keyboard": [[{"text": "Auskunft", "callback_data": "r:access"}]]},
    }
    assert "Grüße".encode() in TelegramPayload(chat_id=1, text="Grüße").encode()  # UTF-8, not \\u escapes


def test_send_queues_mail_and_chat(session: Session) -> None:
    mail = compose_mail(from_address="datenschutz@kmb2.de", from_name="kmb2", to="erika@example.org",
                        subject="Betreff", text="Hallo", html="<p>Hallo</p>", now=NOW)
    mail_id = send(session, Outgoing(controller="kmb2", kind="receipt_confirmation",
                                     recipient="erika@example.org", message=mail), now=NOW)
    chat_id = send_chat(session, controller="kmb2", chat_id=4711, text="Hallo", now=NOW,
                        buttons=[[("Ja", "y"), ("Nein", "n")]])
    items = {i.id: i for i in session.scalars(select(OutboxItem))}
    assert (items[mail_id].channel, items[mail_id].recipient, items[mail_id].payload) == (
        "email", "erika@example.org", mail.payload)
    chat = items[chat_id]
    assert (chat.channel, chat.recipient, chat.kind) == ("telegram", "4711", "chat")
    assert json.loads(items[chat_id].payload)["reply_markup"]["inline_keyboard"][0][1] == {
        "text": "Nein", "callback_data": "n"}


@pytest.mark.parametrize(
    ("recipient", "message", "why"),
    [
        ("  ", TelegramPayload(chat_id=4711, text="x"), "no recipient"),
        ("4712", TelegramPayload(chat_id=4711, text="x"), "another chat"),
    ],
)
def test_the_guard_refuses_before_anything_is_queued(
    session: Session, recipient: str, message: TelegramPayload, why: str
) -> None:
    with pytest.raises(RecipientRefusedError, match=why):
        send(session, Outgoing(controller="kmb2", kind="chat", recipient=recipient, message=message), now=NOW)
    assert _count(session) == 0


# --- guard gaps (issue 14): each of these went through the door before ---------------------------


def _mail(to: str) -> ComposedMail:
    return compose_mail(from_address="datenschutz@kmb2.de", from_name="kmb2", to=to, subject="Betreff",
                        text="Ihre Daten: ...", html="<p>Ihre Daten: ...</p>", now=NOW)


def _ticket(session: Session, *, reply_to: str, level: IdentityLevel = IdentityLevel.NONE,
            postal: str | None = None, on_file: str | None = None) -> Ticket:
    subject = DataSubject(controller="kmb2", name="Erika Mustermann", email=None, postal_address=on_file,
                          created_at=NOW, updated_at=NOW)
    session.add(subject)
    session.flush()
    return open_ticket(session, controller="kmb2", land="NI", channel="email", received_at=NOW,
                       rights=[Right.ACCESS], now=NOW, subject_id=subject.id, reply_to=reply_to,
                       postal_address=postal, identity_level=level)


def test_a_disclosing_kind_without_its_ticket_is_refused(session: Session) -> None:
    """Before: no ticket, no check: a "dpo_reply" went to any address."""
    with pytest.raises(RecipientRefusedError, match="needs its ticket"):
        send(session, Outgoing(controller="kmb2", kind="dpo_reply", recipient="mallory@example.net",
                               message=_mail("mallory@example.net")), now=NOW)
    assert _count(session) == 0


def test_chat_texts_are_checked_like_mail(session: Session) -> None:
    ticket = _ticket(session, reply_to="4711")
    answer = TelegramPayload(chat_id=4711, text="Ihre Daten: ...")
    with pytest.raises(RecipientRefusedError, match="nicht bestätigt"):
        send(session, Outgoing(controller="kmb2", kind="access_answer", recipient="4711", message=answer,
                               ticket_id=ticket.id), now=NOW)
    # A conversation text about a ticket goes only to the ticket's own chat.
    other = TelegramPayload(chat_id=4712, text="Zu Ihrem Vorgang ...")
    with pytest.raises(RecipientRefusedError, match="Chat des Vorgangs"):
        send(session, Outgoing(controller="kmb2", kind="chat", recipient="4712", message=other,
                               ticket_id=ticket.id), now=NOW)
    assert _count(session) == 0


def test_internal_mail_goes_only_to_configured_recipients(session: Session) -> None:
    profile = load_profile("kmb2")
    datamap = load_datamap_for("kmb2")
    assert datamap is not None
    own = str(profile.contact_email)
    partner = str(datamap.recipients[0].email)
    cases = [("dpo_escalation_alert", "mallory@example.net", profile, None),
             ("weekly_digest", own, None, None),  # no profile to check against
             ("art19_notice", "mallory@example.net", profile, datamap),
             ("art19_notice", partner, profile, None),  # no data map
             ("processor_forward", own, profile, None)]  # not a client in the register
    for kind, to, checked_by, data_map in cases:
        with pytest.raises(RecipientRefusedError, match="recipient"):
            send(session, Outgoing(controller="kmb2", kind=kind, recipient=to, message=_mail(to)), now=NOW,
                 profile=checked_by, datamap=data_map)
    assert _count(session) == 0
    digest = Outgoing(controller="kmb2", kind="weekly_digest", recipient=own.upper(), message=_mail(own))
    send(session, digest, now=NOW, profile=profile)
    notice = Outgoing(controller="kmb2", kind="art19_notice", recipient=partner, message=_mail(partner))
    send(session, notice, now=NOW, profile=profile, datamap=datamap)
    assert _count(session) == 2


def test_a_printed_letter_needs_the_verified_postal_address(session: Session) -> None:
    home = "Erika Mustermann\nHauptstr. 1\n38100 Braunschweig"
    elsewhere = "Erika Mustermann\nPostfach 99\n10115 Berlin"
    unverified = _ticket(session, reply_to="erika@example.org", postal=home, on_file=home)
    assert "nicht bestätigt" in str(recipient_problem(unverified, kind=POSTAL_LETTER_KIND, recipient=home))
    moved = _ticket(session, reply_to="erika@example.org", level=IdentityLevel.KNOWN_FACTS, postal=elsewhere,
                    on_file=home)
    refused = recipient_problem(moved, kind=POSTAL_LETTER_KIND, recipient=elsewhere)
    assert "hinterlegte Anschrift" in str(refused)
    assert recipient_problem(moved, kind=POSTAL_LETTER_KIND, recipient=home) is not None  # not the ticket's
    at_home = _ticket(session, reply_to="erika@example.org", level=IdentityLevel.KNOWN_FACTS,
                      postal=home.replace("\n", "\n  "), on_file=home)
    assert recipient_problem(at_home, kind=POSTAL_LETTER_KIND, recipient=at_home.postal_address or "") is None
    checked = _ticket(session, reply_to="erika@example.org", level=IdentityLevel.MANUAL, postal=elsewhere,
                      on_file=home)
    assert recipient_problem(checked, kind=POSTAL_LETTER_KIND, recipient=elsewhere) is None
