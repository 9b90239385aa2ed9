"""The package as an encrypted attachment (AES-256 ZIP) with the password by a second channel:
the SMTP sink receives a multipart/mixed mail whose attachment opens with the password sent in the
other message (a separate mail, or the Telegram chat bound to the person) and not without it."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import pyzipper
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient
from telegram import Bot

from dsr.channels.sender import OutboxSender
from dsr.channels.telegram.delivery import ChatDelivery
from dsr.config import Settings
from dsr.store.models import AuditEvent, DataSubject, OutboxItem, Ticket
from tests.servers.fake_telegram import running_fake_telegram
from tests.servers.smtp_sink import SinkMessage, SmtpSink
from tests.support.fulfilment import NOW, fulfilment_console

ERIKA = "erika.mustermann@example.org"
BOUND_CHAT = 7012345
PASSWORD = re.compile(r"^([A-Za-z0-9]{5}(?:-[A-Za-z0-9]{5}){3})$", re.MULTILINE)


def _post(client: TestClient, url: str, **data: str) -> str:
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303, response.text[:300]
    return client.get(response.headers["location"]).text


def _ready(client: TestClient, ticket_id: int) -> str:
    """Search the systems and confirm the paper archive: the package can be built."""
    base = f"/tickets/{ticket_id}/fulfilment"
    assert "Suche abgeschlossen." in _post(client, f"{base}/discover")
    _post(client, f"{base}/manual", system="paper", found="no")
    return base


def _deliver_mail(sessions: sessionmaker[Session], sink: SmtpSink, expected: int) -> list[SinkMessage]:
    """Deliver the queued mail to the sink (a round may stop early under load: a few rounds)."""
    sender = OutboxSender(sessions=sessions, profiles={}, settings=Settings(smtp_relay=sink.relay),
                          clock=lambda: NOW)
    count = 0
    for _ in range(5):
        count += asyncio.run(sender.deliver_due())
        if count >= expected:
            break
    assert count == expected
    return sorted((sink.wait_for_message(timeout=10) for _ in range(count)),
                  key=lambda m: m.message.get_content_type() != "multipart/mixed")


def _zip_of(mail: SinkMessage) -> bytes:
    message = mail.message
    assert message.get_content_type() == "multipart/mixed"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/zip"
    assert attachment.get_content_disposition() == "attachment"
    content = attachment.get_content()
    assert isinstance(content, bytes)
    return content


def _opens(data: bytes, password: str | None) -> dict[str, bytes] | str:
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        if password is not None:
            archive.setpassword(password.encode())
        try:
            return {name: archive.read(name) for name in archive.namelist()}
        except RuntimeError as exc:
            return str(exc)


def _text(mail: SinkMessage) -> str:
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_attachment_and_password_by_separate_mail(sqlite_engine: Engine, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   smtp_sink: SmtpSink) -> None:
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                                                     reply_to=ERIKA)
    base = _ready(client, ticket_id)
    page = _post(client, f"{base}/deliver", how="attachment")
    assert "das Passwort geht in einer gesonderten E-Mail an den bestätigten Kontakt" in page
    assert list((tmp_path / "packages").glob("*.enc")) == []  # nothing left at rest, no link
    first, second = _deliver_mail(sessions, smtp_sink, 2)
    assert first.rcpt_tos == second.rcpt_tos == (ERIKA,)
    data = _zip_of(first)
    assert "Das Passwort senden wir in einer gesonderten E-Mail an diese Adresse." in _text(first)
    assert "7-Zip" in _text(first) and not list(second.message.iter_attachments())
    assert b"Mustermann" not in data and b"K-10001" not in data  # encrypted, not just stored
    match = PASSWORD.search(_text(second))
    assert match is not None and match.group(1) not in _text(first)
    password = match.group(1)

    assert "password" in str(_opens(data, None)).lower()
    assert "Bad password" in str(_opens(data, "falsch-" + password))
    files = _opens(data, password)
    assert isinstance(files, dict)
    assert {"Kopie_Ihrer_Daten.html", "manifest.json", "data/crm/customers.json"} <= set(files)
    customers = json.loads(files["data/crm/customers.json"])
    assert [r["customer_number"] for r in customers["records"]] == ["K-10001"]
    # Every entry: method 99 (WinZip AES) as the stdlib reads it, encrypted, strength 3 (AES-256).
    assert {i.compress_type for i in zipfile.ZipFile(io.BytesIO(data)).infolist()} == {99}
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        assert {(i.flag_bits & 1, i.wz_aes_strength) for i in archive.infolist()} == {(1, 3)}
    with sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "fulfilment.package_attached")
                                ).one()
        assert event.detail["password_via"] == "mail" and password not in json.dumps(event.detail)
        kinds = [i.kind for i in session.scalars(select(OutboxItem).order_by(OutboxItem.id))]
    assert kinds == ["package_attachment", "package_password"]


async def test_password_goes_to_the_bound_chat(sqlite_engine: Engine, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, smtp_sink: SmtpSink) -> None:
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                                                     reply_to=ERIKA)
    with sessions.begin() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.subject is not None
        subject: DataSubject = ticket.subject
        subject.telegram_user_id = BOUND_CHAT
    base = await asyncio.to_thread(_ready, client, ticket_id)
    page = await asyncio.to_thread(_post, client, f"{base}/deliver", how="attachment")
    assert "das Passwort geht per Telegram an den bestätigten Kontakt" in page
    (mail,) = await asyncio.to_thread(_deliver_mail, sessions, smtp_sink, 1)
    assert "Das Passwort senden wir getrennt per Telegram in den Chat" in _text(mail)
    data = _zip_of(mail)
    async with running_fake_telegram() as fake:
        bot = Bot(fake.token, base_url=f"{fake.api_url}/bot")
        async with bot:
            delivery = ChatDelivery(sessions=sessions, controller="kmb2", bot=lambda: bot, clock=lambda: NOW)
            assert await delivery.deliver_due() == 1
        (sent,) = fake.sent
    assert sent.chat_id == BOUND_CHAT
    match = PASSWORD.search(sent.text)
    assert match is not None
    files = _opens(data, match.group(1))
    assert isinstance(files, dict) and "manifest.json" in files
    assert isinstance(_opens(data, None), str)
    smtp_sink.assert_no_message(timeout=0.3)  # no password by mail


def test_password_by_phone_is_shown_once_and_sent_nowhere(sqlite_engine: Engine, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                                                     reply_to=ERIKA)
    base = _ready(client, ticket_id)
    response = client.post(f"{base}/deliver", data={"how": "attachment", "password_via": "phone",
                                                    "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    match = re.search(r'<code id="password">([A-Za-z0-9-]{23})</code>', response.text)
    assert match is not None
    assert match.group(1) not in client.get(base).text  # shown once
    with sessions() as session:  # not kept as a pending notice either
        assert match.group(1) not in json.dumps([list(r) for r in session.execute(
            text("select flashes from console_sessions")).all()], default=str)
    with sessions() as session:
        (item,) = session.scalars(select(OutboxItem)).all()
    assert item.kind == "package_attachment"
    assert "Das Passwort senden wir nicht per E-Mail: wir teilen es Ihnen telefonisch mit." in \
        _payload_text(item.payload)
    assert match.group(1).encode() not in item.payload


def _payload_text(payload: bytes) -> str:
    from email import message_from_bytes, policy

    body = message_from_bytes(payload, policy=policy.default).get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_too_large_for_an_attachment_and_chat_tickets_get_the_link(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                                                     reply_to=ERIKA)
    base = _ready(client, ticket_id)
    monkeypatch.setattr("dsr.console.views.fulfilment.MAX_ATTACHMENT_BYTES", 1000)
    page = _post(client, f"{base}/deliver", how="attachment")
    assert re.search(r"Das Paket ist für einen E-Mail-Anhang zu groß \(\d+,\d MB, höchstens 0 MB\)", page)
    assert list((tmp_path / "packages").glob("*.enc")) == []
    with sessions() as session:
        assert session.scalars(select(OutboxItem)).all() == []
