"""Processor mode end to end by e-mail (issue 15 no. 9): request -> neutral letter to the person ->
forwarding mail to the client -> ticket state, through our SMTP endpoint and the real SMTP sink."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import httpx
from sqlalchemy import select

from dsr.config import Settings
from dsr.console.users import add_user
from dsr.controllers.profile import PROFILE_DIR, load_profile
from dsr.service.app import prepare_database
from dsr.store.models import OutboxItem, Ticket, User
from tests.servers.smtp_sink import SmtpSink
from tests.support.clock import FakeClock
from tests.support.console import PASSWORD, csrf_of
from tests.support.pipeline import KMB2, STRANGER, make_mail
from tests.support.service import START, ServiceFactory, serving

CLIENT_ADDRESS = "datenschutz@hv-muster.example"
REGISTER = f"""

[[processor_clients]]
key = "hv-muster"
name = "Hausverwaltung Muster GmbH, Braunschweig"
forward_to = "{CLIENT_ADDRESS}"
may_be_named = true
data = "Verbrauchs- und Abrechnungsdaten der Mieter (Heizkostenabrechnung)"
match = ["Hausverwaltung Muster", "HV Muster"]
"""
REQUEST = ("Guten Tag,\n\nich wohne in einer Wohnung der Hausverwaltung Muster. Bitte teilen Sie mir nach "
           "Art. 15 DSGVO mit, welche Daten Sie aus der Heizkostenabrechnung über mich speichern.\n\n"
           "Jana Beispiel")


def _profile_with_register(tmp_path: Path) -> Path:
    path = tmp_path / "kmb2.toml"
    path.write_text((PROFILE_DIR / "kmb2.toml").read_text(encoding="utf-8") + REGISTER, encoding="utf-8")
    return path


async def test_request_about_a_clients_data_is_forwarded_not_answered(
    start_service: ServiceFactory, tmp_path: Path
) -> None:
    service = await start_service(controller=f"{_profile_with_register(tmp_path)},komsa")
    await service.send(make_mail(sender=STRANGER, subject="Auskunft Heizkosten", body=REQUEST,
                                 message_id="<proc-1@example.com>"), mail_from=STRANGER)
    received = [await service.sink.next_message(), await service.sink.next_message()]
    by_recipient = {m.rcpt_tos: m for m in received}
    assert set(by_recipient) == {(STRANGER,), (CLIENT_ADDRESS,)}

    # The person: a neutral note naming the client, no identity check, nothing about the data.
    notice = by_recipient[(STRANGER,)]
    text = " ".join(notice.text.split())
    assert KMB2 in str(notice.message["From"]) and "weitergeleitet" in notice.subject
    assert "im Auftrag von Hausverwaltung Muster GmbH, Braunschweig" in text
    assert "am 2. März 2026 mit dem Eingangsdatum weitergeleitet" in text
    assert "Code" not in text and "Kundennummer" not in text

    # The client: the request itself, its receipt date (the client's clock) and an offer of support.
    forward = by_recipient[(CLIENT_ADDRESS,)]
    body = " ".join(forward.text.split())
    assert "Eingang bei uns am 2. März 2026" in forward.subject
    assert "welche Daten Sie aus der Heizkostenabrechnung über mich speichern" in body
    assert "also bis zum 2. April 2026" in body and "Gern unterstützen wir Sie" in body
    assert "Art. 28 Abs. 3 lit. e DSGVO" in body

    # The ticket: forwarded, our own clock stopped, the follow-up kept.
    [ticket] = service.tickets()
    assert (ticket.state, ticket.outcome, ticket.identity_level) == ("answered", "forwarded", "none")
    record = ticket.classification["processor"]
    assert record == {"client": "hv-muster", "forwarded_on": "2026-03-02", "follow_up": "2026-03-16",
                      "forward_item": record["forward_item"]}
    assert isinstance(record["forward_item"], int)  # the forward's outbox item (a take-back asks)
    with service.sessions() as s:
        kinds = sorted(s.scalars(select(OutboxItem.kind)))
    assert kinds == ["processor_forward", "processor_notice"]  # no code, no receipt in our name

    # The profile was given as a path; the console finds it under the ticket's controller, as in
    # `dsr serve` (the service starter keyed it by the path: "kein Profil geladen").
    assert set(service.profiles) == {"kmb2", "komsa"}
    with service.sessions.begin() as session:
        assert isinstance(add_user(session, username="dana", role="dpo", password=PASSWORD, now=START,
                                   controllers=["*"]), User)
    assert service.console is not None
    chost, cport = service.console
    async with httpx.AsyncClient(base_url=f"http://{chost}:{cport}", timeout=30) as web:
        login = await web.get("/login")
        response = await web.post("/login", data={"username": "dana", "password": PASSWORD,
                                                  "csrf_token": csrf_of(login.text)})
        assert response.status_code == 303, response.text[:300]
        page = await web.get(f"/tickets/{ticket.id}")
        response = await web.post(f"/tickets/{ticket.id}/notes", data={
            "text": "Hausverwaltung telefonisch informiert", "csrf_token": csrf_of(page.text)})
        assert response.status_code == 303, response.text[:300]
        shown = (await web.get(response.headers["location"])).text
    assert "kein Profil geladen" not in shown and "Notiz gespeichert." in shown


async def test_without_the_register_kmb2_answers_as_before(start_service: ServiceFactory) -> None:
    """A request that names no registered client is kmb2's own (receipt, identity as usual)."""
    service = await start_service()
    await service.send(make_mail(sender=STRANGER, subject="Auskunft Heizkosten", body=REQUEST),
                       mail_from=STRANGER)
    reply = await service.sink.next_message()
    assert reply.rcpt_tos == (STRANGER,) and "weitergeleitet" not in reply.subject


async def test_a_forwarding_taken_back_in_the_console_tells_person_and_client_the_truth(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    """Brief i15b no. 4: request by SMTP -> forward and neutral note delivered -> the DPO takes the
    request back in the console (real login, real form) -> the person learns that we answer
    ourselves and by when, the client that it need do nothing; nothing else goes out."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/dsr.sqlite3", controller=str(_profile_with_register(tmp_path)),
        smtp_listen="127.0.0.1:0", web_listen="127.0.0.1:0", smtp_relay=smtp_sink.relay,
        maildir=tmp_path / "maildir", web_secret_key="take-back-secret-key-0123456789abcdef",
        web_cookie_secure=False,
    )
    profiles = {p.key: p for p in map(load_profile, settings.controller_names)}  # keyed as `dsr serve` does
    sessions = await asyncio.to_thread(prepare_database, settings)
    with sessions.begin() as session:
        assert isinstance(add_user(session, username="dana", role="dpo", password=PASSWORD, now=START,
                                   controllers=["*"]), User)
    async with serving(settings, profiles, sessions, clock=FakeClock(START),
                       wait_for=("smtp", "console")) as bound:
        host, port = bound["smtp"]

        request = make_mail(sender=STRANGER, subject="Auskunft Heizkosten", body=REQUEST,
                            message_id="<proc-back@example.com>")

        def deliver() -> None:
            with smtplib.SMTP(host, port, timeout=30) as client:
                client.sendmail(STRANGER, [KMB2], request)

        await asyncio.to_thread(deliver)
        first = {m.rcpt_tos: m for m in [await smtp_sink.next_message(), await smtp_sink.next_message()]}
        assert set(first) == {(STRANGER,), (CLIENT_ADDRESS,)}
        assert "weitergeleitet" in first[(STRANGER,)].subject
        with sessions() as s:
            ticket_id = s.scalars(select(Ticket.id)).one()

        chost, cport = bound["console"]
        async with httpx.AsyncClient(base_url=f"http://{chost}:{cport}", timeout=30) as web:
            login = await web.get("/login")
            response = await web.post("/login", data={"username": "dana", "password": PASSWORD,
                                                      "csrf_token": csrf_of(login.text)})
            assert response.status_code == 303, response.text[:300]
            page = await web.get(f"/tickets/{ticket_id}")
            assert "Hausverwaltung Muster" in page.text
            response = await web.post(f"/tickets/{ticket_id}/processor/revert", data={
                "reason": "Heizkostenabrechnung im eigenen Namen erstellt, nicht im Auftrag",
                "csrf_token": csrf_of(page.text)})
            assert response.status_code == 303, response.text[:300]
            shown = (await web.get(response.headers["location"])).text
        assert "Wieder unsere eigene Anfrage" in shown

        second = {m.rcpt_tos: m for m in [await smtp_sink.next_message(), await smtp_sink.next_message()]}
        assert set(second) == {(STRANGER,), (CLIENT_ADDRESS,)}
        await asyncio.to_thread(smtp_sink.assert_no_message, 1.5)  # no receipt, no code, nothing else

    # The person: our note corrected; we answer ourselves by our date from the original receipt, and
    # the client was told (its forward had gone out).  No data, no identity step in this letter.
    person = second[(STRANGER,)]
    text = " ".join(person.text.split())
    assert KMB2 in str(person.message["From"]) and "Wir beantworten sie doch selbst" in person.subject
    assert "am 2. März 2026 haben wir Ihnen mitgeteilt" in text
    assert "Wir beantworten sie deshalb selbst; die Weiterleitung haben wir zurückgenommen" in text
    assert "Hausverwaltung Muster GmbH, Braunschweig haben wir darüber informiert" in text
    assert "spätestens am 2. April 2026" in text
    assert "Code" not in text and "Kundennummer" not in text and "Heizkostenabrechnung" not in text

    # The client: the forwarding withdrawn, nothing to do; not the person's request or address again.
    client = second[(CLIENT_ADDRESS,)]
    body = " ".join(client.text.split())
    assert "zurückgenommen" in client.subject and "Bitte unternehmen Sie dazu nichts weiter" in body
    assert STRANGER not in body and "welche Daten Sie aus der Heizkostenabrechnung" not in body

    # The ticket: our own again, clock from the original receipt; exactly four letters in all.
    with sessions() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        assert (ticket.state, ticket.outcome, str(ticket.due_date)) == ("in_progress", None, "2026-04-02")
        assert ticket.classification["processor"]["reverted_on"] == "2026-03-02"
        sent = sorted((i.kind, i.recipient, i.state) for i in s.scalars(select(OutboxItem)))
    assert sent == [("processor_forward", CLIENT_ADDRESS, "sent"), ("processor_notice", STRANGER, "sent"),
                    ("processor_taken_back", STRANGER, "sent"),
                    ("processor_withdrawn", CLIENT_ADDRESS, "sent")]
