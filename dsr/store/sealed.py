"""Outbox payloads sealed at rest: the DPO's file attached to a message (mail or chat document).

A reply body sits in the outbox in clear until it is sent (the database is the service's own), but
a file the DPO attaches is a copy of the person's data of any size: it is sealed like the packages,
with the package key (DSR_PACKAGE_KEY, AES-256-GCM), in the transaction that queues it, and opened
only by the sender in memory right before delivery.  Once delivered the payload is dropped
(`drop_payload`): the outbound `Message` keeps the file's name, type, size and SHA-256, which is
all the record needs; an item that failed keeps its sealed payload for a retry until the
retention purge deletes it with its ticket.

Format: `MAGIC | nonce (12) | ciphertext + tag`, the magic authenticated as associated data.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import update
from sqlalchemy.orm import Session

from dsr.store.models import OutboxItem

MAGIC = b"DSRBOX1\n"
NONCE = 12
# What a delivered sealed item keeps (its file is gone; the Message row describes it).
DROPPED = b""


class SealedPayloadError(Exception):
    """A sealed payload without a key, with another key, or altered."""


def is_sealed(payload: bytes) -> bool:
    return payload.startswith(MAGIC)


def seal(payload: bytes, key: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, payload, MAGIC)


def unseal(payload: bytes, key: bytes | None) -> bytes:
    """The plain payload (an unsealed one as it is)."""
    if not is_sealed(payload):
        return payload
    if key is None:
        raise SealedPayloadError("sealed outbox payload (a DPO attachment) but DSR_PACKAGE_KEY is not set")
    body = payload[len(MAGIC):]
    try:
        return AESGCM(key).decrypt(body[:NONCE], body[NONCE:], MAGIC)
    except (InvalidTag, ValueError) as exc:
        raise SealedPayloadError(
            "sealed outbox payload altered or sealed with another DSR_PACKAGE_KEY") from exc


def seal_item(session: Session, item_id: int, key: bytes) -> None:
    """Seal a queued item's payload in the caller's transaction (before it commits)."""
    item = session.get(OutboxItem, item_id)
    if item is not None and not is_sealed(item.payload):
        item.payload = seal(item.payload, key)


def drop_payload(session: Session, item_id: int) -> None:
    """After delivery: the sealed file leaves the outbox (one UPDATE, in the caller's transaction)."""
    session.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(payload=DROPPED)
                    .execution_options(synchronize_session=False))
