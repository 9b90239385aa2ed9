"""Outbox payloads sealed at rest: the DPO's file attached to a message (mail or chat document).

A reply body sits in the outbox in clear until it is sent (the database is the service's own), but
a file the DPO attaches is a copy of the person's data of any size: it is sealed like the packages,
with the package key (DSR_PACKAGE_KEY, AES-256-GCM), in the transaction that queues it, and opened
only by the sender in memory right before delivery.  Once delivered the payload is dropped
(`drop_payload`): the outbound `Message` keeps the file's name, type, size and SHA-256, which is
all the record needs; an item that failed keeps its sealed payload for a retry until the
retention purge deletes it with its ticket.

Format: `MAGIC | nonce (12) | ciphertext + tag`.  The associated data binds the blob to its place:
the magic, the purpose (an outbox payload, not a package file under the same key) and the outbox
item's id, so a sealed blob copied into another item's row does not open there (a file meant for
one person would otherwise go out in another person's mail).  The first format (`LEGACY_MAGIC`)
authenticated only its magic; blobs of that format still open (an item queued before the change
may wait for a retry), are never written, and are re-sealed in the bound format whenever an
item's payload is written again (`reseal_legacy` at start-up, a Telegram item's progress).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dsr.store.models import OutboxItem

MAGIC = b"DSRBOX2\n"
LEGACY_MAGIC = b"DSRBOX1\n"  # bound to nothing but the key: opened, never written
PURPOSE = b"outbox-payload"
NONCE = 12
# What a delivered sealed item keeps (its file is gone; the Message row describes it).
DROPPED = b""


class SealedPayloadError(Exception):
    """A sealed payload without a key, with another key, of another item, or altered."""


def is_sealed(payload: bytes) -> bool:
    return payload.startswith((MAGIC, LEGACY_MAGIC))


def _aad(item_id: int) -> bytes:
    return MAGIC + PURPOSE + b":" + str(item_id).encode("ascii")


def seal(payload: bytes, key: bytes, *, item_id: int) -> bytes:
    """`payload` sealed for the outbox item `item_id` (it opens only as that item's payload)."""
    nonce = os.urandom(NONCE)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, payload, _aad(item_id))


def unseal(payload: bytes, key: bytes | None, *, item_id: int) -> bytes:
    """The plain payload of outbox item `item_id` (an unsealed one as it is)."""
    if not is_sealed(payload):
        return payload
    if key is None:
        raise SealedPayloadError("sealed outbox payload (a DPO attachment) but DSR_PACKAGE_KEY is not set")
    legacy = payload.startswith(LEGACY_MAGIC)
    body = payload[len(MAGIC):]  # both magics have the same length
    try:
        return AESGCM(key).decrypt(body[:NONCE], body[NONCE:], LEGACY_MAGIC if legacy else _aad(item_id))
    except (InvalidTag, ValueError) as exc:
        raise SealedPayloadError(
            "sealed outbox payload altered, moved from another outbox item or sealed with another "
            "DSR_PACKAGE_KEY") from exc


def seal_item(session: Session, item_id: int, key: bytes) -> None:
    """Seal a queued item's payload in the caller's transaction (before it commits)."""
    item = session.get(OutboxItem, item_id)
    if item is not None and not is_sealed(item.payload):
        item.payload = seal(item.payload, key, item_id=item.id)


def reseal_legacy(session: Session, key: bytes) -> tuple[int, int]:
    """Re-seal every payload of the first format for its own item, in the caller's transaction.

    Returns (re-sealed, left): a payload that does not open with `key` is left as it is (the
    sender fails it with the reason, as before).
    """
    head = func.substr(OutboxItem.payload, 1, len(LEGACY_MAGIC))
    rows = session.execute(select(OutboxItem.id, OutboxItem.payload).where(head == LEGACY_MAGIC)
                           .order_by(OutboxItem.id)).all()
    done = 0
    for item_id, old in rows:
        try:
            plain = unseal(old, key, item_id=item_id)
        except SealedPayloadError:
            continue
        # Only if the payload is still the one read: a sender of another instance may have
        # delivered the item and dropped its file meanwhile (it must not come back).
        written = session.connection().execute(
            update(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.payload == old)
            .values(payload=seal(plain, key, item_id=item_id)))
        done += written.rowcount
    return done, len(rows) - done


def drop_payload(session: Session, item_id: int) -> None:
    """After delivery: the sealed file leaves the outbox (one UPDATE, in the caller's transaction)."""
    session.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(payload=DROPPED)
                    .execution_options(synchronize_session=False))
