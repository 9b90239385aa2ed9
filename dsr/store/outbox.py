"""Transactional outbox: a reply is stored in the same transaction as the decision behind it.

A sender (`bot/outbox_sender.py`) picks due items, delivers them and marks them sent or failed.
Temporary failures are retried with exponential backoff; a permanent failure, or running out of
attempts, sets the item FAILED and writes a "delivery_failed" audit event so that it becomes a
DPO task: an unanswered data subject is a missed deadline (Art. 12(3) GDPR).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from dsr.store.audit import audit
from dsr.store.models import OutboxItem, OutboxState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=4)
ERROR_MAX_CHARS = 2000
_INSERT_ITEM = insert(OutboxItem).returning(OutboxItem.id)


def backoff_delay(attempts: int, *, base: timedelta = BASE_DELAY, cap: timedelta = MAX_DELAY) -> timedelta:
    """Wait before the next try after `attempts` failed ones: base · 2^(attempts-1), capped."""
    if attempts < 1:
        return timedelta(0)
    return min(cap, base * (1 << min(attempts - 1, 30)))


def enqueue(
    session: Session,
    *,
    controller: str,
    channel: str,
    kind: str,
    recipient: str,
    payload: bytes,
    now: datetime,
    ticket_id: int | None = None,
    message_id: int | None = None,
) -> OutboxItem:
    """Add a pending item, due at once; written at once so that its id is known, not committed."""
    item_id = enqueue_id(session, controller=controller, channel=channel, kind=kind, recipient=recipient,
                         payload=payload, now=now, ticket_id=ticket_id, message_id=message_id)
    item = session.get(OutboxItem, item_id)
    if item is None:  # cannot happen inside the inserting transaction
        raise RuntimeError(f"outbox item {item_id} vanished after insert")
    return item


def enqueue_id(
    session: Session,
    *,
    controller: str,
    channel: str,
    kind: str,
    recipient: str,
    payload: bytes,
    now: datetime,
    ticket_id: int | None = None,
    message_id: int | None = None,
) -> int:
    """`enqueue` for callers that need only the id: one INSERT on the transaction's connection.

    The pipeline queues a reply for nearly every message; skipping the ORM unit of work for a
    row nothing in the transaction reads back is a large part of its per-message cost.  The
    row is written at once, like `enqueue`'s flush, so the loop guard's count sees it.
    """
    if not recipient.strip():
        raise ValueError("outbox: recipient must not be empty")
    item_id: int = session.connection().execute(_INSERT_ITEM, {
        "controller": controller, "channel": channel, "kind": kind, "ticket_id": ticket_id,
        "message_id": message_id, "recipient": recipient.strip(), "payload": payload,
        "state": OutboxState.PENDING.value, "attempts": 0, "next_attempt_at": now, "last_error": None,
        "created_at": now, "sent_at": None,
    }).scalar_one()
    log.debug("outbox enqueued item=%s kind=%s channel=%s ticket=%s", item_id, kind, channel, ticket_id)
    return item_id


def due_items(
    session: Session, *, now: datetime, channel: str | None = None, limit: int = 50
) -> list[OutboxItem]:
    """Pending items whose next attempt is due, oldest first.

    On PostgreSQL the rows are locked with SKIP LOCKED, so two senders never take the same item.
    """
    stmt = (
        select(OutboxItem)
        .where(OutboxItem.state == OutboxState.PENDING.value, OutboxItem.next_attempt_at <= now)
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
    )
    if channel is not None:
        stmt = stmt.where(OutboxItem.channel == channel)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a sender needs of a due item: no ORM object, nothing else of the row."""

    id: int
    controller: str
    recipient: str
    payload: bytes


_DUE_DELIVERIES = (
    select(OutboxItem.id, OutboxItem.controller, OutboxItem.recipient, OutboxItem.payload)
    .where(OutboxItem.state == OutboxState.PENDING.value, OutboxItem.next_attempt_at <= bindparam("now"),
           OutboxItem.channel == bindparam("channel"))
    .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
    .limit(bindparam("limit"))
)


def due_deliveries(session: Session, *, now: datetime, channel: str, limit: int = 50) -> list[Delivery]:
    """`due_items` of one channel as plain values, for a sender that marks each item itself
    (`mark_sent_by_id`, `mark_failed`) in its own transaction after the delivery attempt."""
    rows = session.connection().execute(_DUE_DELIVERIES, {"now": now, "channel": channel, "limit": limit})
    return [Delivery(row.id, row.controller, row.recipient, row.payload) for row in rows]


def mark_sent(session: Session, item: OutboxItem, *, now: datetime) -> None:
    """The item was delivered (accepted by the relay / the chat API)."""
    item.attempts += 1
    item.state = OutboxState.SENT.value
    item.sent_at = now
    item.last_error = None
    log.debug("outbox sent item=%s attempts=%s", item.id, item.attempts)


_MARK_SENT = (
    update(OutboxItem)
    .where(OutboxItem.id == bindparam("item"))
    .values(attempts=OutboxItem.attempts + 1, state=OutboxState.SENT.value, sent_at=bindparam("now"),
            last_error=None)
    .returning(OutboxItem.attempts)
)


def mark_sent_by_id(session: Session, item_id: int, *, now: datetime) -> bool:
    """`mark_sent` in one UPDATE, without loading the row first (the sender's hot path).

    Returns False when the item no longer exists."""
    attempts = session.connection().execute(_MARK_SENT, {"item": item_id, "now": now}).scalar_one_or_none()
    if attempts is None:
        return False
    log.debug("outbox sent item=%s attempts=%s", item_id, attempts)
    return True


def mark_failed(
    session: Session,
    item: OutboxItem,
    *,
    error: str,
    permanent: bool,
    now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
) -> None:
    """Record a failed attempt: retry later with backoff, or give up and make it a DPO task."""
    item.attempts += 1
    item.last_error = error[:ERROR_MAX_CHARS]
    if permanent or item.attempts >= max_attempts:
        item.state = OutboxState.FAILED.value
        audit(
            session, actor="system", action="delivery_failed", now=now, ticket_id=item.ticket_id,
            reason="Zustellung endgültig fehlgeschlagen" if permanent
            else f"Zustellung nach {item.attempts} Versuchen aufgegeben",
            detail={"outbox_id": item.id, "kind": item.kind, "channel": item.channel,
                    "attempts": item.attempts, "permanent": permanent, "error": item.last_error},
        )
        log.warning("outbox failed permanently item=%s attempts=%s", item.id, item.attempts)
        return
    item.next_attempt_at = now + backoff_delay(item.attempts)
    log.info("outbox retry item=%s attempts=%s next=%s", item.id, item.attempts, item.next_attempt_at)


def requeue(session: Session, item: OutboxItem, *, actor: str, reason: str, now: datetime) -> None:
    """A person retries a FAILED item (e.g. after fixing the relay); audited, attempts kept."""
    if item.state != OutboxState.FAILED.value:
        raise ValueError(f"outbox item {item.id} is {item.state}, only failed items can be requeued")
    item.state = OutboxState.PENDING.value
    item.next_attempt_at = now
    audit(session, actor=actor, action="delivery_requeued", now=now, ticket_id=item.ticket_id,
          reason=reason, detail={"outbox_id": item.id, "attempts": item.attempts})
