"""The pipeline in worker processes (`DSR_WORKERS`): real spawned processes on SQLite and PostgreSQL.

The same guarantees as in-process: one commit per message, duplicates recognised, gap-free ticket
references under concurrency (on SQLite through the cross-process write gate), and a worker that
dies costs at most the message it held, which the sender then delivers again.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from dsr.channels.email.imap import PROCESSED_KEYWORD, ImapPoller
from dsr.config import Settings
from dsr.controllers.profile import ControllerProfile
from dsr.inbound import InboundMessage, OutcomeStatus
from dsr.mail.parse import parse_email
from dsr.pipeline.workers import PipelineWorkers, WorkerUnavailableError
from dsr.service.demo import load_demo_data
from dsr.store.db import session_factory
from dsr.store.models import Message, OutboxItem, Ticket
from tests.servers.dovecot import ImapAccount
from tests.support.imap import flags_by_subject, seed
from tests.support.pipeline import ERIKA, KMB2, make_mail

pytestmark = pytest.mark.slow


def _inbound(raw: bytes) -> InboundMessage:
    return parse_email(raw, controller="kmb2", recipient=KMB2, received_at=datetime.now(UTC))


@pytest.fixture
def workers(engine: Engine, db_url: str, reference_profiles: dict[str, ControllerProfile],
            request: pytest.FixtureRequest) -> Iterator[PipelineWorkers]:
    """Started workers over the migrated database of `engine` (with the demo data subjects)."""
    load_demo_data(session_factory(engine), ["kmb2"], now=datetime.now(UTC))
    count = getattr(request, "param", 2)
    pool = PipelineWorkers(settings=Settings(database_url=db_url, controller="kmb2", workers=count),
                           profiles={"kmb2": reference_profiles["kmb2"]}, count=count)
    pool.start()
    yield pool
    pool.close()


def test_workers_are_separate_processes_that_commit_tickets_and_replies(
        workers: PipelineWorkers, engine: Engine) -> None:
    pids = workers.start()  # idempotent: asks every worker for its PID
    assert len(pids) == 2 and os.getpid() not in pids

    outcome = workers.handle(_inbound(make_mail(message_id="<w-1@example.org>")))
    assert outcome.status is OutcomeStatus.ACCEPTED
    assert outcome.ticket_reference is not None and outcome.outbox_ids

    with session_factory(engine)() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.reference == outcome.ticket_reference
        assert ticket.due_date is not None
        items = session.scalars(select(OutboxItem).where(OutboxItem.ticket_id == ticket.id)).all()
        assert [item.id for item in items] == list(outcome.outbox_ids)
        assert all(item.recipient == ERIKA for item in items)

    again = workers.handle(_inbound(make_mail(message_id="<w-1@example.org>")))
    assert again.status is OutcomeStatus.DUPLICATE


def test_parallel_messages_get_gap_free_references(workers: PipelineWorkers, engine: Engine) -> None:
    raws = [make_mail(sender=f"person{n}@example.org", message_id=f"<par-{n}@example.org>")
            for n in range(24)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda raw: workers.handle(_inbound(raw)), raws))
    assert {o.status for o in outcomes} == {OutcomeStatus.ACCEPTED}
    with session_factory(engine)() as session:
        references = sorted(session.scalars(select(Ticket.reference)))
        inbound = session.scalars(select(Message.id).where(Message.direction == "in")).all()
    year = datetime.now(UTC).year
    assert references == [f"DSR-{year}-{n:06d}" for n in range(1, 25)]
    assert len(inbound) == 24


@pytest.mark.parametrize("workers", [1], indirect=True)
def test_a_killed_worker_is_replaced_and_no_message_is_lost(workers: PipelineWorkers, engine: Engine) -> None:
    (pid,) = workers.start()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # the pool notices the death through the process sentinel
    raw = make_mail(message_id="<after-kill@example.org>")
    failures = 0
    while True:  # what an MTA does with a 451: deliver again
        try:
            outcome = workers.handle(_inbound(raw))
            break
        except WorkerUnavailableError:
            failures += 1
            assert failures == 1, "the replaced pool must take the retry"
    assert outcome.status is OutcomeStatus.ACCEPTED
    assert pid not in workers.start()
    with session_factory(engine)() as session:
        assert len(session.scalars(select(Ticket.id)).all()) == 1


def test_imap_backlog_through_workers_is_committed_then_acknowledged(
        workers: PipelineWorkers, engine: Engine, dovecot: ImapAccount,
        reference_profiles: dict[str, ControllerProfile]) -> None:
    seed(dovecot, *(make_mail(sender=f"imap{n}@example.org", subject=f"Auskunft {n}",
                              message_id=f"<imap-{n}@example.org>") for n in range(12)))
    poller = ImapPoller(sink=workers, profiles={"kmb2": reference_profiles["kmb2"]}, url=dovecot.url(),
                        workers=2 * workers.count)
    try:
        assert poller.poll_once() == 12
    finally:
        poller.close()
    assert all(PROCESSED_KEYWORD.encode() in flags for flags in flags_by_subject(dovecot).values())
    with session_factory(engine)() as session:
        assert len(session.scalars(select(Ticket.id)).all()) == 12
