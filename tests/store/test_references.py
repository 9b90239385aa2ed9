"""Reference numbers DSR-YYYY-NNNNNN: unique and gap-free per year, also with concurrent writers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from dsr.intents.rights import Right
from dsr.store.models import Ticket
from dsr.store.tickets.services import find_by_reference, next_reference, open_ticket
from tests.support.store import RECEIVED

WRITERS = 6
TICKETS_PER_WRITER = 5


def _open(session: Session, received_at: datetime = RECEIVED) -> Ticket:
    return open_ticket(session, controller="kmb2", land="NI", channel="email", received_at=received_at,
                       rights=[Right.ACCESS], now=received_at)


def test_format_and_sequence_per_year(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        refs = [next_reference(s, 2026) for _ in range(3)] + [next_reference(s, 2027)]
    assert refs == ["DSR-2026-000001", "DSR-2026-000002", "DSR-2026-000003", "DSR-2027-000001"]


def test_year_is_the_berlin_year_of_receipt(sessions: sessionmaker[Session]) -> None:
    # 23:30 UTC on New Year's Eve is already 1 January in Berlin.
    with sessions.begin() as s:
        ticket = _open(s, datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
        assert ticket.reference == "DSR-2027-000001"


def test_rollback_leaves_no_gap(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        assert _open(s).reference == "DSR-2026-000001"
    with sessions() as s:
        assert _open(s).reference == "DSR-2026-000002"
        s.rollback()
    with sessions.begin() as s:
        assert _open(s).reference == "DSR-2026-000002"


def test_find_by_reference(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        ref = _open(s).reference
    with sessions() as s:
        found = find_by_reference(s, f"  {ref.lower()} ")
        assert found is not None and found.reference == ref
        assert find_by_reference(s, "DSR-2026-999999") is None
        assert find_by_reference(s, "nonsense") is None


def test_concurrent_writers_are_gap_free(engine: Engine, sessions: sessionmaker[Session]) -> None:
    """Threads with their own sessions open tickets at once; every third transaction rolls back."""
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    committed: list[str] = []
    lock = threading.Lock()

    def writer(index: int) -> None:
        try:
            start.wait(timeout=30)
            for n in range(TICKETS_PER_WRITER):
                with sessions() as s:
                    ticket = _open(s, RECEIVED + timedelta(minutes=index))
                    if (index + n) % 3 == 0:
                        s.rollback()
                        continue
                    s.commit()
                    with lock:
                        committed.append(ticket.reference)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    with sessions() as s:
        stored = sorted(s.scalars(select(Ticket.reference)))
    expected_count = sum(1 for i in range(WRITERS) for n in range(TICKETS_PER_WRITER) if (i + n) % 3)
    assert len(committed) == expected_count
    assert sorted(committed) == stored
    assert stored == [f"DSR-2026-{n:06d}" for n in range(1, expected_count + 1)]


@pytest.mark.parametrize("year", [1999, 10000])
def test_year_out_of_range(sessions: sessionmaker[Session], year: int) -> None:
    from dsr.store.tickets.services import TicketError

    with sessions() as s, pytest.raises(TicketError):
        next_reference(s, year)
