"""The console's fulfilment page and the download page (Starlette TestClient): a Telegram request
gets its link and its code in the chat; the page shows what was found and records the viewing."""

from __future__ import annotations

import ast
import json
import os
import re
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker
from starlette.testclient import TestClient

from dsr.console.auth import Role, SessionStore
from dsr.console.users import add_user
from dsr.console.views import fulfilment as fulfilment_views
from dsr.datamap import load_datamap_for
from dsr.fulfilment.discovery import claim_searches, open_case, record_search, run_search
from dsr.store.models import AuditEvent, OutboxItem, Ticket, User
from tests.support.fulfilment import NOW, fulfilment_console

CHAT = "424242"


@pytest.fixture
def console(sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, int,
                                                                                               sessionmaker]:
    return fulfilment_console(sqlite_engine, tmp_path, monkeypatch, channel="telegram", reply_to=CHAT)


def _post(client: TestClient, url: str, **data: str) -> str:
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303, response.text[:300]
    return client.get(response.headers["location"]).text


def _chat_texts(sessions: sessionmaker, kind: str) -> list[str]:
    with sessions() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.kind == kind).order_by(OutboxItem.id))
        return [json.loads(i.payload)["text"] for i in items
                if i.channel == "telegram" and i.recipient == CHAT]


def test_chat_request_gets_link_and_code_in_the_chat(console: tuple[TestClient, int, sessionmaker]) -> None:
    client, ticket_id, sessions = console
    base = f"/tickets/{ticket_id}/fulfilment"
    page = client.get(base).text
    assert "Die Suche startet automatisch in Kürze." in page
    page = _post(client, f"{base}/discover")
    assert "Suche abgeschlossen." in page and "Daten gefunden" in page
    assert "K-10001" in page and "K-10003" not in page  # read live from the CRM: hers only
    page = _post(client, f"{base}/exclude", system="crm", category="appointments", item="2", reason="")
    assert "Bitte einen Grund angeben" in page
    page = _post(client, f"{base}/deliver")
    assert "muss von Hand geprüft und bestätigt werden" in page  # the paper archive first
    _post(client, f"{base}/manual", system="paper", found="no")
    page = _post(client, f"{base}/deliver")
    assert "Download-Link an den bestätigten Kontakt versandt" in page
    (link_text,) = _chat_texts(sessions, "package_link")
    match = re.search(r"https://dsr\.example\.org(/download/[A-Za-z0-9_-]+)", link_text)
    assert match is not None, link_text
    path = match.group(1)
    public = TestClient(client.app, base_url="http://testserver", follow_redirects=False)
    assert "noch 3 Download(s) möglich" in public.get(path).text
    assert "in den Chat gesendet" in public.post(f"{path}/code").text
    (code_text,) = _chat_texts(sessions, "download_code")
    code = re.search(r"^(\d{6})$", code_text, re.MULTILINE)
    assert code is not None
    assert public.post(f"{path}/code").status_code == 429  # at most one code a minute
    wrong = public.post(path, data={"code": "000000" if code.group(1) != "000000" else "111111"})
    assert wrong.status_code == 403 and "Der Code stimmt nicht." in wrong.text
    download = public.post(path, data={"code": code.group(1)})
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.content[:2] == b"PK"
    with sessions() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.ticket_id == ticket_id)))
    assert "fulfilment.viewed" in actions and "fulfilment.downloaded" in actions


def test_dpo_file_is_checked_encrypted_and_served_only_as_attachment(
        console: tuple[TestClient, int, sessionmaker]) -> None:
    client, ticket_id, sessions = console
    url = f"/tickets/{ticket_id}/fulfilment/upload"

    def upload(name: str, content: bytes) -> str:
        response = client.post(url, data={"csrf_token": client.csrf},  # type: ignore[attr-defined]
                               files={"file": (name, content, "application/octet-stream")})
        assert response.status_code == 303
        return client.get(response.headers["location"]).text

    assert "Dateityp nicht erlaubt" in upload("auskunft.html", b"<script>alert(1)</script>")
    assert "Dateityp nicht erlaubt" in upload("tool.exe", b"MZ\x90\x00")
    assert "passt nicht zu ihrer Endung" in upload("auskunft.pdf", b"<html>not a pdf</html>")
    assert "UTF-8" in upload("liste.csv", b"name\n\xff\xfe\n")
    assert "größer als 20 MB" in upload("gross.txt", b"a" * (20 * 1024 * 1024 + 1))
    page = upload("../../Auskunft Erika<1>.pdf", b"%PDF-1.7\n%fake but starts right\n")
    assert "Datei verschlüsselt abgelegt" in page
    (text,) = _chat_texts(sessions, "file_link")
    assert "„Auskunft Erika_1_.pdf“" in text
    match = re.search(r"https://dsr\.example\.org(/download/[A-Za-z0-9_-]+)", text)
    assert match is not None
    public = TestClient(client.app, base_url="http://testserver", follow_redirects=False)
    public.post(f"{match.group(1)}/code")
    code = re.search(r"^(\d{6})$", _chat_texts(sessions, "download_code")[-1], re.MULTILINE)
    assert code is not None
    response = public.post(match.group(1), data={"code": code.group(1)})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Auskunft Erika_1_.pdf\"; filename*=UTF-8''Auskunft%20Erika_1_.pdf")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == b"%PDF-1.7\n%fake but starts right\n"


def test_another_controllers_dpo_sees_and_does_nothing(console: tuple[TestClient, int, sessionmaker]) -> None:
    client, ticket_id, sessions = console
    store: SessionStore = client.app.state.services.web_sessions  # type: ignore[attr-defined]
    with sessions.begin() as session:
        other = add_user(session, username="kora", role="dpo", password="korrekt-pferd-batterie", now=NOW,
                         controllers=["komsa"])
        assert isinstance(other, User)
        other_id = other.id
    web = store.create(user_id=other_id, username="kora", role=Role.DPO, now=NOW)
    stranger = TestClient(client.app, base_url="http://testserver", follow_redirects=False)
    stranger.cookies.set("dsr_session", web.handle)
    base = f"/tickets/{ticket_id}/fulfilment"
    assert stranger.get(base).status_code == 404
    for action in ("discover", "deliver", "execute", "manual", "exclude", "include", "upload"):
        response = stranger.post(f"{base}/{action}", data={"csrf_token": web.csrf})
        assert response.status_code == 404, action
    with sessions() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action.like("fulfilment.%"))) is None


def test_search_now_waits_for_the_search_the_worker_already_runs(
        console: tuple[TestClient, int, sessionmaker]) -> None:
    """The worker claimed the CRM search just before the DPO's click: the console does not run it a
    second time, and still shows its result (found in the e2e test under load)."""
    client, ticket_id, sessions = console
    datamap = load_datamap_for("kmb2")
    assert datamap is not None
    with sessions.begin() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        open_case(session, ticket, datamap, now=NOW)
        (claimed,) = [d for d in claim_searches(session, now=NOW, ticket_id=ticket_id) if d.system == "crm"]

    def worker_finishes() -> None:
        time.sleep(1.0)
        outcome = run_search(claimed, datamap, os.environ)
        with sessions.begin() as session:
            record_search(session, claimed, outcome, now=NOW)

    other = threading.Thread(target=worker_finishes)
    other.start()
    page = _post(client, f"/tickets/{ticket_id}/fulfilment/discover")
    other.join()
    assert "Suche abgeschlossen." in page and "Daten gefunden" in page and "K-10001" in page
    with sessions() as session:
        done = session.scalars(select(AuditEvent)
                               .where(AuditEvent.action == "fulfilment.discovery_done")).all()
    assert [e.detail["system"] for e in done] == ["crm"]  # searched once


def test_every_decision_is_loaded_and_refused_by_one_helper(
        console: tuple[TestClient, int, sessionmaker], monkeypatch: pytest.MonkeyPatch) -> None:
    """One place loads the ticket, its data map and profile for a fulfilment decision and turns a
    refusal or a silent system into the German message on the fulfilment page (it was copied into
    `deliver_action` and `execute_action`); the decisions behave as before."""
    source = Path(fulfilment_views.__file__).read_text(encoding="utf-8")
    callers = sorted({f.name for f in ast.walk(ast.parse(source)) if isinstance(f, ast.FunctionDef)
                      for c in ast.walk(f) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                      and c.func.id == "_load"})
    assert callers == ["_on_ticket"]

    client, ticket_id, sessions = console
    base = f"/tickets/{ticket_id}/fulfilment"
    for action, data in (("deliver", {}), ("execute", {}), ("manual", {"system": "paper", "found": "no"}),
                         ("exclude", {"system": "crm", "category": "appointments", "item": "2",
                                      "reason": "Daten Dritter"}), ("include", {"exclusion": "1"})):
        response = client.post(f"{base}/{action}", data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
        assert (response.status_code, response.headers["location"]) == (303, base), action
        assert "Die Suche wurde für dieses Ticket noch nicht gestartet." in client.get(base).text, action
    _post(client, f"{base}/discover")
    _post(client, f"{base}/manual", system="paper", found="no")
    monkeypatch.setenv("DSR_CRM_KMB2_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    page = _post(client, f"{base}/deliver")
    assert "Ein System hat nicht geantwortet" in page
    assert "Die Suche wurde" not in page
    with sessions() as session:
        assert session.scalar(select(OutboxItem).where(OutboxItem.kind == "package_link")) is None
