"""Helpers for the store tests: tickets in a given state, a DPO account, fixed receipt times."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dsr.store.models import User
from tests.support.store import RECEIVED


@pytest.fixture
def dpo(session: Session) -> str:
    session.add(User(username="dpo", password_hash="x", role="dpo", created_at=RECEIVED))
    session.add(User(username="manager", password_hash="x", role="manager", created_at=RECEIVED))
    session.flush()
    return "dpo"


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One session (autobegun transaction), rolled back after the test."""
    with sessions() as s:
        yield s
        s.rollback()
