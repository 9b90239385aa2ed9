"""Real browser (Debian's Chromium through Playwright) against the console served by uvicorn.

The console runs in a background thread on a socket bound to 127.0.0.1 port 0 before the server
starts, so the browser can connect at once (the listen backlog holds the connection) and no test
waits for readiness by sleeping.  Screenshots of the main pages go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from dsr.store.db import make_engine
from dsr.store.models import OutboxItem, Ticket
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.console import PASSWORD, World, make_world
from tests.support.database import missing_server

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


class LiveConsole:
    def __init__(self, world: World) -> None:
        self.world = world
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(world.app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveConsole:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@pytest.fixture
def live(seeded_sqlite: tuple[Path, World], tmp_path: Path) -> Iterator[LiveConsole]:
    source, template = seeded_sqlite
    target = tmp_path / "dsr.sqlite3"
    shutil.copyfile(source, target)
    engine = make_engine(f"sqlite:///{target}")
    with LiveConsole(make_world(engine, seeded_from=template)) as console:
        yield console
    engine.dispose()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    if not CHROMIUM.exists():
        missing_server("Debian's chromium at /usr/bin/chromium")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            locale="de-DE",
            viewport={"width": 1400, "height": 1000},
        )
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm questions
        yield page
        context.close()


def _login(page: Page, live: LiveConsole, username: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_dpo_works_an_escalated_ticket_from_queue_to_sent_reply(live: LiveConsole, page: Page) -> None:
    page.goto(f"{live.url}/login")
    _shot(page, "01-login")
    _login(page, live, "dana")
    expect(page).to_have_url(f"{live.url}/queue")
    expect(page.locator("#queue tbody tr")).to_have_count(3)
    expect(page.locator("#queue tbody tr").first).to_contain_text("überfällig")
    _shot(page, "02-queue")
    page.click(f"text={live.world.email_reference}")
    expect(page.locator("#conversation mark").first).to_have_text("Auskunft nach Art. 15 DSGVO")
    expect(page.locator("#classification")).to_contain_text("Mehrere oder widersprüchliche Rechte")
    expect(page.locator("#deadline")).to_contain_text("20.03.2026")
    _shot(page, "03-ticket")
    page.select_option("#identity select[name=level]", "known_facts")
    page.fill("#identity input[name=method]", "Kundennummer und Postleitzahl bestätigt")
    page.click("#identity button")
    expect(page.locator(".flash")).to_contain_text("Identitätsprüfung vermerkt")
    page.select_option("#reply select[name=kind]", "access_answer")
    page.click("text=Entwurf aus Vorlage")
    expect(page.locator(".flash")).to_contain_text("Entwurf aus der Vorlage")
    draft = page.input_value("#reply-text")
    assert "⟦" in draft  # the gaps only the DPO can fill (recipients of this person, C-154/21 …)
    page.fill("#reply-text", re.sub(r"⟦[^⟧]*⟧", "Elektro Sommer GmbH", draft))
    page.select_option("#send-form select[name=outcome]", "granted")
    page.click("text=Freigeben und senden")
    expect(page.locator(".flash")).to_contain_text("Antwort freigegeben")
    expect(page.locator("h1")).to_contain_text("beantwortet")
    _shot(page, "04-ticket-answered")
    with live.world.sessions() as s:
        item = s.scalars(select(OutboxItem).where(OutboxItem.ticket_id == live.world.email_ticket)).one()
        ticket = s.get(Ticket, live.world.email_ticket)
        assert ticket is not None
        assert (item.kind, item.channel, item.recipient, item.state) == (
            "dpo_reply",
            "email",
            "anna.schmidt@example.org",
            "pending",
        )
        mail = message_from_bytes(item.payload, policy=policy.default)
        assert "Elektro Sommer GmbH" in mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert (ticket.state, ticket.outcome) == ("answered", "granted")


def test_dpo_extends_a_deadline_and_sees_quarantine(live: LiveConsole, page: Page) -> None:
    _login(page, live, "dana")
    page.goto(f"{live.url}/tickets/{live.world.chat_ticket}")
    page.fill(
        "#extend-form textarea[name=reason]",
        "Die Daten liegen in drei Systemen und müssen geschwärzt werden.",
    )
    page.click("#extend-form button")
    # Receipt 25.02.2026 + 3 months = 25.05.2026, Pfingstmontag in Niedersachsen: next working day.
    expect(page.locator(".flash")).to_contain_text("Frist verlängert bis 26.05.2026")
    expect(page.locator("#extend-form")).to_have_count(0)
    _shot(page, "05-ticket-extended")
    with live.world.sessions() as s:
        ticket = s.get(Ticket, live.world.chat_ticket)
        assert ticket is not None and ticket.state == "extended"
        item = s.scalars(select(OutboxItem).where(OutboxItem.ticket_id == live.world.chat_ticket)).one()
        assert (item.kind, item.channel, item.recipient) == ("extension_notice", "telegram", "424242")
    page.click("nav >> text=Quarantäne")
    expect(page.locator("#quarantine")).to_contain_text("no From header")
    _shot(page, "06-quarantine")


def test_manager_sees_the_board_and_subscribes_to_the_calendar(live: LiveConsole, page: Page) -> None:
    _login(page, live, "max")
    expect(page).to_have_url(f"{live.url}/board")
    expect(page.locator("#tile-overdue .n")).to_have_text("1")
    expect(page.locator("svg.chart")).to_be_visible()
    expect(page.locator("nav")).not_to_contain_text("Eskalationen")
    _shot(page, "07-board")
    page.click("text=Kalender-Abonnement erstellen")
    url = page.input_value("#calendar-url")
    feed = page.request.get(url)
    assert feed.status == 200 and feed.text().startswith("BEGIN:VCALENDAR")
    _shot(page, "08-calendar-token")
    response = page.goto(f"{live.url}/tickets/{live.world.email_ticket}")
    assert response is not None and response.status == 403
    expect(page.locator("body")).not_to_contain_text("Anna Schmidt")
