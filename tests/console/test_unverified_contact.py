"""Security review (issue 14), finding 4: the console sent to unverified contacts.

The reviewer's ticket: a request from the attacker's address, linked (unverified) to the victim's
record, identity not confirmed.  Reply, question and extension notice (console and
`POST /api/tickets/{ref}/extend`) went to the attacker's address next to the victim's name.  Now
the one door out refuses reply and question, and the page says why.  The extension notice must
still reach the requester within the first month (Art. 12(3) s. 3): it goes in a neutral version
without name or data (the door lets only that kind pass to an unverified contact).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from starlette.testclient import TestClient

from dsr.replies.dates import format_date_de
from dsr.store.models import Message, OutboxItem, Ticket
from tests.support.console import World
from tests.support.pipeline import text_of

ATTACKER = "mallory@example.net"


def _make_it_the_attackers(world: World, *, level: str = "none", postal: str | None = None) -> int:
    with world.sessions.begin() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None and ticket.subject_id is not None  # the victim's record, unverified
        ticket.reply_to = ATTACKER
        ticket.identity_level = level
        ticket.postal_address = postal
        return ticket.id


def _to_attacker(world: World) -> list[OutboxItem]:
    with world.sessions() as s:
        return list(s.scalars(select(OutboxItem).where(OutboxItem.recipient == ATTACKER)))


def _post(client: TestClient, url: str, data: dict[str, object]) -> str:
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303, response.text[:300]
    return client.get(response.headers["location"]).text


def test_console_reply_and_question_do_not_go_to_an_unverified_contact(world: World) -> None:
    ticket_id = _make_it_the_attackers(world)
    client = world.client("dpo")
    page = client.get(f"/tickets/{ticket_id}").text
    for marker in ('id="reply-blocked"', 'id="question-blocked"'):
        assert marker in page
    assert 'id="extend-blocked"' not in page and 'id="extend-neutral"' in page
    assert "Identität der anfragenden Person ist nicht bestätigt" in page
    url = f"/tickets/{ticket_id}"
    reply = {"subject": "Ihre Anfrage", "text": "Guten Tag Anna Schmidt, anbei ..."}
    after = _post(client, f"{url}/send", reply)
    assert "nicht bestätigt" in after
    _post(client, f"{url}/question", {"subject": "Rückfrage", "text": "Ist Ihre Kundennummer K-1001?"})
    assert _to_attacker(world) == []


def _neutral_notice(world: World) -> str:
    """The one item to the unverified contact: the neutral extension notice, as the person reads it."""
    items = _to_attacker(world)
    assert [i.kind for i in items] == ["extension_notice_neutral"]
    text = " ".join(text_of(items[0].payload).split())
    for personal in ("Anna", "Schmidt", "K-1001", "anna.schmidt"):
        assert personal not in text
    assert world.email_reference in text
    return text


def test_console_extension_reaches_an_unverified_contact_in_neutral_words(world: World) -> None:
    ticket_id = _make_it_the_attackers(world)
    client = world.client("dpo")
    extension = {"ground": "complexity", "reason": "Die Zusammenstellung aus drei Systemen dauert länger."}
    preview = client.post(f"/tickets/{ticket_id}/extend/preview",
                          data={**extension, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert preview.status_code == 200 and 'id="extend-neutral"' in preview.text
    assert "Anna Schmidt" not in preview.text.split('id="letter"')[1]
    _post(client, f"/tickets/{ticket_id}/extend", extension)
    with world.sessions() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None and ticket.extended_due_date is not None
        new_due = ticket.extended_due_date
    text = _neutral_notice(world)
    assert format_date_de(new_due) in text and "drei Systemen" in text


def test_api_extension_reaches_an_unverified_contact_in_neutral_words(world: World) -> None:
    _make_it_the_attackers(world)
    response = TestClient(world.app).post(
        f"/api/tickets/{world.email_reference}/extend", json={"reason": "Daten in drei Systemen"},
        headers={"Authorization": f"Bearer {world.tokens['dpo']}"})
    assert response.status_code == 200, response.text
    new_due = date.fromisoformat(response.json()["extended_due_date"])
    text = _neutral_notice(world)
    assert format_date_de(new_due) in text and "drei Systemen" in text


def test_invoice_facts_are_not_enough_for_a_disclosing_reply(world: World) -> None:
    ticket_id = _make_it_the_attackers(world, level="known_facts")
    client = world.client("dpo")
    reply = {"subject": "Ihre Anfrage", "text": "Ihre Daten: ..."}
    after = _post(client, f"/tickets/{ticket_id}/send", reply)
    assert "Rechnungsangaben" in after
    assert _to_attacker(world) == []
    # A question (no disclosure) may go to a contact verified by facts.
    _post(client, f"/tickets/{ticket_id}/question", {"subject": "Rückfrage", "text": "Welche Daten genau?"})
    assert [i.kind for i in _to_attacker(world)] == ["dpo_question"]


def test_once_verified_the_reply_goes_out(world: World) -> None:
    ticket_id = _make_it_the_attackers(world)
    client = world.client("dpo")
    identity = {"level": "manual", "method": "Rückruf unter der Nummer im Vertrag"}
    _post(client, f"/tickets/{ticket_id}/identity", identity)
    _post(client, f"/tickets/{ticket_id}/send", {"subject": "Ihre Anfrage", "text": "Guten Tag, anbei ..."})
    assert [i.kind for i in _to_attacker(world)] == ["dpo_reply"]


def test_a_letter_is_printed_only_for_the_verified_postal_address(world: World) -> None:
    """Before: "Als Brief freigeben" printed the DPO's answer for any address typed into the ticket."""
    # Verified by invoice facts; the letter would go to an address that is not Anna's on file.
    ticket_id = _make_it_the_attackers(world, level="known_facts", postal="Mallory\nPostfach 1\n10115 Berlin")
    client = world.client("dpo")
    assert 'id="letter-blocked"' in client.get(f"/tickets/{ticket_id}").text
    answer = {"text": "Sehr geehrte Frau Schmidt, Ihre Daten: ..."}
    after = _post(client, f"/tickets/{ticket_id}/letter", answer)
    assert "hinterlegte Anschrift" in after
    with world.sessions() as s:
        letters = select(Message).where(Message.ticket_id == ticket_id, Message.channel == "letter")
        assert s.scalars(letters).all() == []
