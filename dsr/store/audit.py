"""The append-only audit log: who did what, when and why (Art. 5(2) and 24 GDPR, § 34(2) BDSG).

A DPO must be able to show an authority every decision taken on a request, so audit events are
only ever inserted.  Two guards enforce that:

* at the ORM level, a session event refuses to flush an updated or deleted `AuditEvent` and
  refuses bulk `UPDATE`/`DELETE` statements against the table (both databases);
* on PostgreSQL a trigger (migration 0002) refuses `UPDATE` and `DELETE` from any client.

The only legitimate removal is the retention purge of old request records (storage limitation,
Art. 5(1)(e)); it has to open the gate explicitly with `allow_audit_purge(session)`, which is
valid for the current transaction only.

Events are written with the transaction, not one by one: `audit()` collects them on the session
and a single multi-row INSERT writes them just before the commit (a message's pipeline run
records four or more).  They are written earlier whenever the session reads the audit log, runs
a bulk UPDATE/DELETE, or calls `write_pending_audit`, so a transaction always sees its own
events; a rollback (of the transaction, or of the savepoint they were recorded in) drops them
together with everything else.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import FromClause, Join, Select, Subquery, TableClause, event, insert, text
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from dsr.store.models import AuditEvent

log = logging.getLogger(__name__)

PURGE_FLAG = "dsr_allow_audit_purge"
# The PostgreSQL trigger looks at this transaction-local setting.
PG_PURGE_SETTING = "dsr.allow_audit_purge"
PENDING_KEY = "dsr_audit_pending"
_TABLE_NAME: str = AuditEvent.__tablename__
_INSERT = insert(AuditEvent)  # executemany, nothing read back


class AuditImmutableError(Exception):
    """Somebody tried to change or delete an audit event."""


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    ticket_id: int | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Record one audit event in the session's transaction; it is written by the commit."""
    if now.tzinfo is None:
        raise ValueError("audit: `now` must be timezone-aware")
    if not actor.strip() or not action.strip():
        raise ValueError("audit: actor and action must not be empty")
    if not session.in_transaction():
        session.begin()  # the events belong to this transaction: its rollback drops them
    row = {"at": now, "actor": actor, "action": action, "ticket_id": ticket_id, "reason": reason,
           "detail": dict(detail or {})}
    current = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(PENDING_KEY, []).append((current, row))
    log.debug("audit action=%s actor=%s ticket=%s", action, actor_for_log(actor), ticket_id)


def write_pending_audit(session: Session) -> int:
    """Write the events recorded so far in this transaction (one INSERT); return how many."""
    pending: list[tuple[SessionTransaction | None, dict[str, Any]]] = session.info.pop(PENDING_KEY, [])
    if pending:
        session.connection().execute(_INSERT, [row for _transaction, row in pending])
    return len(pending)


def actor_for_log(actor: str) -> str:
    """An actor as logs may show it: data subjects (chat ids, addresses) masked, staff and system as is."""
    if actor.startswith("telegram:"):
        return "telegram:***"
    if "@" in actor:
        local, _, domain = actor.rpartition("@")
        return f"{local[:1]}***@{domain}"
    return actor


def allow_audit_purge(session: Session) -> None:
    """Open the gate for deleting audit events in this transaction (retention purge only)."""
    session.info[PURGE_FLAG] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL {PG_PURGE_SETTING} = 'on'"))
    log.warning("audit purge gate opened for the current transaction")


def _purge_allowed(session: Session) -> bool:
    return bool(session.info.get(PURGE_FLAG))


def _refuse_changed_events(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    if _purge_allowed(session):
        return
    for obj in session.deleted:
        if isinstance(obj, AuditEvent):
            raise AuditImmutableError(f"audit event {obj.id} cannot be deleted: the audit log is append-only")
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) and session.is_modified(obj, include_collections=False):
            raise AuditImmutableError(f"audit event {obj.id} cannot be changed: the audit log is append-only")


def _write_before_statement(state: ORMExecuteState) -> None:
    """Pending events first, where a statement could see (or miss) them."""
    if state.session.info.get(PENDING_KEY) and (
            state.is_update or state.is_delete or _reads_audit_log(state.statement)):
        write_pending_audit(state.session)


def _refuse_bulk_statements(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or _purge_allowed(state.session):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ is AuditEvent:
        verb = "UPDATE" if state.is_update else "DELETE"
        raise AuditImmutableError(f"{verb} on audit_events refused: the audit log is append-only")


def _reads_audit_log(statement: Any) -> bool:
    return isinstance(statement, Select) and any(_mentions_audit(f) for f in statement.get_final_froms())


def _mentions_audit(clause: FromClause) -> bool:
    if isinstance(clause, TableClause):  # ORM statements carry annotated copies of the table
        return bool(clause.name == _TABLE_NAME)
    if isinstance(clause, Join):
        return _mentions_audit(clause.left) or _mentions_audit(clause.right)
    if isinstance(clause, Subquery):
        return _reads_audit_log(clause.element)
    return False


def _drop_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    """A transaction ended: events still pending were not committed (a commit writes them first).

    The outermost transaction drops all of them; a savepoint only those recorded inside it."""
    pending: list[tuple[SessionTransaction | None, dict[str, Any]]] | None = session.info.get(PENDING_KEY)
    if not pending:
        return
    if transaction.parent is None:
        session.info.pop(PENDING_KEY, None)
        return
    if transaction.nested:
        pending[:] = [(t, row) for t, row in pending if not _inside(t, transaction)]


def _inside(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _close_gate(session: Session) -> None:
    session.info.pop(PURGE_FLAG, None)


def install_guards() -> None:
    """Register the ORM guards on every `Session` (idempotent)."""
    if event.contains(Session, "before_flush", _refuse_changed_events):
        return
    event.listen(Session, "before_flush", _refuse_changed_events)
    event.listen(Session, "do_orm_execute", _write_before_statement)
    event.listen(Session, "do_orm_execute", _refuse_bulk_statements)
    event.listen(Session, "before_commit", write_pending_audit)
    event.listen(Session, "after_transaction_end", _drop_rolled_back)
    event.listen(Session, "after_commit", _close_gate)
    event.listen(Session, "after_rollback", _close_gate)


install_guards()
