"""The one service starter: `dsr serve`'s wiring in the test's event loop, on loopback servers."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.controllers.profile import ControllerProfile
from dsr.service.app import serve, utc_now
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
    console: tuple[str, int] | None = None  # the web console's (host, port) when it was waited for

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
Listeners = dict[str, tuple[str, int]]


@asynccontextmanager
async def serving(settings: Settings, profiles: Mapping[str, ControllerProfile],
                  sessions: sessionmaker[Session], *, clock: Callable[[], datetime] = utc_now,
                  wait_for: Collection[str] = ("smtp",)) -> AsyncIterator[Listeners]:
    """Run `dsr serve`'s wiring until the block ends; yields the bound listeners (name -> host, port)
    once every one in `wait_for` listens. A failure at start-up is raised, not waited out."""
    stop = asyncio.Event()
    bound: Listeners = {}
    ready = asyncio.Event()

    def listening(name: str, host: str, port: int) -> None:
        bound[name] = (host, port)
        if set(wait_for) <= bound.keys():
            ready.set()

    task = asyncio.create_task(serve(settings, profiles, sessions, stop=stop, clock=clock,
                                     on_listening=listening))
    try:
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({waiter, task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()  # raises what went wrong at start-up
        assert set(wait_for) <= bound.keys(), f"the service did not start listening: {sorted(bound)}"
        yield bound
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
