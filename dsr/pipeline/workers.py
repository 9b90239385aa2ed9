"""The pipeline in worker processes: the same `MessageSink` the adapters use, on more than one core.

One Python process runs Python code on one core at a time, and a message costs the pipeline
several milliseconds of it (parse → classify → ticket → reply rendering → SQL).  With
`DSR_WORKERS=N` the service process keeps the listeners (SMTP, IMAP, Telegram, console) and the
outbox sender, and hands each received message to one of N worker processes, which run the
unchanged `Pipeline` with their own database connections.

The guarantees do not change: an adapter still acknowledges only after `handle` returned, and
`handle` returns only after the worker committed.  If a worker dies (crash, OOM kill), every
message it was working on raises here, so the adapter answers 451 / leaves the IMAP message
unacknowledged; the pool is then replaced for the next message.  On SQLite the workers and the
service process share one cross-process write gate (`dsr.store.write_gate`).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any, TypeVar

from dsr.config import Settings
from dsr.controllers.profile import ControllerProfile
from dsr.inbound import InboundMessage, Outcome

log = logging.getLogger(__name__)

T = TypeVar("T")

START_TIMEOUT_SECONDS = 120.0

# Set once per worker process by `_start_worker`.
_pipeline: Any = None
_barrier: Any = None


class WorkerUnavailableError(RuntimeError):
    """A worker process died while it had the message; it was not committed (retry it)."""


def _start_worker(values: dict[str, Any], profiles: Mapping[str, ControllerProfile], barrier: Any) -> None:
    """Initialiser of a worker process: logging, engine, the pipeline (no migrations: the
    service process ran them before starting workers).  `values` are the service's settings,
    already validated there (the worker must not read a different environment or file)."""
    from dsr.logs import configure_logging
    from dsr.pipeline.core import Pipeline
    from dsr.pipeline.fault_inject import fault_hook_from_env
    from dsr.store.db import make_engine, session_factory
    from dsr.store.write_gate import gate_for

    global _pipeline, _barrier
    _barrier = barrier
    settings = Settings.model_construct(**values)
    # The service process decides when to stop (it closes the pool after its listeners), also
    # when a service manager signals the whole process group; if it dies, the pool's pipes close
    # and the worker ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="parent-watch", daemon=True).start()
    configure_logging(settings.log_level)
    # No pre-ping round trip per transaction: the pipeline repeats a transaction whose pooled
    # connection turned out dead (`dsr.store.db.retry_if_disconnected`).
    engine = make_engine(settings.database_url, pool_size=2, pre_ping=False)
    hook = fault_hook_from_env(whole_service=True)
    _pipeline = Pipeline(sessions=session_factory(engine), profiles=profiles,
                         clock=lambda: datetime.now(UTC), settings=settings, fault_hook=hook,
                         write_gate=gate_for(settings.database_url), overrides_dir=settings.templates_dir)


def _exit_with(parent_sentinel: int) -> None:
    """End the worker when the service process is gone (killed, crashed): nobody can acknowledge
    its work any more, and an orphan would keep database connections open.  A transaction in
    progress is rolled back by the database when the connection closes."""
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)


def _handle(msg: InboundMessage) -> Outcome:
    outcome: Outcome = _pipeline.handle(msg)
    return outcome


def _quarantine(controller: str, channel: str, raw: bytes, reason: str) -> Outcome:
    outcome: Outcome = _pipeline.quarantine(controller=controller, channel=channel, raw=raw, reason=reason)
    return outcome


def _ready() -> int:
    """Wait until every worker of the pool runs this (so each call lands on a different, fully
    started worker); return this worker's PID."""
    _barrier.wait(START_TIMEOUT_SECONDS)
    return os.getpid()


class PipelineWorkers:
    """`MessageSink` backed by `count` worker processes; `handle` blocks the calling thread."""

    def __init__(self, *, settings: Settings, profiles: Mapping[str, ControllerProfile], count: int) -> None:
        if count < 1:
            raise ValueError("at least one worker process is needed")
        self.count = count
        self._settings = settings
        self._profiles = dict(profiles)
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # "spawn": a fresh interpreter, never a fork of a process that runs threads and a loop.
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.count, mp_context=context, initializer=_start_worker,
                                   initargs=(self._settings.model_dump(), self._profiles,
                                             context.Barrier(self.count)))

    def start(self) -> list[int]:
        """Start every worker and wait until each has its pipeline; return their PIDs."""
        with self._lock:
            pool = self._pool
        futures = [pool.submit(_ready) for _ in range(self.count)]
        pids = sorted(f.result(START_TIMEOUT_SECONDS) for f in futures)
        log.info("pipeline worker processes ready: %d", self.count)
        return pids

    def handle(self, msg: InboundMessage) -> Outcome:
        return self._call(_handle, msg)

    def quarantine(self, *, controller: str, channel: str, raw: bytes, reason: str) -> Outcome:
        return self._call(_quarantine, controller, channel, raw, reason)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        future, pool = self._submit(fn, *args)
        try:
            return future.result()
        except BrokenProcessPool as exc:
            # The worker died with the message in hand: it may or may not have committed.  The
            # sender retries (451 / no IMAP flag); a committed message is then a duplicate.
            self._replace(pool)
            raise WorkerUnavailableError("a pipeline worker process died; message not committed") from exc

    def _submit(self, fn: Callable[..., T], *args: Any) -> tuple[Future[T], ProcessPoolExecutor]:
        """Hand the call to a worker.  A pool found broken (a worker died since the last call)
        is replaced first: the message never reached a worker, so it is simply handed over."""
        for _attempt in range(2):
            with self._lock:
                pool = self._pool
            try:
                return pool.submit(fn, *args), pool
            except BrokenProcessPool:
                self._replace(pool)
        raise WorkerUnavailableError("pipeline worker processes cannot be started")

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is not broken:
                return  # another thread replaced it already
            log.error("a pipeline worker process died; starting new workers")
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    def close(self) -> None:
        with self._lock:
            self._pool.shutdown(wait=True, cancel_futures=False)
