"""The verification ladder through the pipeline: DKIM/DMARC trust, one-time codes, known facts."""

from __future__ import annotations

import re

from sqlalchemy import select

from dsr.inbound import OutcomeStatus
from dsr.store.models import VerificationChallenge
from tests.support.pipeline import ERIKA, STRANGER, Harness, HarnessFactory, make_mail, parsed, text_of

TRUSTED = "mx.kmb2.de"
RESTRICTION_SUBJECT = "Einschränkung der Verarbeitung"
RESTRICTION_BODY = ("Guten Tag,\n\nich verlange die Einschränkung der Verarbeitung meiner Daten nach "
                    "Art. 18 DSGVO.\n\nMit freundlichen Grüßen\n")


def _reply(harness: Harness, to_item_payload: bytes, body: str, *, sender: str = ERIKA) -> bytes:
    ours = parsed(to_item_payload)
    return make_mail(sender=sender, subject=f"AW: {ours['Subject']}", body=body,
                     headers={"In-Reply-To": ours["Message-ID"]})


def test_known_address_with_trusted_dmarc_pass_is_level_1(make_harness: HarnessFactory) -> None:
    harness = make_harness(trusted_authserv_id=TRUSTED)
    results = f"{TRUSTED}; dkim=pass header.d=example.org; dmarc=pass header.from=example.org"
    raw = make_mail(headers={"Authentication-Results": results})
    outcome = harness.send(raw)
    ticket = harness.ticket(outcome.ticket_reference)
    assert (outcome.reason, ticket.identity_level) == ("receipt_confirmed", "contact_on_file")
    assert "dmarc=pass" in (ticket.identity_method or "")


def test_known_address_without_authentication_gets_a_code_on_file(make_harness: HarnessFactory) -> None:
    harness = make_harness(trusted_authserv_id=TRUSTED)
    forged = make_mail(headers={"Authentication-Results": "evil.example; dmarc=pass header.from=example.org",
                                "Reply-To": "attacker@example.net"})
    outcome = harness.send(forged)
    assert outcome.reason == "awaiting_identity"
    ticket = harness.ticket(outcome.ticket_reference)
    assert (ticket.state, ticket.identity_level) == ("awaiting_identity", "none")
    [code_mail] = harness.items(outcome.outbox_ids)
    # The code goes to the address ON FILE, never to the Reply-To of an unverified message.
    assert (code_mail.kind, code_mail.recipient) == ("verification_code", ERIKA)
    code = harness.code_from(code_mail)
    with harness.sessions() as s:
        challenge = s.scalars(select(VerificationChallenge)).one()
        assert code not in challenge.code_hash and challenge.max_attempts == 5
    assert re.fullmatch(r"[ACEFHJKMNPRTWXY34679]{4}-[ACEFHJKMNPRTWXY34679]{4}", code)

    harness.clock.advance(hours=20)  # a code by e-mail lives for hours
    done = harness.send(_reply(harness, code_mail.payload, f"Hier ist der Code: {code.lower()}\n\nErika"))
    assert (done.status, done.reason, done.ticket_reference) == (
        OutcomeStatus.ACCEPTED, "identity_verified", ticket.reference)
    after = harness.ticket(ticket.reference)
    assert (after.state, after.identity_level) == ("in_progress", "code_confirmed")
    [verified] = harness.items(done.outbox_ids)
    assert (verified.kind, verified.recipient) == ("identity_verified", ERIKA)
    assert "identity_recorded" in harness.actions(ticket.reference)


def test_wrong_codes_exhaust_and_escalate(make_harness: HarnessFactory) -> None:
    harness = make_harness(trusted_authserv_id=TRUSTED)
    outcome = harness.send(make_mail())
    [code_mail] = harness.items(outcome.outbox_ids)
    code = harness.code_from(code_mail)
    wrong = "K7MX-3RTA" if code != "K7MX-3RTA" else "K7MX-3RTC"
    reasons = [harness.send(_reply(harness, code_mail.payload, f"Code {wrong}")).reason for _ in range(5)]
    assert reasons == ["identity_attempt_failed"] * 4 + ["identity_failed"]
    ticket = harness.ticket(outcome.ticket_reference)
    assert ticket.state == "escalated" and "identity_unverified" in ticket.escalation_reasons
    # The right code after exhaustion no longer verifies anything.
    late = harness.send(_reply(harness, code_mail.payload, f"Code {code}"))
    assert late.reason == "follow_up_attached"
    assert harness.ticket(ticket.reference).identity_level == "none"


def test_expired_code_is_replaced(make_harness: HarnessFactory) -> None:
    harness = make_harness(trusted_authserv_id=TRUSTED)
    outcome = harness.send(make_mail())
    [code_mail] = harness.items(outcome.outbox_ids)
    old = harness.code_from(code_mail)
    harness.clock.advance(hours=25)
    late = harness.send(_reply(harness, code_mail.payload, f"Code: {old}"))
    assert late.reason == "code_expired_resent"
    # Issue 15 no. 12: no "expired without reaching us" notice when the late code did reach us, and
    # not beside a new code: one mail with the new code that says why it comes.
    kinds = [(i.kind, i.recipient) for i in harness.items(late.outbox_ids)]
    assert kinds == [("verification_code", ERIKA)]
    new_mail = harness.items(late.outbox_ids)[0]
    assert "war bereits abgelaufen" in " ".join(text_of(new_mail.payload).split())
    done = harness.send(_reply(harness, new_mail.payload, harness.code_from(new_mail)))
    assert done.reason == "identity_verified"


def test_unknown_sender_is_asked_for_facts_and_verified_by_them(harness: Harness) -> None:
    outcome = harness.send(make_mail(sender=STRANGER, body="Guten Tag,\n\nbitte teilen Sie mir mit, welche "
                                     "Daten Sie über mich speichern (Art. 15 DSGVO).\n\nJana"))
    assert outcome.reason == "awaiting_identity"
    [request] = harness.items(outcome.outbox_ids)
    assert (request.kind, request.recipient) == ("identity_request", STRANGER)
    assert "Kundennummer" in text_of(request.payload) and "Postleitzahl" in text_of(request.payload)

    assert "passen leider nicht" not in text_of(request.payload)
    wrong = harness.send(_reply(harness, request.payload, "Kundennummer K-10001, PLZ 99999", sender=STRANGER))
    assert wrong.reason == "identity_attempt_failed"
    # The retry is not the same letter again: it says that the details did not match.
    [retry] = harness.items(wrong.outbox_ids)
    retry_text = " ".join(text_of(retry.payload).split())
    assert ("Die Kundennummer und die Postleitzahl, die Sie uns genannt haben, passen zusammen leider nicht"
            in retry_text)
    assert "Welche der beiden Angaben abweicht, sagen wir aus Sicherheitsgründen nicht" in retry_text
    facts = "Meine Kundennummer ist K-10001, Postleitzahl 38100."
    found = harness.send(_reply(harness, request.payload, facts, sender=STRANGER))
    # Access discloses data: invoice facts only find the record; the code goes to its contact.
    assert found.reason == "code_sent"
    kinds = [(i.kind, i.recipient) for i in harness.items(found.outbox_ids)]
    assert kinds == [("verification_code", ERIKA), ("identity_request", STRANGER)]
    assert harness.ticket(outcome.ticket_reference).identity_level == "none"
    code_mail = harness.items(found.outbox_ids)[0]
    done = harness.send(_reply(harness, request.payload, harness.code_from(code_mail), sender=STRANGER))
    assert done.reason == "identity_verified"
    ticket = harness.ticket(outcome.ticket_reference)
    assert (ticket.identity_level, ticket.state, ticket.reply_to) == ("code_confirmed", "in_progress", ERIKA)
    assert ticket.subject_id is not None


def test_facts_verify_a_request_that_discloses_nothing(harness: Harness) -> None:
    outcome = harness.send(make_mail(sender=STRANGER, subject=RESTRICTION_SUBJECT, body=RESTRICTION_BODY))
    [request] = harness.items(outcome.outbox_ids)
    facts = "Kundennummer K-10001, Postleitzahl 38100"
    done = harness.send(_reply(harness, request.payload, facts, sender=STRANGER))
    assert done.reason == "identity_verified"
    ticket = harness.ticket(outcome.ticket_reference)
    assert (ticket.identity_level, ticket.state, ticket.reply_to) == ("known_facts", "in_progress", STRANGER)
    [verified] = harness.items(done.outbox_ids)
    assert "Mustermann" not in text_of(verified.payload)  # invoice facts prove no person: no name


def test_facts_in_the_first_message_verify_a_non_disclosing_request_at_once(harness: Harness) -> None:
    body = RESTRICTION_BODY + "\nKundennummer: K-10002\nAnschrift: Musterweg 1, 38106 Braunschweig"
    outcome = harness.send(make_mail(sender="max.privat@example.com", subject=RESTRICTION_SUBJECT, body=body))
    ticket = harness.ticket(outcome.ticket_reference)
    assert (outcome.reason, ticket.identity_level) == ("receipt_confirmed", "known_facts")
    [receipt] = harness.items(outcome.outbox_ids)
    assert "Beispiel" not in text_of(receipt.payload)


def test_unknown_sender_naming_an_address_on_file_gets_the_code_there(harness: Harness) -> None:
    body = ("Guten Tag,\n\nich möchte Auskunft nach Art. 15 DSGVO. Bei Ihnen bin ich mit der Adresse "
            f"{ERIKA} registriert.\n\nErika Mustermann")
    outcome = harness.send(make_mail(sender="erika.neu@example.com", body=body))
    kinds = {(i.kind, i.recipient) for i in harness.items(outcome.outbox_ids)}
    assert kinds == {("verification_code", ERIKA), ("identity_request", "erika.neu@example.com")}
    code_mail = next(i for i in harness.items(outcome.outbox_ids) if i.kind == "verification_code")
    done = harness.send(_reply(harness, code_mail.payload, harness.code_from(code_mail),
                               sender="erika.neu@example.com"))
    assert done.reason == "identity_verified"
    assert harness.ticket(outcome.ticket_reference).reply_to == ERIKA


def _received_by_trusted_server(results: list[str], below: dict[str, str]) -> bytes:
    """What the trusted MX delivers: its own results and Received line on top of the message as
    it arrived (which may carry headers the sender wrote, `below`)."""
    top = "".join(f"Authentication-Results: {r}\n" for r in results)
    top += f"Received: from mail.example.org by {TRUSTED}; Mon, 2 Mar 2026 09:00:01 +0000\n"
    return top.encode() + make_mail(headers=below)


def test_a_forged_pass_below_the_trusted_servers_own_results_is_not_believed(
        make_harness: HarnessFactory) -> None:
    """Issue 18 defect 5: the server's dmarc=fail on top, a forged dmarc=pass (with the trusted
    authserv-id) under it: the request counted as verified."""
    harness = make_harness(trusted_authserv_id=TRUSTED)
    forged = {"Authentication-Results": f"{TRUSTED}; dkim=pass header.d=example.org; "
                                        "dmarc=pass header.from=example.org"}
    for results in ([f"{TRUSTED}; dmarc=fail header.from=example.org"],
                    [f"{TRUSTED}; spf=pass smtp.mailfrom=example.org"]):
        outcome = harness.send(_received_by_trusted_server(results, forged))
        assert outcome.reason == "awaiting_identity", results
        assert harness.ticket(outcome.ticket_reference).identity_level == "none"


def test_several_results_headers_of_the_trusted_server_count_together(make_harness: HarnessFactory) -> None:
    harness = make_harness(trusted_authserv_id=TRUSTED)
    results = [f"{TRUSTED}; dmarc=pass header.from=example.org",
               f"{TRUSTED}; dkim=pass header.d=example.org"]
    outcome = harness.send(_received_by_trusted_server(results, {}))
    ticket = harness.ticket(outcome.ticket_reference)
    assert (outcome.reason, ticket.identity_level) == ("receipt_confirmed", "contact_on_file")


def test_an_id_copy_that_arrived_is_named_in_the_identity_request(harness: Harness) -> None:
    """The letter does not pretend nothing came: it says an ID copy arrived and is not used."""
    body = "Guten Tag,\n\nbitte Auskunft nach Art. 15 DSGVO.\n\nJana"
    msg = parsed(make_mail(sender=STRANGER, body=body))
    scan = b"\xff\xd8\xff\xe0 scan"
    msg.add_attachment(scan, maintype="image", subtype="jpeg", filename="personalausweis.jpg")
    outcome = harness.send(msg.as_bytes())
    assert outcome.reason == "awaiting_identity"
    [request] = harness.items(outcome.outbox_ids)
    text = text_of(request.payload)
    assert "enthielt eine Kopie eines Ausweisdokuments" in text
    assert "bitte schicken Sie uns auch keine" not in text
    assert "id_document_received" in harness.actions(outcome.ticket_reference)
