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

from dsr.mail.compose import compose_mail
from dsr.pipeline.outbound import Outgoing, RecipientRefusedError, TelegramPayload, send, send_chat
from dsr.store.models import OutboxItem

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
    mail_id = send(session, Outgoing(controller="kmb2", kind="dpo_reply", recipient="erika@example.org",
                                     message=mail), now=NOW)
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
