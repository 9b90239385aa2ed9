"""Message search on a few thousand messages: insert rate with the index kept by the database, and
search time through the index against the folded LIKE scan it replaces (SQLite FTS5 trigram;
PostgreSQL German full text plus pg_trgm when DSR_BENCH_PG_URL names an empty database)."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import func, insert, or_, select, text
from sqlalchemy.orm import Session

from dsr.store.db import make_engine, migrate, session_factory
from dsr.store.models import Message
from dsr.store.search import DISPLAY_NAME_KEY, folded, like_pattern, message_matches, search_backend

MESSAGES = 5_000
TERMS = ("Mößner", "Kündigungsschreiben", "Kundennummer K-1", "Zahnarzt", "datenschutz@")
WORDS = ("Auskunft", "Löschung", "Daten", "bitte", "speichern", "Vertrag", "Rechnung", "Kundennummer",
         "Anwalt", "Werbung", "Konto", "Adresse", "Telefon", "Mitteilung", "Frist", "Kündigung")
NAMES = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Moessner")


def _rows(rng: random.Random) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    rows = []
    for i in range(MESSAGES):
        name = rng.choice(NAMES)
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 200)))
        rows.append({"controller": "kmb2", "channel": "email", "direction": "in", "dedupe_key": f"<b{i}@x>",
                     "sender": f"{name.lower()}{i}@example.org", "recipient": "datenschutz@kmb2.de",
                     "subject_line": f"Anfrage {name} K-{i}", "body_text": f"{body}\n{name}",
                     "headers": {"x-dsr-display-name": name}, "attachments": [], "received_at": now})
    return rows


def _scan(term: str) -> object:
    pattern = like_pattern(term)
    display = Message.headers[DISPLAY_NAME_KEY].as_string()
    return or_(*(folded(column).like(pattern, escape="\\")
                 for column in (Message.sender, display, Message.subject_line, Message.body_text)))


def _measure(session: Session, clause_for: object, label: str) -> list[int]:
    times, hits = [], []
    for _ in range(5):
        hits = []
        for term in TERMS:
            clause = clause_for(term)  # type: ignore[operator]
            began = time.perf_counter()
            hits.append(session.scalar(select(func.count(Message.id)).where(clause)) or 0)
            times.append(time.perf_counter() - began)
    print(f"   {label}: median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
          f"({len(times)} searches; hits {hits})")
    return hits


def run(url: str, name: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    rows = _rows(random.Random(17))
    with sessions.begin() as session:
        began = time.perf_counter()
        for start in range(0, len(rows), 500):
            session.execute(insert(Message), rows[start:start + 500])
        elapsed = time.perf_counter() - began
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:  # what autovacuum would do soon after a bulk load
            conn.execute(text("ANALYZE messages"))
            conn.commit()
    with sessions() as session:
        print(f"   {name} ({search_backend(session)}): {MESSAGES:,} messages inserted in {elapsed:.2f} s "
              f"({MESSAGES / elapsed:,.0f}/s, index kept by the database)")
        indexed = _measure(session, lambda term: message_matches(session, term), f"{name} indexed search")
        scanned = _measure(session, _scan, f"{name} folded LIKE scan")
        # PostgreSQL's word search also finds stemmed forms, so it may find more, never fewer.
        complete = all(i >= s for i, s in zip(indexed, scanned, strict=True))
        print(f"   {name}: every scan hit found by the index: {complete}")
    engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.sqlite3", "SQLite")
    pg = os.environ.get("DSR_BENCH_PG_URL")
    if pg:
        run(pg, "PostgreSQL")
    else:
        print("   PostgreSQL: set DSR_BENCH_PG_URL to an empty database to measure it")


if __name__ == "__main__":
    main()
