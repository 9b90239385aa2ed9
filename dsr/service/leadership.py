"""Several `dsr serve` on one database: who may run, and who runs the singletons.

PostgreSQL: any number of instances share the database.  Work that must run exactly once at a
time - the IMAP poller of a mailbox, the Telegram bot of a token (long polling allows one
reader), the scheduler's rounds - runs under a session-level advisory lock
(`pg_try_advisory_lock`) held on a connection of its own.  The instance holding it is the leader
for that name; the others try again every `retry_seconds`.  When the leader dies its connection
closes, PostgreSQL releases the lock and the next try of another instance takes over (fail-over
within `retry_seconds` plus the time PostgreSQL needs to notice the closed connection).  The
leader checks its connection every `check_seconds`; if it is gone the lock may already be held
by someone else, so the work is stopped at once.

SQLite has one writer and no advisory locks: one instance per database file.  `InstanceLock`
holds an exclusive `flock` beside the database for the life of the process; a second
`dsr serve` on the same file stops at start-up with a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from dsr.store.db import make_engine

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
CHECK_SECONDS = 5.0

Work = Callable[[asyncio.Event], Coroutine[Any, Any, Any]]


class SecondInstanceError(RuntimeError):
    """Another `dsr serve` already runs on this SQLite database; the message is for the operator."""


class InstanceLock:
    """SQLite: one `dsr serve` per database file (an exclusive flock, released when the process ends)."""

    def __init__(self, database_url: str) -> None:
        self._fd: int | None = None
        url = make_url(database_url)
        database = url.database or ""
        if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
            return
        path = f"{os.path.abspath(database)}.instance-lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SecondInstanceError(
                f"another `dsr serve` already runs on the SQLite database {os.path.abspath(database)}: "
                "SQLite takes one instance; stop the other one, or use PostgreSQL "
                "(DSR_DATABASE_URL=postgresql+psycopg://...) to run several") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name` (the same on every host)."""
    return int.from_bytes(hashlib.sha256(f"dsr:{name}".encode()).digest()[:8], "big", signed=True)


class Leadership:
    """Runs singleton work under PostgreSQL advisory locks (SQLite: directly, one instance anyway)."""

    def __init__(self, database_url: str, *, retry_seconds: float = RETRY_SECONDS,
                 check_seconds: float = CHECK_SECONDS) -> None:
        self._url = database_url
        self._retry = retry_seconds
        self._check = check_seconds
        self._engine: Engine | None = None
        if make_url(database_url).get_backend_name() == "postgresql":
            # One connection per held lock, never shared: the lock lives and dies with it.
            self._engine = make_engine(database_url, pre_ping=True, pool_size=1, max_overflow=8)

    async def run(self, name: str, work: Work, stop: asyncio.Event) -> None:
        """Run `work(inner_stop)` whenever this instance holds the lock `name`, until `stop`."""
        if self._engine is None:
            await work(stop)
            return
        while not stop.is_set():
            conn = await asyncio.to_thread(self._try_lock, name)
            if conn is None:
                await _sleep(stop, self._retry)
                continue
            log.info("leader for %s: running it on this instance", name)
            try:
                await self._lead(name, conn, work, stop)
            finally:
                await asyncio.to_thread(self._unlock, name, conn)
            if not stop.is_set():
                await _sleep(stop, self._retry)  # let another instance take over after a loss

    async def _lead(self, name: str, conn: Connection, work: Work, stop: asyncio.Event) -> None:
        inner = asyncio.Event()
        task = asyncio.create_task(work(inner), name=f"leader:{name}")
        try:
            while not task.done():
                waiter = asyncio.ensure_future(stop.wait())
                await asyncio.wait({task, waiter}, timeout=self._check, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if stop.is_set():
                    break
                if not task.done() and not await asyncio.to_thread(_alive, conn):
                    log.error("leader for %s: lost the database connection (and with it the lock); stopping",
                              name)
                    break
        finally:
            inner.set()
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await task
                except Exception:
                    log.exception("%s stopped with an error", name)
            if not stop.is_set() and task.done():
                log.warning("leader for %s: the work ended; it is offered to every instance again", name)

    def _try_lock(self, name: str) -> Connection | None:
        assert self._engine is not None
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except Exception as exc:
            log.warning("leadership for %s: database unavailable (%s)", name, type(exc).__name__)
            return None
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(name)}).scalar()
        except Exception as exc:
            log.warning("leadership for %s: lock query failed (%s)", name, type(exc).__name__)
            conn.invalidate()
            conn.close()
            return None
        if not got:
            conn.close()
            return None
        return conn

    @staticmethod
    def _unlock(name: str, conn: Connection) -> None:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(name)})
            conn.close()
        except Exception:
            # The connection is gone, and with it the lock: nothing to hand back.
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _alive(conn: Connection) -> bool:
    try:
        conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
