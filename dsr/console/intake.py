"""Manual intake: a request that came by letter, phone, in person, fax or another mailbox.

The deadline runs from the day the request reached the controller (Art. 12(3) GDPR), not from
the day someone typed it in, so the DPO enters the original receipt date and time and the
ticket's deadline is computed from it.  The text is classified like any other message (the DPO
may correct the rights), a scanned letter is stored as a document (checked to be a PDF or an
image by its first bytes, never executed or shown inline), and the ticket then follows the normal
flow: escalation reasons hand it to the DPO, a verified person goes to work, an e-mail address
gets the receipt confirmation, a postal address gets letters.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dsr.console.labels import BERLIN
from dsr.console.operations import RefusedError
from dsr.console.queries import ControllerScope, scoped_quarantine
from dsr.controllers import ControllerProfile
from dsr.intents import classify
from dsr.intents.rights import Right
from dsr.store.models import (
    DataSubject,
    Document,
    IdentityLevel,
    Message,
    Ticket,
    TicketState,
)
from dsr.store.search import fold, folded
from dsr.store.tickets.services import audit, escalate, open_ticket, transition

INTAKE_CHANNELS: dict[str, str] = {
    "letter": "Brief",
    "phone": "Telefon",
    "in_person": "persönlich",
    "fax": "Fax",
    "other_mailbox": "anderes Postfach (weitergeleitet)",
}
# How the DPO checked who the person is, when recording by hand.
INTAKE_IDENTITY: dict[str, str] = {
    "none": "noch nicht geprüft",
    "manual": "manuell geprüft (z. B. Ausweis vorgelegt, Rückruf)",
    "known_facts": "bekannte Angaben bestätigt (Kundennummer, Anschrift)",
}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# Accepted scans, recognised by their first bytes (the browser's type and the name prove nothing).
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
MAX_PAST_DAYS = 366


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    data: bytes


@dataclass
class IntakeForm:
    controller: str = ""
    channel: str = "letter"
    received_date: str = ""
    received_time: str = ""
    subject_line: str = ""
    text: str = ""
    person_query: str = ""
    person_id: str = ""  # "" (none chosen), "new", or a data subject id
    name: str = ""
    email: str = ""
    customer_number: str = ""
    postal_address: str = ""
    reply_by: str = "letter"  # "letter" or "email"
    rights: list[str] = field(default_factory=list)
    identity: str = "none"
    identity_method: str = ""
    quarantine_id: str = ""


def received_at(form: IntakeForm, now: datetime) -> datetime:
    """The original receipt as an aware datetime (entered in Berlin local time)."""
    try:
        day = date.fromisoformat(form.received_date)
    except ValueError:
        raise RefusedError(
            "Bitte das Eingangsdatum angeben (wann kam die Anfrage beim Verantwortlichen an?)."
        ) from None
    try:
        clock = time.fromisoformat(form.received_time) if form.received_time else time(9, 0)
    except ValueError:
        raise RefusedError("Bitte die Uhrzeit als SS:MM angeben.") from None
    moment = datetime.combine(day, clock, tzinfo=BERLIN)
    if moment > now:
        raise RefusedError("Das Eingangsdatum liegt in der Zukunft.")
    if (now.astimezone(BERLIN).date() - day).days > MAX_PAST_DAYS:
        raise RefusedError("Das Eingangsdatum liegt mehr als ein Jahr zurück; bitte prüfen.")
    return moment


def check_upload(upload: Upload | None) -> tuple[str, str] | None:
    """(content type, extension) of an acceptable scan; None when nothing was uploaded."""
    if upload is None or not upload.data:
        return None
    if len(upload.data) > MAX_DOCUMENT_BYTES:
        raise RefusedError("Die Datei ist größer als 10 MB.")
    for magic, content_type, extension in SIGNATURES:
        if upload.data.startswith(magic):
            return content_type, extension
    raise RefusedError(
        "Bitte einen Scan als PDF, PNG oder JPEG hochladen (andere Dateien werden nicht gespeichert)."
    )


def find_people(session: Session, controller: str, query: str) -> list[DataSubject]:
    """People of `controller` whose name, e-mail, customer number or postal code match (folded)."""
    query = query.strip()
    if len(query) < 3:
        return []
    needle = "%" + fold(query).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    columns = (DataSubject.name, DataSubject.email, DataSubject.customer_number, DataSubject.postal_code)
    matches = or_(*(folded(c).like(needle, escape="\\") for c in columns))
    return list(
        session.scalars(
            select(DataSubject)
            .where(DataSubject.controller == controller, matches)
            .order_by(DataSubject.name)
            .limit(20)
        )
    )


def suggested_rights(form: IntakeForm) -> list[str]:
    if not form.text.strip():
        return []
    return [r.value for r in classify(form.subject_line, form.text, "email").labels]


def _person(
    session: Session, form: IntakeForm, profile: ControllerProfile, now: datetime
) -> DataSubject | None:
    if form.person_id.isdigit():
        person = session.get(DataSubject, int(form.person_id))
        if person is None or person.controller != profile.key:
            raise RefusedError("Die gewählte Person gibt es bei diesem Verantwortlichen nicht.")
        return person
    if form.person_id != "new":
        return None
    if not form.name.strip():
        raise RefusedError("Für eine neue Person bitte mindestens den Namen angeben.")
    email = form.email.strip().lower() or None
    if email and session.scalar(
        select(func.count()).select_from(DataSubject).where(
            DataSubject.controller == profile.key, func.lower(DataSubject.email) == email
        )
    ):
        raise RefusedError(
            "Eine Person mit dieser E-Mail-Adresse ist schon erfasst; bitte über die Suche wählen."
        )
    person = DataSubject(
        controller=profile.key,
        name=form.name.strip(),
        email=email,
        customer_number=form.customer_number.strip() or None,
        postal_address=form.postal_address.strip() or None,
        created_at=now,
        updated_at=now,
    )
    session.add(person)
    session.flush()
    return person


def create(
    session: Session,
    form: IntakeForm,
    profile: ControllerProfile,
    *,
    upload: Upload | None,
    actor: str,
    now: datetime,
    scope: ControllerScope,
) -> Ticket:
    """Record the request and move it into the normal flow; raises RefusedError with German text."""
    channels = dict(INTAKE_CHANNELS, email="E-Mail") if form.quarantine_id else INTAKE_CHANNELS
    if form.channel not in channels:
        raise RefusedError("Bitte angeben, wie die Anfrage eingegangen ist.")
    receipt = received_at(form, now)
    if not form.text.strip() and upload is None:
        raise RefusedError("Bitte den Inhalt der Anfrage erfassen oder den Scan des Briefs hochladen.")
    scan = check_upload(upload)
    if form.identity not in INTAKE_IDENTITY:
        raise RefusedError("Bitte den Stand der Identitätsprüfung wählen.")
    if form.identity != "none" and len(form.identity_method.strip()) < 5:
        raise RefusedError("Bitte vermerken, wie die Identität geprüft wurde.")
    person = _person(session, form, profile, now)
    email = ""
    if form.reply_by == "email":
        email = form.email.strip().lower() or (person.email if person and person.email else "")
    postal = form.postal_address.strip()
    if not postal and person is not None:
        postal = person.postal_address or ""
    if form.reply_by == "email" and "@" not in email:
        raise RefusedError("Für die Antwort per E-Mail bitte eine E-Mail-Adresse angeben.")
    if form.reply_by == "letter" and not postal:
        raise RefusedError("Für die Antwort per Brief bitte die Postanschrift angeben.")
    result = classify(form.subject_line, form.text, "email") if form.text.strip() else None
    chosen = [r for r in form.rights if r in {x.value for x in Right}]
    rights = [Right(r) for r in chosen] or (list(result.labels) if result else [])
    if not rights:
        raise RefusedError("Bitte mindestens ein Recht auswählen (aus dem Text war keines zu erkennen).")
    reasons = list(result.reasons) if result and result.escalate else []
    classification: dict[str, Any] = result.to_dict() if result else {}
    if chosen and result and sorted(chosen) != sorted(r.value for r in result.labels):
        classification["corrected_by"] = actor
    level = IdentityLevel(form.identity)
    ticket = open_ticket(
        session,
        controller=profile.key,
        land=profile.state,
        channel=form.channel,
        received_at=receipt,
        rights=rights,
        now=now,
        subject_id=person.id if person else None,
        reply_to=email or None,
        postal_address=postal or None,
        classification=classification,
        escalation_reasons=reasons,
        identity_level=level,
        identity_method=form.identity_method.strip() or None,
        internal_target_working_days=profile.internal_target_working_days,
        actor=actor,
    )
    attachments: list[dict[str, Any]] = []
    if upload is not None and scan is not None:
        digest = hashlib.sha256(upload.data).hexdigest()
        name = f"scan-{ticket.reference}.{scan[1]}"
        session.add(
            Document(
                ticket_id=ticket.id,
                name=name,
                content_type=scan[0],
                size=len(upload.data),
                sha256=digest,
                data=upload.data,
                created_by=actor,
                created_at=now,
            )
        )
        attachments.append({"name": name, "type": scan[0], "size": len(upload.data), "sha256": digest})
    session.add(
        Message(
            controller=profile.key,
            channel=form.channel,
            direction="in",
            dedupe_key=f"intake:{uuid.uuid4().hex}",
            sender=email or (person.name if person else INTAKE_CHANNELS.get(form.channel, "Brief")),
            recipient="",
            subject_line=form.subject_line.strip(),
            body_text=form.text.strip() or "(Inhalt nur im gespeicherten Scan)",
            attachments=attachments,
            received_at=receipt,
            ticket_id=ticket.id,
            disposition="",
        )
    )
    audit(
        session,
        actor=actor,
        action="manual_intake",
        now=now,
        ticket_id=ticket.id,
        reason=f"Eingang per {channels[form.channel]}",
        detail={"channel": form.channel, "received_at": receipt.isoformat(), "scan": bool(attachments)},
    )
    if reasons:
        escalate(session, ticket, reasons, actor=actor, now=now,
                 reason="Von Hand erfasst; die Einordnung verlangt den Datenschutz")
    elif level is not IdentityLevel.NONE:
        transition(session, ticket, TicketState.IN_PROGRESS, actor=actor, now=now,
                   reason="Von Hand erfasst, Identität geprüft")
    if form.quarantine_id.isdigit():
        item = scoped_quarantine(session, scope, int(form.quarantine_id))
        if item is not None and item.state == "open":
            item.state, item.resolved_by, item.resolved_at = "processed", actor, now
            audit(session, actor=actor, action="console.quarantine_intake", now=now, ticket_id=ticket.id,
                  detail={"quarantine_id": item.id})
    return ticket
