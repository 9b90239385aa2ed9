"""End to end through real servers: our SMTP endpoint / Dovecot -> pipeline -> outbox -> SMTP sink."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dsr.service.demo import demo_request
from dsr.store.models import Message, Suppression
from tests.servers.dovecot import ImapAccount
from tests.servers.smtp_sink import SinkMessage
from tests.support.pipeline import ACCESS_BODY, CODE_LINE, ERIKA, KMB2, STRANGER, make_mail
from tests.support.service import START, ServiceFactory

# The whole receipt confirmation a known data subject gets for an access request received on
# Monday, 2 March 2026 by kmb2 (Niedersachsen): due date 2 April 2026.
EXPECTED_RECEIPT = """\
From: kmb2 Datenschutz <klaus.marwede@kmb2.de>
To: erika.mustermann@example.org
Subject: [DSR-REF] Eingangsbestätigung Ihrer Datenschutzanfrage
In-Reply-To: <REQUEST-ID>
References: <REQUEST-ID>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Content-Language: de

Guten Tag Erika Mustermann,

vielen Dank für Ihre Nachricht. Wir haben sie am 2. März 2026 erhalten und
unter dem Aktenzeichen DSR-REF registriert. Wir verstehen Ihr
Anliegen so:

- Auskunft (Art. 15 DSGVO): Sie möchten wissen, welche Daten wir über Sie
  verarbeiten, und eine Kopie davon erhalten.

Wir beantworten Ihre Anfrage unverzüglich, spätestens am 2. April 2026. Das
ist die gesetzliche Frist von einem Monat ab Eingang (Art. 12 Abs. 3 DSGVO).
Nur bei besonders komplexen oder zahlreichen Anfragen darf sie um bis zu
zwei weitere Monate verlängert werden; das würden wir Ihnen vor Ablauf der
Frist mit Begründung mitteilen.

Als Nächstes prüfen wir Ihre Anfrage und stellen die nötigen Informationen
zusammen. Sie müssen dafür nichts weiter tun; falls wir Rückfragen haben,
melden wir uns.

Bei Fragen antworten Sie einfach auf diese Nachricht und lassen Sie dabei
bitte das Aktenzeichen DSR-REF im Betreff stehen, damit wir Ihre
Antwort sofort zuordnen können.

Mit freundlichen Grüßen
kmb2 Abrechnungszentrum GmbH
Datenschutz – Geschäftsführung

kmb2 Abrechnungszentrum GmbH, Braunschweig
E-Mail: klaus.marwede@kmb2.de
"""


def _expected(reference: str, request_id: str) -> str:
    return EXPECTED_RECEIPT.replace("DSR-REF", reference).replace("<REQUEST-ID>", request_id)


def _normalised(message: SinkMessage) -> str:
    """Headers that matter and the whole text part; Date and Message-ID vary and are left out."""
    lines = [f"{name}: {message.message[name]}" for name in
             ("From", "To", "Subject", "In-Reply-To", "References", "Auto-Submitted",
              "X-Auto-Response-Suppress", "Content-Language")]
    return "\n".join(lines) + "\n\n" + message.text.replace("\r\n", "\n")


async def test_access_request_by_smtp_gets_the_whole_german_receipt(start_service: ServiceFactory) -> None:
    service = await start_service()
    raw = make_mail(message_id="<access-1@example.org>")
    await service.send(raw, mail_from=ERIKA)
    reply = await service.sink.next_message()
    assert reply.rcpt_tos == (ERIKA,) and reply.mail_from == KMB2
    [ticket] = service.tickets()
    assert (ticket.state, str(ticket.due_date), ticket.identity_level) == (
        "in_progress", "2026-04-02", "contact_on_file")
    assert _normalised(reply) == _expected(ticket.reference, "<access-1@example.org>")


async def test_access_request_through_imap(start_service: ServiceFactory, dovecot: ImapAccount) -> None:
    client = dovecot.client()
    try:
        # INTERNALDATE is the receipt time that starts the statutory month for IMAP mail.
        client.append("INBOX", make_mail(message_id="<imap-1@example.org>"), msg_time=START)
    finally:
        client.logout()
    service = await start_service(imap_url=dovecot.url())
    reply = await service.sink.next_message(timeout=20)
    [ticket] = service.tickets()
    assert f"[{ticket.reference}]" in reply.subject
    assert _normalised(reply) == _expected(ticket.reference, "<imap-1@example.org>")
    client = dovecot.client()
    try:
        client.select_folder("INBOX")
        assert client.search(["UNSEEN"]) == []  # acknowledged only after the commit
    finally:
        client.logout()


async def test_marketing_objection_by_smtp(start_service: ServiceFactory) -> None:
    service = await start_service()
    raw = make_mail(sender=STRANGER, subject="Keine Werbung mehr",
                    body="Hallo,\n\nich widerspreche der Nutzung meiner Daten für Werbung. Bitte schicken "
                         "Sie mir keine Werbung und keinen Newsletter mehr.\n\nGruß\nJana")
    await service.send(raw, mail_from=STRANGER)
    reply = await service.sink.next_message()
    assert reply.rcpt_tos == (STRANGER,)
    assert "Werbung" in reply.text
    with service.sessions() as s:
        assert s.scalars(select(Suppression.address)).all() == [STRANGER]


async def test_verification_by_code_over_smtp(start_service: ServiceFactory) -> None:
    service = await start_service(trusted_authserv_id="mx.kmb2.de")
    await service.send(make_mail(message_id="<code-1@example.org>"), mail_from=ERIKA)
    code_mail = await service.sink.next_message()
    assert code_mail.rcpt_tos == (ERIKA,)
    match = CODE_LINE.search(code_mail.text)
    assert match, code_mail.text
    answer = make_mail(subject=f"AW: {code_mail.subject}", body=f"Mein Code: {match.group(1)}",
                       headers={"In-Reply-To": str(code_mail.message["Message-ID"])})
    await service.send(answer, mail_from=ERIKA)
    verified = await service.sink.next_message()
    [ticket] = service.tickets()
    assert (ticket.state, ticket.identity_level) == ("in_progress", "code_confirmed")
    assert f"[{ticket.reference}]" in verified.subject and verified.rcpt_tos == (ERIKA,)
    assert "2. April 2026" in verified.text


async def test_redelivery_is_answered_once(start_service: ServiceFactory) -> None:
    service = await start_service()
    raw = make_mail(message_id="<twice@example.org>")
    await service.send(raw, mail_from=ERIKA)
    await service.send(raw, mail_from=ERIKA)
    await service.sink.next_message()
    await asyncio.to_thread(service.sink.assert_no_message, 1.0)
    assert len(service.tickets()) == 1
    with service.sessions() as s:
        assert len(s.scalars(select(Message).where(Message.direction == "in")).all()) == 1


async def test_auto_reply_gets_no_answer(start_service: ServiceFactory) -> None:
    service = await start_service()
    raw = make_mail(subject="Automatische Antwort: Auskunft", body=ACCESS_BODY,
                    headers={"Auto-Submitted": "auto-replied"})
    await service.send(raw, mail_from=ERIKA)
    await asyncio.to_thread(service.sink.assert_no_message, 1.0)
    assert service.tickets() == []


@pytest.mark.parametrize("kind", ["access", "erasure", "marketing", "unknown"])
async def test_every_demo_request_gets_an_answer(start_service: ServiceFactory, kind: str) -> None:
    service = await start_service()
    message = demo_request(kind, controller="kmb2", to=KMB2, now=datetime.now(UTC))
    sender = message["From"].addresses[0].addr_spec
    await service.send(message.as_bytes(), mail_from=sender)
    reply = await service.sink.next_message()
    assert reply.rcpt_tos == (sender,)
    assert re.search(r"\[DSR-2026-\d{6}\]", reply.subject)
