"""Shared fixtures: databases (SQLite and PostgreSQL), clocks and the missing-server policy."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from dsr.store.db import make_engine, migrate, session_factory
from tests.support.database import PG_ADMIN_URL, missing_server

pytest_plugins = ["tests.servers.fixtures"]  # real-server fixtures: tests/servers/README.md


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[Engine]:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any failure means "no server"
        engine.dispose()
        missing_server(f"PostgreSQL at {PG_ADMIN_URL} ({type(exc).__name__})")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin_engine: Engine) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"dsr_test_{uuid.uuid4().hex[:12]}"
    with pg_admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with pg_admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{tmp_path}/dsr.sqlite3"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """Parametrises a test over both supported databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/dsr.sqlite3"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on SQLite and on PostgreSQL."""
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated SQLite engine, for tests that do not depend on the database kind."""
    eng = make_engine(sqlite_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' for tests that need one: a Monday morning in Berlin."""
    return datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
