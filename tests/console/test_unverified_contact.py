"""Security review (issue 14), finding 4: the console sent to unverified contacts.

The reviewer's ticket: a request from the attacker's address, linked (unverified) to the victim's
record, identity not confirmed.  Reply, question and extension notice (console and
`POST /api/tickets/{ref}/extend`) went to the attacker's address next to the victim's name.  Now
the one door out refuses them, the page says why, and nothing reaches the outbox.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from dsr.store.models import OutboxItem, Ticket
from tests.support.console import World

ATTACKER = "mallory@example.net"


def _make_it_the_attackers(world: World) -> int:
    with world.sessions.begin() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None and ticket.subject_id is not None  # the victim's record, unverified
        ticket.reply_to = ATTACKER
        ticket.identity_level = "none"
        return ticket.id


def _to_attacker(world: World) -> list[OutboxItem]:
    with world.sessions() as s:
        return list(s.scalars(select(OutboxItem).where(OutboxItem.recipient == ATTACKER)))


def _post(client: TestClient, url: str, data: dict[str, object]) -> str:
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303, response.text[:300]
    return client.get(response.headers["location"]).text


def test_console_reply_question_and_extension_do_not_go_to_an_unverified_contact(world: World) -> None:
    ticket_id = _make_it_the_attackers(world)
    client = world.client("dpo")
    page = client.get(f"/tickets/{ticket_id}").text
    for marker in ('id="reply-blocked"', 'id="question-blocked"', 'id="extend-blocked"'):
        assert marker in page
    assert "Identität der anfragenden Person ist nicht bestätigt" in page
    url = f"/tickets/{ticket_id}"
    reply = {"subject": "Ihre Anfrage", "text": "Guten Tag Anna Schmidt, anbei ..."}
    after = _post(client, f"{url}/send", reply)
    assert "nicht bestätigt" in after
    _post(client, f"{url}/question", {"subject": "Rückfrage", "text": "Ist Ihre Kundennummer K-1001?"})
    # A complete extension (catalogue reason and details), so that only the unverified contact refuses it.
    extension = {"ground": "complexity", "reason": "Daten aus drei Systemen, Schwärzungen nötig"}
    _post(client, f"{url}/extend", extension)
    assert _to_attacker(world) == []
    with world.sessions() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None and ticket.extended_due_date is None  # refused as a whole


def test_api_extension_does_not_go_to_an_unverified_contact(world: World) -> None:
    _make_it_the_attackers(world)
    response = TestClient(world.app).post(
        f"/api/tickets/{world.email_reference}/extend", json={"reason": "Umfangreiche Daten"},
        headers={"Authorization": f"Bearer {world.tokens['dpo']}"})
    assert response.status_code == 409
    assert "nicht bestätigt" in response.json()["detail"]
    assert _to_attacker(world) == []


def test_invoice_facts_are_not_enough_for_a_disclosing_reply(world: World) -> None:
    ticket_id = _make_it_the_attackers(world)
    with world.sessions.begin() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.identity_level = "known_facts"
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
