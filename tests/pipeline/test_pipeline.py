"""The pipeline on SQLite and PostgreSQL: dedupe, loop guard, threading, level-0 requests, escalation."""

from __future__ import annotations

import email.parser
import threading
from datetime import date

import pytest
from sqlalchemy import select

from dsr.inbound import OutcomeStatus
from dsr.store.models import AuditEvent, QuarantinedMessage, Suppression
from tests.support.pipeline import ERIKA, KMB2, STRANGER, UNCLEAR, Harness, make_mail, parsed, text_of


def test_access_request_from_known_address_is_confirmed(harness: Harness) -> None:
    raw = make_mail(message_id="<req-1@example.org>")
    outcome = harness.send(raw)
    assert outcome.status is OutcomeStatus.ACCEPTED and outcome.reason == "receipt_confirmed"
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state == "in_progress"
    assert ticket.rights == ["access"]
    assert ticket.identity_level == "contact_on_file"
    assert ticket.due_date == date(2026, 4, 2)  # received Monday 2 March 2026 in Niedersachsen
    assert ticket.reply_to == ERIKA
    [item] = harness.items(outcome.outbox_ids)
    assert (item.kind, item.recipient, item.state, item.channel) == ("receipt_confirmation", ERIKA, "pending",
                                                                    "email")
    mail = parsed(item.payload)
    assert mail["In-Reply-To"] == "<req-1@example.org>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert f"[{ticket.reference}]" in mail["Subject"]
    assert mail["From"].addresses[0].addr_spec == KMB2
    assert "2. April 2026" in text_of(item.payload)
    assert {"ticket_opened", "identity_recorded", "state_changed", "reply_queued"} <= set(
        harness.actions(ticket.reference))


def test_redelivered_message_opens_no_second_ticket(harness: Harness) -> None:
    raw = make_mail(message_id="<same@example.org>")
    first = harness.send(raw)
    harness.clock.advance(minutes=5)
    second = harness.send(raw)
    assert first.status is OutcomeStatus.ACCEPTED
    assert second.status is OutcomeStatus.DUPLICATE
    assert len(harness.tickets()) == 1
    assert len(harness.inbound_messages()) == 1
    assert len(harness.outbox()) == 1


def test_concurrent_duplicates_open_one_ticket(harness: Harness) -> None:
    """Two deliveries of one message racing (e.g. IMAP and SMTP): the unique key decides."""
    msg = harness.inbound(make_mail(message_id="<race@example.org>"))
    barrier = threading.Barrier(2)
    results: list[OutcomeStatus] = []

    def deliver() -> None:
        barrier.wait()
        results.append(harness.pipeline.handle(msg).status)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [OutcomeStatus.ACCEPTED, OutcomeStatus.DUPLICATE]
    assert len(harness.tickets()) == 1


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, ERIKA, "auto_submitted"),
        ({"Precedence": "bulk"}, ERIKA, "precedence_bulk"),
        ({"Precedence": "junk"}, ERIKA, "precedence_junk"),
        ({"List-Id": "Newsletter <news.example.org>"}, ERIKA, "list_id"),
        ({}, KMB2, "own_address"),
    ],
)
def test_machine_mail_is_recorded_not_answered(harness: Harness, headers: dict[str, str], sender: str,
                                               reason: str) -> None:
    outcome = harness.send(make_mail(sender=sender, headers=headers))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.IGNORED, reason)
    assert harness.tickets() == []
    assert harness.outbox() == []
    [stored] = harness.inbound_messages()
    assert stored.disposition == f"loop_guard:{reason}"
    assert "auto_reply_ignored" in harness.actions()


def test_auto_submitted_no_is_a_person(harness: Harness) -> None:
    outcome = harness.send(make_mail(headers={"Auto-Submitted": "no"}))
    assert outcome.status is OutcomeStatus.ACCEPTED and len(outcome.outbox_ids) == 1


def test_auto_response_suppress_opens_ticket_without_reply(harness: Harness) -> None:
    outcome = harness.send(make_mail(headers={"X-Auto-Response-Suppress": "All"}))
    assert outcome.status is OutcomeStatus.ACCEPTED and outcome.outbox_ids == ()
    assert harness.ticket(outcome.ticket_reference).state == "in_progress"
    assert "auto_reply_withheld" in harness.actions(outcome.ticket_reference)


def test_out_of_office_reply_attaches_to_ticket_without_answer(harness: Harness) -> None:
    first = harness.send(make_mail())
    [receipt] = harness.items(first.outbox_ids)
    our_id = parsed(receipt.payload)["Message-ID"]
    ooo = make_mail(subject="Abwesenheitsnotiz", body="Ich bin bis 10.3. nicht im Büro.",
                    headers={"Auto-Submitted": "auto-replied", "In-Reply-To": our_id})
    outcome = harness.send(ooo)
    assert (outcome.status, outcome.ticket_reference) == (OutcomeStatus.IGNORED, first.ticket_reference)
    assert len(harness.outbox()) == 1


def test_per_sender_cap_withholds_replies_but_keeps_requests(harness: Harness) -> None:
    outcomes = [harness.send(make_mail(message_id=f"<flood-{n}@example.org>")) for n in range(12)]
    assert all(o.status is OutcomeStatus.ACCEPTED for o in outcomes)
    assert len(harness.tickets()) == 12  # every request counts legally
    assert len([i for i in harness.outbox() if i.recipient == ERIKA]) == 10
    assert "auto_reply_withheld" in harness.actions(outcomes[-1].ticket_reference)


def test_follow_up_threads_by_in_reply_to_and_by_tag(harness: Harness) -> None:
    first = harness.send(make_mail())
    [receipt] = harness.items(first.outbox_ids)
    our = parsed(receipt.payload)
    by_header = harness.send(make_mail(subject="Re: Frage", body="Noch eine Ergänzung zu meiner Anfrage.",
                                       headers={"In-Reply-To": our["Message-ID"]}))
    by_tag = harness.send(make_mail(subject=f"AW: {our['Subject']}", body="Und noch eine Ergänzung."))
    assert by_header.ticket_reference == first.ticket_reference == by_tag.ticket_reference
    assert (by_header.reason, by_tag.reason) == ("follow_up_attached", "follow_up_attached")
    assert len(harness.tickets()) == 1
    with harness.sessions() as s:
        matched = [e.detail["matched_by"] for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action == "follow_up_received").order_by(AuditEvent.id))]
    assert matched == ["in_reply_to", "subject_tag"]


def test_stranger_follow_up_is_held_and_takes_nothing_over(harness: Harness) -> None:
    first = harness.send(make_mail())
    ticket = harness.ticket(first.ticket_reference)
    outcome = harness.send(make_mail(sender=STRANGER, subject=f"AW: Ihre Anfrage [{ticket.reference}]",
                                     body="Bitte senden Sie die Auskunft an diese Adresse."))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.HELD, "sender_not_requester")
    after = harness.ticket(ticket.reference)
    assert (after.reply_to, after.state) == (ERIKA, "in_progress")
    assert len(harness.outbox()) == 1  # nothing sent to the stranger
    assert harness.actions(ticket.reference)[-1] == "follow_up_held"
    assert harness.inbound_messages()[-1].disposition == "held_not_requester"


def test_marketing_objection_takes_effect_at_once(harness: Harness) -> None:
    raw = make_mail(sender=STRANGER, subject="Keine Werbung mehr",
                    body="Hallo,\n\nich widerspreche der Nutzung meiner Daten für Werbung. Bitte schicken "
                         "Sie mir keine Werbung und keinen Newsletter mehr.\n\nGruß")
    outcome = harness.send(raw)
    assert (outcome.status, outcome.reason) == (OutcomeStatus.ACCEPTED, "effective_immediately")
    ticket = harness.ticket(outcome.ticket_reference)
    assert (ticket.state, ticket.outcome, ticket.identity_level) == ("answered", "suppressed", "not_required")
    with harness.sessions() as s:
        assert s.scalars(select(Suppression.address)).all() == [STRANGER]
    [item] = harness.items(outcome.outbox_ids)
    assert (item.kind, item.recipient) == ("marketing_objection_confirmation", STRANGER)


def test_escalation_notifies_sender_and_dpo(harness: Harness) -> None:
    raw = make_mail(subject="Auskunft und Beschwerde",
                    body="Sehr geehrte Damen und Herren,\n\nich verlange Auskunft nach Art. 15 DSGVO. Mein "
                         "Anwalt ist informiert; ich werde Beschwerde bei der Aufsichtsbehörde einlegen und "
                         "Schadensersatz nach Art. 82 DSGVO fordern.\n\nErika Mustermann")
    outcome = harness.send(raw)
    assert (outcome.status, outcome.reason) == (OutcomeStatus.ACCEPTED, "escalated")
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state == "escalated" and ticket.escalated and ticket.escalation_reasons
    kinds = {(i.kind, i.recipient) for i in harness.items(outcome.outbox_ids)}
    assert kinds == {("escalation_notice", ERIKA), ("dpo_escalation_alert", KMB2)}
    alert = next(i for i in harness.items(outcome.outbox_ids) if i.kind == "dpo_escalation_alert")
    alert_text = text_of(alert.payload)  # metadata only, never the body or the contact details
    assert "ich werde Beschwerde" not in alert_text and ERIKA not in alert_text
    assert ticket.reference in alert_text
    assert parsed(alert.payload)["Auto-Submitted"] == "auto-generated"


def test_bounce_of_a_statutory_reply_becomes_a_dpo_task(harness: Harness) -> None:
    first = harness.send(make_mail())
    [receipt] = harness.items(first.outbox_ids)
    our_id = parsed(receipt.payload)["Message-ID"]
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: klaus.marwede@kmb2.de\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; erika.mustermann@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {our_id}\r\nSubject: x\r\n--B--\r\n"
    ).encode()
    outcome = harness.send(dsn, envelope="")
    assert (outcome.status, outcome.reason, outcome.ticket_reference) == (
        OutcomeStatus.IGNORED, "bounce", first.ticket_reference)
    ticket = harness.ticket(first.ticket_reference)
    assert ticket.state == "escalated" and "delivery_bounced" in ticket.escalation_reasons
    assert "delivery_bounced" in harness.actions(ticket.reference)
    assert [i.kind for i in harness.items(outcome.outbox_ids)] == ["dpo_escalation_alert"]


def test_the_raw_bytes_are_parsed_once(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter's one parse carries everything (bounce parts, identity headers) in typed fields."""
    first = harness.send(make_mail())
    [receipt] = harness.items(first.outbox_ids)
    our_id = parsed(receipt.payload)["Message-ID"]
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: klaus.marwede@kmb2.de\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-2@mx.example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; erika.mustermann@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
        f"--B\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: {our_id}\r\nSubject: x\r\n\r\nx\r\n--B--\r\n"
    ).encode()
    bounce = harness.inbound(dsn, envelope="")
    request = harness.inbound(make_mail(sender=STRANGER, message_id="<parse-once@example.org>"))

    def no_second_parse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("raw bytes parsed again")

    monkeypatch.setattr(email.parser.BytesParser, "parsebytes", no_second_parse)
    outcome = harness.pipeline.handle(bounce)
    assert (outcome.status, outcome.reason, outcome.ticket_reference) == (
        OutcomeStatus.IGNORED, "bounce", first.ticket_reference)
    assert harness.ticket(first.ticket_reference).state != "escalated"  # 4.4.1: only delayed
    assert harness.pipeline.handle(request).status is OutcomeStatus.ACCEPTED
    stored = {m.dedupe_key: m.headers for m in harness.inbound_messages()}
    assert stored["<dsn-2@mx.example.org>"]["x-dsr-dsn-status"] == "4.4.1"  # the record keeps what was parsed


def test_noise_is_recorded_not_answered(harness: Harness) -> None:
    raw = make_mail(subject="Rechnung 4711", body="Anbei die Rechnung für März. Bitte bis 15.3. überweisen.")
    outcome = harness.send(raw)
    assert (outcome.status, outcome.reason) == (OutcomeStatus.IGNORED, "not_a_request")
    assert harness.tickets() == [] and harness.outbox() == []
    assert harness.inbound_messages()[0].disposition == "not_a_request"


def test_quarantine_keeps_the_raw_message_with_its_reason(harness: Harness) -> None:
    outcome = harness.pipeline.quarantine(controller="kmb2", channel="email", raw=b"\x00garbage",
                                          reason="no From header")
    assert outcome.status is OutcomeStatus.QUARANTINED
    with harness.sessions() as s:
        [item] = s.scalars(select(QuarantinedMessage)).all()
        assert (item.reason, item.raw, item.state) == ("no From header", b"\x00garbage", "open")
    assert "message_quarantined" in harness.actions()




def test_unclear_request_gets_a_clarification_question_first(harness: Harness) -> None:
    outcome = harness.send(make_mail(subject="Frage", body=UNCLEAR))
    assert outcome.reason == "clarification_requested"
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state == "new" and ticket.classification["pending_clarification"] is True
    assert ticket.due_date is not None  # the month runs from receipt, question or not
    [question] = harness.items(outcome.outbox_ids)
    assert (question.kind, question.recipient) == ("clarification", ERIKA)
    assert "Auskunft" in text_of(question.payload)

    ours = parsed(question.payload)
    answer = make_mail(subject=f"AW: {ours['Subject']}", headers={"In-Reply-To": ours["Message-ID"]},
                       body="Ja, ich möchte eine Auskunft nach Art. 15 DSGVO über meine Daten.")
    done = harness.send(answer)
    assert (done.reason, done.ticket_reference) == ("receipt_confirmed", ticket.reference)
    after = harness.ticket(ticket.reference)
    assert (after.state, after.rights, after.identity_level) == ("in_progress", ["access"], "contact_on_file")
    assert "rights_corrected" in harness.actions(ticket.reference)


def test_answer_that_stays_unclear_goes_to_a_human(harness: Harness) -> None:
    outcome = harness.send(make_mail(subject="Frage", body=UNCLEAR))
    [question] = harness.items(outcome.outbox_ids)
    ours = parsed(question.payload)
    answer = make_mail(subject=f"AW: {ours['Subject']}", body="weiß nicht",
                       headers={"In-Reply-To": ours["Message-ID"]})
    done = harness.send(answer)
    assert done.reason == "escalated"
    assert harness.ticket(outcome.ticket_reference).state == "escalated"


def test_english_request_gets_an_english_reply(harness: Harness) -> None:
    body = ("Dear Sir or Madam,\n\nunder Article 15 GDPR I request access to the personal data you hold "
            "about me and a copy of it.\n\nKind regards\nErika Mustermann")
    outcome = harness.send(make_mail(subject="Subject access request", body=body))
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.language == "en"
    [item] = harness.items(outcome.outbox_ids)
    assert parsed(item.payload)["Content-Language"] == "en"
    assert "April 2, 2026" in text_of(item.payload) or "2 April 2026" in text_of(item.payload)
