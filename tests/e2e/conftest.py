"""The whole service (`dsr.service.app.serve`) in the test's event loop, talking to real servers on loopback.

Our SMTP endpoint and the console listen on ports the OS chooses; outgoing mail goes to the
recording SMTP sink (`smtp_sink`), IMAP tests use the real Dovecot (`dovecot`).  The clock is fixed
so that due dates, and with them the whole reply text, are known in advance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from dsr.cli.common import profiles as configured_profiles
from dsr.config import Settings
from dsr.service.app import prepare_database
from dsr.service.demo import load_demo_data
from tests.servers.smtp_sink import SmtpSink
from tests.support.clock import FakeClock
from tests.support.service import START, Service, ServiceFactory, serving


@pytest.fixture
async def start_service(tmp_path: Path, smtp_sink: SmtpSink) -> AsyncIterator[ServiceFactory]:
    """`await start_service(**settings)`: run `dsr serve`'s wiring until the test ends."""
    async with AsyncExitStack() as running:

        async def start(**overrides: Any) -> Service:
            values: dict[str, Any] = {
                "database_url": f"sqlite:///{tmp_path}/e2e.sqlite3", "controller": "kmb2,komsa",
                "smtp_listen": "127.0.0.1:0", "web_listen": "127.0.0.1:0", "smtp_relay": smtp_sink.relay,
                "maildir": tmp_path / "maildir", "web_secret_key": "e2e-secret-key-0123456789abcdef",
                "web_cookie_secure": False, **overrides,
            }
            settings = Settings(**values)
            # Keyed by each profile's own key, as `dsr serve` does: a profile given as a path
            # ("/etc/dsr/kmb2.toml") is found under "kmb2", the controller its tickets carry.
            profiles = {p.key: p for p in configured_profiles(settings)}
            clock = FakeClock(START)
            sessions = await asyncio.to_thread(prepare_database, settings)
            await asyncio.to_thread(load_demo_data, sessions, list(profiles), now=clock.now)
            bound = await running.enter_async_context(serving(settings, profiles, sessions, clock=clock,
                                                              wait_for=("smtp", "console")))
            host, port = bound["smtp"]
            return Service(host, port, sessions, clock, smtp_sink, profiles, console=bound["console"])

        yield start
