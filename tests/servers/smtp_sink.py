"""An aiosmtpd sink on 127.0.0.1 (port chosen by the OS) that records every message it receives.

It plays the relay our outbox sender delivers to, so a test can compare the whole German reply.
The server runs its own event loop in a background thread, which makes it usable from plain
synchronous tests and from asyncio tests alike; waiting for the next message is an event wait
with a timeout, never a sleep.
"""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session

DEFAULT_WAIT = 10.0


@dataclass(frozen=True, slots=True)
class SinkMessage:
    """One received message: the SMTP envelope and the parsed content."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage = field(repr=False)

    @property
    def text(self) -> str:
        """The text/plain body (our replies always have one)."""
        body = self.message.get_body(preferencelist=("plain",))
        return "" if body is None else str(body.get_content())

    @property
    def subject(self) -> str:
        return str(self.message.get("subject", ""))


class SmtpSink:
    """Records messages; `refuse_next(code_line)` makes the next DATA fail once (retry tests)."""

    def __init__(self, *, smtputf8: bool = True) -> None:
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531) in the EHLO answer
        self.host = "127.0.0.1"
        self.port = 0
        self.messages: list[SinkMessage] = []
        self._taken = 0
        self._refusals: list[str] = []
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-sink", daemon=True)
        self._server: asyncio.Server | None = None

    # aiosmtpd handler hook
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._cond:
            if self._refusals:
                return self._refusals.pop(0)
            raw = envelope.original_content or b""
            parsed = email.message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(SinkMessage(str(envelope.mail_from), tuple(envelope.rcpt_tos), raw, parsed))
            self._cond.notify_all()
        return "250 2.0.0 OK"

    def start(self) -> None:
        self._thread.start()

        async def serve() -> asyncio.Server:
            loop = asyncio.get_running_loop()
            return await loop.create_server(
                lambda: SMTP(self, hostname="sink.test", enable_SMTPUTF8=self.smtputf8, loop=loop),
                host=self.host,
                port=0,
            )

        self._server = asyncio.run_coroutine_threadsafe(serve(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._server is not None:
            server = self._server

            async def close() -> None:
                server.close()
                await server.wait_closed()

            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def relay(self) -> str:
        """The sink as `DSR_SMTP_RELAY` (host:port)."""
        return f"{self.host}:{self.port}"

    def refuse_next(self, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer the next DATA with `reply` instead of accepting (e.g. 451 or 550)."""
        with self._cond:
            self._refusals.append(reply)

    def wait_for_message(self, timeout: float = DEFAULT_WAIT) -> SinkMessage:
        """The next message not yet returned by this method; AssertionError after `timeout`."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) > self._taken, timeout):
                raise AssertionError(f"no message reached the SMTP sink within {timeout} s")
            self._taken += 1
            return self.messages[self._taken - 1]

    async def next_message(self, timeout: float = DEFAULT_WAIT) -> SinkMessage:
        """`wait_for_message` for asyncio tests (waits in a worker thread)."""
        return await asyncio.to_thread(self.wait_for_message, timeout)

    def assert_no_message(self, timeout: float = 0.5) -> None:
        """Nothing (further) arrives within `timeout`; the short wait is inherent to proving absence."""
        with self._cond:
            if self._cond.wait_for(lambda: len(self.messages) > self._taken, timeout):
                raise AssertionError(f"unexpected message: {self.messages[self._taken].subject!r}")


@contextmanager
def running_smtp_sink(*, smtputf8: bool = True) -> Iterator[SmtpSink]:
    sink = SmtpSink(smtputf8=smtputf8)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
