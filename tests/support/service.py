"""The one service starter: `dsr serve`'s wiring in the test's event loop, on loopback servers."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers.profile import ControllerProfile
from dsr.store.models import Ticket
from tests.servers.smtp_sink import SmtpSink
from tests.support.clock import FakeClock

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # Monday; due date in Niedersachsen: 2 April 2026


@dataclass
class Service:
    host: str
    port: int
    sessions: sessionmaker[Session]
    clock: FakeClock
    sink: SmtpSink
    profiles: dict[str, ControllerProfile]

    async def send(self, raw: bytes, *, mail_from: str, to: str = "klaus.marwede@kmb2.de") -> None:
        """Deliver like an MTA does; returns once our server answered 250."""

        def deliver() -> None:
            with smtplib.SMTP(self.host, self.port, timeout=30) as client:
                client.sendmail(mail_from, [to], raw)

        await asyncio.to_thread(deliver)

    def tickets(self) -> list[Ticket]:
        with self.sessions() as s:
            return list(s.scalars(select(Ticket).order_by(Ticket.id)))


ServiceFactory = Callable[..., Awaitable[Service]]
