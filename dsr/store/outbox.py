"""Transactional outbox: a reply is stored in the same transaction as the decision behind it.

A sender (`dsr.channels.sender`) claims due items, delivers them and marks them sent or failed.
The claim is a lease (claimed-by, claimed-until) taken with `FOR UPDATE SKIP LOCKED` on
PostgreSQL and committed before the SMTP transaction starts: two senders (several `dsr serve` on
one database) never hold the same item, and the item of a sender that died becomes due again when
its lease expires.  Temporary failures are retried with exponential backoff for a configurable
period (`RETRY_PERIOD`, five days by default: a relay outage over a weekend loses nothing); the
DPO is warned once when an item has waited longer than `WARN_AFTER`.  A permanent failure, or the
end of the retry period, sets the item FAILED and writes a "delivery_failed" audit event so that it
becomes a DPO task: an unanswered data subject is a missed deadline (Art. 12(3) GDPR).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from dsr.replies.labels import counted
from dsr.store.audit import audit
from dsr.store.models import OutboxItem, OutboxState

log = logging.getLogger(__name__)

RETRY_PERIOD = timedelta(days=5)
WARN_AFTER = timedelta(hours=4)
LEASE = timedelta(minutes=10)
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
    not_before: datetime | None = None,
) -> int:
    """`enqueue` for callers that need only the id: one INSERT on the transaction's connection.

    The pipeline queues a reply for nearly every message; skipping the ORM unit of work for a
    row nothing in the transaction reads back is a large part of its per-message cost.  The
    row is written at once, like `enqueue`'s flush, so the loop guard's count sees it.  An item
    with `not_before` is due only then (a chat reply waiting for the person's answer to a
    question asked first; the answer makes it due at once).
    """
    if not recipient.strip():
        raise ValueError("outbox: recipient must not be empty")
    item_id: int = session.connection().execute(_INSERT_ITEM, {
        "controller": controller, "channel": channel, "kind": kind, "ticket_id": ticket_id,
        "message_id": message_id, "recipient": recipient.strip(), "payload": payload,
        "state": OutboxState.PENDING.value, "attempts": 0,
        "next_attempt_at": max(now, not_before) if not_before else now, "last_error": None,
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
        .where(OutboxItem.state == OutboxState.PENDING.value, OutboxItem.next_attempt_at <= now,
               or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until <= now))
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


# Bound names differ from column names: the claim uses this condition inside an UPDATE.
_DUE = and_(
    OutboxItem.state == OutboxState.PENDING.value, OutboxItem.next_attempt_at <= bindparam("due_now"),
    OutboxItem.channel == bindparam("due_channel"),
    or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until <= bindparam("due_now")),
)
_DUE_DELIVERIES = (
    select(OutboxItem.id, OutboxItem.controller, OutboxItem.recipient, OutboxItem.payload)
    .where(_DUE)
    .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
    .limit(bindparam("due_limit"))
)


def due_deliveries(session: Session, *, now: datetime, channel: str, limit: int = 50) -> list[Delivery]:
    """`due_items` of one channel as plain values (unclaimed or with an expired lease), without
    claiming them; a sender uses `claim_deliveries`."""
    rows = session.connection().execute(_DUE_DELIVERIES, {"due_now": now, "due_channel": channel,
                                                          "due_limit": limit})
    return [Delivery(row.id, row.controller, row.recipient, row.payload) for row in rows]


def claim_deliveries(session: Session, *, now: datetime, channel: str, owner: str,
                     lease: timedelta = LEASE, limit: int = 50) -> list[Delivery]:
    """Take up to `limit` due items of `channel` for `owner` until `now + lease`, oldest first.

    One UPDATE over the due rows, locked with SKIP LOCKED on PostgreSQL: a concurrent sender's
    claim skips them instead of waiting, and after the caller's commit they are not due for
    anyone else until the lease ends.  The sent or failed mark clears the lease; a lease that
    ends without one (the sender died, perhaps inside the SMTP transaction) makes the item due
    again with its payload and Message-ID unchanged, which is the one way a mail can go out twice.
    """
    due = (select(OutboxItem.id).where(_DUE).order_by(OutboxItem.next_attempt_at, OutboxItem.id)
           .limit(bindparam("due_limit")))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claim = (
        update(OutboxItem)
        .where(OutboxItem.id.in_(due.scalar_subquery()))
        .values(claimed_by=bindparam("owner"), claimed_until=bindparam("until"))
        .returning(OutboxItem.id, OutboxItem.controller, OutboxItem.recipient, OutboxItem.payload)
    )
    rows = session.connection().execute(claim, {"due_now": now, "due_channel": channel, "due_limit": limit,
                                                "owner": owner, "until": now + lease}).all()
    deliveries = sorted((Delivery(row.id, row.controller, row.recipient, row.payload) for row in rows),
                        key=lambda d: d.id)
    if deliveries:
        log.debug("outbox claimed %d items for %s", len(deliveries), owner)
    return deliveries


def release_dead_claims(session: Session, *, owner_prefix: str, alive: Callable[[str], bool]) -> int:
    """Make items due again whose claim belongs to a sender on this host that no longer runs.

    `owner_prefix` is this host's part of the owner ("host:"); `alive(owner)` says whether that
    sender's process still exists.  A sender that died here (crash, SIGKILL, restart) leaves its
    claims behind: the restarted service takes them over at once instead of after the lease.
    Senders on other hosts are left to their lease.  Returns how many items were released."""
    owners = session.scalars(
        select(OutboxItem.claimed_by).distinct()
        .where(OutboxItem.state == OutboxState.PENDING.value, OutboxItem.claimed_by.startswith(owner_prefix)))
    dead = [o for o in owners if o is not None and not alive(o)]
    if not dead:
        return 0
    result = session.connection().execute(
        update(OutboxItem)
        .where(OutboxItem.claimed_by.in_(dead), OutboxItem.state == OutboxState.PENDING.value)
        .values(claimed_by=None, claimed_until=None))
    log.info("outbox: %d items of %d stopped senders on this host are due again", result.rowcount, len(dead))
    return int(result.rowcount)


def release_claims(session: Session, item_ids: list[int], *, owner: str) -> None:
    """Hand back items `owner` claimed but did not attempt (they are due again at once)."""
    if item_ids:
        session.connection().execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(item_ids), OutboxItem.claimed_by == owner,
                   OutboxItem.state == OutboxState.PENDING.value)
            .values(claimed_by=None, claimed_until=None))


def mark_sent(session: Session, item: OutboxItem, *, now: datetime) -> None:
    """The item was delivered (accepted by the relay / the chat API)."""
    item.attempts += 1
    item.state = OutboxState.SENT.value
    item.sent_at = now
    item.last_error = None
    item.claimed_by = item.claimed_until = None
    log.debug("outbox sent item=%s attempts=%s", item.id, item.attempts)


_MARK_SENT = (
    update(OutboxItem)
    .where(OutboxItem.id == bindparam("item"))
    .values(attempts=OutboxItem.attempts + 1, state=OutboxState.SENT.value, sent_at=bindparam("now"),
            last_error=None, claimed_by=None, claimed_until=None)
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
    retry_for: timedelta = RETRY_PERIOD,
    warn_after: timedelta = WARN_AFTER,
) -> bool:
    """Record a failed attempt: retry later with backoff, or give up and make it a DPO task.

    Temporary failures are retried until delivery has failed for `retry_for` (counted from the
    first failed attempt, or from the last requeue);
    the next attempt is never scheduled past that end, so the last one falls on it.  Returns
    True once per item, at the first failure after it has waited `warn_after`: the caller
    warns the DPO while retries go on (`delivery_delayed` is audited here).
    """
    item.attempts += 1
    item.last_error = error[:ERROR_MAX_CHARS]
    item.claimed_by = item.claimed_until = None
    if item.failing_since is None:
        item.failing_since = now
    waited = now - item.failing_since
    if permanent or waited >= retry_for:
        item.state = OutboxState.FAILED.value
        audit(
            session, actor="system", action="delivery_failed", now=now, ticket_id=item.ticket_id,
            reason="Zustellung endgültig fehlgeschlagen" if permanent
            else f"Zustellung nach {item.attempts} Versuchen in {_duration_de(waited)} aufgegeben",
            detail={"outbox_id": item.id, "kind": item.kind, "channel": item.channel,
                    "attempts": item.attempts, "permanent": permanent, "error": item.last_error},
        )
        log.warning("outbox failed permanently item=%s attempts=%s", item.id, item.attempts)
        return False
    give_up_at = item.failing_since + retry_for
    item.next_attempt_at = min(now + backoff_delay(item.attempts), give_up_at)
    log.info("outbox retry item=%s attempts=%s next=%s", item.id, item.attempts, item.next_attempt_at)
    if item.delay_warned_at is not None or waited < warn_after:
        return False
    item.delay_warned_at = now
    audit(session, actor="system", action="delivery_delayed", now=now, ticket_id=item.ticket_id,
          reason=f"Zustellung seit {_duration_de(waited)} nicht möglich; weitere Versuche bis "
                 f"{give_up_at:%d.%m.%Y %H:%M} UTC",
          detail={"outbox_id": item.id, "kind": item.kind, "channel": item.channel,
                  "attempts": item.attempts, "error": item.last_error})
    return True


def _duration_de(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} Tagen"
    if hours >= 1:
        return counted(hours, "Stunde", "Stunden")
    return counted(int(span.total_seconds() // 60), "Minute", "Minuten")


def requeue(session: Session, item: OutboxItem, *, actor: str, reason: str, now: datetime) -> None:
    """A person retries a FAILED item (e.g. after fixing the relay); audited, attempts kept."""
    if item.state != OutboxState.FAILED.value:
        raise ValueError(f"outbox item {item.id} is {item.state}, only failed items can be requeued")
    item.state = OutboxState.PENDING.value
    item.next_attempt_at = now
    item.failing_since = item.delay_warned_at = None
    audit(session, actor=actor, action="delivery_requeued", now=now, ticket_id=item.ticket_id,
          reason=reason, detail={"outbox_id": item.id, "attempts": item.attempts})
