"""Demo data for `make run` (DSR_DEMO=true) and the requests `dsr demo send` mails in.

All people here are fictitious and use the reserved example domains (RFC 2606), so a demo can
never mail a real person.  Loading is idempotent: run it at every start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy.orm import Session, sessionmaker

from dsr.store.models import DataSubject
from dsr.store.subjects import find_subject

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoSubject:
    controller: str
    name: str
    email: str
    customer_number: str
    postal_code: str
    phone: str = ""


DEMO_SUBJECTS: tuple[DemoSubject, ...] = (
    DemoSubject("kmb2", "Erika Mustermann", "erika.mustermann@example.org", "K-10001", "38100",
                "+49 531 0000001"),
    DemoSubject("kmb2", "Max Beispiel", "max.beispiel@example.net", "K-10002", "38106"),
    DemoSubject("kmb2", "Jürgen Mößner", "juergen.moessner@example.com", "A-55102", "38114"),
    DemoSubject("komsa", "Thomas Riedel", "thomas.riedel@example.org", "2004518", "08056",
                "+49 375 0000002"),
    DemoSubject("komsa", "Sabine Probe", "sabine.probe@example.net", "2011734", "09111"),
)

# Someone the controllers do not know: gets the identity request (facts already held).
UNKNOWN_SENDER = ("Jana Unbekannt", "jana.unbekannt@example.com")


def load_demo_data(sessions: sessionmaker[Session], controllers: list[str], *, now: datetime) -> int:
    """Insert the demo data subjects of `controllers` that are missing; return how many were added."""
    added = 0
    with sessions() as session:
        for demo in DEMO_SUBJECTS:
            if demo.controller not in controllers:
                continue
            if find_subject(session, demo.controller, email=demo.email) is not None:
                continue
            session.add(DataSubject(
                controller=demo.controller, name=demo.name, email=demo.email, phone=demo.phone or None,
                customer_number=demo.customer_number, postal_code=demo.postal_code, extra={"demo": True},
                created_at=now, updated_at=now))
            added += 1
        session.commit()
    log.info("demo data: %d fictitious data subjects added", added)
    return added


DEMO_KINDS = ("access", "erasure", "marketing", "unknown", "processor")

_TEXTS: dict[str, tuple[str, str]] = {
    "access": (
        "Auskunftsersuchen nach Art. 15 DSGVO",
        "Sehr geehrte Damen und Herren,\n\n"
        "hiermit bitte ich um Auskunft darüber, ob und welche personenbezogenen Daten Sie über mich "
        "verarbeiten. Bitte teilen Sie mir auch mit, zu welchen Zwecken das geschieht, an wen die "
        "Daten weitergegeben wurden und wie lange sie gespeichert werden.\n\n"
        "Mit freundlichen Grüßen\n{name}",
    ),
    "erasure": (
        "Löschung meiner Daten",
        "Guten Tag,\n\n"
        "bitte löschen Sie sämtliche personenbezogenen Daten, die Sie über mich gespeichert haben "
        "(Art. 17 DSGVO), und bestätigen Sie mir die Löschung.\n\n"
        "Vielen Dank und freundliche Grüße\n{name}",
    ),
    "marketing": (
        "Keine Werbung mehr",
        "Hallo,\n\n"
        "ich widerspreche hiermit der Verwendung meiner Daten für Werbezwecke. Bitte schicken Sie "
        "mir keine Werbung und keinen Newsletter mehr.\n\n"
        "Gruß\n{name}",
    ),
    # Processor mode (kmb2): an end customer of a craft business kmb2 bills for.  Erika's E-Check
    # (demo CRM, order of 15.09.2025, trade "Elektro") was done for Heinemann Elektrotechnik, a
    # client in kmb2's example register; the request is forwarded there, not answered by kmb2.
    "processor": (
        "Meine Daten aus dem E-Check",
        "Guten Tag,\n\n"
        "im September hat Elektro Heinemann bei mir einen E-Check gemacht, die Rechnung kam von Ihnen. "
        "Bitte teilen Sie mir mit, welche Daten dazu über mich gespeichert sind (Art. 15 DSGVO).\n\n"
        "Mit freundlichen Grüßen\n{name}",
    ),
    "unknown": (
        "Auskunft über meine Daten",
        "Sehr geehrte Damen und Herren,\n\n"
        "ich möchte wissen, welche Daten Sie über mich gespeichert haben. Bitte senden Sie mir eine "
        "Kopie nach Art. 15 DSGVO.\n\n"
        "Mit freundlichen Grüßen\n{name}",
    ),
}


def demo_request(kind: str, *, controller: str, to: str, now: datetime) -> EmailMessage:
    """A realistic German request of `kind` from a demo person (or the unknown sender)."""
    if kind not in _TEXTS:
        raise ValueError(f"unknown demo request {kind!r} (choose from {', '.join(DEMO_KINDS)})")
    known = [s for s in DEMO_SUBJECTS if s.controller == controller] or list(DEMO_SUBJECTS)
    if kind == "unknown":
        name, address = UNKNOWN_SENDER
    else:
        person = known[{"access": 0, "erasure": 1, "marketing": 0, "processor": 0}[kind] % len(known)]
        name, address = person.name, person.email
    subject, body = _TEXTS[kind]
    msg = EmailMessage()
    msg["From"] = f"{name} <{address}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=address.rpartition("@")[2])
    msg.set_content(body.format(name=name))
    return msg
