"""The DPO's list of ignored messages: every set-aside message with its reason, searchable, and
turned into a ticket that keeps the original receipt time and channel (issue 13)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from dsr.store.models import AuditEvent, Message, Ticket
from tests.support.console import World

RECEIVED = datetime(2026, 2, 27, 16, 45, tzinfo=UTC)  # the seeded message's receipt (a Friday)


def _post(client: TestClient, url: str, data: dict[str, object]) -> tuple[int, str, str]:
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    location = response.headers.get("location", "")
    page = client.get(location).text if response.status_code == 303 else response.text
    return response.status_code, location, page


def _events(world: World, action: str) -> list[AuditEvent]:
    with world.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _tickets(world: World) -> list[Ticket]:
    with world.sessions() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def test_list_shows_every_ignored_message_with_its_reason_in_german(world: World) -> None:
    client = world.client("dpo")
    page = client.get("/ignored").text
    assert 'href="/ignored"' in page  # in the navigation
    # In German only: the code is not even a tooltip (issue 17: no English code on any page).
    assert "Rechnung, Zahlung oder Vertrag" in page and 'title="invoice"' not in page
    assert f'href="/ignored/{world.ignored_id}"' in page
    assert "paul.panne@example.net" in page


def test_filter_by_reason(world: World) -> None:
    client = world.client("dpo")
    assert f"/ignored/{world.ignored_id}" in client.get("/ignored?reason=invoice").text
    assert f"/ignored/{world.ignored_id}" not in client.get("/ignored?reason=newsletter").text


def test_search_is_a_post_and_the_term_stays_out_of_the_audit(world: World) -> None:
    client = world.client("dpo")
    status, _, page = _post(client, "/ignored/search", {"q": "anderen Kunden"})
    assert status == 200 and f"/ignored/{world.ignored_id}" in page
    status, _, page = _post(client, "/ignored/search", {"q": "Mahnbescheid"})
    assert status == 200 and f"/ignored/{world.ignored_id}" not in page
    events = _events(world, "console.ignored_searched")
    assert [e.detail for e in events] == [{"hits": 1}, {"hits": 0}]
    assert all("Kunden" not in str(e.detail) + e.reason for e in events)


def test_opening_a_message_is_audited(world: World) -> None:
    client = world.client("dpo")
    page = client.get(f"/ignored/{world.ignored_id}").text
    assert "Ich habe die Rechnung eines anderen Kunden bekommen." in page
    assert [e.detail for e in _events(world, "console.ignored_viewed")] == [{"message_id": world.ignored_id}]


def test_turning_a_message_into_a_ticket_keeps_receipt_time_and_channel(db_world: World) -> None:
    world = db_world
    before = len(_tickets(world))
    client = world.client("dpo")
    status, location, page = _post(client, f"/ignored/{world.ignored_id}/ticket",
                                   {"rights": ["access", "erasure"], "reason": "Doch eine Anfrage"})
    assert status == 303 and location.startswith("/tickets/")
    [ticket] = _tickets(world)[before:]
    assert ticket.received_at == RECEIVED and ticket.channel == "email"
    assert ticket.due_date == date(2026, 3, 27)  # one month from the original receipt, not from today
    assert ticket.rights == ["access", "erasure"] and ticket.state == "in_progress"
    assert ticket.reply_to == "paul.panne@example.net" and ticket.breach_due_at is None
    assert f"Vorgang {ticket.reference} angelegt" in page
    with world.sessions() as s:
        message = s.get(Message, world.ignored_id)
        assert message is not None and message.ticket_id == ticket.id
    [event] = _events(world, "ignored_message_converted")
    assert (event.actor, event.ticket_id, event.reason) == ("console:dana", ticket.id, "Doch eine Anfrage")
    assert event.detail["message_id"] == world.ignored_id and event.detail["ignored_reason"] == "invoice"
    opened = [e for e in _events(world, "ticket_opened") if e.ticket_id == ticket.id]
    assert [e.actor for e in opened] == ["console:dana"]
    # Gone from the default list, still visible with "all"; a second conversion is refused.
    assert f"/ignored/{world.ignored_id}\"" not in client.get("/ignored").text
    assert f"/ignored/{world.ignored_id}\"" in client.get("/ignored?all=1").text
    status, _, page = _post(client, f"/ignored/{world.ignored_id}/ticket",
                            {"rights": ["access"], "reason": "nochmal"})
    assert "Nicht angelegt" in page and len(_tickets(world)) == before + 1


def test_a_breach_found_by_the_dpo_gets_the_72_hours_from_receipt(world: World) -> None:
    client = world.client("dpo")
    _post(client, f"/ignored/{world.ignored_id}/ticket",
          {"rights": ["other"], "breach": "1", "reason": "Rechnung an falschen Empfänger"})
    ticket = _tickets(world)[-1]
    assert ticket.breach_due_at == RECEIVED + timedelta(hours=72)
    assert ticket.state == "escalated" and ticket.escalation_reasons == ["breach"]
    page = client.get(f"/tickets/{ticket.id}").text
    assert "Datenpanne" in page and "02.03.2026 17:45" in page  # 72 h after Friday 17:45 in Berlin
    queue = client.get("/queue").text
    assert "Datenpanne: Meldung bis 02.03.2026 17:45" in queue
    first_row = queue.index("<tbody>")
    assert queue.index(f'href="/tickets/{ticket.id}"', first_row) < queue.index("</tr>", first_row)  # on top


def test_refused_conversions_create_nothing(world: World) -> None:
    client = world.client("dpo")
    before = len(_tickets(world))
    _, _, page = _post(client, f"/ignored/{world.ignored_id}/ticket", {"reason": "x"})
    assert "mindestens ein Recht" in page
    _, _, page = _post(client, f"/ignored/{world.ignored_id}/ticket", {"rights": ["access"]})
    assert "begründen" in page
    _, _, page = _post(client, f"/ignored/{world.ignored_id}/ticket", {"rights": ["nonsense"], "reason": "x"})
    assert "mindestens ein Recht" in page
    assert len(_tickets(world)) == before
    assert _events(world, "ignored_message_converted") == []


def test_a_message_with_a_ticket_is_no_ignored_message(world: World) -> None:
    """Messages that belong to a ticket (or were never set aside) cannot be converted or opened here."""
    client = world.client("dpo")
    with world.sessions() as s:
        other = s.scalar(select(Message.id).where(Message.ticket_id == world.email_ticket))
    assert client.get(f"/ignored/{other}").status_code == 404
    response = client.post(f"/ignored/{other}/ticket", data={"rights": ["access"], "reason": "x",
                                                              "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 404


def test_the_dpo_flags_a_breach_on_an_existing_ticket_from_its_receipt(world: World) -> None:
    client = world.client("dpo")
    page = client.get(f"/tickets/{world.chat_ticket}").text
    assert 'action="/tickets/' in page and "Als Datenpanne markieren" in page
    _post(client, f"/tickets/{world.chat_ticket}/breach", {"reason": "Fremde Daten im Kundenkonto sichtbar"})
    with world.sessions() as s:
        ticket = s.get(Ticket, world.chat_ticket)
        assert ticket is not None
        received = ticket.received_at
        assert ticket.breach_due_at == received + timedelta(hours=72)  # from receipt, not from now
        assert "breach" in ticket.escalation_reasons and ticket.state == "escalated"
    [event] = [e for e in _events(world, "breach_flagged") if e.ticket_id == world.chat_ticket]
    assert event.actor == "console:dana" and event.reason == "Fremde Daten im Kundenkonto sichtbar"
    # a second flag keeps the first deadline; a flag without a reason is refused
    _post(client, f"/tickets/{world.chat_ticket}/breach", {"reason": "nochmal"})
    _, _, page = _post(client, f"/tickets/{world.overdue_ticket}/breach", {"reason": ""})
    with world.sessions() as s:
        again = s.get(Ticket, world.chat_ticket)
        overdue = s.get(Ticket, world.overdue_ticket)
        assert again is not None and again.breach_due_at == received + timedelta(hours=72)
        assert overdue is not None and overdue.breach_due_at is None
    assert len([e for e in _events(world, "breach_flagged") if e.ticket_id == world.chat_ticket]) == 1
