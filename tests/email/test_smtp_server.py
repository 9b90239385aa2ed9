"""Our SMTP endpoint on 127.0.0.1:0, driven by the stdlib smtplib client (in a worker thread)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from argon2 import PasswordHasher

from dsr.channels.email.smtp import (
    SMTP_ACCEPTED,
    SMTP_ONE_CONTROLLER,
    SMTP_TRY_LATER,
    SMTP_UNKNOWN_RECIPIENT,
    PasswordFileAuthenticator,
    start_smtp_server,
)
from dsr.controllers.profile import ControllerProfile
from tests.email.eml.generate import huge_message
from tests.email.sinks import RecordingSink
from tests.servers.fixtures import SmtpEndpointFactory, TlsFiles

KMB2 = "klaus.marwede@kmb2.de"
KOMSA = "info@komsa.com"
KOMSA_2 = "business-controlling@komsa.de"
SENDER = "erika.mustermann@example.org"
NOW = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
T = TypeVar("T")


def request(
    message_id: str = "<m1@example.org>", to: str = KMB2, body: str = "Ich bitte um Auskunft."
) -> bytes:
    return (
        f"From: Erika Mustermann <{SENDER}>\r\nTo: {to}\r\nSubject: Auskunft\r\n"
        f"Message-ID: {message_id}\r\nDate: Mon, 02 Mar 2026 09:15:00 +0100\r\n\r\n{body}\r\n"
    ).encode()


def code_of(reply: str) -> tuple[int, bytes]:
    code, text = reply.split(" ", 1)
    return int(code), text.encode()


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


def transaction(
    host: str, port: int, raw: bytes, rcpts: tuple[str, ...] = (KMB2,), sender: str = SENDER
) -> tuple[tuple[int, bytes], list[tuple[int, bytes]], tuple[int, bytes] | None]:
    """MAIL/RCPT/DATA without smtplib's SIZE parameter; returns every reply."""
    with smtplib.SMTP(host, port, timeout=30) as client:
        client.ehlo("client.test")
        mail = client.mail(sender)
        rcpt = [client.rcpt(r) for r in rcpts]
        data = client.data(raw) if any(code == 250 for code, _ in rcpt) else None
        return mail, rcpt, data


async def test_accepts_request_only_after_the_sink_committed(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink, clock=lambda: NOW)
    _mail, rcpt, data = await in_thread(lambda: transaction(host, port, request(), (KMB2,)))
    assert rcpt == [(250, b"2.1.5 Recipient OK")]
    assert data == code_of(SMTP_ACCEPTED)
    (msg,) = sink.handled
    assert (msg.controller, msg.recipient, msg.sender, msg.received_at) == ("kmb2", KMB2, SENDER, NOW)
    assert (msg.message_id, msg.subject, msg.body) == (
        "<m1@example.org>",
        "Auskunft",
        "Ich bitte um Auskunft.",
    )
    assert msg.headers["return-path"] == f"<{SENDER}>"
    assert msg.raw is not None and msg.raw.startswith(b"From: Erika")


async def test_recipient_selects_the_controller(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink)
    await in_thread(
        lambda: transaction(host, port, request("<a@x>"), ("Business-Controlling@KOMSA.de", KOMSA))
    )
    await in_thread(lambda: transaction(host, port, request("<b@x>"), (KMB2,)))
    assert [(m.controller, m.recipient) for m in sink.handled] == [("komsa", KOMSA_2), ("kmb2", KMB2)]


async def test_unknown_recipient_refused_at_rcpt(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink)
    _mail, rcpt, data = await in_thread(lambda: transaction(host, port, request(), ("postmaster@kmb2.de",)))
    assert rcpt == [code_of(SMTP_UNKNOWN_RECIPIENT)]
    assert data is None and sink.calls == 0


async def test_one_controller_per_message(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink)
    _mail, rcpt, data = await in_thread(lambda: transaction(host, port, request(), (KMB2, KOMSA)))
    assert rcpt == [(250, b"2.1.5 Recipient OK"), code_of(SMTP_ONE_CONTROLLER)]
    assert data == code_of(SMTP_ACCEPTED)
    assert [m.controller for m in sink.handled] == ["kmb2"]


async def test_storage_failure_answers_451_and_the_retry_is_committed_once(
    smtp_endpoint: SmtpEndpointFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sink = RecordingSink()
    sink.fail_everything = True
    host, port = await smtp_endpoint(sink)
    with caplog.at_level(logging.INFO, logger="dsr.channels.email.smtp"):
        _mail, _rcpt, data = await in_thread(lambda: transaction(host, port, request()))
    assert data == code_of(SMTP_TRY_LATER)
    assert sink.handled == [] and sink.failures == 1  # nothing acknowledged, nothing kept
    assert "StoreDownError" in caplog.text
    assert SENDER not in caplog.text and "e***@example.org" in caplog.text  # masked
    assert "database is down" not in caplog.text  # exception text may hold personal data

    sink.fail_everything = False  # the sending MTA retries later
    _mail, _rcpt, data = await in_thread(lambda: transaction(host, port, request()))
    assert data == code_of(SMTP_ACCEPTED)
    assert len(sink.handled) == 1


async def test_unparseable_message_is_quarantined_then_accepted(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink)
    raw = b"Subject: ohne Absender\r\n\r\nAuskunft bitte\r\n"
    _mail, _rcpt, data = await in_thread(lambda: transaction(host, port, raw))
    assert data == code_of(SMTP_ACCEPTED)
    (held,) = sink.quarantined
    # The envelope sender is kept as Return-Path, so the DPO sees who sent the unreadable mail.
    stamped = f"Return-Path: <{SENDER}>\r\n".encode() + raw
    assert (held.controller, held.channel, held.reason) == ("kmb2", "email", "no From header")
    assert held.raw == stamped


async def test_quarantine_failure_also_answers_451(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    sink.fail_everything = True
    host, port = await smtp_endpoint(sink)
    _mail, _rcpt, data = await in_thread(lambda: transaction(host, port, b"\r\n"))
    assert data == code_of(SMTP_TRY_LATER)
    assert sink.quarantined == []


async def test_bounce_with_null_sender(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink)
    raw = (Path(__file__).parent / "eml" / "bounce_dsn.eml").read_bytes()
    _mail, _rcpt, data = await in_thread(lambda: transaction(host, port, raw, sender=""))
    assert data == code_of(SMTP_ACCEPTED)
    assert sink.handled[0].headers["return-path"] == "<>"


async def test_size_limit(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink, max_size=10 * 1024 * 1024)
    huge = huge_message()  # about 20 MB

    def declared_size() -> int:
        with smtplib.SMTP(host, port, timeout=60) as client:
            try:
                client.sendmail(SENDER, [KMB2], huge)  # smtplib announces SIZE=...
            except smtplib.SMTPSenderRefused as refused:
                return refused.smtp_code
        return 250

    assert await in_thread(declared_size) == 552
    _mail, _rcpt, data = await in_thread(lambda: transaction(host, port, huge))  # no SIZE: refused after DATA
    assert data is not None and data[0] == 552
    assert sink.calls == 0
    _mail, _rcpt, data = await in_thread(lambda: transaction(host, port, request()))  # still serving
    assert data == code_of(SMTP_ACCEPTED)


async def test_long_lines_are_tolerated(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink)
    _mail, _rcpt, data = await in_thread(lambda: transaction(host, port, request(body="Auskunft " * 2000)))
    assert data == code_of(SMTP_ACCEPTED)
    assert sink.handled[0].body.startswith("Auskunft Auskunft")


async def test_starttls_required(smtp_endpoint: SmtpEndpointFactory, tls_files: TlsFiles) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink, tls_context=tls_files.server_context(), require_starttls=True)

    def plain() -> tuple[int, bytes]:
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.ehlo()
            return client.mail(SENDER)

    def secured() -> tuple[int, bytes]:
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.starttls(context=tls_files.client_context())
            client.ehlo()
            client.mail(SENDER)
            client.rcpt(KMB2)
            return client.data(request())

    assert (await in_thread(plain))[0] == 530
    assert await in_thread(secured) == code_of(SMTP_ACCEPTED)
    assert len(sink.handled) == 1


async def test_auth_for_a_relaying_mta(
    smtp_endpoint: SmtpEndpointFactory, tls_files: TlsFiles, tmp_path: Path
) -> None:
    users = tmp_path / "smtp_users"
    users.write_text(f"# relay\nrelay:{PasswordHasher().hash('s3cret pass')}\n", encoding="utf-8")
    sink = RecordingSink()
    host, port = await smtp_endpoint(
        sink, tls_context=tls_files.server_context(), authenticator=PasswordFileAuthenticator.from_file(users)
    )

    def attempt(user: str | None, password: str) -> int:
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.starttls(context=tls_files.client_context())
            client.ehlo()
            if user is not None:
                try:
                    client.login(user, password)
                except smtplib.SMTPAuthenticationError as refused:
                    return refused.smtp_code
            code, _ = client.mail(SENDER)
            if code != 250:
                return code
            client.rcpt(KMB2)
            return client.data(request(f"<{user}-{password}@x>"))[0]

    assert await in_thread(lambda: attempt(None, "")) == 530  # AUTH required
    assert await in_thread(lambda: attempt("relay", "wrong")) == 535
    assert await in_thread(lambda: attempt("nobody", "s3cret pass")) == 535
    assert await in_thread(lambda: attempt("relay", "s3cret pass")) == 250
    assert len(sink.handled) == 1


async def test_auth_without_tls_is_refused_at_start(reference_profiles: dict[str, ControllerProfile]) -> None:
    with pytest.raises(ValueError, match="STARTTLS"):
        await start_smtp_server(
            handler=RecordingSink(), profiles=reference_profiles, host="127.0.0.1", port=0, max_size=2048,
            authenticator=PasswordFileAuthenticator({}),
        )  # fmt: skip


def test_auth_file_format_errors_name_the_line(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("ok:$argon2id$v=19$x\nbroken line\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is not"):
        PasswordFileAuthenticator.from_file(users)


def test_tls_context_from_files(tls_files: TlsFiles) -> None:
    from dsr.channels.email.smtp import tls_context_from_files

    assert isinstance(tls_context_from_files(tls_files.cert, tls_files.key), ssl.SSLContext)
