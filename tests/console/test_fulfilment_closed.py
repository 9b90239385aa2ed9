"""A closed ticket is read-only until "Wieder öffnen" (issue 17): its fulfilment page offers no
action, and every state-changing action route of the ticket (fulfilment, notes, replies, deadline,
processor mode, previews) refuses with 409, a German explanation and an audit row, before it
searches, writes a package, queues a message or changes the ticket; after reopening they work
again.  The only actions a closed ticket allows are reopening and the breach flag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from dsr.console.app import ROUTES
from dsr.console.operations import close
from dsr.store.models import (
    AuditEvent,
    DiscoveryResult,
    FulfilmentCase,
    Message,
    OutboxItem,
    Ticket,
    TicketNote,
)
from dsr.store.tickets.services import open_ticket
from tests.support.fulfilment import NOW, fulfilment_console
from tests.support.routes import POST_DATA

PREFIX = "/tickets/{ticket_id:int}/fulfilment/"
FULFILMENT_POSTS = sorted(r.path for r in ROUTES if getattr(r, "path", "").startswith(PREFIX)
                          and "POST" in (getattr(r, "methods", None) or ()))
REFUSED = "console.fulfilment_refused_closed"
TICKET = "/tickets/{ticket_id:int}/"
TICKET_POSTS = sorted(r.path for r in ROUTES if getattr(r, "path", "").startswith(TICKET)
                      and not r.path.startswith(PREFIX) and "POST" in (getattr(r, "methods", None) or ()))
# What a closed ticket allows: reopening, and flagging a breach its message reported (Art. 33).
ALLOWED_WHEN_CLOSED = ["breach", "reopen"]
ACTION_REFUSED = "console.action_refused_closed"


@pytest.fixture
def console(sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> tuple[TestClient, int, sessionmaker[Session]]:
    return fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="email",
                              reply_to="erika.mustermann@example.org")


def _post(client: TestClient, path: str, ticket_id: int) -> tuple[int, str]:
    url = path.replace("{ticket_id:int}", str(ticket_id))
    data = dict(POST_DATA[path.replace(":int", "")])
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    return response.status_code, response.text


def _counts(sessions: sessionmaker[Session], ticket_id: int) -> dict[str, object]:
    with sessions() as s:
        case = s.scalar(select(FulfilmentCase).where(FulfilmentCase.ticket_id == ticket_id))
        return {
            "outbox": s.scalar(select(func.count()).select_from(OutboxItem)),
            "results": [(r.system, r.state, r.attempts) for r in s.scalars(
                select(DiscoveryResult).order_by(DiscoveryResult.id))],
            "case": (case.state, case.approved_by) if case is not None else None,
            "fulfilment_audit": s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.ticket_id == ticket_id, AuditEvent.action.like("fulfilment.%"),
                AuditEvent.action != "fulfilment.viewed")),
        }


def _refusals(sessions: sessionmaker[Session], ticket_id: int) -> list[str]:
    with sessions() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.ticket_id == ticket_id,
                                                  AuditEvent.action == REFUSED).order_by(AuditEvent.id))
        return [str((r.detail or {}).get("action")) for r in rows]


def test_every_fulfilment_action_of_a_closed_ticket_is_refused_until_reopened(
        console: tuple[TestClient, int, sessionmaker[Session]], tmp_path: Path) -> None:
    client, ticket_id, sessions = console
    # Every fulfilment action route is covered: a new one must be added here (and guarded).
    assert [p.removeprefix(PREFIX) for p in FULFILMENT_POSTS] == [
        "deliver", "discover", "exclude", "execute", "include", "manual", "upload"]
    base = f"/tickets/{ticket_id}/fulfilment"
    found = client.post(f"{base}/discover", data={"csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert found.status_code == 303
    assert "Suche abgeschlossen." in client.get(found.headers["location"]).text
    with sessions.begin() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        close(s, ticket, outcome="withdrawn", refusal_code=None, actor="console:dana",
              reason="Die Person hat die Anfrage telefonisch zurückgezogen", now=NOW)
    before = _counts(sessions, ticket_id)
    packages = sorted((tmp_path / "packages").rglob("*")) if (tmp_path / "packages").exists() else []

    # The page says why and offers no action (only the link back to the ticket).
    page = client.get(base).text
    assert "nur noch lesbar" in page and "„Wieder öffnen“" in page
    assert re.findall(r'<form[^>]*action="([^"]*)"', page) == ["/logout"]
    assert "Freigeben, Paket erstellen und senden" not in page and "Jetzt suchen" not in page

    for path in FULFILMENT_POSTS:
        status, text = _post(client, path, ticket_id)
        assert status == 409, (path, status, text[:300])
        assert "abgeschlossen und nur lesbar" in text and "Wieder öffnen" in text, path
    assert _refusals(sessions, ticket_id) == [p.removeprefix(PREFIX) for p in FULFILMENT_POSTS]
    # Nothing searched, approved, packaged, queued or recorded.
    assert _counts(sessions, ticket_id) == before
    now_packages = sorted((tmp_path / "packages").rglob("*")) if (tmp_path / "packages").exists() else []
    assert now_packages == packages

    reopened = client.post(f"/tickets/{ticket_id}/reopen", data={
        "reason": "Die Person will die Auskunft doch haben", "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert reopened.status_code == 303
    page = client.get(base).text
    assert "nur noch lesbar" not in page
    assert f'action="{base}/deliver"' in page and f'action="{base}/manual"' in page
    for path in FULFILMENT_POSTS:
        status, text = _post(client, path, ticket_id)
        assert status == 303, (path, status, text[:300])
    assert len(_refusals(sessions, ticket_id)) == len(FULFILMENT_POSTS)  # no new refusal
    # And the real work goes through: the paper archive confirmed, the package delivered.
    manual = client.post(f"{base}/manual", data={"system": "paper", "found": "no",
                                                 "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert manual.status_code == 303
    delivered = client.post(f"{base}/deliver", data={"csrf_token": client.csrf})  # type: ignore[attr-defined]
    done = client.get(delivered.headers["location"]).text
    assert "Download-Link an den bestätigten Kontakt versandt" in done
    with sessions() as s:
        links = select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "package_link")
        assert s.scalar(links) == 1


def _ticket_state(sessions: sessionmaker[Session], ticket_id: int) -> dict[str, object]:
    """Everything an action could change: the ticket's fields and the rows that hang off it."""
    with sessions() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        fields = {c.key: getattr(ticket, c.key) for c in Ticket.__table__.columns}
        rows = {model.__name__: s.scalar(select(func.count()).select_from(model))
                for model in (Ticket, TicketNote, Message, OutboxItem, FulfilmentCase)}
        audited = s.scalars(select(AuditEvent.action).where(
            AuditEvent.action.not_in([ACTION_REFUSED, REFUSED])).order_by(AuditEvent.id)).all()
        return {"ticket": fields, "rows": rows, "audit": audited}


def test_every_ticket_action_of_a_closed_ticket_is_refused_except_reopen_and_breach(
        console: tuple[TestClient, int, sessionmaker[Session]]) -> None:
    client, ticket_id, sessions = console
    actions = [p.removeprefix(TICKET) for p in TICKET_POSTS]
    # Every state-changing route of a ticket is covered: a new one must be added here (and guarded).
    assert actions == [
        "assign", "breach", "close", "dismiss-reason", "draft", "draft/template", "extend", "extend/preview",
        "identity", "letter", "notes", "pause", "processor/confirm", "processor/forward", "processor/preview",
        "processor/revert", "question", "relationships", "reopen", "resume", "rights", "send"]
    with sessions.begin() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        close(s, ticket, outcome="withdrawn", refusal_code=None, actor="console:dana",
              reason="Die Person hat die Anfrage telefonisch zurückgezogen", now=NOW)
    before = _ticket_state(sessions, ticket_id)

    refused = [a for a in actions if a not in ALLOWED_WHEN_CLOSED]
    for path in (TICKET + a for a in refused):
        status, text = _post(client, path, ticket_id)
        assert status == 409, (path, status, text[:300])
        assert "abgeschlossen und nur lesbar" in text and "„Wieder öffnen“" in text, path
        assert f'href="/tickets/{ticket_id}#closed"' in text, path  # back to where "Wieder öffnen" is
    assert _ticket_state(sessions, ticket_id) == before  # nothing noted, sent, drafted or changed
    with sessions() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == ACTION_REFUSED)
                         .order_by(AuditEvent.id))
        assert [(r.ticket_id, r.actor, (r.detail or {}).get("action")) for r in rows] == [
            (ticket_id, "console:dana", a) for a in refused]

    # The breach flag still works on a closed ticket (72 hours from the report's receipt).
    status, _ = _post(client, TICKET + "breach", ticket_id)
    assert status == 303
    with sessions() as s:
        flagged = s.get(Ticket, ticket_id)
        assert flagged is not None and flagged.state == "closed" and flagged.breach_due_at is not None
    status, _ = _post(client, TICKET + "reopen", ticket_id)
    assert status == 303
    # Reopened: the same note that was refused is kept now, without a new refusal.
    status, _ = _post(client, TICKET + "notes", ticket_id)
    assert status == 303
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(TicketNote)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == ACTION_REFUSED)) == len(refused)


def test_a_bulk_assignment_that_includes_a_closed_ticket_assigns_nothing(
        console: tuple[TestClient, int, sessionmaker[Session]]) -> None:
    """The work list's bulk "Zuweisen" reaches closed tickets too (scope "alle", search): a closed
    one is refused and audited like its own page's actions, and nothing of the batch is assigned."""
    client, closed_id, sessions = console
    with sessions.begin() as s:
        ticket = s.get(Ticket, closed_id)
        assert ticket is not None
        close(s, ticket, outcome="withdrawn", refusal_code=None, actor="console:dana",
              reason="Die Person hat die Anfrage telefonisch zurückgezogen", now=NOW)
        reference = ticket.reference
        open_id = open_ticket(s, controller="kmb2", land="NI", channel="email", received_at=NOW,
                              rights=["access"], now=NOW).id

    def assignees() -> list[str | None]:
        with sessions() as s:
            return [s.get(Ticket, i).assignee for i in (closed_id, open_id)]  # type: ignore[union-attr]

    def bulk(*ids: int) -> str:
        response = client.post("/queue/bulk", data={"ids": [str(i) for i in ids], "action": "assign",
                                                    "assignee": "dana", "query": "scope=all",
                                                    "csrf_token": client.csrf})  # type: ignore[attr-defined]
        assert response.status_code == 303
        return client.get(response.headers["location"]).text

    page = bulk(closed_id, open_id)
    assert f"Nichts zugewiesen: {reference} ist abgeschlossen und nur lesbar" in page
    assert assignees() == [None, None]
    with sessions() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == ACTION_REFUSED)).all()
        refused = [(r.ticket_id, (r.detail or {}).get("action")) for r in rows]
    assert refused == [(closed_id, "queue/bulk assign")]
    assert "2 Anfragen an dana zugewiesen" not in page
    assert "1 Anfrage an dana zugewiesen" in bulk(open_id)
    assert assignees() == [None, "dana"]
