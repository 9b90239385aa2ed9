"""Werbesperrdatei: the minimal entry that keeps honouring a marketing objection.

Art. 21(3) GDPR: after an objection to direct marketing the data must no longer be processed for
that purpose.  Keeping the address on a suppression list to make sure of it is accepted by the
German authorities (DSK Orientierungshilfe Direktwerbung, Feb. 2022): only the address, the
controller, when, and the ticket that caused it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dsr.store.audit import audit
from dsr.store.models import Suppression
from dsr.store.subjects import normalize_email

log = logging.getLogger(__name__)


def normalize_address(address: str) -> str:
    """E-mail addresses normalised like subjects'; "telegram:<id>" and phone numbers trimmed."""
    value = address.strip()
    if value.lower().startswith("telegram:"):
        return "telegram:" + value.split(":", 1)[1].strip()
    if "@" in value:
        return normalize_email(value)
    return "".join(ch for ch in value if ch.isdigit() or ch == "+")


def suppress(
    session: Session, *, controller: str, address: str, now: datetime, ticket_id: int | None = None
) -> Suppression:
    """Put `address` on the list (idempotent: an existing entry is returned unchanged)."""
    normalized = normalize_address(address)
    if not normalized:
        raise ValueError("suppress: empty address")
    existing = session.scalars(
        select(Suppression).where(Suppression.controller == controller, Suppression.address == normalized)
    ).one_or_none()
    if existing is not None:
        return existing
    entry = Suppression(controller=controller, address=normalized, scope="all",
                        source_ticket_id=ticket_id, created_at=now)
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        # A concurrent transaction suppressed the same address first: that entry counts.
        return session.scalars(
            select(Suppression).where(Suppression.controller == controller, Suppression.address == normalized)
        ).one()
    audit(session, actor="system", action="suppressed", now=now, ticket_id=ticket_id,
          reason="Werbewiderspruch (Art. 21 Abs. 3 DSGVO)", detail={"suppression_id": entry.id})
    log.info("suppression added controller=%s ticket=%s", controller, ticket_id)
    return entry


def is_suppressed(session: Session, *, controller: str, address: str) -> bool:
    """True when marketing to `address` is barred for `controller`."""
    normalized = normalize_address(address)
    if not normalized:
        return False
    found = session.scalars(
        select(Suppression.id).where(Suppression.controller == controller, Suppression.address == normalized)
    ).first()
    return found is not None
