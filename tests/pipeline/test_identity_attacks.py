"""Security review (issue 14), findings 1-3, reproduced by e-mail against the real pipeline.

Each test is the attack as the reviewer ran it; each passed (the attack worked) before the fix.
The attacker writes from his own address and never sees the victim's mailbox: where a test lets
him send the right code, it stands for a lucky guess among many.
"""

from __future__ import annotations

import random
import re

from dsr.pipeline import attempts
from dsr.store.models import OutboxItem
from tests.support.pipeline import ERIKA, Harness, make_mail, parsed, text_of

ATTACKER = "mallory@example.net"
NAMING_ERIKA = ("Guten Tag,\n\nich bitte um Auskunft nach Art. 15 DSGVO über alle Daten zu meinem Konto "
                f"{ERIKA}.\n\nMit freundlichen Grüßen")
# Characters that are code characters in any format we ever used (digits of the old six-digit codes
# as well as the current alphabet), so decoys are code candidates for old and new code alike.
_DIGITS, _LETTERS = "34679", "ACEFHJKMNPRTWXY"


def _decoys_like(code: str, count: int, *, seed: int = 14) -> list[str]:
    """`count` distinct strings of the code's shape (digit for digit, letter for letter)."""
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < count:
        decoy = "".join(rng.choice(_DIGITS) if c.isdigit() else rng.choice(_LETTERS) if c.isalpha() else c
                        for c in code)
        if decoy != code:
            found.add(decoy)
    return sorted(found)


def _reply(to: OutboxItem, body: str, *, sender: str = ATTACKER) -> bytes:
    ours = parsed(to.payload)
    return make_mail(sender=sender, subject=f"AW: {ours['Subject']}", body=body,
                     headers={"In-Reply-To": ours["Message-ID"]})


def _to(harness: Harness, ids: tuple[int, ...], recipient: str) -> list[OutboxItem]:
    return [i for i in harness.items(ids) if i.recipient == recipient]


def _normalised(item: OutboxItem) -> str:
    """Subject and text of a reply without what differs between two tickets (reference, ids)."""
    text = f"{parsed(item.payload)['Subject']}\n{text_of(item.payload)}"
    return re.sub(r"DSR-\d{4}-\d+", "DSR-REF", text)


# --- finding 1: one message tests many codes; attempts reset -----------------------------------


def test_a_reply_full_of_codes_tests_none_of_them(harness: Harness) -> None:
    opened = harness.send(make_mail(sender=ATTACKER, body=NAMING_ERIKA))
    [code_mail] = _to(harness, opened.outbox_ids, ERIKA)
    [question] = _to(harness, opened.outbox_ids, ATTACKER)
    code = harness.code_from(code_mail)
    guesses = _decoys_like(code, 2000)
    guesses.insert(1234, code)  # the lucky hit, hidden among the guesses
    attack = harness.send(_reply(question, "Codes:\n" + "\n".join(guesses)))
    ticket = harness.ticket(opened.ticket_reference)
    assert ticket.identity_level == "none"
    assert attack.reason == "identity_failed"
    assert ticket.state == "escalated" and "identity_unverified" in ticket.escalation_reasons
    # Not even the right code alone verifies now: a person decides.
    late = harness.send(_reply(question, code))
    assert harness.ticket(opened.ticket_reference).identity_level == "none"
    assert late.reason != "identity_verified"


def test_a_reissued_code_does_not_reset_the_attempts(harness: Harness) -> None:
    opened = harness.send(make_mail(sender=ATTACKER, body=NAMING_ERIKA))
    [code_mail] = _to(harness, opened.outbox_ids, ERIKA)
    [question] = _to(harness, opened.outbox_ids, ATTACKER)
    guesses = _decoys_like(harness.code_from(code_mail), 6)
    reasons = [harness.send(_reply(question, g)).reason for g in guesses[:4]]
    assert reasons == ["identity_attempt_failed"] * 4
    harness.clock.advance(days=2)  # the code expires and a new one is sent on the next answer
    assert harness.send(_reply(question, guesses[4])).reason == "code_expired_resent"
    assert harness.send(_reply(question, guesses[5])).reason == "identity_failed"


def test_attempts_are_limited_per_data_subject_across_tickets(harness: Harness) -> None:
    per_ticket = attempts.TICKET_MAX_FAILURES
    tickets = attempts.SUBJECT_MAX_FAILURES // per_ticket
    for n in range(tickets):
        sender = f"mallory{n}@example.net"
        opened = harness.send(make_mail(sender=sender, body=NAMING_ERIKA))
        [code_mail] = _to(harness, opened.outbox_ids, ERIKA)
        [question] = _to(harness, opened.outbox_ids, sender)
        for guess in _decoys_like(harness.code_from(code_mail), per_ticket, seed=n):
            harness.send(_reply(question, guess, sender=sender))
        assert harness.ticket(opened.ticket_reference).state == "escalated"
    # Erika's attempts are used up: a new ticket naming her gets no code at all (a person decides),
    # and the attacker's answer looks exactly as before.
    before = harness.send(make_mail(sender="mallory0@example.net", body=NAMING_ERIKA))
    assert _to(harness, before.outbox_ids, ERIKA) == []
    [question] = _to(harness, before.outbox_ids, "mallory0@example.net")
    assert question.kind == "identity_request"


# --- finding 2: known facts with any number of candidates ------------------------------------


def test_invoice_facts_with_many_postal_codes_verify_nothing(harness: Harness) -> None:
    postal_codes = [f"{n:05d}" for n in range(38001, 38196)]
    assert "38106" in postal_codes  # Max Beispiel's
    body = ("Guten Tag,\n\nich bitte um Auskunft nach Art. 15 DSGVO.\nKundennummer K-10002\n"
            + " ".join(postal_codes) + "\n\nMfG")
    opened = harness.send(make_mail(sender=ATTACKER, body=body))
    ticket = harness.ticket(opened.ticket_reference)
    assert ticket.identity_level == "none"
    assert ticket.state == "escalated"  # 195 values are 195 failed attempts: a person decides
    for item in _to(harness, opened.outbox_ids, ATTACKER):
        assert "Beispiel" not in text_of(item.payload)


def test_right_invoice_facts_do_not_verify_a_disclosing_request(harness: Harness) -> None:
    body = ("Guten Tag,\n\nich bitte um Auskunft nach Art. 15 DSGVO.\nKundennummer K-10002, PLZ 38106\n\nMfG")
    opened = harness.send(make_mail(sender=ATTACKER, body=body))
    ticket = harness.ticket(opened.ticket_reference)
    assert (ticket.identity_level, ticket.state) == ("none", "awaiting_identity")
    # The facts found Max's record: the code goes silently to his address on file.
    to_max = _to(harness, opened.outbox_ids, "max.beispiel@example.net")
    assert [i.kind for i in to_max] == ["verification_code"]
    [answer] = _to(harness, opened.outbox_ids, ATTACKER)
    assert answer.kind == "identity_request" and "Beispiel" not in text_of(answer.payload)


def test_the_first_message_counts_as_an_attempt(harness: Harness) -> None:
    body = "Guten Tag,\n\nich bitte um Auskunft nach Art. 15 DSGVO.\nKundennummer K-10001, PLZ 99999\n\nMfG"
    opened = harness.send(make_mail(sender=ATTACKER, body=body))
    [question] = _to(harness, opened.outbox_ids, ATTACKER)
    left = attempts.TICKET_MAX_FAILURES - 1
    reasons = [harness.send(_reply(question, f"K-10001, PLZ {38200 + n}")).reason for n in range(left)]
    assert reasons == ["identity_attempt_failed"] * (left - 1) + ["identity_failed"]


# --- finding 3: the first answer tells who is a customer --------------------------------------


def test_first_answer_is_the_same_whether_or_not_the_named_address_is_on_file(harness: Harness) -> None:
    known = harness.send(make_mail(sender=ATTACKER, body=NAMING_ERIKA))
    unknown = harness.send(make_mail(sender=ATTACKER, body=NAMING_ERIKA.replace(ERIKA, "nobody@example.org")))
    [to_attacker_known] = _to(harness, known.outbox_ids, ATTACKER)
    [to_attacker_unknown] = _to(harness, unknown.outbox_ids, ATTACKER)
    assert (known.reason, known.status) == (unknown.reason, unknown.status)
    assert _normalised(to_attacker_known) == _normalised(to_attacker_unknown)
    # The code went out silently, to the address on file only.
    assert [i.kind for i in _to(harness, known.outbox_ids, ERIKA)] == ["verification_code"]
    assert _to(harness, unknown.outbox_ids, "nobody@example.org") == []
