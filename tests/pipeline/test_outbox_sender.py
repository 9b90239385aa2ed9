"""The outbox sender against a real SMTP sink: delivery, retries with backoff, permanent failures, Maildir."""

from __future__ import annotations

import asyncio
import mailbox
import socket
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from dsr.channels.sender import OutboxSender
from dsr.config import Settings
from dsr.mail.compose import compose_mail
from dsr.store.models import AuditEvent, OutboxItem
from dsr.store.outbox import claim_deliveries, enqueue
from tests.servers.smtp_sink import SmtpSink, running_smtp_sink
from tests.support.pipeline import ERIKA, KMB2, Harness, make_mail, parsed


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


async def test_the_sent_mark_does_not_queue_behind_the_sessions_pipeline_calls(
        harness: Harness, smtp_sink: SmtpSink) -> None:
    """SMTP sessions hand their pipeline calls to the default executor: with all its threads busy
    the sender still claims, sends and marks (a mark queued there was a long crash window)."""
    outcome = harness.send(make_mail())
    sender = _sender(harness, smtp_relay=smtp_sink.relay)
    loop = asyncio.get_running_loop()
    release = threading.Event()
    busy = [loop.run_in_executor(None, release.wait, 30) for _ in range(40)]  # more than its threads
    try:
        assert await asyncio.wait_for(sender.deliver_due(), 20) == 1
        assert _item(harness, outcome.outbox_ids[0]).state == "sent"
    finally:
        release.set()
        await asyncio.gather(*busy)
        await sender.close()


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


# --- issue 18: one bad item fails alone, leases, retries over a weekend -------------------------


def _queue(harness: Harness, recipient: str, *, ticket_id: int | None = None) -> int:
    """An answer as the pipeline queues it: composed once, stored with its Message-ID."""
    mail = compose_mail(from_address=KMB2, from_name="kmb2 Datenschutz", to=recipient, subject="Antwort",
                        text="Guten Tag", html="<p>Guten Tag</p>", now=harness.clock.now,
                        reference="DSR-2026-000001")
    with harness.sessions() as s:
        item = enqueue(s, controller="kmb2", channel="email", kind="receipt_confirmation",
                       recipient=recipient, payload=mail.payload, now=harness.clock.now, ticket_id=ticket_id)
        s.commit()
        return item.id


async def test_an_address_the_relay_cannot_take_fails_alone(harness: Harness) -> None:
    """Defect 2: a non-ASCII local part (relay without SMTPUTF8) or a control character made the
    library raise half-way through a transaction: the round failed, the other lanes' replies were
    sent again by the next round, and the poisoned item failed with '503 nested MAIL command'."""
    ordinary = [_queue(harness, f"person{n}@example.org") for n in range(12)]
    umlaut = _queue(harness, "jürgen@beispiel.de")
    control = _queue(harness, "heike\x07dummy@example.org")
    with running_smtp_sink(smtputf8=False) as sink:
        sender = _sender(harness, smtp_relay=sink.relay)
        assert await sender.deliver_due() == 14
        assert await sender.deliver_due() == 0
        await sender.close()
        received = sorted(r for m in sink.messages for r in m.rcpt_tos)
    assert received == sorted(f"person{n}@example.org" for n in range(12))  # each exactly once
    assert {_item(harness, i).state for i in ordinary} == {"sent"}
    failed = _item(harness, umlaut)
    assert failed.state == "failed" and "SMTPUTF8" in (failed.last_error or "")
    assert "503" not in (failed.last_error or "")
    failed = _item(harness, control)
    assert failed.state == "failed" and "Steuer" in (failed.last_error or "")


async def test_an_internationalised_address_goes_out_with_smtputf8(harness: Harness,
                                                                    smtp_sink: SmtpSink) -> None:
    item_id = _queue(harness, "jürgen@beispiel.de")
    sender = _sender(harness, smtp_relay=smtp_sink.relay)
    assert await sender.deliver_due() == 1
    message = await smtp_sink.next_message()
    await sender.close()
    assert message.rcpt_tos == ("jürgen@beispiel.de",)
    assert str(message.message["To"]) == "jürgen@beispiel.de"
    assert _item(harness, item_id).state == "sent"


async def test_two_senders_never_send_the_same_item(harness: Harness, smtp_sink: SmtpSink) -> None:
    """Several `dsr serve` on one database: each item is claimed by one sender only."""
    ids = [_queue(harness, f"person{n}@example.org") for n in range(40)]
    first, second = _sender(harness, smtp_relay=smtp_sink.relay), _sender(harness, smtp_relay=smtp_sink.relay)
    handled = await asyncio.gather(first.deliver_due(), second.deliver_due())
    await asyncio.gather(first.close(), second.close())
    assert sum(handled) == 40
    received = sorted(r for m in smtp_sink.messages for r in m.rcpt_tos)
    assert received == sorted(f"person{n}@example.org" for n in range(40))
    assert {_item(harness, i).state for i in ids} == {"sent"}


async def test_a_dead_senders_item_is_taken_over_after_its_lease_with_the_same_message_id(
        harness: Harness, smtp_sink: SmtpSink) -> None:
    item_id = _queue(harness, "person@example.org")
    with harness.sessions() as s:  # a sender claimed the item and died inside the SMTP transaction
        [claimed] = claim_deliveries(s, now=harness.clock.now, channel="email", owner="dead:1",
                                     lease=timedelta(minutes=10))
        s.commit()
    sender = _sender(harness, smtp_relay=smtp_sink.relay)
    assert await sender.deliver_due() == 0  # still held by the dead sender
    harness.clock.advance(minutes=10)
    assert await sender.deliver_due() == 1
    message = await smtp_sink.next_message()
    await sender.close()
    assert message.raw.replace(b"\r\n", b"\n") == claimed.payload.replace(b"\r\n", b"\n")
    assert message.message["Message-ID"] == parsed(claimed.payload)["Message-ID"]
    assert _item(harness, item_id).state == "sent"


async def test_a_relay_outage_warns_the_dpo_early_and_keeps_retrying(harness: Harness) -> None:
    outcome = harness.send(make_mail())
    with socket.socket() as probe:  # a port nobody listens on: the relay is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = _sender(harness, smtp_relay=f"127.0.0.1:{port}", outbox_warn_after_hours=4)
    [item_id] = outcome.outbox_ids
    for _ in range(6):  # 1 + 2 + 4 + ... minutes: past four hours after a handful of rounds
        await sender.deliver_due()
        harness.clock.now = _item(harness, item_id).next_attempt_at
    while harness.clock.now - _item(harness, item_id).created_at < timedelta(hours=5):
        await sender.deliver_due()
        harness.clock.now = _item(harness, item_id).next_attempt_at
    item = _item(harness, item_id)
    assert item.state == "pending" and item.delay_warned_at is not None
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state == "escalated" and "delivery_delayed" in ticket.escalation_reasons
    assert harness.actions(outcome.ticket_reference).count("delivery_delayed") == 1
