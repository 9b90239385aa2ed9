"""One address normaliser everywhere: an internationalised domain through CSV import, SMTP and
the suppression API (`Max.Muster@Müller.de` and `max.muster@xn--mller-kva.de` are one person)."""

from __future__ import annotations

import asyncio
import io
import smtplib
from pathlib import Path

import httpx
from sqlalchemy import select

from dsr.config import Settings
from dsr.console.users import create_token
from dsr.controllers.profile import load_profile
from dsr.service.app import prepare_database
from dsr.store.models import DataSubject, Suppression, Ticket
from dsr.store.subjects_csv import import_subjects
from tests.servers.smtp_sink import SmtpSink
from tests.support.clock import FakeClock
from tests.support.pipeline import KMB2
from tests.support.service import START, serving

TYPED = "Max.Muster@Müller.de"
WIRE = "max.muster@xn--mller-kva.de"


def _mail(subject: str, body: str, message_id: str) -> bytes:
    return (
        f"From: Max Muster <{TYPED}>\r\nTo: {KMB2}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ).encode()


async def test_an_idn_address_is_one_person_everywhere(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/dsr.sqlite3", controller="kmb2", smtp_listen="127.0.0.1:0",
        web_listen="127.0.0.1:0", smtp_relay=smtp_sink.relay, maildir=tmp_path / "maildir",
        web_secret_key="idn-secret-key-0123456789abcdef0", web_cookie_secure=False,
    )
    profiles = {"kmb2": load_profile("kmb2")}
    clock = FakeClock(START)
    sessions = await asyncio.to_thread(prepare_database, settings)
    csv = f"email,name,customer_number,postal_code,phone\n{TYPED},Max Muster,K-4711,30159,+49 511 123456\n"
    with sessions.begin() as session:
        report = import_subjects(session, io.StringIO(csv), controller="kmb2", now=START)
        assert report.inserted == 1, report
        made = create_token(session, name="crm", role="suppression", now=START, controllers=["kmb2"])
        assert isinstance(made, tuple)
        token = made[1]
    with sessions() as session:
        subject = session.scalars(select(DataSubject)).one()
        assert subject.email == WIRE
    async with serving(settings, profiles, sessions, clock=clock, wait_for=("smtp", "console")) as bound:
        host, port = bound["smtp"]

        def deliver(raw: bytes) -> None:
            with smtplib.SMTP(host, port, timeout=30) as client:
                client.sendmail(TYPED, [KMB2], raw, mail_options=["SMTPUTF8"])

        await asyncio.to_thread(deliver, _mail("Auskunft", "Bitte Auskunft nach Art. 15 DSGVO über meine "
                                                           "gespeicherten Daten.", "<idn-1@example.org>"))
        receipt = await smtp_sink.next_message()
        await asyncio.to_thread(deliver, _mail("Werbung", "Ich widerspreche der Verwendung meiner Daten "
                                                          "für Werbung.", "<idn-2@example.org>"))
        confirmation = await smtp_sink.next_message()
        chost, cport = bound["console"]
        async with httpx.AsyncClient(base_url=f"http://{chost}:{cport}", timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as api:
            answers = [(await api.post("/api/suppression/check",
                                       json={"address": address, "controller": "kmb2"})).json()
                       for address in (TYPED, WIRE, "max.muster@müller.de")]
    # The mail from the imported address matched its record: level 1, the reply to the same address.
    assert receipt.rcpt_tos == confirmation.rcpt_tos == (WIRE,)
    with sessions() as session:
        tickets = list(session.scalars(select(Ticket).order_by(Ticket.id)))
        assert tickets[0].subject_id == subject.id and tickets[0].identity_level == "contact_on_file"
        suppressed = {s.address for s in session.scalars(select(Suppression))}
        assert WIRE in suppressed and not any("müller" in a for a in suppressed)
    assert [a["may_send_marketing"] for a in answers] == [False, False, False]
