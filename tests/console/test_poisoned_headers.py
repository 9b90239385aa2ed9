"""Security review (issue 14), finding 5: a poisoned Message-ID must not break replies or logs.

"=?utf-8?b?PHAKWDp5Pg==?=" decodes to "<p\\nX:y>".  Attached to a ticket by its subject tag, it
made every later DPO reply and extension notice on that ticket fail with a 500; on a new request
the pipeline failed on every delivery; and the newline forged log lines.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from dsr.inbound import InboundMessage
from dsr.logs import EscapingFormatter
from dsr.mail.parse import parse_email
from dsr.store.models import Message, OutboxItem, Ticket
from tests.support.console import NOW, World

POISON = "=?utf-8?b?PHAKWDp5Pg==?="  # "<p\nX:y>"


def _mail(subject: str, sender: str = "anna.schmidt@example.org") -> bytes:
    return (f"From: {sender}\r\nTo: datenschutz@kmb2.de\r\nSubject: {subject}\r\n"
            f"Message-ID: {POISON}\r\nIn-Reply-To: {POISON}\r\nReferences: <a@example.org> {POISON}\r\n"
            "Date: Mon, 02 Mar 2026 09:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Noch eine Frage zu meiner Anfrage.\r\n").encode()


def _post(client: TestClient, url: str, data: dict[str, object]) -> str:
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303, response.text[:300]
    return client.get(response.headers["location"]).text


def test_poisoned_message_id_is_clean_after_parsing() -> None:
    msg = parse_email(_mail(f"=?utf-8?b?{'QXVza3VuZnQKWC1Gb286IGJhcg=='}?="), controller="kmb2",
                      recipient="datenschutz@kmb2.de", received_at=NOW)
    for value in (msg.message_id or "", msg.in_reply_to or "", *msg.references, msg.subject, msg.dedupe_key):
        assert "\n" not in value and "\r" not in value, value
    assert msg.subject == "Auskunft X-Foo: bar"


def test_dpo_reply_and_extension_survive_a_poisoned_follow_up(world: World) -> None:
    with world.sessions() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        reference = ticket.reference
    msg = parse_email(_mail(f"AW: Ihre Anfrage [{reference}]"), controller="kmb2",
                      recipient="datenschutz@kmb2.de", received_at=NOW + timedelta(minutes=5),
                      envelope_sender="anna.schmidt@example.org")
    outcome = world.app.state.services.sink.handle(msg)
    assert outcome.ticket_reference == reference  # attached by the tag, like the reviewer's
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}"
    _post(client, f"{url}/identity", {"level": "manual", "method": "Rückruf unter der Nummer im Vertrag"})
    extension = {"ground": "complexity", "reason": "Daten aus drei Systemen müssen zusammengeführt werden"}
    assert "Frist verlängert" in _post(client, f"{url}/extend", extension)
    _post(client, f"{url}/send", {"subject": "Ihre Anfrage", "text": "Guten Tag, anbei die Auskunft."})
    with world.sessions() as s:
        items = list(s.scalars(select(OutboxItem).where(OutboxItem.ticket_id == world.email_ticket)))
        stored = list(s.scalars(select(Message.message_id).where(Message.ticket_id == world.email_ticket)))
    assert {"extension_notice", "dpo_reply"} <= {i.kind for i in items}
    for item in items:
        head = item.payload.split(b"\r\n\r\n", 1)[0]
        assert b"<p\nX:y>" not in head and b"\nX:y" not in head
    assert all("\n" not in (m or "") for m in stored)


def test_a_new_request_with_a_poisoned_message_id_is_answered(world: World) -> None:
    msg = parse_email(_mail("Auskunft nach Art. 15 DSGVO", sender="neu@example.org"), controller="kmb2",
                      recipient="datenschutz@kmb2.de", received_at=NOW, envelope_sender="neu@example.org")
    outcome = world.app.state.services.sink.handle(msg)
    assert outcome.ticket_reference is not None and outcome.outbox_ids


def test_log_lines_escape_control_characters() -> None:
    record = logging.LogRecord("dsr.decisions", logging.INFO, __file__, 1, "msg=%s outcome=%s",
                               ("<p\nX:y> 2026-03-02 ERROR forged", "accepted"), None)
    line = EscapingFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert "\n" not in line and "\\n" in line


def test_telegram_ids_are_masked_in_decision_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 14 (low): the Telegram user id was logged in full (the chat key of a private chat)."""
    msg = InboundMessage(controller="kmb2", channel="telegram", dedupe_key="tg:987654321:7",
                         sender="telegram:987654321", received_at=NOW,
                         body="Auskunft nach Art. 15 DSGVO bitte",
                         message_id="tg:987654321:7", chat_id=987654321, telegram_user_id=987654321)
    with caplog.at_level(logging.INFO, logger="dsr.decisions"):
        world.app.state.services.sink.handle(msg)
    lines = [r.getMessage() for r in caplog.records if r.name == "dsr.decisions"]
    assert lines and all("987654321" not in line for line in lines)
    assert any("tg:***21:7" in line for line in lines)
