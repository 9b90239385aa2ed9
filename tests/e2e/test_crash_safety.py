"""Crash safety of `dsr serve` as a real process, killed with SIGKILL at the two critical points.

DSR_FAULT_INJECT (read only in `dsr.pipeline.fault_inject`) makes the service kill itself
between receipt and commit, or between commit and send.  A real MTA that got no 250 delivers
again; after the restart nothing may be lost and nothing may be sent twice.  Each test runs with
the pipeline inside the service process and in two worker processes (DSR_WORKERS=2): there the
worker that reaches the fault point kills the service process and itself.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dsr.store.db import make_engine, session_factory
from dsr.store.models import Message, OutboxItem, Ticket
from tests.servers.serve_process import ServeProcess
from tests.servers.smtp_sink import SmtpSink
from tests.support.pipeline import ERIKA, KMB2, make_mail

pytestmark = pytest.mark.slow


def _serve(tmp_path: Path, relay: str, fault: str | None = None, workers: int = 0) -> ServeProcess:
    """`dsr serve` on the test's SQLite database (the shared helper), listening."""
    env = {"DSR_DATABASE_URL": f"sqlite:///{tmp_path}/crash.sqlite3", "DSR_SMTP_RELAY": relay,
           "DSR_DEMO": "true", "DSR_WORKERS": str(workers)}
    if fault:
        env["DSR_FAULT_INJECT"] = fault
    serve = ServeProcess(tmp_path, env)
    serve.wait_listening(60)
    return serve


@pytest.fixture
def processes() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for proc in started:
        proc.stop()


def _orphans(tmp_path: Path) -> list[int]:
    """Processes still working in the killed service's folder (its workers, if any survived)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == tmp_path:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _assert_no_orphans(tmp_path: Path) -> None:
    deadline = time.monotonic() + 10
    while _orphans(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _orphans(tmp_path) == [], "worker processes outlived the killed service"


def _counts(tmp_path: Path) -> tuple[int, int, int, int]:
    engine = make_engine(f"sqlite:///{tmp_path}/crash.sqlite3")
    try:
        with session_factory(engine)() as s:
            tickets = s.scalar(select(func.count(Ticket.id))) or 0
            inbound = s.scalar(select(func.count(Message.id)).where(Message.direction == "in")) or 0
            pending = s.scalar(select(func.count(OutboxItem.id)).where(OutboxItem.state == "pending")) or 0
            sent = s.scalar(select(func.count(OutboxItem.id)).where(OutboxItem.state == "sent")) or 0
            return tickets, inbound, pending, sent
    finally:
        engine.dispose()


@pytest.mark.parametrize("workers", [0, 2])
def test_crash_between_receipt_and_commit_loses_nothing(tmp_path: Path, smtp_sink: SmtpSink,
                                                        processes: list[ServeProcess], workers: int) -> None:
    raw = make_mail(message_id="<crash-before@example.org>")
    first = _serve(tmp_path, smtp_sink.relay, fault="crash_before_commit", workers=workers)
    processes.append(first)
    assert first.send(ERIKA, KMB2, raw) is False  # no 250: the sending MTA keeps the mail and retries
    assert first.proc.wait(30) == -signal.SIGKILL
    _assert_no_orphans(tmp_path)
    assert _counts(tmp_path) == (0, 0, 0, 0)  # the transaction never committed

    second = _serve(tmp_path, smtp_sink.relay, workers=workers)
    processes.append(second)
    assert second.send(ERIKA, KMB2, raw) is True  # the MTA's retry
    reply = smtp_sink.wait_for_message(20)
    assert reply.rcpt_tos == (ERIKA,)
    smtp_sink.assert_no_message(1.0)
    assert _counts(tmp_path) == (1, 1, 0, 1)


@pytest.mark.parametrize("workers", [0, 2])
def test_crash_between_commit_and_send_sends_exactly_once(
        tmp_path: Path, smtp_sink: SmtpSink, processes: list[ServeProcess], workers: int) -> None:
    raw = make_mail(message_id="<crash-after@example.org>")
    first = _serve(tmp_path, smtp_sink.relay, fault="crash_after_commit", workers=workers)
    processes.append(first)
    assert first.send(ERIKA, KMB2, raw) is False
    assert first.proc.wait(30) == -signal.SIGKILL
    _assert_no_orphans(tmp_path)
    assert _counts(tmp_path) == (1, 1, 1, 0)  # committed: ticket and pending reply survive
    assert smtp_sink.messages == []

    second = _serve(tmp_path, smtp_sink.relay, workers=workers)
    processes.append(second)
    reply = smtp_sink.wait_for_message(20)  # the restarted sender delivers the pending reply
    assert reply.rcpt_tos == (ERIKA,)
    assert second.send(ERIKA, KMB2, raw) is True  # the MTA's retry is a duplicate: no second ticket, no reply
    smtp_sink.assert_no_message(1.5)
    assert _counts(tmp_path) == (1, 1, 0, 1)
    assert len(smtp_sink.messages) == 1
