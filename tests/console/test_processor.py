"""Processor mode in the console (issue 15 no. 9): the DPO marks a request as a client's data,
splits a mixed request, takes a forwarding back, records the client's confirmation."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from starlette.testclient import TestClient

from dsr.pipeline.forwarding import ProcessorRecord
from dsr.store.models import AuditEvent, Message, OutboxItem, Ticket
from tests.support.console import World, post_form, read_ticket
from tests.support.pipeline import text_of

HEINEMANN = "datenschutz@heinemann-elektro.example"
PERSON = "anna.schmidt@example.org"


def _outbox(world: World) -> list[OutboxItem]:
    with world.sessions() as s:
        return list(s.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def _audit(world: World, action: str) -> list[AuditEvent]:
    with world.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _forward_whole(world: World, client: TestClient) -> str:
    return post_form(client, f"/tickets/{world.email_ticket}/processor/forward",
                 {"client": "elektro-heinemann", "scope": "whole"})


def test_the_preview_shows_both_letters_and_changes_nothing(world: World) -> None:
    client = world.client("dpo")
    page = client.get(f"/tickets/{world.email_ticket}").text
    assert "Daten eines Auftraggebers" in page and "Heinemann Elektrotechnik GmbH, Braunschweig" in page
    response = client.post(f"/tickets/{world.email_ticket}/processor/preview",
                           data={"client": "elektro-heinemann", "scope": "whole",
                                 "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 200
    preview = " ".join(response.text.split())
    assert HEINEMANN in preview
    assert "ich bitte um Auskunft nach Art. 15 DSGVO" in preview  # the request itself goes to the client
    assert "im Auftrag von Heinemann Elektrotechnik GmbH, Braunschweig" in preview  # the note to the person
    assert "16.03.2026" in preview  # follow-up: 14 days after today (02.03.), before the due 20.03.
    ticket = read_ticket(world, world.email_ticket)
    assert ticket.state == "escalated" and ProcessorRecord.of(ticket) == ProcessorRecord()
    assert _outbox(world) == []


def test_marking_a_ticket_as_a_clients_data_forwards_it_like_the_pipeline(world: World) -> None:
    page = _forward_whole(world, world.client("dpo"))
    assert "An Heinemann Elektrotechnik GmbH, Braunschweig weitergeleitet" in page
    ticket = read_ticket(world, world.email_ticket)
    assert (ticket.state, ticket.outcome) == ("answered", "forwarded")
    items = _outbox(world)
    forward_id = next(i.id for i in items if i.kind == "processor_forward")
    assert ProcessorRecord.of(ticket) == ProcessorRecord(
        client="elektro-heinemann", forwarded_on=date(2026, 3, 2), follow_up=date(2026, 3, 16),
        forward_item=forward_id)
    assert sorted((i.kind, i.recipient, i.ticket_id) for i in items) == [
        ("processor_forward", HEINEMANN, None), ("processor_notice", PERSON, world.email_ticket)]
    forward = " ".join(text_of(next(i for i in items if i.kind == "processor_forward").payload).split())
    assert "bei uns ist am 20. Februar 2026 eine Anfrage" in forward  # the receipt, not today
    assert "also bis zum 20. März 2026" in forward
    notice = text_of(next(i for i in items if i.kind == "processor_notice").payload)
    assert "Code" not in notice and "Anna Schmidt" not in notice  # neutral, no identity step
    [event] = _audit(world, "forwarded_to_client")
    assert event.actor == "console:dana" and "Konsole" in (event.reason or "")
    assert "Bestätigung vermerken und abschließen" in page and "Doch unsere eigene Anfrage" in page


def _mark_all_sent(world: World) -> None:
    with world.sessions.begin() as s:
        for item in s.scalars(select(OutboxItem)):
            item.state, item.sent_at = "sent", world.clock()


def test_doch_unsere_eigene_anfrage_restarts_our_clock_from_the_original_receipt(world: World) -> None:
    client = world.client("dpo")
    _forward_whole(world, client)
    _mark_all_sent(world)  # the forward and the note went out
    url = f"/tickets/{world.email_ticket}/processor/revert"
    page = post_form(client, url, {"reason": "kurz"})
    assert "mindestens 10 Zeichen" in page and read_ticket(world, world.email_ticket).state == "answered"
    page = post_form(client, url, {"reason": "Es geht um den Newsletter von kmb2 selbst"})
    assert "fällig am 20.03.2026" in page
    ticket = read_ticket(world, world.email_ticket)
    assert (ticket.state, ticket.outcome, ticket.due_date) == ("in_progress", None, date(2026, 3, 20))
    assert ProcessorRecord.of(ticket).reverted_on == date(2026, 3, 2)
    assert not ProcessorRecord.of(ticket).forwarded
    [event] = _audit(world, "processor_reverted")
    assert "ursprünglichen Eingang (20.02.2026)" in (event.reason or "")
    # The client, told it was the controller, learns that it need do nothing (no personal data).
    [withdrawn] = [i for i in _outbox(world) if i.kind == "processor_withdrawn"]
    assert (withdrawn.recipient, withdrawn.ticket_id) == (HEINEMANN, None)
    text = " ".join(text_of(withdrawn.payload).split())
    assert "Wir nehmen die Weiterleitung deshalb zurück und beantworten die Anfrage selbst" in text
    assert "Anna Schmidt" not in text and PERSON not in text and "Auskunft nach Art. 15" not in text
    assert event.actor == "console:dana"
    # Brief gap 3: the person, told that the client answers, learns that we answer ourselves, by
    # when, and that the client was told (it was: the withdrawal above).
    [corrected] = [i for i in _outbox(world) if i.kind == "processor_taken_back"]
    assert (corrected.recipient, corrected.ticket_id) == (PERSON, world.email_ticket)
    told = " ".join(text_of(corrected.payload).split())
    assert "am 2. März 2026 haben wir Ihnen mitgeteilt" in told
    assert "im Auftrag von Heinemann Elektrotechnik GmbH, Braunschweig" in told
    assert "Wir beantworten sie deshalb selbst" in told
    assert "Heinemann Elektrotechnik GmbH, Braunschweig haben wir darüber informiert" in told
    assert "spätestens am 20. März 2026" in told
    assert event.detail["client_told"] is True and event.detail["person_outbox_id"] == corrected.id
    # A second take-back is refused: nothing is forwarded any more.
    page = post_form(client, url, {"reason": "Es geht um den Newsletter von kmb2 selbst"})
    assert "nicht (mehr) an einen Auftraggeber weitergeleitet" in page


def test_a_take_back_before_the_mails_left_withdraws_them_and_claims_nothing(world: World) -> None:
    """Brief gap 3: neither the forward nor the note had left the outbox: both are withdrawn, so the
    client gets no forward and no withdrawal, and the person no note and no correction of it."""
    client = world.client("dpo")
    _forward_whole(world, client)
    assert {i.kind for i in _outbox(world)} == {"processor_forward", "processor_notice"}
    page = post_form(client, f"/tickets/{world.email_ticket}/processor/revert",
                     {"reason": "Es geht um den Newsletter von kmb2 selbst"})
    assert "fällig am 20.03.2026" in page
    assert "Die Weiterleitung war noch nicht versandt und wurde zurückgehalten" in page
    assert "Der Hinweis an die Person war noch nicht versandt" in page
    assert _outbox(world) == []
    with world.sessions() as s:  # the note stays in the history, marked as never sent
        notes = list(s.scalars(select(Message.disposition).where(
            Message.ticket_id == world.email_ticket, Message.direction == "out")))
    assert notes == ["withdrawn"]
    page = client.get(f"/tickets/{world.email_ticket}").text
    assert "nicht versandt: vor dem Versand zurückgezogen" in page
    [event] = _audit(world, "processor_reverted")
    assert event.detail["client_told"] is False and event.detail["person_outbox_id"] is None
    assert "noch nicht versandt und wurde zurückgehalten" in (event.reason or "")
    assert read_ticket(world, world.email_ticket).state == "in_progress"


def test_a_forward_being_delivered_counts_as_sent(world: World) -> None:
    """A forward a sender holds right now (its lease runs) may have left: the client is told."""
    client = world.client("dpo")
    _forward_whole(world, client)
    with world.sessions.begin() as s:
        forward = s.scalars(select(OutboxItem).where(OutboxItem.kind == "processor_forward")).one()
        forward.claimed_by = "sender-1"
    post_form(client, f"/tickets/{world.email_ticket}/processor/revert",
              {"reason": "Es geht um den Newsletter von kmb2 selbst"})
    kinds = sorted(i.kind for i in _outbox(world))
    assert kinds == ["processor_forward", "processor_withdrawn"]  # the note had not left: withdrawn


def test_the_clients_confirmation_is_recorded_and_closes_theread_ticket(world: World) -> None:
    client = world.client("dpo")
    _forward_whole(world, client)
    page = post_form(client, f"/tickets/{world.email_ticket}/processor/confirm",
                 {"note": "Herr Heinemann hat am 05.03. telefonisch bestätigt"})
    assert "Vorgang abgeschlossen" in page
    ticket = read_ticket(world, world.email_ticket)
    assert ticket.state == "closed" and ticket.outcome == "forwarded"
    assert ProcessorRecord.of(ticket).confirmed_on == date(2026, 3, 2)
    [event] = _audit(world, "processor_confirmed")
    assert "telefonisch bestätigt" in (event.reason or "")


def test_a_mixed_request_is_split_into_a_forwarded_part_and_our_own(world: World) -> None:
    client = world.client("dpo")
    page = post_form(client, f"/tickets/{world.email_ticket}/processor/forward",
                 {"client": "elektro-heinemann", "scope": "part", "rights": ["access"]})
    assert "abgetrennt und an Heinemann Elektrotechnik GmbH, Braunschweig weitergeleitet" in page
    own = read_ticket(world, world.email_ticket)
    with world.sessions() as s:
        part = s.scalars(select(Ticket).where(Ticket.id != own.id,
                                              Ticket.received_at == own.received_at)).one()
    # Ours: unchanged rights, state and deadline from the original receipt.
    assert (own.state, own.rights, own.due_date) == ("escalated", ["access", "erasure"], date(2026, 3, 20))
    assert ProcessorRecord.of(own).split_into == (part.reference,)
    # The client's part: same receipt and dates, only its rights, forwarded.
    assert (part.rights, part.due_date, part.state, part.outcome) == (
        ["access"], own.due_date, "answered", "forwarded")
    assert (part.reply_to, part.subject_id, part.controller) == (own.reply_to, own.subject_id, "kmb2")
    record = ProcessorRecord.of(part)
    assert (record.split_from, record.client) == (own.reference, "elektro-heinemann")
    items = _outbox(world)
    assert sorted((i.kind, i.ticket_id) for i in items) == [("processor_forward", None),
                                                            ("processor_notice", part.id)]
    forward = " ".join(text_of(next(i for i in items if i.kind == "processor_forward").payload).split())
    assert f"Aktenzeichen {part.reference}" in forward and "(Auskunft" in forward
    notice = " ".join(text_of(next(i for i in items if i.kind == "processor_notice").payload).split())
    assert "Ein Teil davon (Auskunft (Art. 15 DSGVO)) betrifft Daten" in notice
    assert "Den übrigen Teil Ihrer Anfrage beantworten wir selbst." in notice
    # Both linked and shown as related.
    assert f'href="/tickets/{part.id}"' in page and part.reference in page
    part_page = client.get(f"/tickets/{part.id}").text
    assert f'href="/tickets/{own.id}"' in part_page and "Abgetrennt von" in part_page
    assert {e.ticket_id for e in _audit(world, "ticket_split")} == {own.id, part.id}


def test_forwarding_is_refused_for_an_unknown_client_or_rights_the_ticket_lacks(world: World) -> None:
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}/processor/forward"
    page = post_form(client, url, {"client": "hv-nirgendwo", "scope": "whole"})
    assert "Bitte einen Auftraggeber aus dem Verzeichnis" in page
    page = post_form(client, url, {"client": "elektro-heinemann", "scope": "part", "rights": ["portability"]})
    assert "nur Anliegen, die der Vorgang enthält" in page
    assert _outbox(world) == [] and read_ticket(world, world.email_ticket).state == "escalated"


def test_a_controller_without_a_register_shows_no_processor_section(world: World) -> None:
    page = world.client("dpo").get(f"/tickets/{world.overdue_ticket}").text  # komsa: no register
    assert 'id="processor"' not in page
    page = post_form(world.client("dpo"), f"/tickets/{world.overdue_ticket}/processor/forward",
                 {"client": "elektro-heinemann", "scope": "whole"})
    assert "Bitte einen Auftraggeber aus dem Verzeichnis" in page


def test_managers_may_not_forward(world: World) -> None:
    client = world.client("manager")
    response = client.post(f"/tickets/{world.email_ticket}/processor/forward",
                           data={"client": "elektro-heinemann", "scope": "whole",
                                 "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 403
    assert _outbox(world) == []


def test_a_client_held_for_the_dpo_is_preselected_for_the_one_forward(world: World) -> None:
    """Brief gap 5: the pipeline held a request about one client's data (escalation won); the page
    says why and preselects that client, so preview and confirm forward it."""
    with world.sessions.begin() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        ProcessorRecord(candidates=("hv-okertal",)).store(ticket)
    page = world.client("dpo").get(f"/tickets/{world.email_ticket}").text
    assert "wurde aber wegen der Eskalationsgründe nicht automatisch weitergeleitet" in page
    assert '<option value="hv-okertal" selected>' in page
    assert '<option value="elektro-heinemann">' in page
    post_form(world.client("dpo"), f"/tickets/{world.email_ticket}/processor/forward",
              {"client": "hv-okertal", "scope": "whole"})
    assert ProcessorRecord.of(read_ticket(world, world.email_ticket)).client == "hv-okertal"


def test_a_forwarding_comes_back_into_the_work_list_on_its_follow_up_date(world: World) -> None:
    """Brief gap 4: a forwarded ticket is answered for us (not in the default list) until its
    follow-up date; then it is there, marked, until the client's confirmation is recorded."""
    client = world.client("dpo")
    _forward_whole(world, client)  # 02.03.2026, follow-up 16.03.2026
    link = f'href="/tickets/{world.email_ticket}"'
    assert link not in client.get("/queue").text
    world.clock.advance(days=13)  # 15.03.: not yet
    client = world.client("dpo")
    assert link not in client.get("/queue").text
    world.clock.advance(days=1)  # 16.03.: due
    client = world.client("dpo")
    page = client.get("/queue").text
    assert link in page and "Beim Auftraggeber nachfassen (fällig seit 16.03.2026)" in page
    post_form(client, f"/tickets/{world.email_ticket}/processor/confirm",
              {"note": "Frau Heinemann hat am 16.03. per E-Mail bestätigt"})
    assert link not in client.get("/queue").text
