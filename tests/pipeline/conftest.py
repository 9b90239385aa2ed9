"""A pipeline over a real database (SQLite and PostgreSQL), fed with parsed RFC 5322 messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.controllers.profile import load_profile
from dsr.pipeline.core import Pipeline
from dsr.service.demo import load_demo_data
from tests.support.clock import FakeClock
from tests.support.pipeline import Harness, HarnessFactory


@pytest.fixture
def make_harness(sessions: sessionmaker[Session]) -> HarnessFactory:
    profiles = {name: load_profile(name) for name in ("kmb2", "komsa")}
    clock = FakeClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    load_demo_data(sessions, list(profiles), now=clock.now)

    def make(**settings: object) -> Harness:
        cfg = Settings(**settings)  # type: ignore[arg-type]
        pipeline = Pipeline(sessions=sessions, profiles=profiles, clock=clock, settings=cfg)
        return Harness(pipeline, sessions, clock, profiles)

    return make


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    """No trusted authserv-id configured: a sender address on file counts (level 1)."""
    return make_harness()
