"""Outbox: due items, exponential backoff, permanent failure as a DPO task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.store.models import AuditEvent, OutboxItem
from dsr.store.outbox import (
    RETRY_PERIOD,
    WARN_AFTER,
    Delivery,
    backoff_delay,
    claim_deliveries,
    due_deliveries,
    due_items,
    enqueue,
    mark_failed,
    mark_sent,
    mark_sent_by_id,
    release_claims,
    release_dead_claims,
    requeue,
)
from tests.support.store import new_ticket

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


def test_a_weekend_relay_outage_loses_nothing(session: Session) -> None:
    """Defect 9 of issue 18: ten attempts (about 8 hours) used to fail every answer queued when
    an outage began.  Friday 18:00 to Monday 08:00 (62 hours) the item stays pending."""
    friday = datetime(2026, 2, 6, 17, tzinfo=UTC)
    item = _item(session, now=friday)
    moment = friday
    while moment < friday + timedelta(hours=62):
        mark_failed(session, item, error="451 4.3.0 relay down", permanent=False, now=moment)
        assert item.state == "pending"
        moment = item.next_attempt_at
    assert item.attempts > 10
    mark_sent(session, item, now=moment)
    assert item.state == "sent"
    assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery_failed")).all()


def test_gives_up_at_the_end_of_the_retry_period_and_warns_once_early(session: Session) -> None:
    item = _item(session)
    moment = NOW
    warnings: list[datetime] = []
    while item.state == "pending":
        if mark_failed(session, item, error="timeout", permanent=False, now=moment):
            warnings.append(moment)
        moment = item.next_attempt_at
    assert moment - NOW == RETRY_PERIOD  # the last attempt falls on the end of the period
    assert item.state == "failed"
    assert len(warnings) == 1 and WARN_AFTER <= warnings[0] - NOW < WARN_AFTER + timedelta(hours=4)
    delayed = session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery_delayed")).one()
    assert delayed.detail["outbox_id"] == item.id
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery_failed")).one()
    assert event.detail["attempts"] == item.attempts and event.detail["permanent"] is False


def test_retry_period_is_configurable_and_restarts_on_requeue(session: Session) -> None:
    item = _item(session)
    mark_failed(session, item, error="451", permanent=False, now=NOW, retry_for=timedelta(hours=1))
    assert item.state == "pending"
    mark_failed(session, item, error="451", permanent=False, now=NOW + timedelta(hours=1),
                retry_for=timedelta(hours=1))
    assert item.state == "failed"
    later = NOW + timedelta(days=1)
    requeue(session, item, actor="dpo", reason="Relay repariert", now=later)
    mark_failed(session, item, error="451", permanent=False, now=later, retry_for=timedelta(hours=1))
    assert item.state == "pending"


def test_a_claimed_item_is_not_due_for_anyone_else_until_its_lease_ends(session: Session) -> None:
    first, second = _item(session), _item(session)
    lease = timedelta(minutes=10)
    claimed = claim_deliveries(session, now=NOW, channel="email", owner="a", lease=lease, limit=1)
    assert [d.id for d in claimed] == [first.id]
    session.refresh(first)
    assert (first.claimed_by, first.claimed_until) == ("a", NOW + lease)
    # Another sender gets the rest, and nothing while both are held.
    assert [d.id for d in claim_deliveries(session, now=NOW, channel="email", owner="b", lease=lease)] \
        == [second.id]
    assert claim_deliveries(session, now=NOW + timedelta(minutes=9), channel="email", owner="c") == []
    assert due_deliveries(session, now=NOW, channel="email") == []
    # "a" delivered its item; "b" died: its lease ends and "c" takes the item over, same payload.
    assert mark_sent_by_id(session, first.id, now=NOW + timedelta(minutes=1))
    taken = claim_deliveries(session, now=NOW + lease, channel="email", owner="c", lease=lease)
    assert [(d.id, d.payload) for d in taken] == [(second.id, second.payload)]
    # A handed-back item is due again at once; an item not held by the caller is left alone.
    release_claims(session, [second.id], owner="a")
    assert claim_deliveries(session, now=NOW + lease, channel="email", owner="d") == []
    release_claims(session, [second.id], owner="c")
    assert [d.id for d in claim_deliveries(session, now=NOW + lease, channel="email", owner="d")] \
        == [second.id]
    session.refresh(first)
    assert (first.state, first.claimed_by, first.claimed_until) == ("sent", None, None)


def test_requeue_only_failed(session: Session) -> None:
    item = _item(session)
    with pytest.raises(ValueError, match="only failed"):
        requeue(session, item, actor="dpo", reason="x", now=NOW)


def test_claims_of_a_stopped_sender_on_this_host_are_released_at_once(session: Session) -> None:
    first, second, third = _item(session), _item(session), _item(session)
    claim_deliveries(session, now=NOW, channel="email", owner="here:101:aa", limit=1)
    claim_deliveries(session, now=NOW, channel="email", owner="here:202:bb", limit=1)
    claim_deliveries(session, now=NOW, channel="email", owner="there:101:cc", limit=1)
    released = release_dead_claims(session, owner_prefix="here:", alive=lambda owner: owner == "here:202:bb")
    assert released == 1
    # The dead sender's item is due at once; the live one's and the other host's wait for their lease.
    assert [d.id for d in due_deliveries(session, now=NOW, channel="email")] == [first.id]
    assert {second.id, third.id}.isdisjoint(d.id for d in due_deliveries(session, now=NOW, channel="email"))
