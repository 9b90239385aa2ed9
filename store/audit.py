"""The append-only audit log: who did what, when and why (Art. 5(2) and 24 GDPR, § 34(2) BDSG).

A DPO must be able to show an authority every decision taken on a request, so audit events are
only ever inserted.  Two guards enforce that:

* at the ORM level, a session event refuses to flush an updated or deleted `AuditEvent` and
  refuses bulk `UPDATE`/`DELETE` statements against the table (both databases);
* on PostgreSQL a trigger (migration 0002) refuses `UPDATE` and `DELETE` from any client.

The only legitimate removal is the retention purge of old request records (storage limitation,
Art. 5(1)(e)); it has to open the gate explicitly with `allow_audit_purge(session)`, which is
valid for the current transaction only.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from store.models import AuditEvent

log = logging.getLogger(__name__)

PURGE_FLAG = "dsr_allow_audit_purge"
# The PostgreSQL trigger looks at this transaction-local setting.
PG_PURGE_SETTING = "dsr.allow_audit_purge"


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
) -> AuditEvent:
    """Append one audit event to the session (not flushed, not committed)."""
    if now.tzinfo is None:
        raise ValueError("audit: `now` must be timezone-aware")
    if not actor.strip() or not action.strip():
        raise ValueError("audit: actor and action must not be empty")
    event_row = AuditEvent(
        at=now, actor=actor, action=action, ticket_id=ticket_id, reason=reason, detail=dict(detail or {})
    )
    session.add(event_row)
    log.info("audit action=%s actor=%s ticket=%s", action, actor_for_log(actor), ticket_id)
    return event_row


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


def _refuse_bulk_statements(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or _purge_allowed(state.session):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ is AuditEvent:
        verb = "UPDATE" if state.is_update else "DELETE"
        raise AuditImmutableError(f"{verb} on audit_events refused: the audit log is append-only")


def _close_gate(session: Session) -> None:
    session.info.pop(PURGE_FLAG, None)


def install_guards() -> None:
    """Register the ORM guards on every `Session` (idempotent)."""
    if event.contains(Session, "before_flush", _refuse_changed_events):
        return
    event.listen(Session, "before_flush", _refuse_changed_events)
    event.listen(Session, "do_orm_execute", _refuse_bulk_statements)
    event.listen(Session, "after_commit", _close_gate)
    event.listen(Session, "after_rollback", _close_gate)


install_guards()
