"""No request is dropped (issue 13): every message a person wrote ends in a ticket, a clarification
question or the DPO's triage queue; only a confident non-privacy reading is ignored, with its reason.

The examples are the ones quoted in the issue.  The assertions are about the pipeline's promise,
not about one classifier's reading: whatever the rules make of a message, it must not vanish.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from dsr.inbound import InboundMessage, Outcome, OutcomeStatus
from dsr.store.models import AuditEvent, Message
from tests.pipeline.examples import (
    BREACH_REPORT,
    CHAT_EXAMPLE,
    INVOICE_DISPUTE,
    MAIL_EXAMPLES,
    UNCLEAR_ACCOUNT,
)
from tests.support.pipeline import ERIKA, STRANGER, Harness, make_mail, parsed, text_of


def _ends_in_a_person_or_question(harness: Harness, outcome: Outcome) -> str:
    """Assert the message was not dropped; return how it ended ("ticket", "clarification", "triage")."""
    assert outcome.status is OutcomeStatus.ACCEPTED, (outcome.status, outcome.reason)
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.due_date is not None or ticket.rights, "the deadline runs from receipt"
    [stored] = [m for m in harness.inbound_messages() if m.ticket_id == ticket.id]
    assert stored.disposition != "not_a_request"
    if outcome.reason == "clarification_requested":
        [question] = [i for i in harness.items(outcome.outbox_ids) if i.kind == "clarification"]
        assert question.recipient in (ERIKA, STRANGER) or question.channel == "telegram"
        return "clarification"
    if ticket.state == "escalated":
        assert ticket.escalation_reasons, "a person must see why"
        return "triage"
    return "ticket"


@pytest.mark.parametrize("example", sorted(MAIL_EXAMPLES))
def test_issue_examples_are_never_ignored(harness: Harness, example: str) -> None:
    subject, body = MAIL_EXAMPLES[example]
    outcome = harness.send(make_mail(sender=STRANGER, subject=subject, body=body))
    ending = _ends_in_a_person_or_question(harness, outcome)
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.received_at == harness.clock.now
    if example == "abmeldung_with_erasure_body" and ending == "ticket":
        # The subject supports, the body decides: never a marketing confirmation alone.
        assert "erasure" in ticket.rights


def test_chat_example_is_never_ignored(harness: Harness) -> None:
    msg = InboundMessage(controller="kmb2", channel="telegram", dedupe_key="tg:4711:1",
                         sender="telegram:4711", received_at=harness.clock.now, body=CHAT_EXAMPLE,
                         message_id="tg:4711:1", chat_id=4711, telegram_user_id=4711)
    outcome = harness.pipeline.handle(msg)
    _ends_in_a_person_or_question(harness, outcome)


def test_message_without_any_reading_is_triaged(harness: Harness) -> None:
    """A text no rule can read at all (no privacy words, no non-privacy reading)."""
    outcome = harness.send(make_mail(sender=STRANGER, subject="", body="Qwrtz plöm vasdu kelirr."))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.ACCEPTED, "triage")
    ticket = harness.ticket(outcome.ticket_reference)
    assert (ticket.state, ticket.escalation_reasons) == ("escalated", ["unrecognised"])
    assert ticket.rights == ["other"]
    assert ticket.classification["route"] == "triage"
    assert [m.disposition for m in harness.inbound_messages()] == [""]


def test_confident_non_privacy_reading_is_ignored_with_its_reason(harness: Harness) -> None:
    subject, body = INVOICE_DISPUTE
    outcome = harness.send(make_mail(subject=subject, body=body))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.IGNORED, "not_a_request")
    assert harness.tickets() == [] and harness.outbox() == []
    [stored] = harness.inbound_messages()
    assert stored.disposition == "not_a_request"
    assert stored.disposition_reason  # the recorded non-privacy reading
    with harness.sessions() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "message_not_a_request")).all()
        assert event.detail["ignore_reason"] == stored.disposition_reason
        assert event.detail["message_id"] == stored.id


VENDOR_CHECKLIST = ("Lieferantenbewertung 2025",
                    "Guten Tag, für unsere jährliche Lieferantenbewertung benötigen wir Name und "
                    "Kontaktdaten Ihres Datenschutzbeauftragten sowie Ihre aktuellen TOMs.")


def test_a_business_matter_with_privacy_words_is_ignored_with_its_reason(harness: Harness) -> None:
    """Positive evidence of no request although privacy words occur (issue 13 triage work): a vendor's
    checklist names our DPO and TOMs; it is listed for the DPO with its reason, no ticket, no reply."""
    subject, body = VENDOR_CHECKLIST
    outcome = harness.send(make_mail(sender=STRANGER, subject=subject, body=body))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.IGNORED, "not_a_request")
    assert harness.tickets() == [] and harness.outbox() == []
    [stored] = harness.inbound_messages()
    assert (stored.disposition, stored.disposition_reason) == ("not_a_request", "business")


@pytest.mark.parametrize(("subject", "body"), [
    ("Bestellung 88120 – Nachtrag", "Bitte bei der Bestellung Position 2 löschen. Und meine Handynummer "
     "löschen Sie bitte gleich mit, die brauchen Sie nicht."),
    ("AW: Ihre Datenschutzanfrage", "Danke, erledigt. Aber woher hatten Sie eigentlich meine Daten?"),
])
def test_a_business_matter_never_claims_the_senders_own_data(harness: Harness, subject: str,
                                                             body: str) -> None:
    outcome = harness.send(make_mail(sender=STRANGER, subject=subject, body=body))
    _ends_in_a_person_or_question(harness, outcome)


def test_a_general_privacy_question_gets_the_contact_and_the_rights_offered(harness: Harness) -> None:
    """No right exercised, a standard answer: a clarification question naming how to reach us about
    data protection and offering the rights, with the deadline running; not the DPO's triage queue."""
    outcome = harness.send(make_mail(sender=STRANGER, subject="Frage",
                                     body="Guten Tag, wer ist bei Ihnen der Datenschutzbeauftragte und wo "
                                          "finde ich Ihre Datenschutzhinweise?"))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.ACCEPTED, "clarification_requested")
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state != "escalated" and not ticket.escalation_reasons
    assert ticket.classification["route"] == "clarify" and ticket.classification["general_question"]
    assert ticket.rights == ["access", "rectification", "erasure"]
    [question] = [i for i in harness.items(outcome.outbox_ids) if i.kind == "clarification"]
    text = " ".join(text_of(question.payload).split())
    assert "Für Fragen zum Datenschutz erreichen Sie uns unter" in text
    assert "(3) Löschung" in text and "Werbesperrliste" not in text


def test_breach_report_carries_the_72_hour_flag(harness: Harness) -> None:
    subject, body = BREACH_REPORT
    outcome = harness.send(make_mail(sender=STRANGER, subject=subject, body=body))
    assert outcome.reason == "escalated"
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state == "escalated" and "breach" in ticket.escalation_reasons
    assert ticket.breach_due_at == harness.clock.now + timedelta(hours=72)
    assert "breach_flagged" in harness.actions(ticket.reference)
    [alert] = [i for i in harness.items(outcome.outbox_ids) if i.kind == "dpo_escalation_alert"]
    mail = parsed(alert.payload)
    assert "DATENPANNE" in mail["Subject"] and "5. März 2026, 10:30 Uhr" in mail["Subject"]
    text = " ".join(text_of(alert.payload).split())  # paragraphs are wrapped
    assert "72 Stunden" in text and "5. März 2026, 10:30 Uhr" in text  # 09:30 UTC = 10:30 in Berlin


def test_the_issues_invoice_of_another_customer_is_a_breach_with_its_72_hour_clock(harness: Harness) -> None:
    """Issue 13: the report of another customer's invoice, told in the person's words without the
    word "Datenpanne", reaches the DPO at once as a breach, the Art. 33 clock running from receipt."""
    subject, body = MAIL_EXAMPLES["other_customers_invoice"]
    outcome = harness.send(make_mail(sender=STRANGER, subject=subject, body=body))
    assert outcome.reason == "escalated"
    ticket = harness.ticket(outcome.ticket_reference)
    assert "breach" in ticket.escalation_reasons
    assert ticket.breach_due_at == harness.clock.now + timedelta(hours=72)


def test_authority_letter_goes_to_the_dpo_and_is_not_answered_automatically(harness: Harness) -> None:
    subject, body = MAIL_EXAMPLES["authority_letter"]
    outcome = harness.send(make_mail(sender="poststelle@lfd.niedersachsen.de", subject=subject, body=body))
    assert outcome.reason == "escalated"
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state == "escalated" and "authority" in ticket.escalation_reasons
    assert ticket.stated_due_date == date(2026, 3, 12)
    assert ticket.internal_target_date == date(2026, 3, 12)  # brought forward to the authority's date
    kinds = [i.kind for i in harness.items(outcome.outbox_ids)]
    assert kinds == ["dpo_escalation_alert"]  # nothing to the authority itself
    assert "auto_reply_not_sent" in harness.actions(ticket.reference)
    [alert] = harness.items(outcome.outbox_ids)
    assert "12. März 2026" in " ".join(text_of(alert.payload).split())


def test_representative_goes_to_a_person_at_once(harness: Harness) -> None:
    body = ("Namens und in Vollmacht unseres Mandanten Max Muster verlangen wir Auskunft nach Art. 15 DSGVO "
            "über alle zu seiner Person gespeicherten Daten.")
    outcome = harness.send(make_mail(sender=STRANGER, subject="Auskunft", body=body))
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state == "escalated" and "representative" in ticket.escalation_reasons
    assert "receipt_confirmation" not in [i.kind for i in harness.items(outcome.outbox_ids)]


def test_ignored_messages_keep_their_receipt_time(harness: Harness) -> None:
    received = harness.clock.now
    harness.clock.advance(days=3)
    subject, body = INVOICE_DISPUTE
    msg = harness.inbound(make_mail(subject=subject, body=body))
    msg = replace(msg, received_at=received)  # delivered late, e.g. by the IMAP poller
    outcome = harness.pipeline.handle(msg)
    assert outcome.status is OutcomeStatus.IGNORED
    with harness.sessions() as s:
        stored = s.scalars(select(Message).where(Message.direction == "in")).one()
        assert stored.received_at == received


def test_breach_reported_in_the_answer_to_our_question_starts_the_clock_then(harness: Harness) -> None:
    first = harness.send(make_mail(subject="Frage", body=UNCLEAR_ACCOUNT))
    assert first.reason == "clarification_requested"
    [question] = harness.items(first.outbox_ids)
    harness.clock.advance(hours=5)
    answer = make_mail(subject=f"AW: {parsed(question.payload)['Subject']}",
                       body="Keins davon. Ich habe von Ihnen die Rechnung eines anderen Kunden bekommen, "
                            "das ist doch ein Datenleck.",
                       headers={"In-Reply-To": str(parsed(question.payload)["Message-ID"])})
    outcome = harness.send(answer)
    ticket = harness.ticket(first.ticket_reference)
    assert outcome.ticket_reference == ticket.reference
    assert ticket.state == "escalated" and "breach" in ticket.escalation_reasons
    assert ticket.breach_due_at == harness.clock.now + timedelta(hours=72)  # from the report, not the ticket
    assert harness.actions(ticket.reference).count("breach_flagged") == 1


PASSING_BREACH = ("Vielen Dank für Ihre Nachricht. Übrigens habe ich letzte Woche mit Ihrer Post die "
                  "Rechnung eines anderen Kunden bekommen, mit dessen Namen und Anschrift.")


def _reply_to(item_payload: bytes, body: str) -> bytes:
    ours = parsed(item_payload)
    return make_mail(subject=f"AW: {ours['Subject']}", body=body,
                     headers={"In-Reply-To": str(ours["Message-ID"])})


def test_breach_reported_in_passing_on_an_existing_ticket_is_flagged_and_alerted(harness: Harness) -> None:
    first = harness.send(make_mail())  # Erika's access request: a ticket, our reply to her
    ticket = harness.ticket(first.ticket_reference)
    assert ticket.breach_due_at is None and "breach" not in ticket.escalation_reasons
    [ours, *_] = [i for i in harness.items(first.outbox_ids) if i.recipient == ERIKA]
    harness.clock.advance(days=2, hours=3)
    outcome = harness.send(_reply_to(ours.payload, PASSING_BREACH))
    assert outcome.ticket_reference == ticket.reference  # attached as a follow-up, no new ticket
    assert len(harness.tickets()) == 1
    ticket = harness.ticket(ticket.reference)
    assert "breach" in ticket.escalation_reasons and ticket.escalated
    assert ticket.breach_due_at == harness.clock.now + timedelta(hours=72)  # from this message's receipt
    assert harness.actions(ticket.reference).count("breach_flagged") == 1
    [alert] = [i for i in harness.items(outcome.outbox_ids) if i.kind == "dpo_escalation_alert"]
    assert alert.recipient != ERIKA
    assert "DATENPANNE" in parsed(alert.payload)["Subject"]
    assert "Rechnung eines anderen Kunden" not in text_of(alert.payload)  # metadata only, no body


def test_an_ordinary_follow_up_raises_no_breach_flag_and_a_second_report_keeps_the_first_clock(
        harness: Harness) -> None:
    first = harness.send(make_mail())
    [ours, *_] = [i for i in harness.items(first.outbox_ids) if i.recipient == ERIKA]
    plain = harness.send(_reply_to(ours.payload, "Vielen Dank, ich warte auf Ihre Auskunft."))
    assert plain.ticket_reference == first.ticket_reference
    assert harness.ticket(first.ticket_reference).breach_due_at is None
    assert not [i for i in harness.items(plain.outbox_ids) if i.kind == "dpo_escalation_alert"]
    harness.send(_reply_to(ours.payload, PASSING_BREACH))
    due = harness.ticket(first.ticket_reference).breach_due_at
    harness.clock.advance(hours=30)
    again = harness.send(_reply_to(ours.payload, PASSING_BREACH + " Das ist jetzt schon das zweite Mal."))
    assert harness.ticket(first.ticket_reference).breach_due_at == due
    assert harness.actions(first.ticket_reference).count("breach_flagged") == 1
    assert not [i for i in harness.items(again.outbox_ids) if i.kind == "dpo_escalation_alert"]
