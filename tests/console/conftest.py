"""A seeded console: users of every role, escalated e-mail and chat tickets, quarantine, tokens."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dsr.store.db import make_engine, migrate
from tests.support.console import (
    World,
    make_world,
)


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, World]]:
    """Seed one SQLite database per test session (argon2 hashing is deliberately slow)."""
    path = tmp_path_factory.mktemp("console-seed") / "seed.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    template = make_world(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    yield path, template


@pytest.fixture
def world(seeded_sqlite: tuple[Path, World], tmp_path: Path) -> Iterator[World]:
    """A fresh copy of the seeded SQLite database with its own app, clock and sessions."""
    source, template = seeded_sqlite
    target = tmp_path / "dsr.sqlite3"
    shutil.copyfile(source, target)
    for suffix in ("-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    engine = make_engine(f"sqlite:///{target}")
    yield make_world(engine, seeded_from=template)
    engine.dispose()


@pytest.fixture
def db_world(engine: Engine) -> Iterator[World]:
    """The same world seeded on SQLite and on PostgreSQL."""
    yield make_world(engine)
