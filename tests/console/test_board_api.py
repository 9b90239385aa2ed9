"""Manager board, CSV, iCalendar, digest, and the JSON API: metadata only for managers."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import timedelta
from email import message_from_bytes, policy

from sqlalchemy import func, select

from dsr.console.ical import fold
from dsr.console.operations import close
from dsr.replies.labels import action_label
from dsr.store.models import AuditEvent, OutboxItem, Suppression, Ticket, TicketNote
from tests.support.console import NOW, World

PERSONAL = (
    "Anna",
    "Schmidt",
    "anna.schmidt@example.org",
    "K-1001",
    "424242",
    "meinen Anwalt",  # from the body (the reason label "Anwalt, Klage ..." is metadata)
    "Auskunft nach Art. 15",
)


def _no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, value


def test_board_counts_and_statistics(world: World) -> None:
    page = world.client("manager").get("/board").text
    _no_personal_data(page)
    overdue = page.split('id="tile-overdue"><span class="n">')[1].split("<")[0]
    due7 = page.split('id="tile-due7"><span class="n">')[1].split("<")[0]
    month = page.split('id="tile-month"><span class="n">')[1].split("<")[0]
    # komsa ticket (due 12.02.) is overdue; the e-mail (20.03.) and chat (25.03.) tickets are due this month.
    assert (overdue, due7, month) == ("1", "0", "2")
    assert "<svg" in page and "Beantwortete Anfragen je Monat" in page
    assert "50 %" in page  # January 2026: one answered on time, one late
    months = page.split('id="months"')[1]
    assert "<td>01/2026</td><td>2</td><td>2</td><td>1</td><td>50 %</td>" in months


def test_csv_export_has_metadata_only_and_is_audited(world: World) -> None:
    response = world.client("manager").get("/board/export.csv")
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    _no_personal_data(text)
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(rows) == 5
    [komsa] = [row for row in rows if row["Verantwortlicher"] == "komsa"]
    assert (komsa["Rechte"], komsa["Frist"], komsa["Eskalationsgründe"], komsa["Status"]) == (
        "Löschung",
        "12.02.2026",
        "Auskunftei- oder Bonitätseintrag",
        "beim Datenschutz (eskaliert)",
    )
    assert not any(re.search(r"\b[a-z]+_[a-z_]+\b", value) for row in rows for value in row.values())
    with world.sessions() as s:
        assert s.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "console.csv_exported")
        ).one() == {"rows": 5}


def test_calendar_feed_is_valid_icalendar_without_personal_data(world: World) -> None:
    client = world.client("manager")
    page = client.post("/board/calendar", data={"csrf_token": client.csrf}).text  # type: ignore[attr-defined]
    found = re.search(r'value="([^"]+)" id="calendar-url"', page)
    assert found is not None
    url = found.group(1)
    assert "/calendar/" in url and url.endswith(".ics")
    feed = world.client().get(url.replace("http://testserver", ""))
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    body = feed.text
    _no_personal_data(body)
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert body.count("BEGIN:VEVENT") == body.count("END:VEVENT") >= 3
    assert "DTSTART;VALUE=DATE:20260320" in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_fold_keeps_utf8_sequences_whole() -> None:
    line = "SUMMARY:" + "Löschung " * 20
    folded = fold(line)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line


def test_weekly_digest_goes_to_an_internal_address_via_the_outbox(world: World) -> None:
    client = world.client("manager")
    page = client.post(
        "/board/digest",
        data={"target": "kmb2:1", "csrf_token": client.csrf},  # type: ignore[attr-defined]
        follow_redirects=True,
    ).text
    assert "Wochenübersicht" in page
    with world.sessions() as s:
        item = s.scalars(select(OutboxItem).where(OutboxItem.kind == "weekly_digest")).one()
    assert item.recipient == "klaus.marwede@kmb2.de"
    mail = message_from_bytes(item.payload, policy=policy.default)
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    _no_personal_data(text)
    assert "KW 10/2026" in text + str(mail["Subject"])
    forged = client.post(
        "/board/digest",
        data={"target": "evil@example.org", "csrf_token": client.csrf},  # type: ignore[attr-defined]
        follow_redirects=True,
    ).text
    assert "aus der Liste" in forged


def _api(world: World, role: str, method: str, url: str, json: object = None) -> tuple[int, object]:
    r = world.client().request(
        method, url, json=json, headers={"Authorization": f"Bearer {world.tokens[role]}"}
    )
    return r.status_code, r.json()


def test_api_gives_managers_metadata_and_the_dpo_the_case(world: World) -> None:
    status, data = _api(world, "manager", "GET", f"/api/tickets/{world.email_reference}")
    assert status == 200 and isinstance(data, dict)
    assert data["due_date"] == "2026-03-20" and "conversation" not in data
    _no_personal_data(str(data))
    status, data = _api(world, "dpo", "GET", f"/api/tickets/{world.email_reference}")
    assert status == 200 and isinstance(data, dict)
    assert "Auskunft nach Art. 15" in str(data["conversation"])
    with world.sessions() as s:
        assert s.scalars(select(AuditEvent.actor).where(AuditEvent.action == "api.ticket_viewed")).all() == [
            "api:test-dpo"
        ]
    status, data = _api(world, "manager", "GET", "/api/tickets?state=open&overdue=1")
    assert status == 200 and [t["controller"] for t in data["tickets"]] == ["komsa"]  # type: ignore[index]
    status, data = _api(world, "manager", "GET", "/api/deadlines?within_days=20")
    assert [d["due_date"] for d in data["deadlines"]] == ["2026-02-12", "2026-03-20"]  # type: ignore[index]
    assert _api(world, "dpo", "GET", "/api/tickets/DSR-2026-999999")[0] == 404


def test_api_extension_and_refusal_after_the_date(world: World) -> None:
    with world.sessions.begin() as s:  # the notice goes only to a verified contact
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        ticket.identity_level = "contact_on_file"
    status, data = _api(
        world, "dpo", "POST", f"/api/tickets/{world.email_reference}/extend", {"reason": "Mehrere Systeme"}
    )
    assert (status, data) == (
        200,
        {"reference": world.email_reference, "extended_due_date": "2026-05-20", "state": "extended"},
    )
    with world.sessions() as s:
        ref = s.scalars(select(OutboxItem.kind)).all()
    assert ref == ["extension_notice"]
    status, data = _api(
        world, "dpo", "POST", f"/api/tickets/{world.email_reference}/extend", {"reason": "nochmal"}
    )
    assert status == 409 and "bereits verlängert" in str(data)


def test_suppression_check_is_a_post_and_never_logs_the_address(world: World) -> None:
    with world.sessions.begin() as s:
        s.add(Suppression(controller="kmb2", address="nein@example.org", created_at=NOW))
    status, data = _api(
        world,
        "suppression",
        "POST",
        "/api/suppression/check",
        {"address": " Nein@Example.org ", "controller": "kmb2"},
    )
    assert status == 200 and data["suppressed"] is True and data["may_send_marketing"] is False  # type: ignore[index]
    status, data = _api(
        world,
        "suppression",
        "POST",
        "/api/suppression/check",
        {"address": "ja@example.org", "controller": "kmb2"},
    )
    assert data["may_send_marketing"] is True  # type: ignore[index]
    assert _api(world, "suppression", "POST", "/api/suppression/check", {"controller": "kmb2"})[0] == 422
    assert _api(world, "suppression", "GET", "/api/tickets")[0] == 403
    with world.sessions() as s:
        details = s.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "api.suppression_checked")
        ).all()
    assert len(details) == 2 and "example.org" not in str(details)


def test_suppression_export_gives_marketing_tools_the_whole_list(world: World) -> None:
    """Issue 15 no. 7: marketing tools learn of objections (hashed where that suffices)."""
    with world.sessions.begin() as s:
        s.add(Suppression(controller="kmb2", address="nein@example.org", created_at=NOW))
        s.add(Suppression(controller="kmb2", address="+49531123456", created_at=NOW))
        s.add(Suppression(controller="komsa", address="andere@example.org", created_at=NOW))
    status, data = _api(world, "suppression", "GET", "/api/suppression/export?controller=kmb2")
    assert status == 200 and isinstance(data, dict) and data["hashed"] is True
    digest = hashlib.sha256(b"nein@example.org").hexdigest()
    assert [(e["identifier"], e["kind"]) for e in data["entries"]] == [
        (digest, "email"), (hashlib.sha256(b"+49531123456").hexdigest(), "phone")]
    status, data = _api(world, "suppression", "GET", "/api/suppression/export?controller=kmb2&hashed=0")
    assert [e["identifier"] for e in data["entries"]] == ["nein@example.org", "+49531123456"]  # type: ignore[index]
    later = (NOW + timedelta(seconds=1)).isoformat().replace("+", "%2B")
    assert _api(world, "suppression", "GET", f"/api/suppression/export?controller=kmb2&since={later}")[1][
        "entries"] == []  # type: ignore[index]
    assert _api(world, "suppression", "GET", "/api/suppression/export?controller=nope")[0] == 422
    assert _api(world, "manager", "GET", "/api/suppression/export?controller=kmb2")[0] == 403
    with world.sessions() as s:
        details = s.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "api.suppression_exported")).all()
    assert len(details) == 3 and "example.org" not in str(details)


def test_openapi_document_describes_every_api_route(world: World) -> None:
    status, doc = _api(world, "manager", "GET", "/api/openapi.json")
    assert status == 200 and isinstance(doc, dict)
    assert doc["openapi"].startswith("3.1")
    from dsr.console.app import ROUTES
    from dsr.console.guard import Access, GuardedRoute

    api_paths = {r.path for r in ROUTES if isinstance(r, GuardedRoute) and r.access is Access.TOKEN}
    assert api_paths == set(doc["paths"])
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_api_refuses_changes_to_a_closed_ticket_like_the_console(world: World) -> None:
    """A closed ticket is read-only until reopened: the API's note, extension and close answer 409
    with a German explanation, change nothing and leave an audit row (as the console does)."""
    url = f"/api/tickets/{world.email_reference}"
    status, data = _api(world, "dpo", "POST", f"{url}/notes", {"text": "Rückruf vereinbart"})
    assert status == 200 and isinstance(data, dict) and data["note_id"]  # open: the note is kept
    with world.sessions.begin() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        ticket.identity_level = "contact_on_file"  # an extension would otherwise be refused for that
        close(s, ticket, outcome="withdrawn", refusal_code=None, actor="console:dana",
              reason="Die Person hat die Anfrage telefonisch zurückgezogen", now=NOW)

    def counts() -> tuple[int, int, int]:
        with world.sessions() as s:
            notes = s.scalar(select(func.count()).select_from(TicketNote))
            outbox = s.scalar(select(func.count()).select_from(OutboxItem))
            changes = s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.ticket_id == world.email_ticket,
                AuditEvent.action.in_(["note_added", "deadline_extended", "state_changed"])))
            return int(notes or 0), int(outbox or 0), int(changes or 0)

    before = counts()
    calls = [("notes", {"text": "Noch eine Notiz"}), ("extend", {"reason": "Mehrere Systeme"}),
             ("close", {"outcome": "granted"})]
    for operation, body in calls:
        status, data = _api(world, "dpo", "POST", f"{url}/{operation}", body)
        assert status == 409, (operation, data)
        assert isinstance(data, dict) and data["error"] == "closed", operation
        assert "abgeschlossen und nur lesbar" in data["detail"] and "Wieder öffnen" in data["detail"]
    assert counts() == before
    with world.sessions() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "api.action_refused_closed")
                            .order_by(AuditEvent.id)).all()
    assert [(e.ticket_id, e.actor, (e.detail or {}).get("action")) for e in refused] == [
        (world.email_ticket, "api:test-dpo", "note"), (world.email_ticket, "api:test-dpo", "extend"),
        (world.email_ticket, "api:test-dpo", "close")]
    assert all("nur lesbar" in (e.reason or "") for e in refused)
    assert not action_label("api.action_refused_closed").startswith("api.")  # German in the history
