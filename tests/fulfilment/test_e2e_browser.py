"""End to end with real servers: our SMTP endpoint and console (`dsr serve`'s wiring), the demo CRM on
PostgreSQL, a support mailbox in Dovecot, the SMTP sink as relay, and Chromium as the DPO's and the
data subject's browser.

Access: Erika mails a request -> verified by the address on file -> the DPO searches, approves ->
the link goes out -> Erika asks for the code, downloads the ZIP (her rows and mails, nobody else's)
-> audited; the used link and, later, the expired link are refused.  Erasure: Max mails -> the DPO
runs the plan -> his rows are gone, his invoice is kept and restricted until its end date, the proof
is recorded, the Art. 19 notice reaches the sink, and the letter drafted from the template states
exactly that.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import socket
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.console.users import add_user
from dsr.controllers.profile import PROFILE_DIR, load_profile
from dsr.service.app import prepare_database, serve
from dsr.service.demo import load_demo_data
from dsr.service.demo_crm import create_demo_crm
from dsr.store.models import AuditEvent, ErasureProof, RetentionHold, Ticket
from tests.servers.dovecot import ImapAccount
from tests.servers.smtp_sink import SinkMessage, SmtpSink
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.clock import FakeClock
from tests.support.database import PG_ADMIN_URL, missing_server

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.dovecot, pytest.mark.slow]
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
KEY = "w9Jx4pQh0n0jz3wq5m9Bq8b2X7mVdQy1hZ6tC0kR3uE"
SUPPORT_SYSTEM = """
[[systems]]
key = "support"
name = "Support-Postfach"
kind = "imap"
url_env = "DSR_SUPPORT_KMB2_URL"

[[systems.categories]]
key = "mails"
name = "E-Mails an den Support"
profile_categories = ["E-Mail-Adressen"]
table = "Support"
"""


@pytest.fixture
def pg_crm(pg_admin_engine: Engine) -> Iterator[str]:
    name = f"dsr_crm_{uuid.uuid4().hex[:12]}"
    with pg_admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    engine = create_engine(url)
    create_demo_crm(engine, "kmb2")
    engine.dispose()
    yield url
    with pg_admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mail(sender: str, subject: str, body: str, to: str = "klaus.marwede@kmb2.de") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(START)
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content(body)
    return msg


class Running:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: FakeClock) -> None:
        self.settings, self.sessions, self.clock = settings, sessions, clock
        self.bound: dict[str, tuple[str, int]] = {}
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            profiles = {"kmb2": load_profile(self.settings.controller)}

            def listening(name: str, host: str, port: int) -> None:
                self.bound[name] = (host, port)
                if {"smtp", "console"} <= set(self.bound):
                    self._ready.set()

            await serve(self.settings, profiles, self.sessions, stop=self._stop, clock=self.clock,
                        on_listening=listening)

        asyncio.run(main())

    def __enter__(self) -> Running:
        self._thread.start()
        assert self._ready.wait(30), "the service did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def send(self, msg: EmailMessage) -> None:
        import smtplib

        host, port = self.bound["smtp"]
        with smtplib.SMTP(host, port, timeout=30) as client:
            client.send_message(msg)


def _wait_for(sink: SmtpSink, match: Callable[[SinkMessage], bool], timeout: float = 30) -> SinkMessage:
    while True:
        message = sink.wait_for_message(timeout)
        if match(message):
            return message


def _ticket_of(sessions: sessionmaker[Session], address: str, timeout: float = 30) -> Ticket:
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    while datetime.now(UTC) < deadline:
        with sessions() as session:
            found = session.scalars(select(Ticket).where(Ticket.reply_to == address)).first()
            if found is not None:
                return found
        threading.Event().wait(0.2)
    raise AssertionError(f"no ticket for {address}")


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Page]:
    if not CHROMIUM.exists():
        missing_server("Debian's chromium at /usr/bin/chromium")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            locale="de-DE", accept_downloads=True)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        yield page
        context.close()


def test_access_and_erasure_end_to_end(tmp_path: Path, smtp_sink: SmtpSink, pg_crm: str, dovecot: ImapAccount,
                                       browser_page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    # The support mailbox: two mails with Erika, one with somebody else.
    client = dovecot.client()
    client.create_folder("Support")
    client.append("Support", bytes(_mail("Erika Mustermann <erika.mustermann@example.org>", "Termin Heizung",
                                         "Bitte rufen Sie mich wegen des Termins an.", to="support@kmb2.de")))
    client.append("Support", bytes(_mail("Moritz Anders <moritz.anders@example.com>", "Wallbox",
                                         "Wann kommt der Elektriker?", to="support@kmb2.de")))
    client.logout()
    profile = tmp_path / "kmb2.toml"
    shutil.copy(PROFILE_DIR / "kmb2.toml", profile)
    (tmp_path / "kmb2.datamap.toml").write_text(
        (PROFILE_DIR / "kmb2.datamap.toml").read_text(encoding="utf-8") + SUPPORT_SYSTEM, encoding="utf-8")
    monkeypatch.setenv("DSR_CRM_KMB2_URL", pg_crm)
    monkeypatch.setenv("DSR_SUPPORT_KMB2_URL", dovecot.url())
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/dsr.sqlite3", controller=str(profile), smtp_listen="127.0.0.1:0",
        web_listen=f"127.0.0.1:{port}", smtp_relay=smtp_sink.relay, maildir=tmp_path / "maildir",
        web_secret_key="e2e-secret-key-0123456789abcdef", web_cookie_secure=False, package_key=KEY,
        package_dir=tmp_path / "packages", download_max_uses=1, workers=0)
    clock = FakeClock(START)
    sessions = prepare_database(settings)
    load_demo_data(sessions, ["kmb2"], now=START)
    with sessions.begin() as session:
        add_user(session, username="dana", role="dpo", password="korrekt-pferd-batterie", now=START,
                 controllers=["kmb2"])
    page = browser_page
    with Running(settings, sessions, clock) as service:
        # --- access ---------------------------------------------------------------------------
        service.send(_mail("Erika Mustermann <erika.mustermann@example.org>", "Auskunft nach Art. 15 DSGVO",
                           "Sehr geehrte Damen und Herren,\n\nbitte senden Sie mir eine Kopie aller "
                           "Daten, die Sie über mich gespeichert haben (Art. 15 DSGVO).\n\nErika Mustermann"))
        erika = _ticket_of(sessions, "erika.mustermann@example.org")
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "dana")
        page.fill("input[name=password]", "korrekt-pferd-batterie")
        page.click("button[type=submit]")
        page.goto(f"{base}/tickets/{erika.id}")
        page.click("#fulfilment-link a")
        page.click("#discovery button")
        expect(page.locator("#system-crm")).to_contain_text("Daten gefunden")
        expect(page.locator("#system-support")).to_contain_text("E-Mails an den Support: 1")
        page.click("#manual-paper button")
        page.click("#delivery button")
        expect(page.locator(".flash.ok")).to_contain_text("Download-Link an den bestätigten Kontakt versandt")
        link_mail = _wait_for(smtp_sink, lambda m: "Download-Link" in str(m.message["Subject"]))
        assert link_mail.rcpt_tos == ("erika.mustermann@example.org",)
        match = re.search(rf"{re.escape(base)}/download/[A-Za-z0-9_-]+", link_mail.text)
        assert match is not None, link_mail.text
        link = match.group(0)
        page.goto(link)
        expect(page.locator("#download")).to_contain_text(erika.reference)
        page.click("button:has-text('Code senden')")
        code_mail = _wait_for(smtp_sink, lambda m: "Download-Code" in str(m.message["Subject"]))
        assert code_mail.rcpt_tos == ("erika.mustermann@example.org",)
        code_match = re.search(r"^(\d{6})$", code_mail.text, re.MULTILINE)
        assert code_match is not None
        page.fill("input[name=code]", code_match.group(1))
        with page.expect_download() as download_info:
            page.click("button:has-text('Herunterladen')")
        saved = tmp_path / "download.zip"
        download_info.value.save_as(saved)
        archive = zipfile.ZipFile(io.BytesIO(saved.read_bytes()))
        customers = json.loads(archive.read("data/crm/customers.json"))["records"]
        assert [c["customer_number"] for c in customers] == ["K-10001"]
        mails = json.loads(archive.read("data/support/mails.json"))["records"]
        assert [m["subject"] for m in mails] == ["Termin Heizung"]
        everything = b"".join(archive.read(n) for n in archive.namelist()).decode()
        for stranger in ("Musterfrau", "Moritz", "Wallbox", "Max Beispiel", "K-10002"):
            assert stranger not in everything
        with sessions() as session:
            actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.ticket_id == erika.id)))
        assert {"fulfilment.package_built", "fulfilment.download_code_sent",
                "fulfilment.downloaded"} <= actions
        # Used once (the limit here): refused; after the expiry date: refused as expired.
        page.goto(link)
        expect(page.locator("#download")).to_contain_text("bereits so oft verwendet")
        clock.advance(days=15)
        page.goto(link)
        expect(page.locator("#download")).to_contain_text("Dieser Link ist abgelaufen")
        clock.advance(days=-15)

        # --- erasure --------------------------------------------------------------------------
        service.send(_mail("Max Beispiel <max.beispiel@example.net>", "Löschung meiner Daten",
                           "Guten Tag,\n\nbitte löschen Sie sämtliche personenbezogenen Daten, die Sie "
                           "über mich gespeichert haben (Art. 17 DSGVO).\n\nMax Beispiel"))
        max_ticket = _ticket_of(sessions, "max.beispiel@example.net")
        page.goto(f"{base}/tickets/{max_ticket.id}/fulfilment")
        page.click("#discovery button")
        expect(page.locator("#system-crm")).to_contain_text("Rechnungen: 1")
        page.check("#manual-paper input[value=yes]")
        page.fill("#manual-paper input[name=note]", "1 Auftragsmappe 2024")
        page.click("#manual-paper button")
        expect(page.locator("#plan .plan-retain")).to_contain_text("bis 31.12.2032")
        page.check("#plan input[name=manual_done]")
        page.click("#plan button[type=submit]")
        expect(page.locator(".flash.ok")).to_contain_text("Plan ausgeführt")
        expect(page.locator("#proof")).to_contain_text("Handwerkspartner")
        notice = _wait_for(smtp_sink, lambda m: "Art. 19" in str(m.message["Subject"]))
        assert notice.rcpt_tos == ("auftraege@handwerkspartner.example.com",)
        assert "Kundennummer K-10002" in notice.text
        crm = create_engine(pg_crm)
        with crm.connect() as conn:
            assert conn.execute(text("select count(*) from customers where customer_number = 'K-10002'")
                                ).scalar_one() == 0
            assert conn.execute(text("select count(*) from orders where id = 3")).scalar_one() == 0
            kept = conn.execute(text("select restricted from invoices where id = 3")).scalar_one()
            assert kept is True
            assert conn.execute(text("select count(*) from customers")).scalar_one() == 4
        crm.dispose()
        with sessions() as session:
            proofs = {(p.category, p.action, p.rows) for p in session.scalars(select(ErasureProof))}
            hold = session.scalars(select(RetentionHold)).one()
        # Max wrote no support mail: the mailbox has nothing of his and is not in the proof.
        assert proofs == {("customers", "erase", 1), ("orders", "erase", 1), ("invoices", "retain", 1),
                          ("appointments", "erase", 1), ("folders", "manual", 1)}
        assert (hold.category, hold.until.isoformat()) == ("invoices", "2032-12-31")
        # The letter, drafted from the template, states exactly what was done.
        page.goto(f"{base}/tickets/{max_ticket.id}")
        page.select_option("select[name=kind]", "erasure_done")
        page.click("form[action$='/draft/template'] button")
        with sessions() as session:
            draft = session.get(Ticket, max_ticket.id)
            assert draft is not None and draft.draft_reply
            letter = draft.draft_reply
        for line in ("Stammdaten (Name, Anschrift, Kontakt)", "Aufträge", "Termine",
                     "Auftragsmappen in Papierform",
                     "Rechnungen – Rechtsgrundlage: § 147 Abs. 1 Nr. 4 und Abs. 3 AO",
                     "31. Dezember 2032", "Handwerkspartner (Subunternehmer) der beauftragten Gewerke"):
            assert line in " ".join(letter.split()), (line, letter)
