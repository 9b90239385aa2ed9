"""Processor mode through the pipeline with kmb2's example register (issue 15 no. 9)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dsr.inbound import InboundMessage
from dsr.service.demo import demo_request
from dsr.store.models import AuditEvent, OutboxItem, Ticket
from tests.support.pipeline import ERIKA, KMB2, STRANGER, Harness, make_mail, parsed, text_of

HEINEMANN = "datenschutz@heinemann-elektro.example"
RAUTENBERG = "info@rautenberg-haustechnik.example"


def test_the_demo_processor_request_is_forwarded_to_the_client_it_names(harness: Harness) -> None:
    """`dsr demo send processor`: Erika's E-Check (demo CRM) was done for Heinemann Elektrotechnik."""
    message = demo_request("processor", controller="kmb2", to=KMB2,
                           now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    outcome = harness.send(message.as_bytes())
    assert outcome.reason == "forwarded_to_client"
    items = harness.outbox()
    assert sorted((i.kind, i.recipient) for i in items) == [
        ("processor_forward", HEINEMANN), ("processor_notice", ERIKA)]
    notice = next(i for i in items if i.kind == "processor_notice")
    assert "im Auftrag von Heinemann Elektrotechnik GmbH, Braunschweig" in " ".join(
        text_of(notice.payload).split())
    [ticket] = harness.tickets()
    assert (ticket.state, ticket.outcome) == ("answered", "forwarded")
    assert ticket.classification["processor"]["client"] == "elektro-heinemann"


def test_a_client_that_may_not_be_named_is_not_named_to_the_person(harness: Harness) -> None:
    body = ("Guten Tag,\n\nSie rechnen für die Firma Rautenberg ab, die bei mir die Heizung gewartet hat. "
            "Bitte löschen Sie meine Daten.\n\nJana Unbekannt")
    harness.send(make_mail(sender=STRANGER, subject="Löschung", body=body))
    items = harness.outbox()
    assert sorted((i.kind, i.recipient) for i in items) == [
        ("processor_forward", RAUTENBERG), ("processor_notice", STRANGER)]
    notice = text_of(next(i for i in items if i.kind == "processor_notice").payload)
    assert "Rautenberg" not in notice
    assert "eines Unternehmens, für das wir tätig sind" in " ".join(notice.split())
    forward = text_of(next(i for i in items if i.kind == "processor_forward").payload)
    assert "Heizung gewartet" in forward  # the client gets the request itself


def test_several_clients_named_go_to_the_dpo_with_the_clients_listed(harness: Harness) -> None:
    """No forward (to which client?) and no letter in kmb2's name: a person splits the request."""
    body = ("Hallo,\n\nElektro Heinemann und die Firma Rautenberg haben beide bei mir gearbeitet und Sie "
            "haben abgerechnet. Bitte Auskunft nach Art. 15 DSGVO über alles, was Sie zu mir haben.\n\n"
            "Jana Unbekannt")
    outcome = harness.send(make_mail(sender=STRANGER, subject="Auskunft", body=body))
    assert outcome.reason == "escalated"
    [ticket] = harness.tickets()
    assert ticket.state == "escalated" and ticket.escalation_reasons == ["several_clients"]
    assert ticket.classification["processor"] == {"candidates": ["elektro-heinemann", "rautenberg"]}
    assert ticket.due_date is not None and ticket.outcome is None  # kmb2's clock runs from receipt
    receipt, alert = harness.outbox()
    _assert_neutral_receipt(receipt, STRANGER)
    assert alert.kind == "dpo_escalation_alert" and alert.recipient == KMB2
    alert_text = " ".join(text_of(alert.payload).split())
    assert "nennt mehrere Auftraggeber" in alert_text
    assert STRANGER not in alert_text and "Heinemann" not in str(parsed(alert.payload)["Subject"])
    with harness.sessions() as s:
        reason = s.scalar(select(AuditEvent.reason).join(Ticket, Ticket.id == AuditEvent.ticket_id)
                          .where(AuditEvent.action == "state_changed", Ticket.reference == ticket.reference))
    assert reason is not None
    assert ("mehrere Auftraggeber (Heinemann Elektrotechnik GmbH, Braunschweig, Sanitär- und "
            "Heizungsbau Rautenberg GmbH, Wolfenbüttel)") in reason


def test_a_request_naming_no_client_is_kmb2s_own(harness: Harness) -> None:
    harness.send(make_mail())
    assert {i.kind for i in harness.outbox()} & {"processor_forward", "processor_notice"} == set()


HOLD_CASES = {
    "legal_threat": ("Guten Tag,\n\nElektro Heinemann hat bei mir gearbeitet und Sie haben abgerechnet. "
                     "Bitte Auskunft nach Art. 15 DSGVO über alles, was Sie zu mir haben. Sonst schalte "
                     "ich meinen Anwalt ein und verlange Schadensersatz.\n\nJana Unbekannt"),
    "breach": ("Guten Tag,\n\nSie rechnen für Elektro Heinemann ab. In meiner Rechnung standen Name und "
               "Anschrift eines anderen Kunden, ich habe also fremde Daten bekommen. Bitte löschen Sie "
               "meine Daten.\n\nJana Unbekannt"),
    "authority": ("Sehr geehrte Damen und Herren,\n\ndie Landesbeauftragte für den Datenschutz "
                  "Niedersachsen hat eine Beschwerde von Frau Jana Unbekannt erhalten. Frau Unbekannt hat "
                  "bei Ihnen Auskunft nach Art. 15 DSGVO über ihre Daten aus der Abrechnung für Elektro "
                  "Heinemann verlangt. Wir bitten um Stellungnahme binnen zwei Wochen.\n\nAz. 5.1-1234/26"),
}


@pytest.mark.parametrize("reason", sorted(HOLD_CASES))
def test_one_client_with_an_escalation_reason_goes_to_the_dpo_first(harness: Harness, reason: str) -> None:
    """Brief gap 5: escalation wins over automatic forwarding.  Nothing goes to the client or the
    person in our name; the client stays on the ticket as the candidate the DPO forwards to."""
    outcome = harness.send(make_mail(sender=STRANGER, subject="Anfrage", body=HOLD_CASES[reason]))
    assert outcome.reason == "escalated"
    [ticket] = harness.tickets()
    assert ticket.state == "escalated" and ticket.outcome is None
    assert reason in ticket.escalation_reasons and "processor_role" in ticket.escalation_reasons
    assert ticket.classification["processor"] == {"candidates": ["elektro-heinemann"]}
    assert (ticket.breach_due_at is not None) is (reason == "breach")
    items = harness.outbox()
    if reason == "authority":
        # An authority's letter is answered by a person only: no receipt to the authority either.
        assert [i.kind for i in items] == ["dpo_escalation_alert"]
        assert "auto_reply_not_sent" in harness.actions(ticket.reference)
    else:
        assert [i.kind for i in items] == ["processor_receipt", "dpo_escalation_alert"]
        _assert_neutral_receipt(items[0], STRANGER)
    assert items[-1].recipient == KMB2
    with harness.sessions() as s:
        why = s.scalar(select(AuditEvent.reason).where(AuditEvent.action == "state_changed",
                                                       AuditEvent.ticket_id == ticket.id))
    assert why is not None and "im Auftrag von Heinemann Elektrotechnik GmbH, Braunschweig" in why
    assert "Nicht automatisch weitergeleitet" in why


def _assert_neutral_receipt(item: OutboxItem, recipient: str) -> None:
    """Brief i15b no. 1: the person held for the DPO gets a receipt that promises nothing untrue:
    the receipt date and that we check who is responsible; no client, no data, no identity check,
    no deadline (as processor we may not be the one who answers)."""
    assert (item.kind, item.recipient) == ("processor_receipt", recipient)
    mail = parsed(item.payload)
    text = " ".join(text_of(item.payload).split())
    assert "Eingangsbestätigung" in str(mail["Subject"])
    assert "am 2. März 2026 erhalten" in text and "wer für die Daten verantwortlich ist" in text
    for absent in ("Heinemann", "Rautenberg", "Frist", "spätestens", "Identität", "Code", "Art. 15",
                   "im Auftrag von", "Jana"):
        assert absent not in text, absent


def test_a_held_request_by_chat_gets_the_receipt_in_the_chat(harness: Harness) -> None:
    """The chat form actually sent: the same neutral receipt in the Telegram chat."""
    msg = InboundMessage(controller="kmb2", channel="telegram", dedupe_key="tg:4711:1",
                         sender="telegram:4711", received_at=harness.clock.now,
                         body=HOLD_CASES["legal_threat"], message_id="tg:4711:1", chat_id=4711,
                         telegram_user_id=4711)
    outcome = harness.pipeline.handle(msg)
    assert outcome.reason == "escalated"
    receipt, alert = harness.outbox()
    assert (receipt.kind, receipt.channel, receipt.recipient) == ("processor_receipt", "telegram", "4711")
    chat = " ".join(json.loads(receipt.payload)["text"].split())
    assert "am 2. März 2026 bei uns eingegangen" in chat and "wer für die Daten verantwortlich ist" in chat
    assert "Heinemann" not in chat and "spätestens" not in chat
    assert alert.kind == "dpo_escalation_alert"


def test_a_held_english_request_gets_the_english_receipt(harness: Harness) -> None:
    body = ("Hello,\n\nyou do the billing for Elektro Heinemann, who worked at my house. Under Art. 15 GDPR "
            "please tell me what data you hold about me. Otherwise I will involve my lawyer and claim "
            "damages.\n\nJane Unknown")
    outcome = harness.send(make_mail(sender=STRANGER, subject="Data access request", body=body))
    assert outcome.reason == "escalated"
    [ticket] = harness.tickets()
    assert ticket.language == "en" and "processor_role" in ticket.escalation_reasons
    receipt = next(i for i in harness.outbox() if i.kind == "processor_receipt")
    text = " ".join(text_of(receipt.payload).split())
    assert "received it on 2 March 2026" in text and "who is responsible for the data" in text
    assert "Heinemann" not in text and "at the latest" not in text
