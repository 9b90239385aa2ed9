"""Werbesperrdatei: the minimal entry that keeps honouring a marketing objection.

Art. 21(3) GDPR: after an objection to direct marketing the data must no longer be processed for
that purpose.  Keeping the address on a suppression list to make sure of it is accepted by the
German authorities (DSK Orientierungshilfe Direktwerbung, Feb. 2022): only the address, the
controller, when, and the ticket that caused it.

An objection is the person's, not the address's: for a known subject every identifier on file is
suppressed (all e-mail addresses, the phone number, the postal address, the linked chat), so that a
CRM or a letter shop can match the entry (`suppress_subject`).  Marketing tools learn of entries by
asking (`is_suppressed`, the console's check API) or by pulling the list (`export_entries`, plain
or as SHA-256 hashes of the normalised identifier, which is enough to match a list of one's own).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dsr.mail.address import normalize_address
from dsr.store.audit import audit
from dsr.store.models import DataSubject, Suppression

log = logging.getLogger(__name__)


TELEGRAM_PREFIX = "telegram:"
POSTAL_PREFIX = "post:"
# Columns of a subject's `extra` (the CRM import) that together form the postal address.
POSTAL_FIELDS = ("street", "strasse", "address", "anschrift")
CITY_FIELDS = ("city", "ort")


def suppression_key(address: str) -> str:
    """The list's key: an e-mail address in the one normalised form (`dsr.mail.address`),
    "telegram:<id>", "post:<address>" and phone numbers trimmed."""
    value = address.strip()
    if value.lower().startswith(TELEGRAM_PREFIX):
        return TELEGRAM_PREFIX + value.split(":", 1)[1].strip()
    if value.lower().startswith(POSTAL_PREFIX):
        return POSTAL_PREFIX + " ".join(value.split(":", 1)[1].casefold().split())
    if "@" in value:
        return normalize_address(value)
    return "".join(ch for ch in value if ch.isdigit() or ch == "+")


def suppress(
    session: Session, *, controller: str, address: str, now: datetime, ticket_id: int | None = None
) -> Suppression:
    """Put `address` on the list (idempotent: an existing entry is returned unchanged)."""
    normalized = suppression_key(address)
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
    normalized = suppression_key(address)
    if not normalized:
        return False
    found = session.scalars(
        select(Suppression.id).where(Suppression.controller == controller, Suppression.address == normalized)
    ).first()
    return found is not None


def identifier_kind(normalized: str) -> str:
    """"email", "phone", "telegram" or "postal" for a normalised list entry."""
    if normalized.startswith(TELEGRAM_PREFIX):
        return "telegram"
    if normalized.startswith(POSTAL_PREFIX):
        return "postal"
    return "email" if "@" in normalized else "phone"


def postal_address(subject: DataSubject) -> str | None:
    """The subject's postal address as a "post:" identifier, when the record holds a street."""
    extra = subject.extra or {}
    street = next((str(extra[k]).strip() for k in POSTAL_FIELDS if str(extra.get(k) or "").strip()), "")
    if not street:
        return None
    city = next((str(extra[k]).strip() for k in CITY_FIELDS if str(extra.get(k) or "").strip()), "")
    place = " ".join(part for part in (subject.postal_code or "", city) if part)
    return POSTAL_PREFIX + ", ".join(part for part in (street, place) if part)


def subject_identifiers(subject: DataSubject) -> list[str]:
    """Every identifier of `subject` a marketing tool could use, normalised, without repeats."""
    raw: list[str | None] = [subject.email, *(alt.email for alt in subject.emails), subject.phone]
    if subject.telegram_user_id is not None:
        raw.append(f"{TELEGRAM_PREFIX}{subject.telegram_user_id}")
    raw.append(postal_address(subject))
    found: list[str] = []
    for value in raw:
        normalized = suppression_key(value) if value else ""
        if normalized and normalized not in found:
            found.append(normalized)
    return found


def suppress_subject(
    session: Session,
    *,
    controller: str,
    subject: DataSubject | None,
    addresses: Iterable[str] = (),
    now: datetime,
    ticket_id: int | None = None,
) -> list[str]:
    """Art. 21(3): suppress `addresses` (the sender's) and every identifier of the known `subject`.

    Returns the kinds of identifier now on the list ("email", "phone", …), one per entry, in order.
    """
    wanted: list[str] = []
    for value in (*addresses, *(subject_identifiers(subject) if subject is not None else ())):
        normalized = suppression_key(value)
        if normalized and normalized not in wanted:
            wanted.append(normalized)
    for normalized in wanted:
        suppress(session, controller=controller, address=normalized, now=now, ticket_id=ticket_id)
    return [identifier_kind(n) for n in wanted]


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """One line of the list handed to marketing tools."""

    identifier: str  # normalised identifier, or its SHA-256 hex digest when hashed
    kind: str  # "email", "phone", "telegram", "postal"
    since: datetime

    def as_dict(self) -> dict[str, str]:
        return {"identifier": self.identifier, "kind": self.kind, "since": self.since.isoformat()}


def hash_identifier(normalized: str) -> str:
    """SHA-256 (hex) of a normalised identifier: what a tool compares with its own hashed list."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def export_entries(
    session: Session, *, controller: str, hashed: bool, since: datetime | None = None
) -> list[ExportEntry]:
    """The controller's suppressed identifiers, oldest first (optionally only those added after `since`)."""
    query = select(Suppression).where(Suppression.controller == controller)
    if since is not None:
        query = query.where(Suppression.created_at > since)
    rows = session.scalars(query.order_by(Suppression.created_at, Suppression.id)).all()
    return [
        ExportEntry(
            identifier=hash_identifier(row.address) if hashed else row.address,
            kind=identifier_kind(row.address),
            since=row.created_at,
        )
        for row in rows
    ]
