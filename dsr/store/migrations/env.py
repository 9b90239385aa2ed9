"""Alembic environment: runs on the engine handed over by `dsr.store.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from dsr.store.models import Base
from dsr.store.search import in_models

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=in_models,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
