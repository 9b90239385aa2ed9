"""Secure delivery of the package: encrypted at rest, a download link that expires and is used a
limited number of times, and a one-time code sent to the verified contact before every download.

Only hashes of the link token and of the code are stored.  Every step is audited (package built,
code sent, wrong code, download, refusal, deletion).  Files are deleted when the link expires or
its downloads are used up (`expire_packages`, run by the fulfilment worker).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.controllers import ControllerProfile
from dsr.datamap import DataMap, SystemKind
from dsr.fulfilment.connectors import Connector, open_connector
from dsr.fulfilment.package import BuiltPackage, Source, build_package
from dsr.fulfilment.review import sources
from dsr.fulfilment.vault import EncryptingWriter, decrypt_chunks
from dsr.store.audit import audit
from dsr.store.models import DeliveryPackage, FulfilmentCase, Ticket
from dsr.store.relationships import chosen_relationships, effective_profile

log = logging.getLogger(__name__)
BERLIN = ZoneInfo("Europe/Berlin")
CODE_MINUTES = 15
CODE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    directory: Path
    key: bytes
    days: int = 14
    max_uses: int = 3
    base_url: str = "http://127.0.0.1:8080"


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    """What a letter may state about a real delivery (for the access/portability letter)."""

    url_sent: bool  # the link message is in the outbox
    expires_on: date
    max_uses: int
    uses: int
    channel: str


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def package_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/download/{token}"


def create_package(session: Session, ticket: Ticket, case: FulfilmentCase, *, profile: ControllerProfile,
                   datamap: DataMap, env: Mapping[str, str], config: DeliveryConfig, actor: str,
                   now: datetime) -> tuple[DeliveryPackage, str]:
    """Build, encrypt and record the package of an approved case in one go (CLI, tests).

    The console does the same in three steps so that no transaction stays open while the systems
    are read: `sources` (short read), `write_package` (no session), `record_package` (short write).
    Raises ConnectorError when a system fails while the package is read (nothing is stored then).
    """
    person_profile, relationships = package_person(session, ticket, profile)
    written = write_package(sources(session, case, datamap), reference=ticket.reference,
                            language=ticket.language, profile=person_profile, datamap=datamap, env=env,
                            config=config, now=now, relationships=relationships)
    return record_package(session, ticket, written, config=config, actor=actor, now=now)


def package_person(session: Session, ticket: Ticket,
                   profile: ControllerProfile) -> tuple[ControllerProfile, tuple[str, ...]]:
    """What the copy states about this person: the profile with the facts the DPO confirmed, and the
    relationships the DPO chose for the person (empty: the copy uses those of the data found)."""
    chosen = (tuple(r.key for r in chosen_relationships(session, ticket.subject_id))
              if ticket.subject_id is not None else ())
    return effective_profile(session, profile), chosen


@dataclass(frozen=True, slots=True)
class WrittenPackage:
    file_name: str  # inside the package directory, encrypted
    built: BuiltPackage


def write_package(chosen: Sequence[Source], *, reference: str, language: str, profile: ControllerProfile,
                  datamap: DataMap, env: Mapping[str, str], config: DeliveryConfig,
                  now: datetime, relationships: Sequence[str] = ()) -> WrittenPackage:
    """Read the systems and write the encrypted ZIP (no database session needed)."""
    needed = {s.system.key for s in chosen if s.keys and s.system.kind is not SystemKind.MANUAL}
    connectors: dict[str, Connector] = {}
    config.directory.mkdir(parents=True, exist_ok=True)
    name = f"{reference}-{secrets.token_hex(8)}.zip.enc"
    temporary = config.directory / f".{name}.tmp"
    try:
        for key in needed:
            connectors[key] = open_connector(datamap.system(key), env)
        with temporary.open("wb") as handle:
            writer = EncryptingWriter(handle, config.key)
            built = build_package(writer, reference=reference, profile=profile, datamap=datamap,
                                  sources=chosen, connectors=connectors, language=language, now=now,
                                  relationships=relationships)
            writer.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, config.directory / name)
    finally:
        for connector in connectors.values():
            connector.close()
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return WrittenPackage(name, built)


def stream_written(config: DeliveryConfig, written: WrittenPackage) -> Iterator[bytes]:
    """The plain ZIP of a written package, decrypted chunk by chunk."""
    with (config.directory / written.file_name).open("rb") as handle:
        yield from decrypt_chunks(handle, config.key)


def discard_package(config: DeliveryConfig, written: WrittenPackage) -> None:
    """Remove a written package whose recording failed (nothing refers to it)."""
    with contextlib.suppress(FileNotFoundError):
        (config.directory / written.file_name).unlink()


def record_package(session: Session, ticket: Ticket, written: WrittenPackage, *, config: DeliveryConfig,
                   actor: str, now: datetime) -> tuple[DeliveryPackage, str]:
    """The package row and its link token (only the token's hash is stored); audited."""
    built = written.built
    token = secrets.token_urlsafe(32)
    package = DeliveryPackage(
        ticket_id=ticket.id, reference=ticket.reference, token_hash=token_hash(token),
        file_name=written.file_name, size=built.size, sha256=built.sha256, contact=ticket.reply_to or "",
        channel=ticket.channel, max_uses=config.max_uses, uses=0, created_at=now,
        expires_at=now + timedelta(days=config.days))
    session.add(package)
    session.flush()
    audit(session, actor=actor, action="fulfilment.package_built", now=now, ticket_id=ticket.id,
          detail={"package_id": package.id, "records": built.records, "files": len(built.files),
                  "size": built.size, "sha256": built.sha256, "expires_at": package.expires_at.isoformat(),
                  "max_uses": package.max_uses})
    log.info("package built ticket=%s records=%d size=%d", ticket.reference, built.records, built.size)
    return package, token


def find_package(session: Session, token: str) -> DeliveryPackage | None:
    if not token or len(token) > 100:
        return None
    return session.scalar(select(DeliveryPackage).where(DeliveryPackage.token_hash == token_hash(token)))


def refusal(package: DeliveryPackage | None, now: datetime) -> str | None:
    """Why this link cannot be used (German, for the person), or None."""
    if package is None:
        return "Dieser Link ist ungültig."
    if package.deleted_at is not None or now >= package.expires_at:
        return ("Dieser Link ist abgelaufen. Bitte wenden Sie sich an uns, wenn Sie die Daten erneut "
                "benötigen.")
    if package.uses >= package.max_uses:
        return "Dieser Link wurde bereits so oft verwendet, wie erlaubt. Bitte wenden Sie sich an uns."
    return None


def issue_code(session: Session, package: DeliveryPackage, *, now: datetime) -> str:
    """A fresh six-digit code for the next download (the caller sends it to `package.contact`)."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    package.code_hash = token_hash(f"{package.id}:{code}")
    package.code_expires_at = now + timedelta(minutes=CODE_MINUTES)
    package.code_attempts = 0
    audit(session, actor="subject", action="fulfilment.download_code_sent", now=now,
          ticket_id=package.ticket_id, detail={"package_id": package.id, "channel": package.channel})
    return code


def redeem_code(session: Session, package: DeliveryPackage, code: str, *, now: datetime) -> str | None:
    """Check the code and count one download; returns a German problem or None (download may start)."""
    problem = refusal(package, now)
    if problem is not None:
        audit(session, actor="subject", action="fulfilment.download_refused", now=now,
              ticket_id=package.ticket_id, reason=problem, detail={"package_id": package.id})
        return problem
    if package.code_hash is None or package.code_expires_at is None or now >= package.code_expires_at:
        return "Bitte fordern Sie zuerst einen neuen Code an."
    if package.code_attempts >= CODE_ATTEMPTS:
        return "Zu viele falsche Versuche. Bitte fordern Sie einen neuen Code an."
    if not hmac.compare_digest(package.code_hash, token_hash(f"{package.id}:{code.strip()}")):
        package.code_attempts += 1
        audit(session, actor="subject", action="fulfilment.download_code_wrong", now=now,
              ticket_id=package.ticket_id,
              detail={"package_id": package.id, "attempt": package.code_attempts})
        return "Der Code stimmt nicht."
    package.code_hash = None
    package.code_expires_at = None
    package.uses += 1
    audit(session, actor="subject", action="fulfilment.downloaded", now=now, ticket_id=package.ticket_id,
          detail={"package_id": package.id, "use": package.uses, "max_uses": package.max_uses})
    return None


def stream_package(config: DeliveryConfig, package: DeliveryPackage) -> Iterator[bytes]:
    """The plain ZIP, decrypted chunk by chunk."""
    with (config.directory / package.file_name).open("rb") as handle:
        yield from decrypt_chunks(handle, config.key)


def delete_file(config: DeliveryConfig, package: DeliveryPackage, *, now: datetime, reason: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (config.directory / package.file_name).unlink()
    package.deleted_at = now
    audit(session_of(package), actor="system:fulfilment", action="fulfilment.package_deleted", now=now,
          ticket_id=package.ticket_id, reason=reason, detail={"package_id": package.id})


def session_of(package: DeliveryPackage) -> Session:
    from sqlalchemy.orm import object_session

    session = object_session(package)
    if session is None:
        raise RuntimeError("package is not attached to a session")
    return session


def expire_packages(session: Session, config: DeliveryConfig, *, now: datetime) -> int:
    """Delete the files of expired or used-up packages (caller commits); returns how many."""
    # Locked to the commit: another instance skips them (one deletion, one audit entry each).
    candidates = session.scalars(select(DeliveryPackage).where(DeliveryPackage.deleted_at.is_(None))
                                 .with_for_update(skip_locked=True))
    deleted = 0
    for package in candidates:
        if now >= package.expires_at:
            delete_file(config, package, now=now, reason="Link abgelaufen")
            deleted += 1
        elif package.uses >= package.max_uses:
            delete_file(config, package, now=now, reason="Downloads aufgebraucht")
            deleted += 1
    return deleted


def delivery_facts(session: Session, ticket_id: int) -> DeliveryFacts | None:
    """The ticket's latest live delivery, for the letter; None when no package was delivered."""
    package = session.scalar(select(DeliveryPackage).where(
        DeliveryPackage.ticket_id == ticket_id, DeliveryPackage.deleted_at.is_(None))
        .order_by(DeliveryPackage.id.desc()).limit(1))
    if package is None:
        return None
    return DeliveryFacts(url_sent=True, expires_on=package.expires_at.astimezone(BERLIN).date(),
                         max_uses=package.max_uses, uses=package.uses, channel=package.channel)
