"""Numbered answers to the clarification question, and bounces of our internal mails."""

from __future__ import annotations

from datetime import UTC, datetime

from dsr.inbound import OutcomeStatus
from dsr.mail.compose import make_message_id
from dsr.pipeline.clarification import first_written_line, reading_numbers
from tests.support.pipeline import UNCLEAR, Harness, make_mail, parsed, text_of


def _dsn(returned_message_id: str, subject: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: klaus.marwede@kmb2.de\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-7@mx.example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; fristen@kmb2.de\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {returned_message_id}\r\n"
        f"Subject: {subject}\r\n--B--\r\n"
    ).encode()


def test_number_answer_picks_the_offered_reading(harness: Harness) -> None:
    outcome = harness.send(make_mail(subject="Frage", body=UNCLEAR))
    [question] = harness.items(outcome.outbox_ids)
    lines = text_of(question.payload).splitlines()
    first_offered = next(line for line in lines if "(1)" in line)
    ours = parsed(question.payload)
    quoted = "\n".join("> " + line for line in lines)
    answer = make_mail(subject=f"AW: {ours['Subject']}", headers={"In-Reply-To": ours["Message-ID"]},
                       body=f"1\n\n{quoted}")
    done = harness.send(answer)
    assert (done.reason, done.ticket_reference) == ("receipt_confirmed", outcome.ticket_reference)
    ticket = harness.ticket(outcome.ticket_reference)
    [right] = ticket.rights
    assert {"access": "Auskunft", "erasure": "Löschung", "marketing_objection": "Werbe"}.get(right, right) \
        in first_offered
    assert "rights_corrected" in harness.actions(ticket.reference)


def test_number_out_of_range_is_not_a_choice(harness: Harness) -> None:
    outcome = harness.send(make_mail(subject="Frage", body=UNCLEAR))
    [question] = harness.items(outcome.outbox_ids)
    ours = parsed(question.payload)
    answer = make_mail(subject=f"AW: {ours['Subject']}", headers={"In-Reply-To": ours["Message-ID"]},
                       body="7")
    assert harness.send(answer).reason == "escalated"


def test_reading_number_parsing() -> None:
    assert reading_numbers("2", 3) == [2]
    assert reading_numbers("1 und 3", 3) == [1, 3]
    assert reading_numbers("(1), 2.", 2) == [1, 2]
    assert reading_numbers("4", 3) == []
    assert reading_numbers("Ich möchte 2 Dinge", 3) == []
    assert first_written_line("\n  2  \n> 1. Auskunft") == "2"
    assert first_written_line("> quoted only") == ""


def test_bounce_of_an_internal_reminder_does_not_escalate_the_ticket(harness: Harness) -> None:
    first = harness.send(make_mail())
    reference = first.ticket_reference
    before = harness.ticket(reference).state
    reminder_id = make_message_id("kmb2.de", datetime(2026, 3, 20, 8, 0, tzinfo=UTC))
    outcome = harness.send(_dsn(reminder_id, f"Fristerinnerung [{reference}]"), envelope="")
    # Reminders are not recorded as sent messages, so the bounce quotes no mail we can match:
    # held for the DPO (issue 18: only bounces of a recorded mail count), nothing escalated.
    assert (outcome.status, outcome.reason) == (OutcomeStatus.HELD, "bounce_unverified")
    ticket = harness.ticket(reference)
    assert ticket.state == before and "delivery_bounced" not in ticket.escalation_reasons
    assert "bounce_held" in harness.actions(reference)  # still on record for the DPO
    assert outcome.outbox_ids == ()
