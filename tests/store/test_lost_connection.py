"""Transactions on a pooled PostgreSQL connection that died (database restarted) are repeated
once on a new connection; hot paths therefore do without the pre-ping round trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from dsr.config import Settings
from dsr.controllers.profile import load_profile
from dsr.inbound import OutcomeStatus
from dsr.pipeline.core import Pipeline
from dsr.service.demo import load_demo_data
from dsr.store.db import make_engine, migrate, retry_if_disconnected, session_factory
from tests.support.clock import FakeClock
from tests.support.pipeline import ERIKA, Harness, make_mail


def _drop_connections(admin: Engine, url: str) -> int:
    """What a database restart does to every open connection of `url`'s database."""
    with admin.connect() as conn:
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": url.rsplit("/", 1)[1]}).scalar()
    return int(killed or 0)


def _select_42(engine: Engine, calls: list[int]) -> int:
    calls.append(1)
    with engine.begin() as conn:
        return int(conn.execute(text("SELECT 42")).scalar_one())


@pytest.mark.postgres
def test_a_transaction_on_a_dead_connection_is_repeated_once(pg_url: str, pg_admin_engine: Engine) -> None:
    engine = make_engine(pg_url, pre_ping=False)
    try:
        calls: list[int] = []
        assert _select_42(engine, calls) == 42  # leaves a connection in the pool
        assert _drop_connections(pg_admin_engine, pg_url) >= 1
        with pytest.raises(DBAPIError) as failed:  # without pre-ping the dead connection is used
            _select_42(engine, calls)
        assert failed.value.connection_invalidated
        _select_42(engine, calls)  # a new connection
        assert _drop_connections(pg_admin_engine, pg_url) >= 1
        calls.clear()
        assert retry_if_disconnected(lambda: _select_42(engine, calls)) == 42
        assert len(calls) == 2
    finally:
        engine.dispose()


def test_other_database_errors_are_not_repeated() -> None:
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise DBAPIError("INSERT ...", {}, Exception("unique violation"))

    with pytest.raises(DBAPIError):
        retry_if_disconnected(failing)
    assert len(calls) == 1


def test_a_second_lost_connection_is_not_repeated_again() -> None:
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise DBAPIError("SELECT 1", {}, Exception("server closed the connection"),
                         connection_invalidated=True)

    with pytest.raises(DBAPIError):
        retry_if_disconnected(failing)
    assert len(calls) == 2


@pytest.mark.postgres
def test_pipeline_commits_a_message_although_its_pooled_connection_died(
        pg_url: str, pg_admin_engine: Engine) -> None:
    engine = make_engine(pg_url, pre_ping=False)
    try:
        migrate(engine)
        sessions = session_factory(engine)
        profiles = {"kmb2": load_profile("kmb2")}
        clock = FakeClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
        load_demo_data(sessions, list(profiles), now=clock.now)
        pipeline = Pipeline(sessions=sessions, profiles=profiles, clock=clock, settings=Settings())
        harness = Harness(pipeline, sessions, clock, profiles)
        first = harness.send(make_mail(sender=ERIKA))
        assert _drop_connections(pg_admin_engine, pg_url) >= 1
        second = harness.send(make_mail(sender=ERIKA, subject="Löschung meiner Daten nach Art. 17 DSGVO",
                                        body="Bitte löschen Sie alle meine Daten."))
        assert (first.status, second.status) == (OutcomeStatus.ACCEPTED, OutcomeStatus.ACCEPTED)
        assert [t.reference for t in harness.tickets()] == [first.ticket_reference, second.ticket_reference]
        assert len(harness.inbound_messages()) == 2
    finally:
        engine.dispose()
