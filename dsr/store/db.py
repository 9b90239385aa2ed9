"""Engine and session factories, and schema migration (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from dsr.store.audit import install_guards

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")
log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, *, pre_ping: bool = True, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout on every connection.

    Statement parameters are hidden from exception messages: they hold message bodies and
    addresses, and an exception text can end up in a log.  `pre_ping` (PostgreSQL) tests each
    pooled connection before use, at the cost of a round trip per transaction; hot paths that
    run their transactions through `retry_if_disconnected` do without it.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take the write lock at BEGIN instead
        # so that concurrent writers serialise cleanly (gap-free ticket numbers).
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    return create_engine(url, pool_pre_ping=pre_ping, **kwargs)


def retry_if_disconnected(transaction: Callable[[], T]) -> T:
    """Run `transaction` (one whole unit of work: begin, statements, commit), and once more if it
    failed because its pooled connection had died, e.g. after a database restart.

    Safe to repeat: a transaction whose connection died was not committed, except when the
    connection died during the COMMIT itself, and the callers' transactions are idempotent
    then (a message is de-duplicated by its key; marking an item sent twice sets it sent).  The
    pool replaces every connection older than the failure, so the second attempt gets a new one.
    """
    try:
        return transaction()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("database connection lost (%s); repeating the transaction on a new connection",
                    type(exc.orig).__name__)
    return transaction()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit; the audit log's append-only guard is on."""
    install_guards()
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    command.upgrade(alembic_config(engine), "head")
