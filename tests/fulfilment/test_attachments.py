"""The DPO's own file attached to the message itself: a multipart/mixed mail received by the SMTP
sink (through the outbox sender), or a document sent through the fake Telegram Bot API; checked
like an upload, at most 10 MB, never inline, only to the verified contact.  While queued the
outbox payload is sealed with the package key, and it is dropped once delivered (issue 16
leftover: the file sat in clear in the outbox, for as long as the ticket was kept)."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient
from telegram import Bot

from dsr.channels.sender import OutboxSender
from dsr.channels.telegram.delivery import ChatDelivery
from dsr.config import Settings
from dsr.fulfilment.vault import new_key, parse_key
from dsr.store.models import AuditEvent, Message, OutboxItem
from dsr.store.sealed import LEGACY_MAGIC, NONCE, SealedPayloadError, is_sealed, reseal_legacy, seal, unseal
from tests.servers.fake_telegram import running_fake_telegram
from tests.servers.smtp_sink import SmtpSink
from tests.support.fulfilment import KEY, NOW, fulfilment_console

ERIKA = "erika.mustermann@example.org"
CHAT = "424242"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" * 40


def _attach(client: TestClient, ticket_id: int, name: str, content: bytes, *, note: str = "") -> str:
    form = {"csrf_token": client.csrf, "delivery": "attachment", "note": note}  # type: ignore[attr-defined]
    response = client.post(f"/tickets/{ticket_id}/fulfilment/upload", data=form,
                           files={"file": (name, content, "application/octet-stream")})
    assert response.status_code == 303
    return client.get(response.headers["location"]).text


def _items(sessions: sessionmaker[Session], kind: str) -> list[OutboxItem]:
    with sessions() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind == kind)))


def test_dpo_file_goes_out_as_a_real_mail_attachment(sqlite_engine: Engine, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      smtp_sink: SmtpSink) -> None:
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                                                     reply_to=ERIKA)
    assert "Dateityp nicht erlaubt" in _attach(client, ticket_id, "auskunft.html", b"<script>x</script>")
    assert "passt nicht zu ihrer Endung" in _attach(client, ticket_id, "auskunft.pdf", b"MZ\x90\x00 exe")
    big = _attach(client, ticket_id, "gross.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024))
    assert "für einen Anhang zu groß (höchstens 10 MB); bitte als Download-Link senden" in big
    assert _items(sessions, "file_attachment") == []
    page = _attach(client, ticket_id, "../Auskunft Ärzte<1>.pdf", PDF, note="wie telefonisch besprochen:")
    assert "Datei als Anhang per E-Mail an den bestätigten Kontakt im Postausgang." in page
    # At rest the queued mail is sealed: neither the file nor its base64 nor the text is readable.
    (queued,) = _items(sessions, "file_attachment")
    assert is_sealed(queued.payload)
    assert PDF[:40] not in queued.payload and base64.b64encode(PDF)[:40] not in queued.payload
    assert b"telefonisch" not in queued.payload
    plain = unseal(queued.payload, parse_key(KEY), item_id=queued.id)
    assert base64.b64encode(PDF)[:40] in plain.replace(b"\r\n", b"")

    sender = OutboxSender(sessions=sessions, profiles={}, clock=lambda: NOW,
                          settings=Settings(smtp_relay=smtp_sink.relay, package_key=KEY))
    assert asyncio.run(sender.deliver_due()) == 1
    received = smtp_sink.wait_for_message(timeout=10)
    assert received.rcpt_tos == (ERIKA,)
    mail = received.message
    assert mail.get_content_type() == "multipart/mixed"
    body, attachment = list(mail.iter_parts())
    assert body.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    assert ("wie telefonisch besprochen:\n\nanbei erhalten Sie die Datei „Auskunft Ärzte_1_.pdf“"
            in text.get_content())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content_disposition() == "attachment"  # never inline
    assert attachment.get_filename() == "Auskunft Ärzte_1_.pdf"
    assert attachment.get_content() == PDF
    smtp_sink.assert_no_message(timeout=0.3)
    with sessions() as session:
        stored = session.scalars(select(Message).where(Message.recipient == ERIKA)).one()
        assert [(a["name"], a["content_type"], a["size"]) for a in stored.attachments] == [
            ("Auskunft Ärzte_1_.pdf", "application/pdf", len(PDF))]
        event = session.scalars(select(AuditEvent)
                                .where(AuditEvent.action == "fulfilment.file_attached")).one()
        assert event.detail["size"] == len(PDF) and "Ärzte" not in str(event.detail)  # no file name
    # Delivered: the file leaves the outbox; the stored message keeps its name, size and digest.
    (sent,) = _items(sessions, "file_attachment")
    assert (sent.state, sent.payload) == ("sent", b"")


def test_a_sealed_attachment_is_not_sent_without_its_key_or_when_altered(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_sink: SmtpSink) -> None:
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                                                     reply_to=ERIKA)
    _attach(client, ticket_id, "auskunft.pdf", PDF)
    _attach(client, ticket_id, "auskunft2.pdf", PDF)
    first, second = (item.id for item in _items(sessions, "file_attachment"))
    with sessions.begin() as session:  # one byte of the second one changed at rest
        item = session.get(OutboxItem, second)
        assert item is not None
        item.payload = item.payload[:-1] + bytes([item.payload[-1] ^ 1])
    keyless = OutboxSender(sessions=sessions, profiles={}, settings=Settings(smtp_relay=smtp_sink.relay),
                           clock=lambda: NOW)
    asyncio.run(keyless.deliver_due())
    smtp_sink.assert_no_message(timeout=0.3)
    failed = {i.id: i for i in _items(sessions, "file_attachment")}
    assert failed[first].state == failed[second].state == "failed"
    assert "DSR_PACKAGE_KEY is not set" in (failed[first].last_error or "")
    assert is_sealed(failed[first].payload)  # kept sealed for a retry once the key is there
    with sessions.begin() as session:  # the operator sets the key and requeues both
        for item_id in (first, second):
            row = session.get(OutboxItem, item_id)
            assert row is not None
            row.state, row.next_attempt_at = "pending", NOW
    keyed = OutboxSender(sessions=sessions, profiles={}, clock=lambda: NOW,
                         settings=Settings(smtp_relay=smtp_sink.relay, package_key=KEY))
    asyncio.run(keyed.deliver_due())
    assert smtp_sink.wait_for_message(timeout=10).message.get_content_type() == "multipart/mixed"
    smtp_sink.assert_no_message(timeout=0.3)  # the altered one is never sent
    done = {i.id: i for i in _items(sessions, "file_attachment")}
    assert (done[first].state, done[first].payload) == ("sent", b"")
    assert done[second].state == "failed" and "altered" in (done[second].last_error or "")


def test_unverified_contact_gets_no_attachment(sqlite_engine: Engine, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                                                     reply_to="someone.else@example.com")
    from dsr.store.models import Ticket

    with sessions.begin() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.identity_level = "none"
    assert "bestätigte Person" in _attach(client, ticket_id, "auskunft.pdf", PDF)
    assert _items(sessions, "file_attachment") == []


async def test_dpo_file_goes_to_the_chat_as_a_document(sqlite_engine: Engine, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="telegram",
                                                     reply_to=CHAT)
    csv = "Name;Wert\nÄnderung;1\n".encode()
    page = await asyncio.to_thread(_attach, client, ticket_id, "Liste.csv", csv)
    assert "Datei als Dokument in den Chat an den bestätigten Kontakt im Postausgang." in page
    (queued,) = _items(sessions, "file_attachment")
    assert is_sealed(queued.payload) and base64.b64encode(csv) not in queued.payload
    async with running_fake_telegram() as fake:
        bot = Bot(fake.token, base_url=f"{fake.api_url}/bot")
        fake.flaky["senddocument"] = [0, 1]  # the document fails once: the retry re-seals its progress
        async with bot:
            delivery = ChatDelivery(sessions=sessions, controller="kmb2", bot=lambda: bot, clock=lambda: NOW,
                                    key=parse_key(KEY))
            assert await delivery.deliver_due() == 0
            (waiting,) = _items(sessions, "file_attachment")
            assert waiting.state == "pending" and is_sealed(waiting.payload)
            assert b'"delivered_steps": 1' in unseal(waiting.payload, parse_key(KEY), item_id=waiting.id)
            with sessions.begin() as session:
                row = session.get(OutboxItem, waiting.id)
                assert row is not None
                row.next_attempt_at = NOW
            assert await delivery.deliver_due() == 1
        text, document = fake.sent
    assert (text.method, text.chat_id) == ("sendMessage", int(CHAT))
    assert "anbei erhalten Sie die Datei „Liste.csv“" in text.text
    assert (document.method, document.chat_id) == ("sendDocument", int(CHAT))
    assert document.document == ("Liste.csv", csv)
    (item,) = _items(sessions, "file_attachment")
    assert (item.state, item.payload) == ("sent", b"")


def test_a_sealed_payload_opens_only_as_the_payload_of_its_own_item() -> None:
    key = parse_key(KEY)
    blob = seal(b"Auskunft Erika", key, item_id=7)
    assert unseal(blob, key, item_id=7) == b"Auskunft Erika"
    with pytest.raises(SealedPayloadError, match="moved from another outbox item"):
        unseal(blob, key, item_id=8)
    # Bound to the purpose too: the same key and item id under another associated data do not open it.
    body = blob[len(LEGACY_MAGIC):]
    with pytest.raises(InvalidTag):
        AESGCM(key).decrypt(body[:NONCE], body[NONCE:], blob[:len(LEGACY_MAGIC)] + b"7")


def test_a_sealed_file_moved_to_another_item_is_not_sent(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_sink: SmtpSink) -> None:
    """A file sealed for one message, copied at rest into another queued message's row, does not
    open there: the other message fails (moved or altered) instead of carrying the file."""
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                                                     reply_to=ERIKA)
    _attach(client, ticket_id, "auskunft.pdf", PDF)
    _attach(client, ticket_id, "andere.pdf", b"%PDF-1.7\n" + b"andere Datei " * 50)
    first, second = (item.id for item in _items(sessions, "file_attachment"))
    with sessions.begin() as session:
        source, target = session.get(OutboxItem, first), session.get(OutboxItem, second)
        assert source is not None and target is not None
        target.payload = source.payload
    keyed = OutboxSender(sessions=sessions, profiles={}, clock=lambda: NOW,
                         settings=Settings(smtp_relay=smtp_sink.relay, package_key=KEY))
    asyncio.run(keyed.deliver_due())
    smtp_sink.wait_for_message(timeout=10)  # the first, in its own row
    smtp_sink.assert_no_message(timeout=0.3)
    done = {i.id: i for i in _items(sessions, "file_attachment")}
    assert (done[first].state, done[first].payload) == ("sent", b"")
    assert done[second].state == "failed"
    assert "moved from another outbox item" in (done[second].last_error or "")


def _legacy(payload: bytes, key: bytes) -> bytes:
    """The first format: only the magic authenticated (what items queued before the change hold)."""
    nonce = os.urandom(NONCE)
    return LEGACY_MAGIC + nonce + AESGCM(key).encrypt(nonce, payload, LEGACY_MAGIC)


def test_payloads_sealed_the_old_way_still_open_and_are_resealed_bound_to_their_item(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, ticket_id, sessions = fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                                                     reply_to=ERIKA)
    _attach(client, ticket_id, "auskunft.pdf", PDF)
    _attach(client, ticket_id, "andere.pdf", PDF)
    key = parse_key(KEY)
    other_key = parse_key(new_key())
    first, second = (item.id for item in _items(sessions, "file_attachment"))
    with sessions.begin() as session:
        items = [session.get(OutboxItem, i) for i in (first, second)]
        assert items[0] is not None and items[1] is not None
        items[0].payload = _legacy(b"mail one", key)
        items[1].payload = _legacy(b"mail two", other_key)  # not ours to open: left as it is
    with sessions() as session:
        legacy = session.get(OutboxItem, first)
        assert legacy is not None and is_sealed(legacy.payload)
        assert unseal(legacy.payload, key, item_id=first) == b"mail one"  # still read
        assert unseal(legacy.payload, key, item_id=second) == b"mail one"  # ... and unbound
    with sessions.begin() as session:
        assert reseal_legacy(session, key) == (1, 1)
    with sessions.begin() as session:
        assert reseal_legacy(session, key) == (0, 1)  # done once
        resealed = session.get(OutboxItem, first)
        left = session.get(OutboxItem, second)
        assert resealed is not None and left is not None
        assert not resealed.payload.startswith(LEGACY_MAGIC) and left.payload.startswith(LEGACY_MAGIC)
        assert unseal(resealed.payload, key, item_id=first) == b"mail one"
        with pytest.raises(SealedPayloadError):
            unseal(resealed.payload, key, item_id=second)
