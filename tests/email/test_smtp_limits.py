"""Issue 18 defect 8: resource limits of our SMTP endpoint (sessions at a time, time per message)."""

from __future__ import annotations

import asyncio
import smtplib
import socket

from dsr.channels.email.smtp import SMTP_ACCEPTED
from tests.email.sinks import RecordingSink
from tests.servers.fixtures import SmtpEndpointFactory

KMB2 = "klaus.marwede@kmb2.de"
SENDER = "erika.mustermann@example.org"
RAW = (f"From: {SENDER}\r\nTo: {KMB2}\r\nSubject: Auskunft\r\nMessage-ID: <limits@example.org>\r\n\r\n"
       "Ich bitte um Auskunft.\r\n").encode()


def _greeting(host: str, port: int) -> tuple[socket.socket, bytes]:
    conn = socket.create_connection((host, port), timeout=10)
    return conn, conn.recv(200)


async def test_sessions_over_the_limit_are_told_to_come_back_later(
        smtp_endpoint: SmtpEndpointFactory) -> None:
    """Without a limit, any number of senders could hold a 25 MB message each in memory."""
    host, port = await smtp_endpoint(RecordingSink(), max_sessions=2)
    first, greeting = await asyncio.to_thread(_greeting, host, port)
    second, _ = await asyncio.to_thread(_greeting, host, port)
    assert greeting.startswith(b"220")
    third, refused = await asyncio.to_thread(_greeting, host, port)
    assert refused.startswith(b"421 4.7.0")
    for conn in (first, second, third):
        conn.close()
    await asyncio.sleep(0.2)  # the server notices the closed sessions on its loop

    def deliver() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP(host, port, timeout=10) as client:
            return client.sendmail(SENDER, [KMB2], RAW)  # type: ignore[return-value]

    assert await asyncio.to_thread(deliver) == {}  # slots are given back


async def test_a_message_over_the_time_budget_is_quarantined_as_too_costly(
        smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink, time_budget=1e-9)

    def deliver() -> tuple[int, bytes]:
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.ehlo("client.test")
            client.mail(SENDER)
            client.rcpt(KMB2)
            return client.data(RAW)

    code, text = await asyncio.to_thread(deliver)
    assert f"{code} {text.decode()}" == SMTP_ACCEPTED  # kept for the DPO, so accepted
    assert sink.handled == []
    [kept] = sink.quarantined
    assert kept.reason.startswith("zu aufwendig") and kept.raw == RAW
