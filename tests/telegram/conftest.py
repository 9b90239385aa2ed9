"""Fixtures for driving the Telegram bot end to end: fake Bot API, real database, SMTP sink."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import ControllerProfile, load_profile
from dsr.pipeline.core import Pipeline
from dsr.store.models import DataSubject
from tests.servers.fake_telegram import FakeTelegram, running_fake_telegram
from tests.servers.smtp_sink import SmtpSink
from tests.support.telegram import Bot, make_settings, real_clock, running_bot


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
