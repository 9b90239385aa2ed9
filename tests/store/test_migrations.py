"""Migrations: idempotent, and the migrated schema matches `dsr.store.models` exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from dsr.store.db import alembic_config, migrate
from dsr.store.models import Base
from dsr.store.search import in_models


def _current(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def test_migrate_twice_is_idempotent(engine: Engine) -> None:
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    assert _current(engine) == heads
    tables = set(inspect(engine).get_table_names())
    migrate(engine)
    assert _current(engine) == heads
    assert set(inspect(engine).get_table_names()) == tables
    assert set(Base.metadata.tables) <= tables


def test_no_drift_between_models_and_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        # The search indexes of migration 0003 live in the database only (dsr.store.search).
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": in_models})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
