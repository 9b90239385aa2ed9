"""search indexes: PostgreSQL full text (German) and trigram, SQLite FTS5

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

See `dsr.store.search`.  PostgreSQL: `pg_trgm` is created when the role may (otherwise a NOTICE,
and search scans instead of using the trigram index), an immutable `dsr_fold()` function, and
expression indexes on the folded message document (GIN trigram, GIN tsvector 'german'), which
PostgreSQL keeps up to date on every write.  SQLite: an FTS5 trigram table kept by triggers
(skipped with a warning when the SQLite build has no FTS5).  Hand-written: `regenerate` keeps it.
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy.exc import OperationalError

from dsr.store.search import FTS_TABLE, PG_DOCUMENT, document_sql, fold_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

PG_EXTENSION = """
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm not available: search runs without the trigram index';
END
$$
"""

# PL/pgSQL, not SQL: a SQL function would be inlined, and its high cost (which steers the planner
# to the indexes instead of folding every row) lost with it.
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION dsr_fold(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT COST 1000
AS $$ BEGIN RETURN {fold_sql("value")}; END $$
"""

PG_TRGM_INDEX = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE $i$CREATE INDEX IF NOT EXISTS ix_message_search_trgm ON messages
                   USING gin (({PG_DOCUMENT}) gin_trgm_ops)$i$;
    END IF;
END
$$
"""  # noqa: S608 - built from this module's constants only

PG_WORDS_INDEX = f"""
CREATE INDEX IF NOT EXISTS ix_message_search_words ON messages
USING gin (to_tsvector('german', {PG_DOCUMENT}))
"""

SQLITE_DOCUMENT = fold_sql(document_sql("new.", dialect="sqlite"))
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON messages BEGIN
        INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (new.id, {SQLITE_DOCUMENT}); END""",  # noqa: S608
    f"""CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF sender, headers, subject_line, body_text
        ON messages BEGIN UPDATE {FTS_TABLE} SET doc = {SQLITE_DOCUMENT} WHERE rowid = new.id; END""",  # noqa: S608
    f"""CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON messages BEGIN
        DELETE FROM {FTS_TABLE} WHERE rowid = old.id; END""",  # noqa: S608
)
SQLITE_BACKFILL = (f"INSERT INTO {FTS_TABLE}(rowid, doc) "  # noqa: S608
                   f"SELECT id, {fold_sql(document_sql('', dialect='sqlite'))} FROM messages")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_EXTENSION)
        op.execute(PG_FUNCTION)
        op.execute(PG_TRGM_INDEX)
        op.execute(PG_WORDS_INDEX)
        return
    try:
        op.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(doc, tokenize = 'trigram')")
    except OperationalError:
        log.warning("SQLite without FTS5 trigram: message search scans instead")
        return
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)
    op.execute(SQLITE_BACKFILL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_message_search_words")
        op.execute("DROP INDEX IF EXISTS ix_message_search_trgm")
        op.execute("DROP FUNCTION IF EXISTS dsr_fold(text)")
        return
    for trigger in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{trigger}")
    op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
