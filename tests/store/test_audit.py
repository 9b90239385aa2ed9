"""The audit log is append-only: ORM guard on both databases, trigger on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, event, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from dsr.store.audit import AuditImmutableError, allow_audit_purge, audit
from dsr.store.db import make_engine, migrate, session_factory
from dsr.store.models import AuditEvent

NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)


@pytest.fixture
def event_id(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as s:
        audit(s, actor="system", action="test_event", now=NOW, reason="Grund", detail={"a": 1})
    with sessions() as s:
        found = s.scalar(select(AuditEvent.id).where(AuditEvent.action == "test_event"))
        assert found is not None
        return found


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


def _actions(s: Session) -> list[str]:
    return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_events_of_a_transaction_are_written_by_one_insert_at_commit(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    inserts: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("INSERT INTO audit_events"):
            inserts.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        with sessions() as s:
            for n in range(5):
                audit(s, actor="system", action=f"step_{n}", now=NOW, detail={"n": n})
            assert inserts == []  # nothing written before the commit
            s.commit()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(inserts) == 1
    with sessions() as s:
        assert _actions(s) == [f"step_{n}" for n in range(5)]


def test_a_transaction_reads_its_own_events(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        audit(s, actor="system", action="first", now=NOW)
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 1
        audit(s, actor="system", action="second", now=NOW)
        assert _actions(s) == ["first", "second"]
        s.commit()
    assert _count(sessions) == 2


def test_rollback_drops_pending_events(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        audit(s, actor="system", action="dropped", now=NOW)
        s.rollback()
        audit(s, actor="system", action="kept", now=NOW)
        s.commit()
    with sessions() as s:
        audit(s, actor="system", action="never_committed", now=NOW)  # closed without commit
    with sessions() as s:
        assert _actions(s) == ["kept"]


def test_savepoint_rollback_drops_only_its_own_events(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        audit(s, actor="system", action="before", now=NOW)
        savepoint = s.begin_nested()
        audit(s, actor="system", action="inside_rolled_back", now=NOW)
        savepoint.rollback()
        with s.begin_nested():
            audit(s, actor="system", action="inside_released", now=NOW)
        audit(s, actor="system", action="after", now=NOW)
        s.commit()
    with sessions() as s:
        assert _actions(s) == ["before", "inside_released", "after"]


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
    from dsr.store.audit import actor_for_log

    assert actor_for_log("telegram:123456789") == "telegram:***"
    assert actor_for_log("erika.mustermann@example.org") == "e***@example.org"
    assert actor_for_log("system") == "system"
    assert actor_for_log("user:anna") == "user:anna"
