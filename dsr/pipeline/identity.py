"""Identity verification: the LEGAL.md 3.5 ladder, one-time codes and known-facts checks.

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

Codes: 6 digits from `secrets`, stored only as a salted hash, valid 30 minutes, 5 attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from enum import StrEnum

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dsr.inbound import InboundMessage
from dsr.intents.rights import RIGHTS, Right
from dsr.store.models import DataSubject, IdentityLevel, Ticket, VerificationChallenge
from dsr.store.subjects import find_subject

CODE_TTL = timedelta(minutes=30)
CODE_MAX_ATTEMPTS = 5
FACTS_TTL = timedelta(days=30)
FACTS_MAX_ATTEMPTS = 5
FACTS_REQUESTED = ("Kundennummer", "Postleitzahl")
FACTS_METHOD = "Kundennummer und Postleitzahl stimmen mit dem Datensatz überein"
# Escalation reason codes that make verification a human decision (LEGAL 3.5 level 3).
LEVEL3_REASONS = frozenset({"special_category", "identity_theft", "credit_agency", "representative",
                            "third_party_data", "minor", "deceased"})

PURPOSE_CODE = "ticket"
PURPOSE_FACTS = "ticket_facts"

_CODE_RE = re.compile(r"(?<![\d-])(\d{3}) ?(\d{3})(?![\d-])")
_POSTAL_RE = re.compile(r"(?<!\d)(\d{5})(?!\d)")
_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9./-]{2,30}")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_COMMENT_RE = re.compile(r"\([^()]*\)")


class Rung(StrEnum):
    NOT_REQUIRED = "not_required"  # level 0
    CONTACT_ON_FILE = "contact_on_file"  # level 1: verified now
    KNOWN_FACTS = "known_facts"  # level 2: facts in the first message already matched
    SEND_CODE = "send_code"  # level 2: code to the contact on file
    ASK_FACTS = "ask_facts"  # level 2: ask for facts already held
    MANUAL = "manual"  # level 3: a human decides


@dataclass(frozen=True, slots=True)
class IdentityDecision:
    rung: Rung
    level: IdentityLevel  # what can be recorded on the ticket now
    method: str | None  # how, in words a DPO understands (stored on the ticket and in the audit)
    subject: DataSubject | None = None  # the data subject the request is (claimed to be) about
    code_to: str | None = None  # contact on file the code goes to (SEND_CODE)


class CheckResult(StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"  # answer given but wrong; attempts remain
    EXHAUSTED = "exhausted"  # too many wrong answers: a human must decide
    EXPIRED = "expired"  # the code timed out: a new one may be sent
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


def header_values(msg: InboundMessage, name: str) -> list[str]:
    """All values of a header; from the raw message when kept (it may occur several times)."""
    if msg.raw:
        parsed = BytesHeaderParser(policy=compat32).parsebytes(msg.raw)
        values = [str(v) for v in parsed.get_all(name, [])]
        if values:
            return values
    value = msg.headers.get(name.lower())
    return [value] if value else []


def authentication_passes(values: Sequence[str], trusted_authserv_id: str, sender: str) -> tuple[bool, str]:
    """RFC 8601: does a trusted Authentication-Results header show DMARC or aligned DKIM pass?

    Only headers whose authserv-id equals the configured one count: anything else may have been
    written by the sender.  (The receiving MTA must strip foreign headers with its own id.)
    DKIM counts only when the signing domain aligns with the sender's domain.
    """
    domain = sender.rpartition("@")[2].lower()
    passed: set[str] = set()
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
            if method == "dmarc" and result == "pass" and _aligned(props.get("header.from", domain), domain):
                passed.add("dmarc=pass")
            if method == "dkim" and result == "pass":
                signer = props.get("header.d") or props.get("header.i", "").rpartition("@")[2]
                if signer and _aligned(signer, domain):
                    passed.add("dkim=pass")
    for how in ("dmarc=pass", "dkim=pass"):  # DMARC first: it also covers the From alignment policy
        if how in passed:
            return True, how
    return False, "no trusted dmarc/dkim pass"


def _aligned(a: str, b: str) -> bool:
    """Relaxed alignment (DMARC): equal domains or one a subdomain of the other."""
    a, b = a.lower().strip("."), b.lower().strip(".")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def find_subject_by_address(session: Session, controller: str, address: str) -> DataSubject | None:
    """The data subject with `address` on file (primary or alternate address)."""
    return find_subject(session, controller, email=address)


def decide(
    session: Session,
    *,
    controller: str,
    msg: InboundMessage,
    rights: Sequence[Right],
    reasons: Sequence[str],
    trusted_authserv_id: str | None,
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
        ok, how = authentication_passes(header_values(msg, "Authentication-Results"),
                                        trusted_authserv_id, msg.sender)
        if ok:
            return IdentityDecision(Rung.CONTACT_ON_FILE, IdentityLevel.CONTACT_ON_FILE,
                                    f"Absenderadresse im Datensatz hinterlegt, {how}", subject)
        return IdentityDecision(Rung.SEND_CODE, IdentityLevel.NONE, None, subject, code_to=subject.email)
    text = f"{msg.subject}\n{msg.body}"
    facts_subject = match_facts(session, controller, text)
    if facts_subject is not None:
        return IdentityDecision(Rung.KNOWN_FACTS, IdentityLevel.KNOWN_FACTS, FACTS_METHOD, facts_subject)
    named = _subject_named_by_address(session, controller, text)
    if named is not None and named.email:
        # The message names an address that is on file: the code goes to the record, never to
        # the address the message came from.
        return IdentityDecision(Rung.SEND_CODE, IdentityLevel.NONE, None, named, code_to=named.email)
    return IdentityDecision(Rung.ASK_FACTS, IdentityLevel.NONE, None, None)


def _subject_named_by_address(session: Session, controller: str, text: str) -> DataSubject | None:
    for address in dict.fromkeys(a.lower() for a in _EMAIL_RE.findall(text)):
        subject = find_subject_by_address(session, controller, address)
        if subject is not None:
            return subject
    return None


def match_facts(session: Session, controller: str, text: str) -> DataSubject | None:
    """A data subject whose customer number AND postal code both occur in `text`.

    Two independent facts the controller holds (BayLfD: matching existing contract data is normally
    sufficient in a customer relationship); one alone, or a name and a birth date (the 1&1 case),
    is not enough.
    """
    postal_codes = set(_POSTAL_RE.findall(text))
    if not postal_codes:
        return None
    tokens = {t.strip("./-").upper() for t in _TOKEN_RE.findall(text) if any(c.isdigit() for c in t)}
    tokens.discard("")
    if not tokens:
        return None
    candidates = session.scalars(
        select(DataSubject).where(
            DataSubject.controller == controller,
            DataSubject.customer_number.is_not(None),
            or_(*(func.upper(DataSubject.customer_number) == t for t in list(tokens)[:40])),
        )
    ).all()
    matching = [s for s in candidates if s.postal_code and s.postal_code.strip() in postal_codes]
    return matching[0] if len(matching) == 1 else None  # ambiguous facts identify nobody


def _hash_code(code: str, salt: str) -> str:
    digest = hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()
    return f"{salt}${digest}"


def issue_code(session: Session, *, ticket: Ticket, subject: DataSubject | None, sent_to: str,
               now: datetime) -> tuple[str, datetime]:
    """Create a one-time code for `ticket`; returns the plain code (for the mail) and its expiry.

    Earlier pending codes of the ticket are expired, so only the newest code works.
    """
    for old in session.scalars(select(VerificationChallenge).where(
            VerificationChallenge.ticket_id == ticket.id, VerificationChallenge.purpose == PURPOSE_CODE,
            VerificationChallenge.state == "pending")):
        old.state = "expired"
    code = f"{secrets.randbelow(1_000_000):06d}"
    expires = now + CODE_TTL
    session.add(VerificationChallenge(
        ticket_id=ticket.id, subject_id=subject.id if subject else None, purpose=PURPOSE_CODE,
        code_hash=_hash_code(code, secrets.token_hex(8)), sent_to=sent_to, expires_at=expires,
        attempts=0, max_attempts=CODE_MAX_ATTEMPTS, state="pending", created_at=now))
    return code, expires


def open_facts_challenge(session: Session, *, ticket: Ticket, sent_to: str, now: datetime) -> None:
    """Record that facts were asked for, so that wrong answers are counted."""
    session.add(VerificationChallenge(
        ticket_id=ticket.id, subject_id=None, purpose=PURPOSE_FACTS, code_hash="-", sent_to=sent_to,
        expires_at=now + FACTS_TTL, attempts=0, max_attempts=FACTS_MAX_ATTEMPTS, state="pending",
        created_at=now))


def pending_challenge(session: Session, ticket: Ticket) -> VerificationChallenge | None:
    return session.scalar(
        select(VerificationChallenge)
        .where(VerificationChallenge.ticket_id == ticket.id, VerificationChallenge.state == "pending")
        .order_by(VerificationChallenge.id.desc())
        .limit(1)
    )


def check_reply(session: Session, *, ticket: Ticket, controller: str, text: str,
                now: datetime) -> IdentityCheck:
    """Check a follow-up on a ticket awaiting identity: a code, or the facts asked for."""
    challenge = pending_challenge(session, ticket)
    if challenge is None:
        return IdentityCheck(CheckResult.NOTHING)
    if challenge.purpose == PURPOSE_CODE:
        return _check_code(session, challenge, text, now)
    subject = match_facts(session, controller, text)
    if subject is None and not _POSTAL_RE.search(text):
        return IdentityCheck(CheckResult.NOTHING)
    return _count(challenge, subject, IdentityLevel.KNOWN_FACTS, FACTS_METHOD)


def _check_code(session: Session, challenge: VerificationChallenge, text: str,
                now: datetime) -> IdentityCheck:
    candidates = [a + b for a, b in _CODE_RE.findall(text)]
    if not candidates:
        return IdentityCheck(CheckResult.NOTHING)
    if now >= challenge.expires_at:
        challenge.state = "expired"
        return IdentityCheck(CheckResult.EXPIRED, sent_to=challenge.sent_to, subject_id=challenge.subject_id,
                             purpose=challenge.purpose)
    salt, _, _digest = challenge.code_hash.partition("$")
    matched = any(hmac.compare_digest(_hash_code(c, salt), challenge.code_hash) for c in candidates)
    subject = session.get(DataSubject, challenge.subject_id) if matched and challenge.subject_id else None
    return _count(challenge, subject if matched else None, IdentityLevel.CODE_CONFIRMED,
                  "Einmalcode an die hinterlegte Adresse bestätigt", matched=matched)


def _count(challenge: VerificationChallenge, subject: DataSubject | None, level: IdentityLevel, method: str,
           *, matched: bool | None = None) -> IdentityCheck:
    ok = subject is not None if matched is None else matched
    challenge.attempts += 1
    if ok:
        challenge.state = "verified"
        result = CheckResult.VERIFIED
    elif challenge.attempts >= challenge.max_attempts:
        challenge.state = "failed"
        result = CheckResult.EXHAUSTED
    else:
        result = CheckResult.WRONG
    return IdentityCheck(result, level if ok else IdentityLevel.NONE, method if ok else "",
                         subject if ok else None, sent_to=challenge.sent_to, subject_id=challenge.subject_id,
                         purpose=challenge.purpose)
