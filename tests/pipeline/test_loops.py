"""Issue 18 defect 6: loop mail that used to be answered, out-of-office texts, bounce storms and
forged bounces (issue 14)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dsr.inbound import OutcomeStatus
from dsr.store.models import VerificationChallenge
from tests.support.pipeline import KMB2, STRANGER, Harness, HarnessFactory, make_mail, parsed, text_of

TRUSTED = "mx.kmb2.de"


@pytest.mark.parametrize(("headers", "reason"), [
    ({"X-Loop": KMB2}, "x_loop"),
    ({"List-Post": "<mailto:datenschutz-liste@example.org>"}, "list_post"),
    ({"X-Mailing-List": "datenschutz@lists.example.org"}, "x_mailing_list"),
    ({"Mailing-List": "contact datenschutz-help@example.org; run by ezmlm"}, "mailing_list"),
    ({"X-MS-Exchange-Inbox-Rules-Loop": "erika.mustermann@example.org"}, "exchange_inbox_rule"),
    ({"X-MS-Exchange-Generated-Message-Source": "Mailbox Rules Agent"}, "exchange_inbox_rule"),
])
def test_loop_mail_is_recorded_not_answered(harness: Harness, headers: dict[str, str], reason: str) -> None:
    outcome = harness.send(make_mail(sender=STRANGER, headers=headers))
    assert (outcome.status, outcome.reason) == (OutcomeStatus.IGNORED, reason)
    assert harness.outbox() == [] and harness.tickets() == []


def test_our_own_answer_resent_by_a_gateway_is_not_answered(harness: Harness) -> None:
    first = harness.send(make_mail())
    [receipt] = harness.items(first.outbox_ids)
    ours = parsed(receipt.payload)
    # The gateway keeps subject and text, but writes under its own address and drops the references.
    resent = make_mail(sender="gateway@relay.example.net", subject=str(ours["Subject"]),
                       body=text_of(receipt.payload))
    outcome = harness.send(resent)
    assert (outcome.status, outcome.reason) == (OutcomeStatus.IGNORED, "own_reply_returned")
    assert [i.id for i in harness.outbox()] == [receipt.id]


def test_out_of_office_replies_without_headers_use_up_no_identity_attempts(
        make_harness: HarnessFactory) -> None:
    harness = make_harness(trusted_authserv_id=TRUSTED)
    first = harness.send(make_mail())  # on file, not authenticated: a code goes to the address on file
    assert first.reason == "awaiting_identity"
    [code_mail] = harness.items(first.outbox_ids)
    ours = parsed(code_mail.payload)
    notices = [
        (f"Automatische Antwort: {ours['Subject']}", "Ich bin bis 12.03.2026 nicht im Büro."),
        (f"Abwesenheitsnotiz: {ours['Subject']}", "Vielen Dank, ich melde mich nach dem 16.03."),
        (f"AW: {ours['Subject']}", "Ich bin bis zum 12.03.2026 im Urlaub und nicht erreichbar. "
                                   "In dringenden Fällen: 0511 1234567, Kundennr. K-10001, 38100."),
    ]
    for subject, body in notices * 2:
        outcome = harness.send(make_mail(subject=subject, body=body,
                                         headers={"In-Reply-To": str(ours["Message-ID"])}))
        assert (outcome.status, outcome.reason) == (OutcomeStatus.IGNORED, "out_of_office_text")
    ticket = harness.ticket(first.ticket_reference)
    assert ticket.state == "awaiting_identity" and not ticket.escalated
    assert [i.id for i in harness.outbox()] == [code_mail.id]
    with harness.sessions() as s:
        assert {c.attempts for c in s.scalars(select(VerificationChallenge))} == {0}


def _dsn(quoted_message_id: str, *, tag: str = "") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: klaus.marwede@kmb2.de\r\n"
        f"Subject: Undelivered Mail Returned to Sender {tag}\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; erika.mustermann@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {quoted_message_id}\r\n"
        f"Subject: x {tag}\r\n--B--\r\n"
    ).encode()


def test_fifty_bounces_of_one_answer_make_one_dpo_task(harness: Harness) -> None:
    first = harness.send(make_mail())
    [receipt] = harness.items(first.outbox_ids)
    our_id = str(parsed(receipt.payload)["Message-ID"])
    alerts = []
    for n in range(50):
        own_id = f"Message-ID: <dsn-{n}@mx.example.org>\r\nSubject:".encode()
        raw = _dsn(our_id).replace(b"Subject:", own_id, 1)
        outcome = harness.send(raw, envelope="")
        assert (outcome.status, outcome.reason) == (OutcomeStatus.IGNORED, "bounce")
        alerts += [i for i in harness.items(outcome.outbox_ids) if i.kind == "dpo_escalation_alert"]
    assert len(alerts) == 1
    assert harness.actions(first.ticket_reference).count("delivery_bounced") == 50


def test_a_bounce_quoting_none_of_our_mails_is_held_without_escalating(harness: Harness) -> None:
    """Issue 14: mailer-daemon@any.domain with a ticket tag escalated any ticket."""
    first = harness.send(make_mail())
    forged = _dsn("<not-ours@evil.example>", tag=f"[{first.ticket_reference}]")
    outcome = harness.send(forged.replace(b"Subject:", b"Message-ID: <forged@evil.example>\r\nSubject:", 1),
                           envelope="")
    assert (outcome.status, outcome.reason) == (OutcomeStatus.HELD, "bounce_unverified")
    ticket = harness.ticket(first.ticket_reference)
    assert not ticket.escalated and "delivery_bounced" not in ticket.escalation_reasons
    assert outcome.outbox_ids == ()
    assert "bounce_held" in harness.actions(ticket.reference)
