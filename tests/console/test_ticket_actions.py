"""The DPO's work on a ticket: every action changes what it should, queues what it should, is audited."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from email import message_from_bytes, policy

from sqlalchemy import select
from starlette.testclient import TestClient

from dsr.store.models import AuditEvent, Message, OutboxItem, TicketNote
from tests.support.console import World
from tests.support.console import post_form as _post
from tests.support.console import read_ticket as _ticket

EXTENSION = {"ground": "volume", "reason": "Drei Systeme mit zehn Jahren Korrespondenz"}


def _actions(world: World, ticket_id: int) -> list[str]:
    with world.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent.action).where(AuditEvent.ticket_id == ticket_id).order_by(AuditEvent.id)
            )
        )


def _outbox(world: World, ticket_id: int) -> list[OutboxItem]:
    with world.sessions() as s:
        return list(
            s.scalars(select(OutboxItem).where(OutboxItem.ticket_id == ticket_id).order_by(OutboxItem.id))
        )


def test_ticket_page_shows_evidence_deadline_identity_and_is_audited(world: World) -> None:
    client = world.client("dpo")
    page = client.get(f"/tickets/{world.email_ticket}").text
    assert "<mark" in page and "Auskunft nach Art. 15 DSGVO</mark>" in page
    assert "Mehrere oder widersprüchliche Rechte" in page  # reason code in plain German
    assert "Anwalt, Klage oder Schadensersatz" in page
    assert "20.03.2026" in page  # due date, received 20.02.2026 (NI)
    assert "Eingang 20.02.2026" in page or "20.02.2026" in page
    assert "Anna Schmidt" in page  # the DPO sees the person
    assert "nicht bestätigt" in page  # the same identity word as the DPO alert
    assert _actions(world, world.email_ticket)[-1] == "console.ticket_viewed"
    with world.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "console.ticket_viewed")).one()
        assert event.actor == "console:dana"


def test_correct_rights_identity_assign_and_note(world: World) -> None:
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}"
    page = _post(client, f"{url}/rights", {"rights": ["access"], "reason": "Löschung erst später gewünscht"})
    assert "Rechte korrigiert" in page
    page = _post(
        client, f"{url}/identity", {"level": "manual", "method": "Kundennummer telefonisch bestätigt"}
    )
    assert "Identitätsprüfung vermerkt" in page
    _post(client, f"{url}/assign", {"assignee": "dora"})
    _post(client, f"{url}/notes", {"text": "Rückruf am Montag"})
    ticket = _ticket(world, world.email_ticket)
    assert ticket.rights == ["access"]
    assert (ticket.identity_level, ticket.identity_method) == ("manual", "Kundennummer telefonisch bestätigt")
    assert ticket.assignee == "dora"
    with world.sessions() as s:
        assert [n.text for n in s.scalars(select(TicketNote))] == ["Rückruf am Montag"]
    actions = _actions(world, world.email_ticket)
    for expected in ("rights_corrected", "identity_recorded", "assigned", "note_added"):
        assert expected in actions


def test_refused_inputs_change_nothing(world: World) -> None:
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}"

    def changes() -> list[str]:
        return [a for a in _actions(world, world.email_ticket) if a != "console.ticket_viewed"]

    before = changes()
    assert "mindestens ein Recht" in _post(client, f"{url}/rights", {"reason": "x"})
    assert "Prüfmethode" in _post(client, f"{url}/identity", {"level": "manual", "method": ""})
    assert "aktives DSB-Konto" in _post(client, f"{url}/assign", {"assignee": "max"})
    assert "Grund aus der Liste" in _post(client, f"{url}/extend", {"reason": " "})
    too_short = {"ground": "complexity", "reason": "zu komplex"}
    assert "mindestens 30 Zeichen" in _post(client, f"{url}/extend", too_short)
    assert changes() == before
    assert _outbox(world, world.email_ticket) == []


def _verify(client: TestClient, url: str) -> None:
    """Record a verification by a person: letters with personal data go only to verified contacts."""
    _post(client, f"{url}/identity", {"level": "manual", "method": "Rückruf unter der Nummer im Vertrag"})


def test_extend_queues_the_notice_and_a_second_extension_is_refused(world: World) -> None:
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}"
    _verify(client, url)
    detail = "Daten aus drei Systemen müssen zusammengeführt werden"
    page = _post(client, f"{url}/extend", {"ground": "complexity", "reason": detail})
    assert "Frist verlängert bis 20.05.2026" in page
    ticket = _ticket(world, world.email_ticket)
    assert ticket.state == "extended"
    assert ticket.extended_due_date == date(2026, 5, 20)
    [item] = _outbox(world, world.email_ticket)
    assert (item.kind, item.channel, item.recipient) == (
        "extension_notice",
        "email",
        "anna.schmidt@example.org",
    )
    mail = message_from_bytes(item.payload, policy=policy.default)
    assert f"[{ticket.reference}]" in str(mail["Subject"])
    assert mail["In-Reply-To"] == "<m1@example.org>"
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Daten aus drei Systemen" in body
    assert "Die Daten liegen in mehreren Systemen" in body  # the catalogue sentence, not a bare code
    assert ticket.internal_target_date is not None and ticket.internal_target_date > date(2026, 4, 20)
    assert "deadline_extended" in _actions(world, world.email_ticket)
    page = _post(client, f"{url}/extend", {"reason": "noch einmal"})
    assert "bereits verlängert" in page
    assert len(_outbox(world, world.email_ticket)) == 1


def test_extension_after_the_original_date_is_refused(world: World) -> None:
    world.clock.now = datetime(2026, 3, 21, 8, 0, tzinfo=UTC)  # original due date was 20.03.2026
    client = world.client("dpo")
    page = client.get(f"/tickets/{world.email_ticket}").text
    assert 'id="extend-form"' not in page
    page = _post(client, f"/tickets/{world.email_ticket}/extend", {"reason": "zu spät"})
    assert "Verlängerung nicht mehr möglich" in page
    assert _ticket(world, world.email_ticket).extended_due_date is None
    assert _outbox(world, world.email_ticket) == []


def test_pause_and_resume_move_the_deadline(world: World) -> None:
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}"
    page = _post(
        client, f"{url}/pause", {"ground": "identity", "reason": "Nachweis am 02.03. per E-Mail angefordert"}
    )
    assert "Frist pausiert" in page
    assert _ticket(world, world.email_ticket).state == "paused"
    world.clock.now = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    client = world.client("dpo")  # four days later: the old session has expired
    page = _post(client, f"{url}/resume", {"reason": "Nachweis eingegangen"})
    ticket = _ticket(world, world.email_ticket)
    assert ticket.state == "in_progress"
    assert ticket.paused_days == 4
    assert ticket.due_date == date(2026, 3, 24)
    assert "Pause beendet; neue Frist 24.03.2026" in page


def test_pause_is_refused_where_the_profile_does_not_allow_it(world: World) -> None:
    client = world.client("dpo")
    page = _post(client, f"/tickets/{world.overdue_ticket}/pause", {"ground": "identity", "reason": "x"})
    assert "erlaubt keine Fristpause" in page
    assert _ticket(world, world.overdue_ticket).state == "escalated"


def test_erasure_draft_asks_the_dpo_and_cannot_go_out_unanswered(world: World) -> None:
    """Issue 15 no. 8: no default "alles gelöscht" / "keinen Empfängern offengelegt"."""
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}"
    _post(client, f"{url}/identity", {"level": "code_confirmed", "method": "Code an hinterlegte Adresse"})
    _post(client, f"{url}/draft/template", {"kind": "erasure_done"})
    draft = " ".join((_ticket(world, world.email_ticket).draft_reply or "").split())
    assert "alle personenbezogenen Daten" not in draft and "keinen Empfängern" not in draft
    for question in ("was wurde gelöscht", "was wird aufbewahrt", "Ende der Aufbewahrung",
                     "welche Empfänger wurden informiert"):
        assert question in draft
    assert "Art. 17 Abs. 3 lit. b DSGVO" in draft and "§ 35 Abs. 3 BDSG" not in draft
    page = _post(client, f"{url}/send", {"subject": "Löschung", "text": draft})
    assert "Platzhalter" in page
    assert _outbox(world, world.email_ticket) == []


def test_email_ticket_from_queue_to_sent_reply_and_closed(world: World) -> None:
    client = world.client("dpo")
    queue = client.get("/queue").text
    assert queue.index(f"/tickets/{world.overdue_ticket}") < queue.index(f"/tickets/{world.email_ticket}")
    url = f"/tickets/{world.email_ticket}"
    _post(client, f"{url}/identity", {"level": "code_confirmed", "method": "Code an hinterlegte Adresse"})
    # Nothing found and no relationship chosen: no access answer printing the whole notice.
    page = _post(client, f"{url}/draft/template", {"kind": "access_answer"})
    assert "zuerst die Beziehungen der Person" in page
    assert _ticket(world, world.email_ticket).draft_reply is None
    _post(client, f"{url}/relationships", {"relationship": ["customer"]})
    page = _post(client, f"{url}/draft/template", {"kind": "access_answer"})
    assert "Entwurf aus der Vorlage" in page
    draft = _ticket(world, world.email_ticket).draft_reply or ""
    # A console reply has no attachment: the draft must not say the copy is in it (issue 15 no. 1).
    assert "in der Anlage" not in draft and "nicht beigefügt" in " ".join(draft.split())
    page = _post(client, f"{url}/send", {"subject": "Ihre Auskunft", "text": draft + " ⟦Lücke⟧",
                                         "outcome": "granted"})
    assert "Platzhalter" in page
    assert _outbox(world, world.email_ticket) == []
    # The DPO answers the draft's questions (recipients of this person, C-154/21; the automated
    # decision as applied, C-203/22) before it can go out.
    final = re.sub(r"⟦[^⟧]*⟧", "Elektro Sommer GmbH, Braunschweig", draft)
    page = _post(client, f"{url}/send", {"subject": "Ihre Auskunft", "text": final, "outcome": "granted"})
    assert "Antwort freigegeben" in page
    [item] = _outbox(world, world.email_ticket)
    assert (item.kind, item.channel, item.state) == ("dpo_reply", "email", "pending")
    mail = message_from_bytes(item.payload, policy=policy.default)
    assert mail["To"] == "anna.schmidt@example.org"
    assert mail["Auto-Submitted"] == "no"
    with world.sessions() as s:  # recorded like the pipeline's replies, so an answer threads to it
        out = s.scalars(
            select(Message).where(Message.ticket_id == world.email_ticket, Message.direction == "out")
        ).one()
    assert (out.message_id, item.message_id, out.in_reply_to) == (
        mail["Message-ID"],
        out.id,
        "<m1@example.org>",
    )
    ticket = _ticket(world, world.email_ticket)
    assert (ticket.state, ticket.outcome, ticket.draft_reply) == ("answered", "granted", None)
    _post(client, f"{url}/close", {"reason": "erledigt"})
    assert _ticket(world, world.email_ticket).state == "closed"
    actions = _actions(world, world.email_ticket)
    assert actions.index("console.reply_approved") < actions.index(
        "state_changed", actions.index("console.reply_approved")
    )


def test_chat_ticket_reply_goes_to_the_telegram_outbox(world: World) -> None:
    client = world.client("dpo")
    url = f"/tickets/{world.chat_ticket}"
    _verify(client, url)
    _post(client, f"{url}/question", {"text": "Meinen Sie Ihre Kundendaten oder Ihre Chatverläufe?"})
    _post(
        client, f"{url}/send", {"text": "Wir haben keine Daten zu Ihnen gespeichert.", "outcome": "no_data"}
    )
    items = _outbox(world, world.chat_ticket)
    assert [(i.kind, i.channel, i.recipient) for i in items] == [
        ("dpo_question", "telegram", "424242"),
        ("dpo_reply", "telegram", "424242"),
    ]
    assert json.loads(items[1].payload) == {
        "chat_id": 424242,
        "text": "Wir haben keine Daten zu Ihnen gespeichert.",
    }
    assert _ticket(world, world.chat_ticket).outcome == "no_data"
    page = client.get(url).text
    assert "Wir haben keine Daten zu Ihnen gespeichert." in page  # the conversation shows what we sent


def test_close_needs_a_catalogue_outcome_and_a_refusal_needs_its_article(world: World) -> None:
    client = world.client("dpo")
    url = f"/tickets/{world.overdue_ticket}"
    assert "Grund mit Artikel" in _post(client, f"{url}/close", {"outcome": "refused"})
    assert _ticket(world, world.overdue_ticket).state == "escalated"
    _post(
        client,
        f"{url}/close",
        {"outcome": "refused", "refusal_code": "legal_obligation", "reason": "§ 147 AO"},
    )
    ticket = _ticket(world, world.overdue_ticket)
    assert (ticket.state, ticket.outcome, ticket.refusal_code) == ("closed", "refused", "legal_obligation")


def test_quarantine_view_is_audited_and_discard_needs_a_reason(world: World) -> None:
    client = world.client("dpo")
    assert "Kein Absender (From-Kopfzeile fehlt)" in client.get("/quarantine").text
    page = client.get(f"/quarantine/{world.quarantine_id}").text
    assert "Bitte loeschen Sie meine Daten." in page
    assert "Warum verwerfen" in page
    _post(client, f"/quarantine/{world.quarantine_id}/discard", {"reason": ""})
    page = _post(client, f"/quarantine/{world.quarantine_id}/discard", {"reason": "Testnachricht"})
    assert "Eintrag verworfen" in page
    with world.sessions() as s:
        actions = list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("console.quarantine%")))
        )
    # Viewed, refused discard (back on the item page: viewed again), discarded.
    assert actions == [
        "console.quarantine_viewed",
        "console.quarantine_viewed",
        "console.quarantine_discarded",
    ]
    assert "Keine Einträge" in client.get("/quarantine").text


def test_search_is_a_post_and_finds_by_name_without_putting_it_in_the_url(world: World) -> None:
    client = world.client("dpo")
    response = client.post("/queue/search", data={"q": "schmidt", "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert f"/tickets/{world.email_ticket}" in response.text
    assert f"/tickets/{world.chat_ticket}" not in response.text
    assert "schmidt" not in str(response.url).lower()
    with world.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "console.search")).one()
    assert event.detail == {"hits": 1}


def test_queue_filters(world: World) -> None:
    client = world.client("dpo")
    page = client.get("/queue?reason=credit_agency").text
    assert f"/tickets/{world.overdue_ticket}" in page and f"/tickets/{world.email_ticket}" not in page
    page = client.get("/queue?channel=telegram").text
    assert f"/tickets/{world.chat_ticket}" in page and f"/tickets/{world.email_ticket}" not in page
    page = client.get("/queue?controller=komsa&right=erasure").text
    assert f"/tickets/{world.overdue_ticket}" in page
    assert "überfällig" in page


def test_extend_send_close_on_sqlite_and_postgresql(db_world: World) -> None:
    world = db_world
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}"
    _verify(client, url)
    assert "Frist verlängert bis 20.05.2026" in _post(client, f"{url}/extend", EXTENSION)
    _post(client, f"{url}/send", {"subject": "Auskunft", "text": "Anbei die Auskunft.", "outcome": "granted"})
    _post(client, f"{url}/close", {"reason": "erledigt"})
    assert _ticket(world, world.email_ticket).state == "closed"
    assert [i.kind for i in _outbox(world, world.email_ticket)] == ["extension_notice", "dpo_reply"]
    page = client.get("/board").text
    assert 'id="tile-overdue"><span class="n">1<' in page
