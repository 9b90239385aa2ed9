"""Outbox: due items, exponential backoff, permanent failure as a DPO task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.store.models import AuditEvent, OutboxItem
from dsr.store.outbox import (
    MAX_ATTEMPTS,
    Delivery,
    backoff_delay,
    due_deliveries,
    due_items,
    enqueue,
    mark_failed,
    mark_sent,
    requeue,
)
from tests.store.conftest import new_ticket

NOW = datetime(2026, 2, 2, 9, tzinfo=UTC)


def _item(session: Session, *, channel: str = "email", now: datetime = NOW, ticket_id: int | None = None
          ) -> OutboxItem:
    return enqueue(session, controller="kmb2", channel=channel, kind="receipt_confirmation",
                   recipient="person@example.org", payload=b"Subject: x\r\n\r\nHallo", now=now,
                   ticket_id=ticket_id)


@pytest.mark.parametrize(
    ("attempts", "minutes"),
    [(0, 0), (1, 1), (2, 2), (3, 4), (5, 16), (8, 128), (9, 240), (20, 240)],
)
def test_backoff_doubles_and_is_capped(attempts: int, minutes: int) -> None:
    assert backoff_delay(attempts) == timedelta(minutes=minutes)


def test_enqueue_and_due_items(session: Session) -> None:
    first = _item(session)
    second = _item(session, now=NOW + timedelta(seconds=1))
    chat = _item(session, channel="telegram")
    assert first.state == "pending" and first.attempts == 0 and first.payload.endswith(b"Hallo")
    assert due_items(session, now=NOW - timedelta(seconds=1)) == []
    due = due_items(session, now=NOW + timedelta(seconds=1))
    assert [i.id for i in due] == [first.id, chat.id, second.id]
    assert [i.id for i in due_items(session, now=NOW, channel="telegram")] == [chat.id]
    assert [i.id for i in due_items(session, now=NOW + timedelta(seconds=1), limit=1)] == [first.id]


def test_due_deliveries_are_the_due_items_of_a_channel_as_plain_values(session: Session) -> None:
    first = _item(session)
    later = _item(session, now=NOW + timedelta(seconds=1))
    _item(session, channel="telegram")
    sent = _item(session)
    mark_sent(session, sent, now=NOW)
    session.flush()
    due = due_deliveries(session, now=NOW + timedelta(seconds=1), channel="email")
    assert due == [Delivery(first.id, first.controller, first.recipient, first.payload),
                   Delivery(later.id, later.controller, later.recipient, later.payload)]
    assert due_deliveries(session, now=NOW, channel="email") == due[:1]
    assert due_deliveries(session, now=NOW + timedelta(seconds=1), channel="email", limit=1) == due[:1]


def test_retry_with_backoff_then_sent(session: Session) -> None:
    item = _item(session)
    mark_failed(session, item, error="451 try later", permanent=False, now=NOW)
    assert (item.state, item.attempts, item.next_attempt_at) == ("pending", 1, NOW + timedelta(minutes=1))
    assert due_items(session, now=NOW + timedelta(seconds=59)) == []
    assert due_items(session, now=NOW + timedelta(minutes=1)) == [item]
    later = NOW + timedelta(minutes=1)
    mark_failed(session, item, error="451 again", permanent=False, now=later)
    assert item.next_attempt_at == later + timedelta(minutes=2)
    mark_sent(session, item, now=later + timedelta(minutes=2))
    assert (item.state, item.attempts, item.last_error) == ("sent", 3, None)
    assert due_items(session, now=later + timedelta(days=1)) == []


def test_permanent_failure_becomes_a_dpo_task(session: Session) -> None:
    ticket = new_ticket(session)
    item = _item(session, ticket_id=ticket.id)
    mark_failed(session, item, error="550 5.1.1 user unknown", permanent=True, now=NOW)
    assert (item.state, item.attempts) == ("failed", 1)
    assert due_items(session, now=NOW + timedelta(days=1)) == []
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery_failed")).one()
    assert event.ticket_id == ticket.id and event.detail["outbox_id"] == item.id
    assert event.detail["permanent"] is True and "550" in event.detail["error"]
    requeue(session, item, actor="dpo", reason="Adresse korrigiert", now=NOW + timedelta(hours=1))
    assert item.state == "pending" and due_items(session, now=NOW + timedelta(hours=1)) == [item]


def test_gives_up_after_max_attempts(session: Session) -> None:
    item = _item(session)
    moment = NOW
    for _ in range(MAX_ATTEMPTS - 1):
        mark_failed(session, item, error="timeout", permanent=False, now=moment)
        assert item.state == "pending"
        moment = item.next_attempt_at
    mark_failed(session, item, error="timeout", permanent=False, now=moment)
    assert (item.state, item.attempts) == ("failed", MAX_ATTEMPTS)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery_failed")).one()
    assert event.detail["attempts"] == MAX_ATTEMPTS and event.detail["permanent"] is False


def test_requeue_only_failed(session: Session) -> None:
    item = _item(session)
    with pytest.raises(ValueError, match="only failed"):
        requeue(session, item, actor="dpo", reason="x", now=NOW)
