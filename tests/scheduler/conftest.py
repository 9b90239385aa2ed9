"""A scheduler over a real database (SQLite and PostgreSQL) with a clock the test moves."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers.profile import load_profile
from tests.support.clock import FakeClock
from tests.support.scheduler import (
    RECEIVED,
    Desk,
)


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> Desk:
    profiles = {name: load_profile(name) for name in ("kmb2", "komsa")}
    return Desk(sessions, FakeClock(RECEIVED), profiles)
