"""audit log append-only on PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

A trigger refuses UPDATE and DELETE on audit_events for every client, not only our ORM.  The
retention purge opens the gate for its own transaction with `SET LOCAL dsr.allow_audit_purge = 'on'`
(see `dsr.store.audit.allow_audit_purge`).  SQLite has no such per-transaction setting; there the ORM
guard in `dsr.store.audit` is the protection.  Hand-written: `regenerate` keeps it.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION dsr_audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('dsr.allow_audit_purge', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""

TRIGGER = """
CREATE TRIGGER audit_events_append_only
BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION dsr_audit_events_append_only()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS dsr_audit_events_append_only()")
