"""Fixtures for driving the Telegram bot end to end: fake Bot API, real database, SMTP sink."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dsr.channels.sender import OutboxSender
from dsr.channels.telegram.adapter import TelegramChannel, run_telegram
from dsr.config import Settings
from dsr.controllers import ControllerProfile, load_profile
from dsr.pipeline.core import Pipeline
from dsr.store.models import DataSubject, Ticket
from tests.servers.fake_telegram import FakeTelegram, running_fake_telegram
from tests.servers.smtp_sink import SmtpSink

CHAT = 424242


def real_clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """SQLite unless a test asks for PostgreSQL with parametrize("db_url", ["postgres"], indirect=True)."""
    if getattr(request, "param", "sqlite") == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite:///{tmp_path}/dsr.sqlite3"


@pytest.fixture
async def fake_tg() -> AsyncIterator[FakeTelegram]:
    async with running_fake_telegram() as fake:
        yield fake


@pytest.fixture
def profile() -> ControllerProfile:
    return load_profile("kmb2")


@pytest.fixture
def known_subject(sessions: sessionmaker[Session]) -> int:
    """A customer on file, with an e-mail address the binding code may go to."""
    now = real_clock()
    with sessions() as session:
        subject = DataSubject(controller="kmb2", name="Erika Mustermann", email="erika@example.org",
                              customer_number="K-10023", postal_code="26789", created_at=now, updated_at=now)
        session.add(subject)
        session.commit()
        return subject.id


@dataclass
class Bot:
    """The running service parts a Telegram test needs, and helpers to talk to them."""

    fake: FakeTelegram
    sessions: sessionmaker[Session]
    settings: Settings
    profile: ControllerProfile
    pipeline: Pipeline
    sink: SmtpSink | None
    channel: TelegramChannel | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def say(self, text: str, chat: int = CHAT, **kw: Any) -> int:
        """Send `text` as the user; returns the index in `fake.sent` after which answers appear."""
        mark = len(self.fake.sent)
        await self.fake.inject_message(chat, text, **kw)
        return mark

    async def reply(self, after: int, predicate: Callable[[Any], bool] | None = None,
                    chat: int = CHAT) -> Any:
        return await self.fake.wait_sent(chat, predicate, after=after)

    def tickets(self) -> list[Ticket]:
        with self.sessions() as session:
            return list(session.scalars(select(Ticket).order_by(Ticket.id)))

    async def code_from_mail(self) -> str:
        assert self.sink is not None
        mail = await self.sink.next_message()
        match = re.search(r"(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.text)
        assert match, mail.text
        return match.group(1)


def make_settings(db_url: str, fake: FakeTelegram, sink: SmtpSink | None, **extra: Any) -> Settings:
    return Settings(database_url=db_url, controller="kmb2", telegram_token=fake.token,
                    telegram_api_url=fake.api_url, smtp_relay=sink.relay if sink else None, **extra)


@asynccontextmanager
async def running_bot(bot: Bot, *, fault_hook: Callable[[str], None] | None = None) -> AsyncIterator[Bot]:
    """Start the bot (polling) and the e-mail sender; stop both afterwards."""
    stop = asyncio.Event()
    ready: asyncio.Future[TelegramChannel] = asyncio.get_running_loop().create_future()
    pipeline = bot.pipeline
    if fault_hook is not None:
        pipeline = Pipeline(sessions=bot.sessions, profiles={"kmb2": bot.profile}, clock=real_clock,
                            settings=bot.settings, fault_hook=fault_hook)
    task = asyncio.create_task(run_telegram(
        settings=bot.settings, sessions=bot.sessions, profiles={"kmb2": bot.profile}, pipeline=pipeline,
        clock=real_clock, stop=stop, on_ready=ready.set_result, poll_timeout=5))
    tasks = [task]
    if bot.sink is not None:
        sender = OutboxSender(sessions=bot.sessions, profiles={"kmb2": bot.profile}, settings=bot.settings,
                              clock=real_clock, poll_interval=0.2)
        tasks.append(asyncio.create_task(sender.run(stop)))
    bot.channel = await asyncio.wait_for(asyncio.shield(ready), 10) if not task.done() else None
    bot.tasks = tasks
    try:
        yield bot
    finally:
        stop.set()
        for t in tasks:
            if not t.done():
                await t


@pytest.fixture
def bot_parts(sessions: sessionmaker[Session], db_url: str, fake_tg: FakeTelegram, smtp_sink: SmtpSink,
              profile: ControllerProfile) -> Bot:
    settings = make_settings(db_url, fake_tg, smtp_sink)
    pipeline = Pipeline(sessions=sessions, profiles={"kmb2": profile}, clock=real_clock, settings=settings)
    return Bot(fake_tg, sessions, settings, profile, pipeline, smtp_sink)


@pytest.fixture
async def bot(bot_parts: Bot) -> AsyncIterator[Bot]:
    async with running_bot(bot_parts) as running:
        yield running
