"""Binding a Telegram chat to a known data subject, and what a bound chat may see.

docs/LEGAL-NOTES.md 3.5: a chat is an unknown channel until it proves a link to the record.  The proof is
a one-time code sent to an e-mail address *already on file* (EDPB 01/2022 §§ 72-73: reuse what
the controller holds; never an ID copy).  An address typed into the chat is used only when it
equals an address in the record, and the chat is told the same thing whether or not it does, so
the bot cannot be used to find out who is a customer.  Codes expire, attempts are limited and
only a salted hash is stored.  Once bound, the chat counts as an authenticated session on file
(level 1 upwards: the level reached by the code is recorded on each later ticket).

Every function takes a `Session` and an explicit `now` and never commits: the caller owns the
transaction (the same rule as the store services).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dsr.controllers import ControllerProfile
from dsr.intents.rights import Right
from dsr.logs import mask_address
from dsr.mail.address import normalize_address
from dsr.mail.compose import compose_mail
from dsr.pipeline import attempts, codes
from dsr.pipeline.loop_guard import over_reply_limit
from dsr.pipeline.outbound import Outgoing, send, text_to_html
from dsr.replies import render_reply
from dsr.replies.context import ReplyContext, ReplyKind
from dsr.store.models import DataSubject, Ticket, TicketState, VerificationChallenge
from dsr.store.subjects import find_subject
from dsr.store.tickets.services import audit

log = logging.getLogger(__name__)

PURPOSE = "telegram_binding"
CLOSED_STATES = frozenset({TicketState.ANSWERED.value, TicketState.REFUSED.value, TicketState.CLOSED.value})
BERLIN = ZoneInfo("Europe/Berlin")


class CodeCheck(StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"  # attempts left
    FAILED = "failed"  # attempts used up
    EXPIRED = "expired"
    NO_CHALLENGE = "no_challenge"  # the typed address matched no record (the chat is not told)


@dataclass(frozen=True, slots=True)
class CodeResult:
    outcome: CodeCheck
    attempts_left: int = 0
    subject_id: int | None = None


def mask_email(address: str) -> str:
    """"m***@example.org": enough for the person to recognise it, useless to anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def start_binding(
    session: Session, *, profile: ControllerProfile, typed_address: str, ticket: Ticket | None,
    now: datetime, ttl: timedelta, max_attempts: int, language: str = "de",
) -> int | None:
    """Send a code to `typed_address` if, and only if, it is an address on file.

    Returns the challenge id, or None when the address matched no record, the data subject's
    attempts are used up or the address reached its cap of automatic mails (the caller says the
    same to the chat in every case).  Pending codes of other chats stay valid: a new request from
    one chat cannot void the code the data subject is about to type in another.
    """
    address = normalize_address(typed_address)
    subject = find_subject(session, profile.key, email=address)
    ticket_id = ticket.id if ticket else None
    if subject is None:
        audit(session, actor="system", action="telegram_binding_no_match", now=now,
              ticket_id=ticket_id, reason="address not on file")
        return None
    if attempts.subject_locked(session, subject.id, now):
        audit(session, actor="system", action="telegram_binding_refused", now=now, ticket_id=ticket_id,
              reason="attempt limit of the data subject reached; a person decides")
        return None
    if over_reply_limit(session, controller=profile.key, recipient=address, now=now):
        audit(session, actor="system", action="auto_reply_withheld", now=now, ticket_id=ticket_id,
              reason="Begrenzung automatischer Antworten je Empfänger erreicht",
              detail={"kind": ReplyKind.VERIFICATION_CODE.value, "recipient": mask_address(address)})
        return None
    code = codes.new_code()
    # Not linked to the ticket: the pipeline's own challenge for the ticket (facts) stays separate.
    challenge = VerificationChallenge(
        ticket_id=None, subject_id=subject.id, purpose=PURPOSE,
        code_hash=codes.hash_code(code), sent_to=address, expires_at=now + ttl, attempts=0,
        max_attempts=max_attempts, state="pending", created_at=now)
    session.add(challenge)
    session.flush()
    ctx = ReplyContext(
        reference=ticket.reference if ticket else "",
        rights=tuple(Right(r) for r in ticket.rights) if ticket else (),
        received_date=(ticket.received_at if ticket else now).astimezone(BERLIN).date(),
        channel="email", verified=False, verification_code=code, code_expires_at=now + ttl,
        code_sent_to_masked=mask_email(address))
    rendered = render_reply(ReplyKind.VERIFICATION_CODE, ctx, profile, language=language, only="mail")
    mail = compose_mail(from_address=profile.from_address, from_name=profile.short_name, to=address,
                        subject=rendered.subject, text=rendered.text,
                        html=rendered.html or text_to_html(rendered.text), now=now,
                        # Mail we start ourselves: no autoresponder answers it (RFC 3834).
                        auto_submitted="auto-generated", language=language)
    send(session, Outgoing(controller=profile.key, kind=ReplyKind.VERIFICATION_CODE.value, recipient=address,
                           message=mail, ticket_id=ticket.id if ticket else None), now=now)
    audit(session, actor="system", action="telegram_binding_code_sent", now=now,
          ticket_id=ticket.id if ticket else None, detail={"sent_to": mask_email(address)})
    log.info("binding code sent challenge=%s to=%s", challenge.id, mask_email(address))
    return challenge.id


def check_code(session: Session, challenge_id: int | None, candidates: list[str], *,
               now: datetime) -> CodeResult:
    """Count the attempts and say whether the one code in `candidates` proves the link.

    A chat turn with several code candidates is never checked: each candidate is a failed attempt
    (against the ticket-independent limit of the data subject, too).  Never reveals the code.
    """
    challenge = session.get(VerificationChallenge, challenge_id) if challenge_id else None
    if challenge is None:
        return CodeResult(CodeCheck.NO_CHALLENGE)
    if challenge.state != "pending":
        outcome = CodeCheck.EXPIRED if challenge.state == "expired" else CodeCheck.FAILED
        return CodeResult(outcome)
    if attempts.subject_locked(session, challenge.subject_id, now):
        challenge.state = "failed"
        return CodeResult(CodeCheck.FAILED, subject_id=challenge.subject_id)
    if now >= challenge.expires_at:
        challenge.state = "expired"
        return CodeResult(CodeCheck.EXPIRED)
    challenge.attempts += len(candidates)
    if len(candidates) == 1 and codes.code_matches(candidates[0], challenge.code_hash):
        challenge.state = "verified"
        return CodeResult(CodeCheck.VERIFIED, subject_id=challenge.subject_id)
    attempts.record_failures(session, ticket_id=None, subject_ids=[challenge.subject_id] * len(candidates),
                             purpose=PURPOSE, now=now)
    left = challenge.max_attempts - challenge.attempts
    if left <= 0 or attempts.subject_locked(session, challenge.subject_id, now):
        challenge.state = "failed"
        return CodeResult(CodeCheck.FAILED, subject_id=challenge.subject_id)
    return CodeResult(CodeCheck.WRONG, attempts_left=left)


def bind_chat(session: Session, *, controller: str, subject_id: int, telegram_user_id: int,
              now: datetime) -> None:
    """Link the Telegram account to the subject (one subject per account, per controller)."""
    for other in session.scalars(select(DataSubject).where(
            DataSubject.controller == controller, DataSubject.telegram_user_id == telegram_user_id,
            DataSubject.id != subject_id)):
        other.telegram_user_id = None
    session.flush()
    subject = session.get(DataSubject, subject_id)
    if subject is None:
        return
    subject.telegram_user_id = telegram_user_id
    subject.updated_at = now
    audit(session, actor=f"telegram:{telegram_user_id}", action="telegram_bound", now=now,
          reason="one-time code to the address on file confirmed", detail={"subject_id": subject_id})


def unbind_chat(session: Session, *, controller: str, telegram_user_id: int, now: datetime) -> bool:
    """Remove the link (/abmelden); True when there was one."""
    subject = find_subject(session, controller, telegram_user_id=telegram_user_id)
    if subject is None:
        return False
    subject.telegram_user_id = None
    subject.updated_at = now
    audit(session, actor=f"telegram:{telegram_user_id}", action="telegram_unbound", now=now,
          reason="removed by the data subject", detail={"subject_id": subject.id})
    return True


def bound_subject(session: Session, controller: str, telegram_user_id: int) -> DataSubject | None:
    return find_subject(session, controller, telegram_user_id=telegram_user_id)


def open_tickets(session: Session, *, controller: str, chat_id: int, subject_id: int | None) -> list[Ticket]:
    """Open tickets this chat may list: those it opened, and the bound subject's own."""
    mine = (Ticket.channel == "telegram") & (Ticket.reply_to == str(chat_id))
    who = or_(mine, Ticket.subject_id == subject_id) if subject_id is not None else mine
    query = (select(Ticket).where(Ticket.controller == controller, Ticket.state.not_in(CLOSED_STATES), who)
             .order_by(Ticket.received_at, Ticket.id))
    return list(session.scalars(query))
