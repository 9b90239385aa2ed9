"""Marketing objections and consent withdrawals: the letter confirms only what was really done.

Issue 15 nos. 6 and 7: a withdrawal that is not only about advertising is a task for a person (the
letter says it is being handled); a marketing objection suppresses every identifier of a known
subject, not only the address the mail came from.
"""

from __future__ import annotations

from sqlalchemy import select

from dsr.inbound import OutcomeStatus
from dsr.store.models import DataSubject, SubjectEmail, Suppression
from tests.support.pipeline import ERIKA, KMB2, STRANGER, Harness, make_mail, text_of

LONGER_STORAGE = "Ich widerrufe meine Einwilligung zur längeren Speicherung meiner Daten."
NEWSLETTER = "Hiermit widerrufe ich meine Einwilligung für den Newsletter."


def _suppressed(harness: Harness) -> list[str]:
    with harness.sessions() as s:
        return sorted(s.scalars(select(Suppression.address)))


def test_withdrawal_beyond_advertising_is_a_dpo_task_and_the_letter_says_so(harness: Harness) -> None:
    outcome = harness.send(make_mail(sender=STRANGER, subject="Widerruf", body=LONGER_STORAGE))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.ACCEPTED, "escalated")
    ticket = harness.ticket(outcome.ticket_reference)
    # Not closed as done: the DPO must find and stop what relied on the consent.
    assert ticket.state == "escalated" and ticket.outcome is None
    assert ticket.escalation_reasons == ["consent_withdrawal_review"]
    assert ticket.classification["consent_scope"]["other_words"] == ["speicher"]
    assert _suppressed(harness) == []  # a marketing entry would not be what was asked
    items = {i.kind: i for i in harness.items(outcome.outbox_ids)}
    assert set(items) == {"consent_withdrawal_confirmation", "dpo_escalation_alert"}
    assert items["dpo_escalation_alert"].recipient == KMB2
    letter = " ".join(text_of(items["consent_withdrawal_confirmation"].payload).split())
    assert "Wir prüfen jetzt, welche Verarbeitungen auf dieser Einwilligung beruhen" in letter
    assert "haben wir eingestellt" not in letter and "Werbesperrliste" not in letter


def test_withdrawal_of_an_advertising_consent_is_done_at_once(harness: Harness) -> None:
    outcome = harness.send(make_mail(sender=STRANGER, subject="Newsletter", body=NEWSLETTER))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.ACCEPTED, "effective_immediately")
    ticket = harness.ticket(outcome.ticket_reference)
    # "Newsletter" also reads as a marketing objection: both are confirmed, the ticket is done.
    assert ticket.state == "answered" and ticket.outcome in {"suppressed", "consent_withdrawn"}
    assert _suppressed(harness) == [STRANGER]
    [item] = [i for i in harness.items(outcome.outbox_ids) if i.kind == "consent_withdrawal_confirmation"]
    letter = " ".join(text_of(item.payload).split())
    assert "Werbesperrliste" in letter and "Wir prüfen jetzt" not in letter


def test_marketing_objection_suppresses_every_identifier_of_the_known_subject(harness: Harness) -> None:
    with harness.sessions.begin() as s:
        erika = s.scalars(select(DataSubject).where(DataSubject.email == ERIKA)).one()
        erika.phone = "+49 531 123 456"
        erika.telegram_user_id = 777000111
        erika.extra = {**erika.extra, "street": "Lindenweg 4", "city": "Braunschweig"}
        s.add(SubjectEmail(subject_id=erika.id, controller="kmb2", email="erika.privat@example.net"))
    outcome = harness.send(make_mail(sender=ERIKA, subject="Keine Werbung",
                                     body="Ich widerspreche jeder Werbung. Bitte keine Werbung mehr."))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.ACCEPTED, "effective_immediately")
    assert _suppressed(harness) == sorted([
        ERIKA, "erika.privat@example.net", "+49531123456", "telegram:777000111",
        "post:lindenweg 4, 38100 braunschweig",
    ])
    ticket = harness.ticket(outcome.ticket_reference)
    assert "suppression_applied" in harness.actions(ticket.reference)


def test_marketing_objection_of_an_unknown_sender_suppresses_the_sender_only(harness: Harness) -> None:
    harness.send(make_mail(sender=STRANGER, subject="Keine Werbung", body="Bitte keine Werbung mehr."))
    assert _suppressed(harness) == [STRANGER]


OBJECTION = ("Ich widerspreche nach Art. 21 Abs. 1 DSGVO der Verarbeitung meiner Daten für die "
             "Kundenzufriedenheitsumfragen. Aus Gründen meiner besonderen Situation möchte ich das nicht.")
CONTEST = ("Mein Antrag auf Zahlung auf Rechnung wurde automatisiert abgelehnt. Ich möchte, dass ein "
           "Mensch diese automatisierte Entscheidung überprüft, und fechte sie an (Art. 22 Abs. 3 DSGVO).")


def test_objection_gets_its_acknowledgement_with_the_art_18_hint(harness: Harness) -> None:
    """Issue 15 no. 11: not the generic receipt, but the objection's own acknowledgement."""
    outcome = harness.send(make_mail(sender=ERIKA, subject="Widerspruch", body=OBJECTION))
    items = harness.items(outcome.outbox_ids)
    kinds = [i.kind for i in items if i.recipient == ERIKA]
    assert "objection_ack" in kinds, kinds
    assert "receipt_confirmation" not in kinds and "escalation_notice" not in kinds
    ack = " ".join(text_of(next(i for i in items if i.kind == "objection_ack").payload).split())
    assert "Art. 18 Abs. 1 lit. d DSGVO" in ack and "zwingende schutzwürdige Gründe" in ack


def test_art_22_contest_gets_its_acknowledgement_with_the_invitation(harness: Harness) -> None:
    outcome = harness.send(make_mail(sender=STRANGER, subject="Automatisierte Ablehnung", body=CONTEST),
                           controller="komsa")
    items = harness.items(outcome.outbox_ids)
    kinds = [i.kind for i in items if i.recipient == STRANGER]
    assert "automated_decision_ack" in kinds, kinds
    assert "receipt_confirmation" not in kinds and "escalation_notice" not in kinds
    ack = " ".join(text_of(next(i for i in items if i.kind == "automated_decision_ack").payload).split())
    assert "Standpunkt" in ack or "Sicht" in ack


def test_marketing_reading_offered_in_a_clarification_is_applied_at_once(harness: Harness) -> None:
    """Issue 15 no. 11: suppressing harms no one, so it does not wait for the answer."""
    body = "Bitte hören Sie auf, mir E-Mails zu schicken, und nehmen Sie meine Daten raus."
    outcome = harness.send(make_mail(sender=STRANGER, subject="Frage", body=body))
    assert outcome.reason == "clarification_requested"
    assert _suppressed(harness) == [STRANGER]
    [question] = [i for i in harness.items(outcome.outbox_ids) if i.kind == "clarification"]
    text = " ".join(text_of(question.payload).split())
    assert "Werbesperrliste" in text and "unabhängig von Ihrer Antwort" in text


def test_a_question_how_to_withdraw_consent_is_asked_back_not_acted_on(harness: Harness) -> None:
    """The classification names the right a how-to question is about (beside `other`), but the
    question exercises nothing: the person is asked; no withdrawal is recorded or sent for review."""
    body = "Wo finde ich das Formular, mit dem man seine Einwilligung widerrufen kann?"
    outcome = harness.send(make_mail(sender=STRANGER, subject="", body=body))
    assert outcome.reason == "clarification_requested"
    ticket = harness.ticket(outcome.ticket_reference)
    assert "consent_withdrawal_review" not in (ticket.escalation_reasons or [])
    assert "consent_scope" not in ticket.classification  # set when a withdrawal is applied
