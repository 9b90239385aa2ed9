"""One SQLite writer at a time, across the threads and processes of one service.

SQLite lets one transaction write at a time; a second writer waits in SQLite's busy handler,
which *sleeps* and polls.  Under load that turns a short transaction into a long wait.  Our
writers therefore queue on a lock that wakes the next one the moment the previous one releases
it: a `threading.Lock` between the threads of a process and an
advisory `flock` on a file beside the database between the processes of `dsr serve` (its pipeline
workers, the outbox sender, the scheduler).  Writers outside the service (the CLI, the console's
short transactions) still rely on the busy timeout, as before.

The outbox sender's sent mark goes `first()`: ahead of every writer waiting in this process, so
it waits for the transaction in progress only, never behind a queue of pipeline writes (a crash
between the relay's acceptance and that mark sends the reply again).

PostgreSQL needs no gate: `gate_for` returns None there.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.engine import make_url


class WriteGate:
    """The threads of this process first, then the file lock shared with the other processes."""

    def __init__(self, lock_path: str | None) -> None:
        self.lock_path = lock_path
        self._state = threading.Condition()
        self._held = False
        self._urgent = 0  # threads waiting in `first()`
        self._fd: int | None = None
        if lock_path is not None:
            self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def __enter__(self) -> WriteGate:
        self._acquire(urgent=False)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._release()

    @contextmanager
    def first(self) -> Iterator[None]:
        """The gate ahead of every writer of this process that waits for it (short writes only)."""
        self._acquire(urgent=True)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, *, urgent: bool) -> None:
        with self._state:
            waiting_first = 1 if urgent else 0
            self._urgent += waiting_first
            try:
                while self._held or (not urgent and self._urgent):
                    self._state.wait()
            finally:
                self._urgent -= waiting_first
            self._held = True
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._leave()
                raise

    def _release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._leave()

    def _leave(self) -> None:
        with self._state:
            self._held = False
            self._state.notify_all()


def lock_path_for(database_url: str) -> str | None:
    """The lock file of an SQLite database file (None for PostgreSQL and in-memory SQLite)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return f"{os.path.abspath(database)}.write-lock"


def gate_for(database_url: str) -> WriteGate | None:
    """The write gate a process of the service uses for `database_url` (None: no gate needed)."""
    if make_url(database_url).get_backend_name() != "sqlite":
        return None
    return WriteGate(lock_path_for(database_url))
