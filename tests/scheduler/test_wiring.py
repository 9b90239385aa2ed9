"""Settings and `dsr serve` wiring: DSR_TEMPLATES_DIR reaches the pipeline and the scheduler."""

from __future__ import annotations

import asyncio
import re
import smtplib
from pathlib import Path

import httpx
import pytest

from dsr.config import ConfigError, Settings, load_settings
from dsr.console.users import add_user
from dsr.controllers.profile import load_profile
from dsr.service.app import prepare_database
from dsr.service.demo import load_demo_data
from dsr.store.models import QuarantinedMessage, User
from tests.servers.smtp_sink import SmtpSink
from tests.support.clock import FakeClock
from tests.support.console import PASSWORD, csrf_of
from tests.support.pipeline import ERIKA, KMB2, make_mail
from tests.support.scheduler import RECEIVED, Desk, berlin, mail_text
from tests.support.service import serving

OVERRIDE_SUBJECT = "Ihre Datenschutzanfrage ist bei kmb2 angekommen"


def write_overrides(root: Path) -> Path:
    """kmb2's own receipt subject and digest subject; everything else falls back to the defaults."""
    own = root / "kmb2" / "de"
    own.mkdir(parents=True)
    (own / "receipt_confirmation.j2").write_text(
        '{% extends "default:de/receipt_confirmation.j2" %}\n'
        f"{{% block subject %}}{OVERRIDE_SUBJECT}{{% endblock %}}\n", encoding="utf-8")
    (own / "weekly_digest.j2").write_text(
        '{% extends "default:de/weekly_digest.j2" %}\n'
        "{% block subject %}Fristen der Woche {{ ctx.period_label }}{% endblock %}\n", encoding="utf-8")
    return root


def test_templates_dir_must_be_an_existing_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DSR_TEMPLATES_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"^DSR_TEMPLATES_DIR: folder .*missing does not exist"):
        load_settings()
    monkeypatch.setenv("DSR_TEMPLATES_DIR", str(tmp_path))
    monkeypatch.setenv("DSR_RETENTION_AUTO_PURGE", "true")
    settings = load_settings()
    assert settings.templates_dir == tmp_path and settings.retention_auto_purge is True
    monkeypatch.delenv("DSR_TEMPLATES_DIR")
    monkeypatch.delenv("DSR_RETENTION_AUTO_PURGE")
    assert (load_settings().templates_dir, load_settings().retention_auto_purge) == (None, False)


async def test_override_changes_the_receipt_sent_by_serve(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/dsr.sqlite3", controller="kmb2", smtp_listen="127.0.0.1:0",
        web_listen="127.0.0.1:0", smtp_relay=smtp_sink.relay, maildir=tmp_path / "maildir",
        web_secret_key="wiring-secret-key-0123456789abcdef", web_cookie_secure=False,
        templates_dir=write_overrides(tmp_path / "overrides"),
    )
    profiles = {"kmb2": load_profile("kmb2")}
    clock = FakeClock(RECEIVED)
    sessions = await asyncio.to_thread(prepare_database, settings)
    await asyncio.to_thread(load_demo_data, sessions, list(profiles), now=clock.now)
    async with serving(settings, profiles, sessions, clock=clock, wait_for=("smtp",)) as bound:
        host, port = bound["smtp"]

        def deliver() -> None:
            with smtplib.SMTP(host, port, timeout=30) as client:
                client.sendmail(ERIKA, [KMB2], make_mail(message_id="<override-1@example.org>"))

        await asyncio.to_thread(deliver)
        reply = await smtp_sink.next_message()
    assert reply.rcpt_tos == (ERIKA,)
    assert re.fullmatch(rf"\[DSR-2026-\d{{6}}\] {OVERRIDE_SUBJECT}", reply.subject), reply.subject
    # Only the subject was overridden: the body is the standard receipt with the due date.
    assert "spätestens am 2. April 2026" in reply.text


async def test_reprocessed_quarantine_mail_gets_the_override(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    """The console reprocesses through the service's own pipeline, so DSR_TEMPLATES_DIR applies
    (the console's former copy of the pipeline rendered the default receipt)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/dsr.sqlite3", controller="kmb2", smtp_listen="127.0.0.1:0",
        web_listen="127.0.0.1:0", smtp_relay=smtp_sink.relay, maildir=tmp_path / "maildir",
        web_secret_key="wiring-secret-key-0123456789abcdef", web_cookie_secure=False,
        templates_dir=write_overrides(tmp_path / "overrides"),
    )
    profiles = {"kmb2": load_profile("kmb2")}
    clock = FakeClock(RECEIVED)
    sessions = await asyncio.to_thread(prepare_database, settings)
    await asyncio.to_thread(load_demo_data, sessions, list(profiles), now=clock.now)
    with sessions.begin() as session:
        assert isinstance(add_user(session, username="dana", role="dpo", password=PASSWORD, now=clock.now,
                                   controllers=["*"]),
                          User)
        item = QuarantinedMessage(controller="kmb2", channel="email", reason="parser error (fixed since)",
                                  raw=make_mail(message_id="<quarantined-1@example.org>"),
                                  received_at=RECEIVED, state="open")
        session.add(item)
        session.flush()
        item_id = item.id
    async with serving(settings, profiles, sessions, clock=clock, wait_for=("smtp", "console")) as bound:
        host, port = bound["console"]
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as console:
            login = await console.get("/login")
            form = {"username": "dana", "password": PASSWORD, "csrf_token": csrf_of(login.text)}
            assert (await console.post("/login", data=form)).status_code == 303
            page = await console.get(f"/quarantine/{item_id}")
            done = await console.post(f"/quarantine/{item_id}/process",
                                      data={"csrf_token": csrf_of(page.text)})
            assert done.status_code == 303
            reply = await smtp_sink.next_message()
    assert reply.rcpt_tos == (ERIKA,)
    assert re.fullmatch(rf"\[DSR-2026-\d{{6}}\] {OVERRIDE_SUBJECT}", reply.subject), reply.subject
    with sessions() as session:
        item = session.get(QuarantinedMessage, item_id)
        assert item is not None and item.state == "processed"


def test_scheduler_digest_uses_the_overrides(desk: Desk, tmp_path: Path) -> None:
    desk.settings = Settings(templates_dir=write_overrides(tmp_path / "overrides"))
    desk.tick_at(berlin(2026, 3, 2, 8))
    subjects = {i.controller: mail_text(i)[0] for i in desk.items("weekly_digest")}
    assert subjects["kmb2"] == "Fristen der Woche KW 10/2026"
    assert subjects["komsa"].startswith("Wochenübersicht Betroffenenanfragen KW 10/2026")
