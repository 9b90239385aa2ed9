"""Issue 18 defect 8: resource limits of our SMTP endpoint (sessions at a time, large messages one
at a time, time per message); the size cap (552) is in test_smtp_server.test_size_limit."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import threading

from dsr.channels.email.smtp import LARGE_MESSAGE_BYTES, SMTP_ACCEPTED
from dsr.inbound import InboundMessage, Outcome
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


class HoldingSink(RecordingSink):
    """Holds every message above `LARGE_MESSAGE_BYTES` in `handle` until released; counts how
    many such messages are in hand at once."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.large_inside = 0
        self.most_large_inside = 0
        self.small_done = threading.Event()
        self._count = threading.Lock()

    def handle(self, msg: InboundMessage) -> Outcome:
        if len(msg.raw or b"") <= LARGE_MESSAGE_BYTES:
            outcome = super().handle(msg)
            self.small_done.set()
            return outcome
        with self._count:
            self.large_inside += 1
            self.most_large_inside = max(self.most_large_inside, self.large_inside)
        try:
            self.release.wait(60)
            return super().handle(msg)
        finally:
            with self._count:
                self.large_inside -= 1


def _large(number: int) -> bytes:
    body = ("Auskunft nach Art. 15 DSGVO bitte. " * 50 + "\r\n") * (LARGE_MESSAGE_BYTES // 1700 + 100)
    return (f"From: {SENDER}\r\nTo: {KMB2}\r\nSubject: Auskunft {number}\r\n"
            f"Message-ID: <large-{number}@example.org>\r\n\r\n{body}").encode()


async def test_large_messages_are_worked_one_at_a_time_and_small_ones_pass(
        smtp_endpoint: SmtpEndpointFactory) -> None:
    """Four simultaneous 20 MB mails took the memory of four (808 MB): a message above
    LARGE_MESSAGE_BYTES is parsed and handled only while no other large one is; small requests
    are not held up by it."""
    sink = HoldingSink()
    host, port = await smtp_endpoint(sink)

    def deliver(raw: bytes) -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP(host, port, timeout=120) as client:
            return client.sendmail(SENDER, [KMB2], raw)

    first = asyncio.create_task(asyncio.to_thread(deliver, _large(1)))
    async with asyncio.timeout(60):
        while sink.large_inside == 0:
            await asyncio.sleep(0.02)
    second = asyncio.create_task(asyncio.to_thread(deliver, _large(2)))
    # A small request sent after the second large one is handled while the first is still held.
    assert await asyncio.to_thread(deliver, RAW) == {}
    assert sink.small_done.is_set()
    # The second large message is fully received by now; give it ample time to overtake (the
    # bound only ends the wait; with the limit it never enters while the first is held).
    await asyncio.sleep(2)
    assert sink.most_large_inside == 1
    sink.release.set()
    assert await first == {} and await second == {}
    assert sink.most_large_inside == 1
    assert sorted(m.subject for m in sink.handled) == ["Auskunft", "Auskunft 1", "Auskunft 2"]
