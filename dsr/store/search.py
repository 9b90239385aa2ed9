"""Search over what people wrote: full-text indexes kept by the database, and one spelling fold.

German names are written three ways ("Mößner", "Moessner", "Mossner"), so documents and search
terms are folded alike before they meet: lower case, umlauts and sharp s to their base letters,
and the spelled-out forms "ae", "oe", "ue" to the base vowel as well (`fold` in Python,
`fold_sql` for SQLite triggers, the immutable `dsr_fold()` function on PostgreSQL, all built from
`FOLDS`).  The fold loses distinctions ("Mueller" and "Muller" meet), which is what a search
for a person needs; it is used for searching only, never stored as the person's data.

What is indexed per message (`DOCUMENT`): the sender's address, the display name the mail
carried (kept in the headers column under `DISPLAY_NAME_KEY`), the subject line and the body.

- PostgreSQL (migration 0003): `pg_trgm` when the role may create it (a GIN trigram index on
  the folded document answers substring search), plus a GIN index on
  `to_tsvector('german', folded document)` for word search with German stemming ("Löschung"
  finds "löschen").  Both are expression indexes, maintained by PostgreSQL on every insert and
  update.  Without `pg_trgm` the substring half runs as a scan: correct, slower;
  `search_backend` says which index answers.
- SQLite: an FTS5 table with the trigram tokenizer (`message_search`, rowid = message id), kept
  by triggers on `messages`.  Without it (no FTS5 in the SQLite build) a folded LIKE scan, with a
  warning in the log on each search.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import ColumnElement, TextClause, func, or_, select, text
from sqlalchemy.orm import Session

from dsr.store.models import Message

log = logging.getLogger(__name__)

# Applied in order: the uppercase forms first (SQLite's lower() knows ASCII only), then lower(),
# then the lowercase and spelled-out forms.
UPPER_FOLDS: tuple[tuple[str, str], ...] = (("Ä", "a"), ("Ö", "o"), ("Ü", "u"), ("ẞ", "ss"))
LOWER_FOLDS: tuple[tuple[str, str], ...] = (
    ("ä", "a"), ("ö", "o"), ("ü", "u"), ("ß", "ss"), ("ae", "a"), ("oe", "o"), ("ue", "u"),
)
DISPLAY_NAME_KEY = "x-dsr-display-name"
FTS_TABLE = "message_search"


def in_models(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic `include_object`: False for the search objects of migration 0003, which exist in the
    database only (FTS5 tables and their shadow tables, expression indexes), not in the models."""
    return not (name or "").startswith((FTS_TABLE, "ix_message_search_"))


def fold(value: str) -> str:
    for char, replacement in UPPER_FOLDS:
        value = value.replace(char, replacement)
    value = value.lower()
    for char, replacement in LOWER_FOLDS:
        value = value.replace(char, replacement)
    return value


def fold_sql(expression: str) -> str:
    """`fold` as SQL text around `expression` (nested replace and lower; SQLite and PostgreSQL)."""
    for char, replacement in UPPER_FOLDS:
        expression = f"replace({expression}, '{char}', '{replacement}')"
    expression = f"lower({expression})"
    for char, replacement in LOWER_FOLDS:
        expression = f"replace({expression}, '{char}', '{replacement}')"
    return expression


def folded(column: Any) -> Any:
    """`fold` as an SQLAlchemy expression (for the small tables searched by LIKE)."""
    expression = column
    for char, replacement in UPPER_FOLDS:
        expression = func.replace(expression, char, replacement)
    expression = func.lower(expression)
    for char, replacement in LOWER_FOLDS:
        expression = func.replace(expression, char, replacement)
    return expression


def document_sql(row: str = "", *, dialect: str) -> str:
    """The indexed text of a message row (`row` is "new." in a trigger, "" in a query)."""
    if dialect == "postgresql":
        display = f"({row}headers ->> '{DISPLAY_NAME_KEY}')"
    else:
        display = f"json_extract({row}headers, '$.\"{DISPLAY_NAME_KEY}\"')"
    parts = [f"{row}sender", display, f"{row}subject_line", f"{row}body_text"]
    return " || ' ' || ".join(f"coalesce({part}, '')" for part in parts)


PG_DOCUMENT = f"dsr_fold({document_sql(dialect='postgresql')})"
FTS_QUERY = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :phrase"  # noqa: S608 - constants only


def like_pattern(term: str) -> str:
    needle = fold(term).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{needle}%"


def search_backend(session: Session) -> str:
    """Which index answers message search here: "pg_trgm+german", "german", "fts5" or "scan"."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        trgm = session.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")) is not None
        fold_fn = session.scalar(text("SELECT 1 FROM pg_proc WHERE proname = 'dsr_fold'")) is not None
        if not fold_fn:
            return "scan"
        return "pg_trgm+german" if trgm else "german"
    found = session.scalar(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
                           {"name": FTS_TABLE})
    return "fts5" if found is not None else "scan"


def message_matches(session: Session, term: str) -> ColumnElement[bool] | TextClause:
    """A WHERE clause on `Message` for messages whose indexed text contains `term` (folded)."""
    backend = search_backend(session)
    folded_term = fold(term)
    if backend == "fts5":
        phrase = '"' + folded_term.replace('"', '""') + '"'
        hits = text(FTS_QUERY).bindparams(phrase=phrase)
        return Message.id.in_(hits.columns(Message.id))
    if backend.startswith("pg_trgm") or backend == "german":
        # Substring (trigram index when pg_trgm exists) or German words (stemmed).
        return text(f"({PG_DOCUMENT} LIKE :pattern ESCAPE '\\' OR to_tsvector('german', {PG_DOCUMENT}) "
                    "@@ plainto_tsquery('german', :words))").bindparams(
            pattern=like_pattern(term), words=folded_term)
    log.warning("message search without index (backend=%s): scanning", backend)
    pattern = like_pattern(term)
    display = Message.headers[DISPLAY_NAME_KEY].as_string()
    return or_(*(folded(column).like(pattern, escape="\\")
                 for column in (Message.sender, display, Message.subject_line, Message.body_text)))


def matching_ticket_ids(session: Session, term: str, scope: ColumnElement[bool]) -> set[int]:
    """Tickets (within `scope`, a clause on Message.controller) with a message matching `term`."""
    query = select(Message.ticket_id).where(Message.ticket_id.is_not(None), scope,
                                            message_matches(session, term))
    return {i for i in session.scalars(query) if i is not None}
