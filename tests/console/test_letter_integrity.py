"""Issue 14 leftover: the PDF of an approved postal answer is checked at every download.

The SHA-256 of the PDF is recorded when the DPO approves the letter; a download makes the PDF
again from the stored letter and hands it out only when it is that one.  A letter changed in the
database afterwards (text, postal address) is refused with a German explanation and an audit
row.  On the old code the tampered letter was printed as if approved.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update

from dsr.replies.labels import ACTIONS
from dsr.store.models import AuditEvent, Message, Ticket
from tests.support.console import World

ADDRESS = "Anna Schmidt\nLindenstraße 5\n30159 Hannover"


def _approve_letter(world: World) -> tuple[int, int]:
    with world.sessions.begin() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        ticket.identity_level = "manual"
        ticket.postal_address = ADDRESS
    client = world.client("dpo")
    response = client.post(f"/tickets/{world.email_ticket}/letter", data={
        "csrf_token": client.csrf,  # type: ignore[attr-defined]
        "subject": "Ihre Auskunft", "text": "Sehr geehrte Frau Schmidt,\n\nanbei unsere Auskunft."})
    assert response.status_code == 303
    with world.sessions() as s:
        letter = s.scalars(select(Message).where(Message.ticket_id == world.email_ticket,
                                                 Message.channel == "letter")).one()
        return world.email_ticket, letter.id


def _refusals(world: World) -> list[AuditEvent]:
    with world.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "console.letter_pdf_refused")))


def test_the_approved_letter_downloads_and_matches_its_recorded_digest(world: World) -> None:
    ticket_id, letter_id = _approve_letter(world)
    response = world.client("dpo").get(f"/tickets/{ticket_id}/letters/{letter_id}.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    with world.sessions() as s:
        letter = s.get(Message, letter_id)
        assert letter is not None
        [record] = letter.attachments
        assert record["sha256"] == hashlib.sha256(response.content).hexdigest()  # type: ignore[index]
        approved = s.scalars(select(AuditEvent).where(AuditEvent.action == "letter_printed")).one()
        assert approved.detail["sha256"] == record["sha256"]  # type: ignore[index]
    assert _refusals(world) == []


def test_a_letter_changed_after_approval_is_refused_and_audited(world: World) -> None:
    ticket_id, letter_id = _approve_letter(world)
    with world.sessions.begin() as s:  # someone with database access rewrites the approved text
        s.execute(update(Message).where(Message.id == letter_id)
                  .values(body_text="Sehr geehrte Frau Schmidt,\n\nalle Ihre Daten: IBAN DE02 ..."))
    response = world.client("dpo").get(f"/tickets/{ticket_id}/letters/{letter_id}.pdf")
    assert response.status_code == 409
    assert "stimmt nicht mehr mit der freigegebenen Fassung überein" in response.text
    assert b"%PDF" not in response.content
    [event] = _refusals(world)
    assert event.ticket_id == ticket_id and event.actor == "console:dana"
    assert event.detail["message_id"] == letter_id
    assert event.detail["approved_sha256"] != event.detail["actual_sha256"]
    assert ACTIONS["console.letter_pdf_refused"].startswith("Brief-PDF verweigert")


def test_another_postal_address_after_approval_is_refused(world: World) -> None:
    ticket_id, letter_id = _approve_letter(world)
    with world.sessions.begin() as s:
        s.execute(update(Ticket).where(Ticket.id == ticket_id)
                  .values(postal_address="Mallory\nPostfach 1\n10115 Berlin"))
    assert world.client("dpo").get(f"/tickets/{ticket_id}/letters/{letter_id}.pdf").status_code == 409
    assert len(_refusals(world)) == 1
