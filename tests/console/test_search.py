"""Search (issue 17): full text over names, addresses, display names of unknown senders, subjects
and bodies, folding German spellings ("Mößner", "Moessner", "Mossner"); DPO only, the term only in
a POST body.  On SQLite (FTS5 trigram, kept by triggers) and PostgreSQL (German full text and
pg_trgm, expression indexes); the messages arrive through the real pipeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from dsr.config import Settings
from dsr.inbound import InboundMessage, OutcomeStatus
from dsr.pipeline.core import Pipeline
from dsr.store.models import Message
from dsr.store.search import DISPLAY_NAME_KEY, search_backend
from tests.support.console import World

pytestmark = pytest.mark.postgres


def _mail(world: World, *, sender: str, name: str, subject: str, body: str, key: str) -> str:
    """An e-mail through the pipeline; returns the reference of the ticket it opened."""
    pipeline = Pipeline(sessions=world.sessions, profiles=world.profiles, clock=world.clock,
                        settings=Settings(database_url="sqlite:///unused.sqlite3"))
    outcome = pipeline.handle(InboundMessage(
        controller="kmb2", channel="email", dedupe_key=key, sender=sender, display_name=name,
        received_at=world.clock() - timedelta(hours=1), subject=subject, body=body, message_id=key,
        recipient="datenschutz@kmb2.de"))
    assert outcome.status is OutcomeStatus.ACCEPTED and outcome.ticket_reference, outcome
    return outcome.ticket_reference


def _search(client: TestClient, term: str) -> str:
    csrf = client.csrf  # type: ignore[attr-defined]
    response = client.post("/queue/search", data={"q": term, "csrf_token": csrf})
    assert response.status_code == 200, response.text[:300]  # answered in place: no redirect with the term
    return response.text


def _found(page: str, reference: str) -> bool:
    return f">{reference}</a><br><small>" in page


def test_search_folds_spellings_and_reads_display_names_subjects_and_bodies(db_world: World) -> None:
    world = db_world
    stranger = _mail(world, sender="jm-7781@example.net", name="Jürgen Moessner",
                     subject="Meine Daten", body="Bitte teilen Sie mir mit, was Sie über mich speichern.",
                     key="<s1@example.net>")
    letter = _mail(world, sender="paula@example.org", name="", subject="Kündigungsschreiben vom März",
                   body="Ich bitte um Auskunft nach Art. 15 DSGVO. Meine Kundennummer steht im Schreiben.",
                   key="<s2@example.org>")
    client = world.client("dpo")
    for spelling in ("Mößner", "Moessner", "Mossner", "MÖSSNER", "jürgen"):
        page = _search(client, spelling)
        assert _found(page, stranger) and not _found(page, letter), spelling
    assert _found(_search(client, "kuendigungsschreiben"), letter)  # subject, spelled out
    page = _search(client, "Kundennummer steht")  # body text
    assert _found(page, letter) and not _found(page, stranger)
    assert _found(_search(client, "jm-7781"), stranger)  # the unknown sender's address
    assert not _found(_search(client, "Zahnarzt"), stranger)
    with world.sessions() as session:
        backend = search_backend(session)
        names = session.scalars(select(Message.headers[DISPLAY_NAME_KEY].as_string())).all()
        dialect = session.get_bind().dialect.name
    assert backend == ("fts5" if dialect == "sqlite" else "pg_trgm+german")
    assert "Jürgen Moessner" in names  # kept with the message: the display name is searchable


def test_search_is_for_the_dpo_only(db_world: World) -> None:
    client = db_world.client("manager")
    csrf = client.csrf  # type: ignore[attr-defined]
    response = client.post("/queue/search", data={"q": "Schmidt", "csrf_token": csrf})
    assert response.status_code in (303, 403)
    assert "Schmidt" not in response.headers.get("location", "")
