"""One SQLite writer at a time, across the threads and processes of one service.

SQLite lets one transaction write at a time; a second writer waits in SQLite's busy handler,
which *sleeps* and polls.  Under load that turns a short transaction into a long wait.  Our
writers therefore queue on a lock that wakes the next one the moment the previous one releases
it: a queue on a `threading.Condition` between the threads of a process and an advisory `flock`
on a file beside the database between the processes of `dsr serve` (its pipeline workers, the
outbox sender, the scheduler).  The threads are served first come first served: a thread that
releases the gate and asks again at once (a loop of short transactions, such as the fulfilment
worker opening a thousand cases in batches) queues behind the threads already waiting.  With
the earlier unfair lock the releasing thread usually won again, and the SMTP sessions' pipeline
writes waited behind the whole loop (pauses of 3-8 s in `python -m bench sent_mark`).
Writers outside the service (the CLI, the console's
short transactions) still rely on the busy timeout, as before.

The outbox sender's sent mark goes `first()`: ahead of every writer waiting in this process, so
it waits for the transaction in progress only, never behind a queue of pipeline writes (a crash
between the relay's acceptance and that mark sends the reply again).

A hold longer than `SLOW_HOLD_SECONDS` is logged with the function that held the gate and how
long it had waited for it: while one writer holds the gate every other writer of the service
waits, so this line names the cause of a whole-service pause.

PostgreSQL needs no gate: `gate_for` returns None there.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
SLOW_HOLD_SECONDS = 0.5


class WriteGate:
    """The threads of this process first, then the file lock shared with the other processes."""

    def __init__(self, lock_path: str | None) -> None:
        self.lock_path = lock_path
        self._state = threading.Condition()
        self._held = False
        # Threads waiting, in order of arrival: those in `first()`, then everyone else.  First come,
        # first served: a thread that releases the gate and asks again at once (a loop of short
        # transactions) queues behind the threads already waiting instead of starving them.
        self._urgent: deque[object] = deque()
        self._waiting: deque[object] = deque()
        self._fd: int | None = None
        self._holder = ""  # the function holding the gate (for the slow-hold log line)
        self._acquired = 0.0
        self._waited = 0.0
        if lock_path is not None:
            self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def __enter__(self) -> WriteGate:
        self._acquire(urgent=False, holder=_caller(1))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._release()

    @contextmanager
    def first(self) -> Iterator[None]:
        """The gate ahead of every writer of this process that waits for it (short writes only)."""
        # Frames: this generator, contextlib's __enter__, the caller.
        self._acquire(urgent=True, holder=_caller(2))
        try:
            yield
        finally:
            self._release()

    def _acquire(self, *, urgent: bool, holder: str) -> None:
        began = time.monotonic()
        with self._state:
            queue = self._urgent if urgent else self._waiting
            ticket = object()
            queue.append(ticket)
            try:
                while self._held or not self._turn_of(ticket, urgent=urgent):
                    self._state.wait()
            except BaseException:
                queue.remove(ticket)
                self._state.notify_all()  # the next in line may be someone else now
                raise
            queue.popleft()
            self._held = True
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._leave()
                raise
        self._acquired = time.monotonic()
        self._holder, self._waited = holder, self._acquired - began

    def _turn_of(self, ticket: object, *, urgent: bool) -> bool:
        if urgent:
            return self._urgent[0] is ticket
        return not self._urgent and self._waiting[0] is ticket

    def _release(self) -> None:
        held = time.monotonic() - self._acquired
        if held > SLOW_HOLD_SECONDS:
            log.warning("write gate held %.2f s by %s (after waiting %.2f s for it)", held, self._holder,
                        self._waited)
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._leave()

    def _leave(self) -> None:
        with self._state:
            self._held = False
            self._state.notify_all()


def _caller(depth: int) -> str:
    """`module.function` of the frame `depth` levels above the caller of this function."""
    frame = sys._getframe(depth + 1)
    return f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_qualname}"


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
