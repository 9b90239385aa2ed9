"""The outbox sender against a real SMTP sink: delivery, retries with backoff, permanent failures, Maildir."""

from __future__ import annotations

import mailbox
import socket
from pathlib import Path

from sqlalchemy import select

from dsr.channels.sender import OutboxSender
from dsr.config import Settings
from dsr.store.models import AuditEvent, OutboxItem
from dsr.store.outbox import enqueue
from tests.pipeline.conftest import ERIKA, Harness, make_mail, parsed
from tests.servers.smtp_sink import SmtpSink


def _sender(harness: Harness, **settings: object) -> OutboxSender:
    return OutboxSender(sessions=harness.sessions, profiles=harness.profiles,
                        settings=Settings(**settings),  # type: ignore[arg-type]
                        clock=harness.clock)


def _item(harness: Harness, item_id: int) -> OutboxItem:
    with harness.sessions() as s:
        item = s.get(OutboxItem, item_id)
        assert item is not None
        return item


async def test_relay_delivery_marks_the_item_sent(harness: Harness, smtp_sink: SmtpSink) -> None:
    outcome = harness.send(make_mail())
    sender = _sender(harness, smtp_relay=smtp_sink.relay)
    assert await sender.deliver_due() == 1
    message = await smtp_sink.next_message()
    assert message.rcpt_tos == (ERIKA,) and message.mail_from == "klaus.marwede@kmb2.de"
    item = _item(harness, outcome.outbox_ids[0])
    assert (item.state, item.attempts, item.sent_at) == ("sent", 1, harness.clock.now)
    assert await sender.deliver_due() == 0  # never twice


async def test_temporary_failure_is_retried_after_backoff(harness: Harness, smtp_sink: SmtpSink) -> None:
    outcome = harness.send(make_mail())
    sender = _sender(harness, smtp_relay=smtp_sink.relay)
    smtp_sink.refuse_next("451 4.3.0 Try again later")
    await sender.deliver_due()
    item = _item(harness, outcome.outbox_ids[0])
    assert (item.state, item.attempts) == ("pending", 1)
    assert item.next_attempt_at > harness.clock.now
    assert await sender.deliver_due() == 0  # not due yet
    harness.clock.advance(minutes=2)
    assert await sender.deliver_due() == 1
    await smtp_sink.next_message()
    assert _item(harness, item.id).state == "sent"
    assert len(smtp_sink.messages) == 1


async def test_permanent_failure_becomes_a_dpo_task(harness: Harness, smtp_sink: SmtpSink) -> None:
    outcome = harness.send(make_mail())
    smtp_sink.refuse_next("550 5.1.1 No such user")
    await _sender(harness, smtp_relay=smtp_sink.relay).deliver_due()
    item = _item(harness, outcome.outbox_ids[0])
    assert item.state == "failed" and "550" in (item.last_error or "")
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state == "escalated" and "delivery_failed" in ticket.escalation_reasons
    with harness.sessions() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.ticket_id == ticket.id)).all()
    assert "delivery_failed" in actions


async def test_unreachable_relay_keeps_items_pending(harness: Harness) -> None:
    with socket.socket() as probe:  # a port the OS just gave us and nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = harness.send(make_mail())
    await _sender(harness, smtp_relay=f"127.0.0.1:{port}").deliver_due()
    item = _item(harness, outcome.outbox_ids[0])
    assert (item.state, item.attempts) == ("pending", 1)


async def test_without_relay_mail_goes_to_the_maildir(harness: Harness, tmp_path: Path) -> None:
    outcome = harness.send(make_mail())
    box_path = tmp_path / "var" / "maildir"
    assert await _sender(harness, maildir=box_path).deliver_due() == 1
    [stored] = list(mailbox.Maildir(str(box_path), create=False))
    message = parsed(stored.as_bytes())
    assert message["To"] == ERIKA and "Eingangsbestätigung" in message["Subject"]
    assert _item(harness, outcome.outbox_ids[0]).state == "sent"


async def test_chat_items_are_left_for_the_telegram_adapter(harness: Harness, tmp_path: Path) -> None:
    with harness.sessions() as s:
        item = enqueue(s, controller="kmb2", channel="telegram", kind="receipt_confirmation", recipient="42",
                       payload=b'{"chat_id": 42, "text": "Hallo"}', now=harness.clock.now)
        s.commit()
    assert await _sender(harness, maildir=tmp_path / "maildir").deliver_due() == 0
    assert _item(harness, item.id).state == "pending"
