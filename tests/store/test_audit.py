"""The audit log is append-only: ORM guard on both databases, trigger on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from store.audit import AuditImmutableError, allow_audit_purge, audit
from store.db import make_engine, migrate, session_factory
from store.models import AuditEvent

NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)


@pytest.fixture
def event_id(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as s:
        event = audit(s, actor="system", action="test_event", now=NOW, reason="Grund", detail={"a": 1})
        s.flush()
        return event.id


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_event_is_stored(sessions: sessionmaker[Session], event_id: int) -> None:
    with sessions() as s:
        event = s.get(AuditEvent, event_id)
        assert event is not None
        assert (event.at, event.actor, event.action, event.reason, event.detail) == (
            NOW, "system", "test_event", "Grund", {"a": 1})


def test_orm_update_refused(sessions: sessionmaker[Session], event_id: int) -> None:
    with sessions() as s:
        event = s.get(AuditEvent, event_id)
        assert event is not None
        event.reason = "geändert"
        with pytest.raises(AuditImmutableError, match="append-only"):
            s.flush()
        s.rollback()
    with sessions() as s:
        assert s.scalar(select(AuditEvent.reason).where(AuditEvent.id == event_id)) == "Grund"


def test_orm_delete_refused(sessions: sessionmaker[Session], event_id: int) -> None:
    with sessions() as s:
        s.delete(s.get(AuditEvent, event_id))
        with pytest.raises(AuditImmutableError):
            s.flush()
    assert _count(sessions) == 1


@pytest.mark.parametrize("verb", ["update", "delete"])
def test_bulk_statements_refused(sessions: sessionmaker[Session], event_id: int, verb: str) -> None:
    stmt = update(AuditEvent).values(reason="x") if verb == "update" else delete(AuditEvent)
    with sessions() as s, pytest.raises(AuditImmutableError):
        s.execute(stmt)
    assert _count(sessions) == 1


def test_purge_gate_is_per_transaction(sessions: sessionmaker[Session], event_id: int) -> None:
    with sessions() as s:
        allow_audit_purge(s)
        s.execute(delete(AuditEvent).where(AuditEvent.id == event_id))
        s.commit()
        assert _count(sessions) == 0
        # The gate closed with the commit.
        audit(s, actor="system", action="again", now=NOW)
        s.commit()
        with pytest.raises(AuditImmutableError):
            s.execute(delete(AuditEvent))


@pytest.mark.postgres
def test_postgres_trigger_refuses_raw_sql(pg_url: str) -> None:
    """Any client, not only our ORM, is refused; the purge setting opens the gate."""
    engine = make_engine(pg_url)
    try:
        migrate(engine)
        sessions = session_factory(engine)
        with sessions.begin() as s:
            audit(s, actor="system", action="test_event", now=NOW)
        for sql in ("UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_events"):
            with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(sql))
        assert _count(sessions) == 1
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL dsr.allow_audit_purge = 'on'"))
            conn.execute(text("DELETE FROM audit_events"))
        assert _count(sessions) == 0
    finally:
        engine.dispose()


def test_actor_for_log_masks_data_subjects_only() -> None:
    from store.audit import actor_for_log

    assert actor_for_log("telegram:123456789") == "telegram:***"
    assert actor_for_log("erika.mustermann@example.org") == "e***@example.org"
    assert actor_for_log("system") == "system"
    assert actor_for_log("user:anna") == "user:anna"
