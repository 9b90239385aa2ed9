"""Identity retries (issue 17 item 7): a fact already given is not asked for again, the retry letter
says what did not match, and neither the memory nor the letters help someone guessing.

Demo data of kmb2: Erika Mustermann K-10001 / 38100 (erika.mustermann@example.org), Max Beispiel
K-10002 / 38106.  The attacker writes from his own address and guesses.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from dsr.pipeline import attempts
from dsr.replies.labels import identity_label
from dsr.store.models import OutboxItem, VerificationFailure
from tests.support.pipeline import ERIKA, STRANGER, Harness, make_mail, parsed, text_of

ATTACKER = "mallory@example.net"
ACCESS = ("Guten Tag,\n\nbitte teilen Sie mir mit, welche Daten Sie über mich speichern (Art. 15 DSGVO)."
          "\n\nJana")
RESTRICTION_SUBJECT = "Einschränkung der Verarbeitung"
RESTRICTION = ("Guten Tag,\n\nich verlange die Einschränkung der Verarbeitung meiner Daten nach Art. 18 "
               "DSGVO.\n\nMit freundlichen Grüßen\n")
NOTED_NUMBER = "Ihre Kundennummer haben wir notiert; danach fragen wir nicht noch einmal."
PAIR_FAILED = "Die Kundennummer und die Postleitzahl, die Sie uns genannt haben, passen zusammen leider nicht"


def _flat(item: OutboxItem) -> str:
    return " ".join(text_of(item.payload).split())


def _normalised(item: OutboxItem) -> str:
    """Subject and text without what differs between two tickets (reference)."""
    return re.sub(r"DSR-\d{4}-\d+", "DSR-REF", f"{parsed(item.payload)['Subject']}\n{_flat(item)}")


def _requested(item: OutboxItem) -> list[str]:
    """The facts the letter's list asks for (the lines "- ..." of the text part)."""
    return [line[2:].strip() for line in text_of(item.payload).splitlines() if line.startswith("- ")]


def _reply(to: OutboxItem, body: str, *, sender: str) -> bytes:
    ours = parsed(to.payload)
    return make_mail(sender=sender, subject=f"AW: {ours['Subject']}", body=body,
                     headers={"In-Reply-To": ours["Message-ID"]})


def _failures(harness: Harness) -> int:
    with harness.sessions() as s:
        return s.scalar(select(func.count()).select_from(VerificationFailure)) or 0


def _open(harness: Harness, *, sender: str = STRANGER, subject: str = "Auskunft nach Art. 15 DSGVO",
          body: str = ACCESS) -> tuple[str, OutboxItem]:
    opened = harness.send(make_mail(sender=sender, subject=subject, body=body))
    assert opened.reason == "awaiting_identity"
    [question] = [i for i in harness.items(opened.outbox_ids) if i.recipient == sender]
    assert opened.ticket_reference is not None
    return opened.ticket_reference, question


def test_a_lone_customer_number_is_kept_uses_no_attempt_and_is_not_asked_again(harness: Harness) -> None:
    reference, question = _open(harness)
    kept = harness.send(_reply(question, "Kundennummer K-10001", sender=STRANGER))
    assert kept.reason == "identity_fact_kept"
    assert _failures(harness) == 0  # a lone fact tests nothing, so it costs nothing
    [letter] = harness.items(kept.outbox_ids)
    assert letter.kind == "identity_request" and letter.recipient == STRANGER
    assert NOTED_NUMBER in _flat(letter)
    assert _requested(letter) == ["Postleitzahl"]  # only what is missing
    assert "passen" not in _flat(letter)  # nothing was checked, so nothing "did not match"
    assert "identity_fact_kept" in harness.actions(reference)
    # The postal code alone now completes the pair: one check, and the record is found (access
    # discloses data, so the code goes to the contact on file).
    found = harness.send(_reply(letter, "38100", sender=STRANGER))
    assert found.reason == "code_sent"
    assert [(i.kind, i.recipient) for i in harness.items(found.outbox_ids)] == [
        ("verification_code", ERIKA), ("identity_request", STRANGER)]
    assert _failures(harness) == 0


def test_a_lone_postal_code_then_the_number_verifies_a_non_disclosing_request(harness: Harness) -> None:
    reference, question = _open(harness, subject=RESTRICTION_SUBJECT, body=RESTRICTION)
    kept = harness.send(_reply(question, "Meine PLZ: 38106", sender=STRANGER))
    assert kept.reason == "identity_fact_kept"
    [letter] = harness.items(kept.outbox_ids)
    assert "Ihre Postleitzahl haben wir notiert" in _flat(letter)
    assert _requested(letter) == ["Kundennummer"]
    done = harness.send(_reply(letter, "Kundennummer: K-10002", sender=STRANGER))
    assert done.reason == "identity_verified"
    assert harness.ticket(reference).identity_level == "known_facts"


def test_a_lone_fact_in_the_first_message_is_kept(harness: Harness) -> None:
    _reference, question = _open(harness, body=ACCESS + "\n\nKundennummer K-10001")
    assert _failures(harness) == 0
    assert NOTED_NUMBER in _flat(question) and _requested(question) == ["Postleitzahl"]
    found = harness.send(_reply(question, "PLZ 38100", sender=STRANGER))
    assert found.reason == "code_sent"


def test_a_lone_customer_number_gets_the_same_answer_whether_or_not_it_exists(harness: Harness) -> None:
    """No oracle: which values count as a customer number is read from the text, not the database."""
    answers = []
    for number in ("K-10001", "K-99999", "4711"):
        _reference, question = _open(harness, sender=ATTACKER, body=ACCESS)
        kept = harness.send(_reply(question, f"Kundennr. {number}", sender=ATTACKER))
        [letter] = harness.items(kept.outbox_ids)
        answers.append((kept.reason, _normalised(letter)))
        _first_reference, first = _open(harness, sender=ATTACKER, body=f"{ACCESS}\n{number}")
        answers.append(("first", _normalised(first)))
    assert len({a for a in answers if a[0] != "first"}) == 1
    assert len({a for a in answers if a[0] == "first"}) == 1
    assert _failures(harness) == 0


def test_a_wrong_pair_names_both_halves_and_keeps_neither(harness: Harness) -> None:
    """The letter says the pair did not match, never which half; a later lone half is not combined
    with a half of the failed pair (the attacker cannot learn which half was right)."""
    reference, question = _open(harness, sender=ATTACKER)
    kept = harness.send(_reply(question, "Kundennummer K-10001", sender=ATTACKER))
    wrong = harness.send(_reply(question, "PLZ 99999", sender=ATTACKER))
    assert (kept.reason, wrong.reason) == ("identity_fact_kept", "identity_attempt_failed")
    [letter] = harness.items(wrong.outbox_ids)
    assert PAIR_FAILED in _flat(letter) and "sagen wir aus Sicherheitsgründen nicht" in _flat(letter)
    assert _requested(letter) == ["Kundennummer", "Postleitzahl"]
    assert "notiert" not in _flat(letter)
    # The same letter whichever half was wrong (here: an unknown number with Erika's postal code).
    _other_reference, other_question = _open(harness, sender=ATTACKER)
    other = harness.send(_reply(other_question, "Kundennummer K-99999, PLZ 38100", sender=ATTACKER))
    [other_letter] = harness.items(other.outbox_ids)
    assert _normalised(other_letter) == _normalised(letter)
    # The right postal code alone after the failed pair: kept, not combined with K-10001.
    late = harness.send(_reply(question, "38100", sender=ATTACKER))
    assert late.reason == "identity_fact_kept"
    assert [i.recipient for i in harness.items(late.outbox_ids)] == [ATTACKER]  # no code to Erika
    assert harness.ticket(reference).identity_level == "none"


def test_guessing_postal_codes_one_message_at_a_time_gets_no_extra_tries(harness: Harness) -> None:
    """The attacker knows Erika's customer number and guesses her postal code, sending the number
    and each guess in separate messages (and the number again in between): every pair is one
    attempt, lone facts reset nothing, and after the limit a person decides."""
    reference, question = _open(harness, sender=ATTACKER)
    reasons = []
    for n in range(3 * attempts.TICKET_MAX_FAILURES):
        guess = f"{38101 + n}"
        # The number before the guess, then after it: the halves of a pair come in either order.
        for text in (("K-10001", guess) if n % 2 == 0 else (guess, "K-10001")):
            reasons.append(harness.send(_reply(question, text, sender=ATTACKER)).reason)
    tested = [r for r in reasons if r != "identity_fact_kept"]
    limit = attempts.TICKET_MAX_FAILURES
    assert tested[:limit] == ["identity_attempt_failed"] * (limit - 1) + ["identity_failed"]
    assert set(tested[limit:]) == {"follow_up_attached"}  # no further check at all
    assert _failures(harness) == limit
    ticket = harness.ticket(reference)
    assert ticket.state == "escalated" and "identity_unverified" in ticket.escalation_reasons
    # Now even the right pair verifies nothing: a person decides.
    harness.send(_reply(question, "Kundennummer K-10001, PLZ 38100", sender=ATTACKER))
    assert harness.ticket(reference).identity_level == "none"
    assert not [i for i in harness.outbox() if i.recipient == ERIKA]


def test_guessing_numbers_against_a_kept_postal_code_is_limited_per_subject(harness: Harness) -> None:
    """A kept postal code on many tickets, each completed by a guessed customer number: the limit
    per data subject holds across tickets as before (no code ever goes to Erika)."""
    per_subject = attempts.SUBJECT_MAX_FAILURES
    for n in range(per_subject + 2):
        _reference, question = _open(harness, sender=f"mallory{n}@example.net")
        harness.send(_reply(question, "PLZ 99999", sender=f"mallory{n}@example.net"))
        harness.send(_reply(question, "Kundennummer K-10001", sender=f"mallory{n}@example.net"))
    with harness.sessions() as s:
        on_erika = s.scalar(select(func.count()).select_from(VerificationFailure).where(
            VerificationFailure.subject_id.is_not(None))) or 0
    assert on_erika == per_subject  # every pair counted against her record, then no more checks
    _reference, question = _open(harness, sender="mallory-last@example.net")
    harness.send(_reply(question, "PLZ 38100", sender="mallory-last@example.net"))
    last = harness.send(_reply(question, "Kundennummer K-10001", sender="mallory-last@example.net"))
    assert last.reason == "identity_failed"  # Erika's record is locked: even the right pair
    assert not [i for i in harness.outbox() if i.recipient == ERIKA]


def test_a_list_of_postal_codes_with_a_kept_number_is_a_list_of_guesses(harness: Harness) -> None:
    reference, question = _open(harness, sender=ATTACKER)
    harness.send(_reply(question, "Kundennummer K-10001", sender=ATTACKER))
    spray = harness.send(_reply(question, "38099 38100 38101", sender=ATTACKER))
    assert spray.reason == "identity_attempt_failed"
    assert _failures(harness) == 3  # one attempt per value, and the right one among them counts nothing
    assert harness.ticket(reference).identity_level == "none"
    assert not [i for i in harness.outbox() if i.recipient == ERIKA]


def test_several_numbers_alone_are_unclear_keep_nothing_and_cost_nothing(harness: Harness) -> None:
    reference, question = _open(harness, sender=ATTACKER)
    unclear = harness.send(_reply(question, "K-10001 K-10002 K-10003", sender=ATTACKER))
    assert unclear.reason == "identity_facts_unclear"
    [letter] = harness.items(unclear.outbox_ids)
    assert "enthält mehrere Nummern" in _flat(letter) and "keine davon geprüft" in _flat(letter)
    assert _requested(letter) == ["Kundennummer", "Postleitzahl"]
    assert _failures(harness) == 0
    # Erika's postal code next is kept alone: none of the unclear numbers was remembered.
    later = harness.send(_reply(question, "38100", sender=ATTACKER))
    assert later.reason == "identity_fact_kept"
    assert harness.ticket(reference).identity_level == "none"


def test_a_kept_number_is_replaced_by_the_next_one(harness: Harness) -> None:
    reference, question = _open(harness, sender=ATTACKER, subject=RESTRICTION_SUBJECT, body=RESTRICTION)
    harness.send(_reply(question, "Kundennummer K-10002", sender=ATTACKER))
    harness.send(_reply(question, "Kundennummer K-10001", sender=ATTACKER))
    checked = harness.send(_reply(question, "PLZ 38106", sender=ATTACKER))  # Max's, not Erika's
    assert checked.reason == "identity_attempt_failed"
    assert harness.ticket(reference).identity_level == "none"


def test_a_code_where_none_was_sent_is_answered_like_a_wrong_code(harness: Harness) -> None:
    """A code went silently to Erika because the message named her address; a message naming an
    address we do not hold got none.  A guessed code gets the same answer on both tickets, so the
    answer does not tell whether the named address is on file."""
    naming = "Guten Tag,\n\nbitte Auskunft nach Art. 15 DSGVO zu meinem Konto {address}.\n\nMfG"
    answers = []
    for address in (ERIKA, "nobody@example.org"):
        _reference, question = _open(harness, sender=ATTACKER, body=naming.format(address=address))
        guess = harness.send(_reply(question, "Der Code lautet K7MX-3RTA", sender=ATTACKER))
        [letter] = [i for i in harness.items(guess.outbox_ids) if i.recipient == ATTACKER]
        answers.append((guess.reason, _normalised(letter)))
    assert answers[0] == answers[1]
    assert answers[0][0] == "identity_attempt_failed"
    assert "Der Bestätigungscode aus Ihrer letzten Nachricht ist nicht gültig" in answers[0][1]
    assert _failures(harness) == 2  # counted on both tickets alike


def test_the_dpo_alert_names_the_same_identity_status_as_the_ticket(harness: Harness) -> None:
    """Issue 17 item 7: the alert said "Identität: nicht bestätigt" while the ticket said "Kontakt aus
    dem Bestand"; both now come from the ticket's level through the one label table."""
    body = ("Guten Tag,\n\nich verlange Auskunft nach Art. 15 DSGVO. Andernfalls beschwere ich mich bei der "
            "Aufsichtsbehörde und schalte meinen Anwalt ein.\n\nErika Mustermann")
    for sender in (ERIKA, STRANGER):
        opened = harness.send(make_mail(sender=sender, body=body))
        ticket = harness.ticket(opened.ticket_reference)
        [alert] = [i for i in harness.items(opened.outbox_ids) if i.kind == "dpo_escalation_alert"]
        assert f"Identität: {identity_label(ticket.identity_level)}" in _flat(alert), sender
        assert ticket.identity_level == ("contact_on_file" if sender == ERIKA else "none")


def test_numbers_in_a_first_message_are_not_taken_for_a_customer_number(harness: Harness) -> None:
    """Before we asked anything, a phone number or an order number is no answer: the first letter
    asks for both facts and says nothing was noted; a postal code in the signature is kept."""
    signature = "\n\nJana Unbekannt\nTel. 0531 123456\nBestellung 4711-0815"
    _reference, question = _open(harness, body=ACCESS + signature)
    assert "notiert" not in _flat(question) and "mehrere Nummern" not in _flat(question)
    assert _requested(question) == ["Kundennummer", "Postleitzahl"]
    _reference, with_address = _open(harness, body=ACCESS + "\n\nMusterweg 1\n38100 Braunschweig")
    assert "Ihre Postleitzahl haben wir notiert" in _flat(with_address)
    assert _requested(with_address) == ["Kundennummer"]
    assert _failures(harness) == 0


def test_a_spray_of_unlabelled_customer_numbers_beside_a_postal_code_checks_none(harness: Harness) -> None:
    """The database would pick the one sprayed number that exists and check it with the postal
    code as one attempt; beyond a handful of unlabelled numbers the answer is a list of guesses."""
    spray = [f"K-{n}" for n in range(20001, 20040)] + ["K-10001"]  # Erika's among 39 that do not exist
    reference, question = _open(harness, sender=ATTACKER, subject=RESTRICTION_SUBJECT, body=RESTRICTION)
    attack = harness.send(_reply(question, "PLZ 38100\n" + " ".join(spray), sender=ATTACKER))
    assert attack.reason == "identity_failed"
    ticket = harness.ticket(reference)
    assert ticket.identity_level == "none" and ticket.state == "escalated"
    # A long first letter with many numbers and an address is no attack: the postal code is kept.
    letter = RESTRICTION + "\n" + " ".join(spray[:-1]) + "\n\nMusterweg 1\n38100 Braunschweig"
    _first_reference, first = _open(harness, sender=STRANGER, subject=RESTRICTION_SUBJECT, body=letter)
    assert "Ihre Postleitzahl haben wir notiert" in _flat(first)


def test_a_few_unlabelled_numbers_beside_a_postal_code_verify_nothing(harness: Harness) -> None:
    """Below the spray limit the database used to pick the one number that exists and check it with
    the postal code as one attempt: up to ten customer-number guesses per try.  Several unlabelled
    numbers beside a postal code are unclear instead (nothing checked, nothing kept, no attempt), and
    the labelled answer then verifies as usual."""
    reference, question = _open(harness, sender=ATTACKER, subject=RESTRICTION_SUBJECT, body=RESTRICTION)
    guesses = harness.send(_reply(question, "38100 K-20001 K-20002 K-10001", sender=ATTACKER))
    assert guesses.reason == "identity_facts_unclear"
    assert harness.ticket(reference).identity_level == "none"
    assert _failures(harness) == 0
    [letter] = harness.items(guesses.outbox_ids)
    assert "enthält mehrere Nummern" in _flat(letter)
    # The same in the opening letter: none of its unlabelled numbers is taken for a customer number.
    first_reference, _first = _open(harness, sender=ATTACKER, subject=RESTRICTION_SUBJECT,
                                     body=RESTRICTION + "\nK-20001 K-10001\n38100 Braunschweig")
    assert harness.ticket(first_reference).identity_level == "none"
    # An honest answer that labels its customer number is read as before.
    honest_reference, honest_question = _open(harness, subject=RESTRICTION_SUBJECT, body=RESTRICTION)
    done = harness.send(_reply(honest_question, "Kundennummer K-10001, PLZ 38100\nTel. 0531 123456",
                               sender=STRANGER))
    assert done.reason == "identity_verified"
    assert harness.ticket(honest_reference).identity_level == "known_facts"
