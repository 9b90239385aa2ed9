"""Identity verification: the docs/LEGAL-NOTES.md 3.5 ladder, one-time codes and known-facts checks.

Art. 12(6) GDPR lets a controller ask for more only where it has reasonable doubts, and EDPB
Guidelines 01/2022 §§ 72-73 say to reuse what the controller already has: the contact on file, or
facts it already holds.  An ID copy is never asked for here (EDPB § 73; Maltese IDPC decision).
Giving data to the wrong person is a breach (Art. 32; the 1&1 fine), so:

* level 0 - marketing objection and consent withdrawal take effect without any check (Art. 21(3),
  Art. 7(3)); the confirmation goes to the sender and contains no personal data;
* level 1 - the sender address is on file *and* the receiving MTA's Authentication-Results (from
  the configured trusted authserv-id) shows DMARC pass or aligned DKIM pass; with no trusted
  authserv-id configured the address match alone counts (`dsr serve` warns at start-up);
  a Telegram account bound to the data subject counts the same;
* level 2 - otherwise a one-time code goes to the contact ON FILE (never to a Reply-To or to an
  address only the unverified message names), or the sender is asked for two facts the
  controller already holds (customer number and postal code);
* level 3 - high-risk cases (special categories, identity theft, credit data, representatives,
  third-party data, minors, the deceased) are decided by a human.

A sender that is not verified learns nothing from the first answer: whatever the message names (an
address, a customer number), the reply is the same request for facts, and a code goes *silently*
to the contact on file where one matches.  Facts anyone can read on an invoice (customer number and
postal code) verify only requests whose answer discloses nothing; for the others they only find the
record, and the code to its contact proves the person.  Codes (`dsr.pipeline.codes`): eight
characters, valid for hours; every candidate in a message counts as an attempt and the limits of
`dsr.pipeline.attempts` (per ticket, per data subject) hold across re-issued codes and channels.

Retries (issue 17): a lone fact (only the customer number, or only the postal code) is kept on the
facts challenge, uses up no attempt and is not asked for again; the next message's other half makes
the pair, checked once, as one attempt.  Which values count is read from the text alone, so the
answer to a lone fact is the same whether or not we hold it.  A failed pair is named as a pair
("Kundennummer und Postleitzahl passen zusammen nicht"), never which half differs (that would turn
one attempt into two independent guesses), and both halves are forgotten and asked for again.  A
code-shaped answer where no code is pending counts and is answered like a wrong code, so the
answer does not tell whether a code went silently to a contact on file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dsr.inbound import InboundMessage
from dsr.intents.rights import RIGHTS, Right
from dsr.intents.scope import FORWARDED, OWN, SIGNATURE, scope
from dsr.pipeline import attempts, codes
from dsr.store.models import DataSubject, IdentityLevel, Ticket, VerificationChallenge
from dsr.store.subjects import find_subject

CODE_TTL = timedelta(hours=24)
CODE_MAX_ATTEMPTS = attempts.TICKET_MAX_FAILURES
FACTS_TTL = timedelta(days=30)
FACTS_MAX_ATTEMPTS = attempts.TICKET_MAX_FAILURES
# Rights whose answer discloses personal data (a copy, an export, the changed data, the logic of a
# decision, what was kept after erasure): facts read off an invoice never verify them.
DISCLOSING_RIGHTS = frozenset({Right.ACCESS, Right.PORTABILITY, Right.RECTIFICATION, Right.ERASURE,
                               Right.AUTOMATED_DECISION})
# Beyond this many customer-number-shaped tokens a message is a list of guesses, not an answer.
MAX_FACT_TOKENS = 200
# Beyond this many unlabelled number-like tokens beside a postal code an answer is a spray of
# customer-number guesses (an honest answer names one, perhaps beside a phone or house number).
MAX_UNLABELLED_NUMBERS = 10
# The longest token that can be a fact (customer numbers up to 64 characters, postal codes 5):
# longer ones are skipped before their characters are looked at (this runs under the write lock).
MAX_FACT_TOKEN_LENGTH = 64
FACTS_REQUESTED = ("Kundennummer", "Postleitzahl")
FACTS_METHOD = "Kundennummer und Postleitzahl stimmen mit dem Datensatz überein"
# Escalation reason codes that make verification a human decision (docs/LEGAL-NOTES.md 3.5 level 3).
LEVEL3_REASONS = frozenset({"special_category", "identity_theft", "credit_agency", "representative",
                            "third_party_data", "minor", "deceased"})

PURPOSE_CODE = "ticket"
PURPOSE_FACTS = "ticket_facts"

_POSTAL_RE = re.compile(r"^\d{5}$")
_TOKEN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9./-]*[A-Za-z0-9])?")
_REFERENCE_RE = re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{3,8}\b")
# Addresses are found from each "@" outwards over at most RFC 5321's lengths (64 octets of local
# part, 255 of domain), so the work is linear in the text: a regex search over the whole text
# backtracks quadratically on a long run of letters (issue 18: 200 KB took a minute).
_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_LOCAL_MAX = 64
_DOMAIN_MAX = 255
_DOMAIN_RE = re.compile(r"[A-Za-z0-9.-]*\.[A-Za-z]{2,}")
_DOMAIN_RUN_RE = re.compile(rf"[A-Za-z0-9.-]{{1,{_DOMAIN_MAX}}}")
_COMMENT_RE = re.compile(r"\([^()]*\)")


class Rung(StrEnum):
    NOT_REQUIRED = "not_required"  # level 0
    CONTACT_ON_FILE = "contact_on_file"  # level 1: verified now
    KNOWN_FACTS = "known_facts"  # level 2: facts in the first message already matched
    SEND_CODE = "send_code"  # level 2: code to the sender's own address on file
    ASK_FACTS = "ask_facts"  # level 2: ask for facts already held (and a code silently to `code_to`)
    MANUAL = "manual"  # level 3: a human decides


@dataclass(frozen=True, slots=True)
class IdentityDecision:
    rung: Rung
    level: IdentityLevel  # what can be recorded on the ticket now
    method: str | None  # how, in words a DPO understands (stored on the ticket and in the audit)
    subject: DataSubject | None = None  # the data subject the request is (claimed to be) about
    code_to: str | None = None  # contact on file the code goes to (SEND_CODE; ASK_FACTS: silently)
    code_subject: DataSubject | None = None  # whose contact `code_to` is
    # The first message counts as an attempt: one entry per failed fact value (the subject whose
    # customer number it named, or None).
    failed_facts: tuple[int | None, ...] = ()
    # ASK_FACTS: one fact the first message gave alone (kept, not asked for again), or several
    # values of one fact (unclear: nothing kept).
    kept: KeptFacts | None = None
    facts_unclear: bool = False


class CheckResult(StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"  # answer given but wrong; attempts remain
    EXHAUSTED = "exhausted"  # too many wrong answers: a human must decide
    EXPIRED = "expired"  # the code timed out: a new one may be sent
    KEPT = "kept"  # one fact alone: kept for the next message, nothing checked, no attempt used
    UNCLEAR = "unclear"  # several values of one fact and none of the other: nothing checked or kept
    CODE_NEEDED = "code_needed"  # facts found the record, but the request discloses: code to its contact
    NOTHING = "nothing"  # the reply contains no code or facts at all


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    result: CheckResult
    level: IdentityLevel = IdentityLevel.NONE
    method: str = ""
    subject: DataSubject | None = None
    sent_to: str = ""  # where the challenge went (for a new code after expiry)
    subject_id: int | None = None  # the data subject the challenge was about, if known
    purpose: str = ""  # PURPOSE_CODE or PURPOSE_FACTS
    # While facts are asked for: those still needed and those already given (kept), by German name.
    facts_missing: tuple[str, ...] = ()
    facts_kept: tuple[str, ...] = ()


def trusted_results(msg: InboundMessage, trusted_authserv_id: str) -> list[str]:
    """The Authentication-Results the trusted server itself added: its topmost header(s) only.

    The receiving server adds its results above its own Received line, at the top of the
    message; whatever stands lower down arrived with the message, whatever id it claims (a
    sender forges `dmarc=pass` under the server's `dmarc=fail`).  So only the first header with
    the trusted authserv-id counts, together with those directly below it (several filters of
    the same server each add one); any other header in between ends the block.
    """
    headers: list[tuple[str, str]]
    if msg.raw:
        # Headers only (the parser stops at the blank line): which header stands next to which.
        parsed = BytesHeaderParser(policy=compat32).parsebytes(msg.raw, headersonly=True)
        headers = [(n, str(v)) for n, v in parsed.items()]
    else:  # the adapter's values, topmost first (nothing known about what stood between them)
        headers = [("Authentication-Results", v) for v in msg.authentication_results]
    block: list[str] = []
    trusted = trusted_authserv_id.lower()
    for name, value in headers:
        if name.lower() == "authentication-results" and _authserv_id(str(value)) == trusted:
            block.append(str(value))
        elif block:
            break
    return block


def _authserv_id(value: str) -> str:
    head = _COMMENT_RE.sub("", " ".join(value.split())).split(";", 1)[0].split()
    return head[0].lower() if head else ""


def authentication_passes(values: Sequence[str], trusted_authserv_id: str, sender: str) -> tuple[bool, str]:
    """RFC 8601: do the trusted server's results (`trusted_results`) show DMARC or aligned DKIM pass?

    Headers with another authserv-id are ignored.  For each method the first result counts (a
    second one further down cannot overrule it), and a DMARC result other than pass vetoes
    everything: DMARC fail means no aligned DKIM or SPF pass in the server's own judgement.
    DKIM counts only when the signing domain aligns with the sender's domain.
    """
    domain = sender.rpartition("@")[2].lower()
    first: dict[str, tuple[str, dict[str, str]]] = {}
    for value in values:
        parts = [p.strip() for p in _COMMENT_RE.sub("", " ".join(value.split())).split(";")]
        if not parts or not parts[0] or parts[0].split()[0].lower() != trusted_authserv_id.lower():
            continue
        for clause in parts[1:]:
            tokens = clause.split()
            if not tokens or "=" not in tokens[0]:
                continue
            method, _, result = tokens[0].lower().partition("=")
            props = dict(t.lower().split("=", 1) for t in tokens[1:] if "=" in t)
            if method == "dkim" and result == "pass":
                # Several signatures may be reported; the aligned passing one is what counts.
                signer = props.get("header.d") or props.get("header.i", "").rpartition("@")[2]
                if signer and _aligned(signer, domain):
                    first.setdefault("dkim", (result, props))
                continue
            first.setdefault(method, (result, props))
    dmarc = first.get("dmarc")
    if dmarc is not None:
        result, props = dmarc
        if result == "pass" and _aligned(props.get("header.from", domain), domain):
            return True, "dmarc=pass"
        return False, f"dmarc={result}" if result != "pass" else "dmarc=pass for another domain"
    if "dkim" in first:
        return True, "dkim=pass"
    return False, "no trusted dmarc/dkim pass"


def _aligned(a: str, b: str) -> bool:
    """Relaxed alignment (DMARC): equal domains or one a subdomain of the other."""
    a, b = a.lower().strip("."), b.lower().strip(".")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def find_subject_by_address(session: Session, controller: str, address: str) -> DataSubject | None:
    """The data subject with `address` on file (primary or alternate address)."""
    return find_subject(session, controller, email=address)


def discloses(rights: Iterable[Right | str]) -> bool:
    """Whether answering any of `rights` hands out personal data."""
    return any(Right(r) in DISCLOSING_RIGHTS for r in rights)


def decide(
    session: Session,
    *,
    controller: str,
    msg: InboundMessage,
    rights: Sequence[Right],
    reasons: Sequence[str],
    trusted_authserv_id: str | None,
    now: datetime | None = None,
) -> IdentityDecision:
    """Choose the rung of the ladder for a new request (no side effects)."""
    if rights and all(RIGHTS[r].immediate for r in rights):
        return IdentityDecision(Rung.NOT_REQUIRED, IdentityLevel.NOT_REQUIRED,
                                "level 0: takes effect without verification (Art. 21(3) / Art. 7(3))")
    subject: DataSubject | None = None
    if msg.telegram_user_id is not None:
        subject = session.scalar(select(DataSubject).where(
            DataSubject.controller == controller, DataSubject.telegram_user_id == msg.telegram_user_id))
        if subject is not None and not LEVEL3_REASONS.intersection(reasons):
            return IdentityDecision(Rung.CONTACT_ON_FILE, IdentityLevel.CONTACT_ON_FILE,
                                    "Telegram-Konto mit dem Datensatz verknüpft", subject)
    elif msg.channel == "email":
        subject = find_subject_by_address(session, controller, msg.sender)
    if LEVEL3_REASONS.intersection(reasons):
        return IdentityDecision(Rung.MANUAL, IdentityLevel.NONE, None, subject)
    if subject is not None and msg.channel == "email":
        if trusted_authserv_id is None:
            return IdentityDecision(
                Rung.CONTACT_ON_FILE, IdentityLevel.CONTACT_ON_FILE,
                "Absenderadresse im Datensatz hinterlegt (keine DKIM/DMARC-Prüfung konfiguriert)", subject)
        ok, how = authentication_passes(trusted_results(msg, trusted_authserv_id),
                                        trusted_authserv_id, msg.sender)
        if ok:
            return IdentityDecision(Rung.CONTACT_ON_FILE, IdentityLevel.CONTACT_ON_FILE,
                                    f"Absenderadresse im Datensatz hinterlegt, {how}", subject)
        return IdentityDecision(Rung.SEND_CODE, IdentityLevel.NONE, None, subject, code_to=subject.email,
                                code_subject=subject)
    text = own_text(f"{msg.subject}\n{msg.body}")
    facts = read_facts(session, controller, text, first=True)
    if facts.subject is not None and not discloses(rights) and not (
            now is not None and attempts.subject_locked(session, facts.subject.id, now)):
        return IdentityDecision(Rung.KNOWN_FACTS, IdentityLevel.KNOWN_FACTS, FACTS_METHOD, facts.subject)
    # Not verified: the answer to the sender is the same whatever the message named.  A code goes
    # silently to the contact on file of the record the facts found (a disclosing request) or of
    # an address the message names; never to the address the message came from.
    target = facts.subject if facts.subject is not None and facts.subject.email else \
        _subject_named_by_address(session, controller, text)
    # The record is noted on the ticket as the one the request claims to be about (for the DPO, and
    # so that a code proving another record cannot verify it); nothing about it goes to the sender.
    return IdentityDecision(Rung.ASK_FACTS, IdentityLevel.NONE, None, target,
                            code_to=target.email if target is not None else None, code_subject=target,
                            failed_facts=facts.failures, kept=facts.kept, facts_unclear=facts.unclear)


def own_text(text: str) -> str:
    """What the sender wrote in this message: quoted replies and forwarded parts left out.

    Facts and codes are read only from here, so that our own letter quoted in a reply (with the
    controller's postal code) does not count as a second value.
    """
    parts = scope(text)
    kept = [text[r.start:r.end] for r in parts.regions if r.kind in (OWN, SIGNATURE, FORWARDED)]
    return "\n".join(kept) if parts.regions else text


def _subject_named_by_address(session: Session, controller: str, text: str) -> DataSubject | None:
    for address in dict.fromkeys(a.lower() for a in addresses_in(text)):
        subject = find_subject_by_address(session, controller, address)
        if subject is not None:
            return subject
    return None


def addresses_in(text: str) -> list[str]:
    """E-mail addresses written in `text`, in order (linear time; see `_LOCAL_MAX`)."""
    found: list[str] = []
    taken = 0  # end of the last address found: its domain is no one's local part
    at = text.find("@")
    while at != -1:
        start = at
        while start > max(taken, at - _LOCAL_MAX) and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        run = _DOMAIN_RUN_RE.match(text, at + 1)
        domain = _DOMAIN_RE.match(run.group(0)) if run and start < at else None
        if domain is not None:
            found.append(f"{text[start:at]}@{domain.group(0)}")
            taken = at + 1 + domain.end()
        at = text.find("@", at + 1)
    return found


@dataclass(frozen=True, slots=True)
class GivenFacts:
    """The facts one message names, read from its text alone.

    What the sender is told about a lone fact may not depend on what we hold (else the answer
    would tell whether a customer number exists), so which values count as a customer number is
    decided here without the database: the values after a label ("Kundennummer", "Kd.-Nr.",
    "customer number") where the message labels any, else every number-like token that is
    neither a postal code, a date, a time nor a code-shaped token.
    """

    postal_codes: tuple[str, ...] = ()
    customer_numbers: tuple[str, ...] = ()
    labelled: bool = False  # customer_numbers are the labelled values


@dataclass(frozen=True, slots=True)
class KeptFacts:
    """One half of the pair, given in an earlier message and not yet checked."""

    customer_number: str | None = None
    postal_code: str | None = None

    def names(self) -> tuple[str, ...]:
        """The facts kept, by their German names (in `FACTS_REQUESTED` order)."""
        return tuple(name for name, value in zip(FACTS_REQUESTED, (self.customer_number, self.postal_code),
                                                 strict=True) if value)

    def missing(self) -> tuple[str, ...]:
        """The facts still to be asked for."""
        return tuple(name for name in FACTS_REQUESTED if name not in self.names())


@dataclass(frozen=True, slots=True)
class FactsReading:
    """What a message's facts (with a half kept from before) came to.

    `checked`: a pair was tested; then `subject` is the matching record or `failures` holds one
    entry per failed value (the subject whose customer number it named, or None).  Not checked:
    `kept` is the half to remember (a lone fact uses up no attempt), or `unclear` says the message
    gave several values of one fact and nothing of the other (nothing to check, nothing kept).
    """

    present: bool  # the message names a postal code or a customer number at all
    subject: DataSubject | None = None
    failures: tuple[int | None, ...] = ()
    checked: bool = False
    kept: KeptFacts = KeptFacts()
    unclear: bool = False


_LABEL_RE = re.compile(
    r"(?:kunden[\s-]*(?:nummer|nr\.?)|kd\.?[\s-]*nr\.?|customer\s+(?:number|no\.?|id)|client\s+number)"
    r"(?:\s*[:#=.-]\s*|\s+(?:ist|lautet|is)\s*[:]?\s*|\s+)", re.IGNORECASE)
_DATE_RE = re.compile(r"^(?:\d{1,2}\.\d{1,2}\.(?:\d{2}|\d{4})?|\d{4}-\d{2}-\d{2}|\d{1,2}[.:]\d{2})$")


def given_facts(text: str) -> GivenFacts:
    """The postal codes and customer numbers `text` names (see `GivenFacts`), each value once."""
    text = _REFERENCE_RE.sub(" ", text)
    # Tokens longer than any fact are skipped before their characters are looked at (this runs
    # under the write lock; a 200 KB run of letters is one token).
    found = [m for m in _TOKEN_RE.finditer(text)
             if len(m.group(0)) <= MAX_FACT_TOKEN_LENGTH and any(c.isdigit() for c in m.group(0))]
    values = tuple(dict.fromkeys(m.group(0).upper() for m in found))
    if len(values) > MAX_FACT_TOKENS:
        return GivenFacts(customer_numbers=values)  # a list of guesses: `read_facts` counts them
    code_parts = _code_shaped(text, found)
    tokens = list(dict.fromkeys(m.group(0) for m in found if m.group(0) not in code_parts))

    def number_like(token: str) -> bool:
        return len(token) >= 3 and not _DATE_RE.match(token)

    # A labelled value is the customer number even where it has a postal code's shape.
    labelled: dict[str, None] = {}
    for label in _LABEL_RE.finditer(text):
        token = _TOKEN_RE.match(text, label.end())
        if token is not None and token.group(0) in tokens and number_like(token.group(0)):
            labelled.setdefault(token.group(0).upper(), None)
    postal_codes = tuple(t for t in tokens if _POSTAL_RE.match(t) and t.upper() not in labelled)
    if labelled:
        return GivenFacts(postal_codes, tuple(labelled), labelled=True)
    return GivenFacts(postal_codes, tuple(dict.fromkeys(
        t.upper() for t in tokens if not _POSTAL_RE.match(t) and number_like(t))))


def _code_shaped(text: str, found: Sequence[re.Match[str]]) -> set[str]:
    """The tokens of `found` that are (part of) a one-time code: never a fact.  Only the few
    characters around each token are searched, not the whole text."""
    parts: set[str] = set()
    for match in found:
        token = match.group(0)
        if len(token) not in (4, 8, 9):
            continue
        window = text[max(0, match.start() - 5):match.end() + 5]
        if any(codes.normalize(token) in code for code in codes.candidates(window)):
            parts.add(token)
    return parts


def read_facts(session: Session, controller: str, text: str, kept: KeptFacts = KeptFacts(), *,
               first: bool = False) -> FactsReading:
    """Customer number AND postal code, exactly one value of each, both matching one record.

    Two facts the controller holds (BayLfD: matching existing contract data is normally sufficient
    in a customer relationship); one alone, or a name and a birth date (the 1&1 case), is not
    enough.  A message with several postal codes or several known customer numbers is a list of
    guesses: it verifies nothing and each value counts as a failed attempt (against the record a
    named customer number belongs to, so the limit per data subject holds across tickets).

    A lone fact (one value of one half) is not checked and uses up no attempt: it is `kept`, and
    the next message's other half is checked together with it, as one pair and one attempt, exactly
    as if both had come in one message.  A check forgets the kept half whatever its result: after a
    failed pair the sender is not told which half was wrong (that would halve the guessing), so both
    are asked for again.  A message's own values replace a kept value of the same fact.

    `first`: the message that opened the request, written before we asked for anything.  Of a lone
    half only a labelled customer number or a single postal code is kept there; other numbers (a
    phone number in the signature, a date, an order number) are not taken for a customer number,
    and several of them are not "unclear" either: the first letter simply asks for both facts.
    """
    given = given_facts(text)
    if len(given.customer_numbers) > MAX_FACT_TOKENS:
        return FactsReading(True, failures=(None,) * attempts.TICKET_MAX_FAILURES, checked=True)
    if not given.postal_codes and not given.customer_numbers:
        return FactsReading(False)
    postal_codes = given.postal_codes or ((kept.postal_code,) if kept.postal_code else ())
    numbers = given.customer_numbers or ((kept.customer_number,) if kept.customer_number else ())
    if postal_codes and not given.labelled and len(given.customer_numbers) > MAX_UNLABELLED_NUMBERS:
        # Many unlabelled numbers beside a postal code: a spray of customer-number guesses of which
        # the database would pick the one that exists.  In an answer that is a list of guesses; in
        # the first message (a long letter) the numbers are simply not read as customer numbers.
        if not first:
            return FactsReading(True, failures=(None,) * attempts.TICKET_MAX_FAILURES, checked=True)
        numbers = ()
    elif postal_codes and not given.labelled and len(given.customer_numbers) > 1:
        # A few unlabelled numbers (a customer number beside a phone or house number, or a handful of
        # guesses): which one is meant is not known, and checking them all would let the database pick
        # the one that exists, several guesses for one attempt.  An answer is unclear (nothing checked
        # or kept, no attempt; the letter asks for each value once); the opening letter's numbers are
        # not read as customer numbers.
        if not first:
            return FactsReading(True, unclear=True)
        numbers = ()
    if not postal_codes or not numbers:
        if first and not given.labelled:
            numbers = ()
        if len(postal_codes) > 1 or len(numbers) > 1:
            return FactsReading(True, unclear=not first)
        return FactsReading(True, kept=KeptFacts(customer_number=numbers[0] if numbers else None,
                                                 postal_code=postal_codes[0] if postal_codes else None))
    matched = _known(session, controller, numbers)
    if given.labelled and len(numbers) > 1:
        # Several labelled customer numbers: each one is a guess, known or not.
        by_number = {(s.customer_number or "").upper(): s.id for s in matched}
        return FactsReading(True, failures=tuple(by_number.get(n) for n in numbers for _ in postal_codes),
                            checked=True)
    if len(postal_codes) == 1 and len(matched) == 1:
        subject = matched[0]
        if (subject.postal_code or "").strip() == postal_codes[0]:
            return FactsReading(True, subject, checked=True)
        return FactsReading(True, failures=(subject.id,), checked=True)
    guesses = len(postal_codes)
    failures: tuple[int | None, ...] = (tuple(s.id for s in matched for _ in range(guesses))
                                        or (None,) * guesses)
    return FactsReading(True, failures=failures, checked=True)


def _known(session: Session, controller: str, numbers: Sequence[str]) -> list[DataSubject]:
    """The data subjects whose customer number is one of `numbers` (upper case)."""
    return list(session.scalars(select(DataSubject).where(
        DataSubject.controller == controller, DataSubject.customer_number.is_not(None),
        func.upper(DataSubject.customer_number).in_(list(numbers))).order_by(DataSubject.id)))


def match_facts(session: Session, controller: str, text: str) -> DataSubject | None:
    """The one data subject the facts in `text` identify (see `read_facts`), if any."""
    return read_facts(session, controller, own_text(text)).subject


def issue_code(session: Session, *, ticket: Ticket, subject: DataSubject | None, sent_to: str,
               now: datetime) -> tuple[str, datetime]:
    """Create a one-time code for `ticket`; returns the plain code (for the mail) and its expiry.

    Earlier pending codes of the ticket are expired, so only the newest code works.  The attempt
    limits are not reset: they count failures, not challenges.
    """
    for old in session.scalars(select(VerificationChallenge).where(
            VerificationChallenge.ticket_id == ticket.id, VerificationChallenge.purpose == PURPOSE_CODE,
            VerificationChallenge.state == "pending")):
        old.state = "expired"
    code = codes.new_code()
    expires = now + CODE_TTL
    session.add(VerificationChallenge(
        ticket_id=ticket.id, subject_id=subject.id if subject else None, purpose=PURPOSE_CODE,
        code_hash=codes.hash_code(code), sent_to=sent_to, expires_at=expires,
        attempts=0, max_attempts=CODE_MAX_ATTEMPTS, state="pending", created_at=now))
    return code, expires


def open_facts_challenge(session: Session, *, ticket: Ticket, sent_to: str, now: datetime,
                         kept: KeptFacts = KeptFacts()) -> None:
    """Record that facts were asked for, so that wrong answers are counted (`kept`: a half given)."""
    session.add(VerificationChallenge(
        ticket_id=ticket.id, subject_id=None, purpose=PURPOSE_FACTS, code_hash="-", sent_to=sent_to,
        expires_at=now + FACTS_TTL, attempts=0, max_attempts=FACTS_MAX_ATTEMPTS, state="pending",
        created_at=now, given_customer_number=kept.customer_number, given_postal_code=kept.postal_code))


def pending_challenge(session: Session, ticket: Ticket,
                      purpose: str | None = None) -> VerificationChallenge | None:
    query = select(VerificationChallenge).where(VerificationChallenge.ticket_id == ticket.id,
                                                VerificationChallenge.state == "pending")
    if purpose is not None:
        query = query.where(VerificationChallenge.purpose == purpose)
    return session.scalar(query.order_by(VerificationChallenge.id.desc()).limit(1))


def check_reply(session: Session, *, ticket: Ticket, controller: str, text: str,
                now: datetime) -> IdentityCheck:
    """Check a follow-up on a ticket awaiting identity: a code, or the facts asked for."""
    text = own_text(text)
    code_challenge = pending_challenge(session, ticket, PURPOSE_CODE)
    facts_challenge = pending_challenge(session, ticket, PURPOSE_FACTS)
    candidates = codes.candidates(text)
    if code_challenge is not None and candidates:
        return _check_code(session, code_challenge, candidates, now, facts_challenge)
    if facts_challenge is None:
        return IdentityCheck(CheckResult.NOTHING)
    if candidates:
        return _code_without_challenge(session, facts_challenge, candidates, now)
    return _check_facts(session, ticket, facts_challenge, controller, text, now)


def kept_facts(challenge: VerificationChallenge | None) -> KeptFacts:
    """The half of the pair a facts challenge keeps (nothing for other challenges)."""
    if challenge is None or challenge.purpose != PURPOSE_FACTS:
        return KeptFacts()
    return KeptFacts(customer_number=challenge.given_customer_number, postal_code=challenge.given_postal_code)


def _facts_open(facts_challenge: VerificationChallenge | None) -> tuple[str, ...]:
    """The facts still asked for while a facts challenge is open (none without one)."""
    return kept_facts(facts_challenge).missing() if facts_challenge is not None else ()


def _check_code(session: Session, challenge: VerificationChallenge, candidates: Sequence[str],
                now: datetime, facts_challenge: VerificationChallenge | None) -> IdentityCheck:
    if attempts.locked(session, ticket_id=challenge.ticket_id, subject_ids=[challenge.subject_id], now=now):
        return _exhausted(session, challenge)
    if now >= challenge.expires_at:
        challenge.state = "expired"
        return IdentityCheck(CheckResult.EXPIRED, sent_to=challenge.sent_to, subject_id=challenge.subject_id,
                             purpose=challenge.purpose, facts_missing=_facts_open(facts_challenge),
                             facts_kept=kept_facts(facts_challenge).names())
    challenge.attempts += len(candidates)
    if len(candidates) == 1 and codes.code_matches(candidates[0], challenge.code_hash):
        challenge.state = "verified"
        subject = session.get(DataSubject, challenge.subject_id) if challenge.subject_id else None
        return IdentityCheck(CheckResult.VERIFIED, IdentityLevel.CODE_CONFIRMED,
                             "Einmalcode an die hinterlegte Adresse bestätigt", subject,
                             sent_to=challenge.sent_to, subject_id=challenge.subject_id,
                             purpose=challenge.purpose)
    # Several candidates are never checked: each one is a failed attempt.
    attempts.record_failures(session, ticket_id=challenge.ticket_id,
                             subject_ids=[challenge.subject_id] * len(candidates), purpose=challenge.purpose,
                             now=now)
    return _after_failure(session, challenge, [challenge.subject_id], now, facts_challenge)


def _code_without_challenge(session: Session, facts_challenge: VerificationChallenge,
                            candidates: Sequence[str], now: datetime) -> IdentityCheck:
    """A code where none is pending: answered and counted exactly like a wrong code.

    Facts were asked for, and a code went silently to a contact on file only where the message
    named one we hold (`decide`, Rung.ASK_FACTS).  Were a code-shaped answer treated differently
    here (ignored, or read as a customer number), the answer would tell the sender whether the
    address they named is on file.
    """
    if attempts.locked(session, ticket_id=facts_challenge.ticket_id, subject_ids=(), now=now):
        return _exhausted(session, facts_challenge)
    attempts.record_failures(session, ticket_id=facts_challenge.ticket_id,
                             subject_ids=[None] * len(candidates), purpose=PURPOSE_CODE, now=now)
    if attempts.locked(session, ticket_id=facts_challenge.ticket_id, subject_ids=(), now=now):
        return _exhausted(session, facts_challenge)
    return IdentityCheck(CheckResult.WRONG, sent_to=facts_challenge.sent_to, purpose=PURPOSE_CODE,
                         facts_missing=_facts_open(facts_challenge),
                         facts_kept=kept_facts(facts_challenge).names())


def _check_facts(session: Session, ticket: Ticket, challenge: VerificationChallenge, controller: str,
                 text: str, now: datetime) -> IdentityCheck:
    facts = read_facts(session, controller, text, kept_facts(challenge))
    if not facts.present:
        return IdentityCheck(CheckResult.NOTHING)
    if not facts.checked:
        # One half only (or several values of one half): nothing is tested, no attempt is used.
        if facts.unclear:
            kept = kept_facts(challenge)
            return IdentityCheck(CheckResult.UNCLEAR, sent_to=challenge.sent_to, purpose=challenge.purpose,
                                 facts_missing=kept.missing(), facts_kept=kept.names())
        challenge.given_customer_number = facts.kept.customer_number
        challenge.given_postal_code = facts.kept.postal_code
        return IdentityCheck(CheckResult.KEPT, sent_to=challenge.sent_to, purpose=challenge.purpose,
                             facts_missing=facts.kept.missing(), facts_kept=facts.kept.names())
    # A pair was tested: the kept half is used up with it, whatever the result.
    challenge.given_customer_number = challenge.given_postal_code = None
    named = [facts.subject.id] if facts.subject is not None else list(facts.failures)
    if attempts.locked(session, ticket_id=ticket.id, subject_ids=named, now=now):
        return _exhausted(session, challenge)
    challenge.attempts += max(len(facts.failures), 1)
    if facts.subject is not None:
        if discloses(ticket.rights):
            # The facts found the record; the person proves themselves by the code to its contact.
            challenge.state = "verified"
            return IdentityCheck(CheckResult.CODE_NEEDED, subject=facts.subject,
                                 sent_to=facts.subject.email or "", subject_id=facts.subject.id,
                                 purpose=challenge.purpose)
        challenge.state = "verified"
        return IdentityCheck(CheckResult.VERIFIED, IdentityLevel.KNOWN_FACTS, FACTS_METHOD, facts.subject,
                             sent_to=challenge.sent_to, subject_id=facts.subject.id,
                             purpose=challenge.purpose)
    attempts.record_failures(session, ticket_id=ticket.id, subject_ids=facts.failures,
                             purpose=challenge.purpose, now=now)
    return _after_failure(session, challenge, list(facts.failures), now, challenge)


def _after_failure(session: Session, challenge: VerificationChallenge, subject_ids: Sequence[int | None],
                   now: datetime, facts_challenge: VerificationChallenge | None) -> IdentityCheck:
    if attempts.locked(session, ticket_id=challenge.ticket_id, subject_ids=subject_ids, now=now):
        return _exhausted(session, challenge)
    return IdentityCheck(CheckResult.WRONG, sent_to=challenge.sent_to, subject_id=challenge.subject_id,
                         purpose=challenge.purpose, facts_missing=_facts_open(facts_challenge),
                         facts_kept=kept_facts(facts_challenge).names())


def _exhausted(session: Session, challenge: VerificationChallenge) -> IdentityCheck:
    """No further automatic check on this ticket: every pending challenge of it fails."""
    challenge.state = "failed"
    if challenge.ticket_id is not None:
        for other in session.scalars(select(VerificationChallenge).where(
                VerificationChallenge.ticket_id == challenge.ticket_id,
                VerificationChallenge.state == "pending")):
            other.state = "failed"
    return IdentityCheck(CheckResult.EXHAUSTED, sent_to=challenge.sent_to, subject_id=challenge.subject_id,
                         purpose=challenge.purpose)
