"""Handing a chat request to the pipeline, and the chat-specific steps around it.

The pipeline is the only place a ticket is opened (same classifier, dedupe, deadline and audit
as e-mail).  Around it the chat adds what only the chat knows: which rights the person
confirmed by button (recorded as a correction by the data subject, Art. 12(2) facilitation),
that a bound chat is an authenticated session on file (docs/LEGAL-NOTES.md 3.5), that a marketing
objection also covers the bound person's e-mail address (Art. 21(3): all channels), and a
short chat answer when the pipeline queued none for the chat.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.channels.telegram.conversation import texts as t
from dsr.channels.telegram.conversation.binding import bound_subject
from dsr.controllers import ControllerProfile
from dsr.inbound import InboundMessage, Outcome
from dsr.intents.rights import Right
from dsr.pipeline.outbound import VERIFIED_LEVELS, reply_context, send_chat
from dsr.replies import format_date_de, render_reply
from dsr.replies.context import ReplyKind
from dsr.store.audit import audit
from dsr.store.models import IdentityLevel, Message, OutboxItem, OutboxState, Ticket, TicketState
from dsr.store.suppression import suppress_subject
from dsr.store.tickets.services import (
    TRANSITIONS,
    correct_rights,
    escalate,
    find_by_reference,
    record_identity,
    transition,
)

log = logging.getLogger(__name__)

IMMEDIATE = frozenset({Right.MARKETING_OBJECTION, Right.CONSENT_WITHDRAWAL})
BOUND_METHOD = "Telegram-Chat mit Code an hinterlegte E-Mail-Adresse verknüpft"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    reference: str | None
    needs_identity: bool
    outbox_ids: list[int]
    offer_email: bool = False  # the pipeline asked for facts: offer the code to the address on file


def after_pipeline(
    session: Session, *, outcome: Outcome, msg: InboundMessage, profile: ControllerProfile,
    rights: Sequence[Right], confirmed: bool, form: t.Form, now: datetime, hold_until: datetime | None = None,
) -> SubmitResult:
    """Finish a submission in the chat's transaction; safe to repeat after a crash.

    `hold_until`: the chat answers queued here wait like the pipeline's (a question comes first).
    """
    ticket = (ticket_by_reference(session, outcome.ticket_reference)
              or ticket_by_message(session, msg.dedupe_key))
    chat_id = msg.chat_id or 0
    user_id = msg.telegram_user_id or 0
    if ticket is None:
        log.info("chat request without ticket status=%s reason=%s", outcome.status, outcome.reason)
        held = send_chat(session, controller=profile.key, chat_id=chat_id,
                            text=t.text("held", form), now=now)
        return SubmitResult(None, False, [held])
    actor = f"telegram:{user_id}"
    wanted = [r.value for r in rights]
    if confirmed and rights and list(ticket.rights) != wanted:
        correct_rights(session, ticket, list(rights), actor=actor, reason="im Chat vom Betroffenen bestätigt",
                       now=now)
    immediate = bool(rights) and set(rights) <= IMMEDIATE
    subject = bound_subject(session, profile.key, user_id)
    if Right.MARKETING_OBJECTION in rights:
        suppress_everywhere(session, profile=profile, ticket=ticket, user_id=user_id, now=now)
    # An escalated request (representative, third party, identity theft …) is the DPO's identity
    # decision; a bound chat does not replace it.
    if (subject is not None and not immediate and not ticket.escalated
            and ticket.identity_level not in VERIFIED_LEVELS):
        verify_ticket(session, ticket, subject_id=subject.id, actor=actor, now=now)
    ids: list[int] = []
    if not _chat_reply_queued(session, ticket):
        for kind in _reply_kinds(ticket, rights):
            ids.append(_enqueue_reply(session, kind, ticket, profile, chat_id=chat_id,
                                      verified=subject is not None, form=form, now=now,
                                      not_before=hold_until))
    needs_identity = ticket.state == TicketState.AWAITING_IDENTITY.value
    # The offer to send a code to an address on file comes whatever the request named: whether the
    # pipeline silently sent a code somewhere must not show in the chat (no enumeration).
    return SubmitResult(ticket.reference, needs_identity, ids, offer_email=needs_identity)


def suppress_everywhere(session: Session, *, profile: ControllerProfile, ticket: Ticket, user_id: int,
                        now: datetime) -> None:
    """Art. 21(3): no more marketing to this Telegram account nor to any identifier of the person.

    The person is the one bound to this chat or, failing that, the ticket's subject; a chat id alone
    is something no CRM can match, so every e-mail address, phone number and postal address on
    file is suppressed too.
    """
    subject = bound_subject(session, profile.key, user_id) or ticket.subject
    suppress_subject(session, controller=profile.key, subject=subject, addresses=[f"telegram:{user_id}"],
                     now=now, ticket_id=ticket.id)


def withdrawal_scope(ticket: Ticket) -> str:
    """"marketing" when the ticket's consent withdrawal was about advertising only, else "review"."""
    if Right.MARKETING_OBJECTION.value in ticket.rights:
        return "marketing"
    found = (ticket.classification or {}).get("consent_scope") or {}
    return "marketing" if isinstance(found, dict) and found.get("scope") == "marketing" else "review"


def take_effect_now(session: Session, ticket: Ticket, *, profile: ControllerProfile, rights: Sequence[Right],
                    chat_id: int, user_id: int, form: t.Form, now: datetime) -> list[int]:
    """Rights corrected to a marketing objection or consent withdrawal: effective at once.

    The same effect the pipeline gives them on receipt (suppression, confirmation to the
    person; the ticket answered when nothing else is asked), for a ticket that was opened on
    another reading and corrected by the person in the chat.  Returns the queued chat items.
    """
    immediate = [r for r in rights if r in IMMEDIATE]
    if not immediate:
        return []
    review = Right.CONSENT_WITHDRAWAL in immediate and withdrawal_scope(ticket) == "review"
    if not review:
        suppress_everywhere(session, profile=profile, ticket=ticket, user_id=user_id, now=now)
    queued = set(session.scalars(select(OutboxItem.kind).where(OutboxItem.ticket_id == ticket.id)))
    kinds = [ReplyKind.MARKETING_OBJECTION_CONFIRMATION if r is Right.MARKETING_OBJECTION
             else ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION for r in immediate]
    ids = [_enqueue_reply(session, kind, ticket, profile, chat_id=chat_id, verified=False, form=form, now=now)
           for kind in kinds if kind.value not in queued]
    current = TicketState(ticket.state)
    if review:
        # Not only advertising: a person finds and stops what relied on the consent.
        escalate(session, ticket, ["consent_withdrawal_review"], actor=f"telegram:{user_id}", now=now,
                 reason="Widerruf einer Einwilligung, die nicht nur Werbung betrifft")
        return ids
    if len(immediate) == len(rights) and TicketState.ANSWERED in TRANSITIONS[current]:
        outcome = "suppressed" if Right.MARKETING_OBJECTION in immediate else "consent_withdrawn"
        transition(session, ticket, TicketState.ANSWERED, actor=f"telegram:{user_id}", now=now,
                   outcome=outcome, reason="Wirksam mit Eingang; vom Betroffenen im Chat so richtiggestellt")
    return ids


def verify_ticket(session: Session, ticket: Ticket, *, subject_id: int, actor: str, now: datetime) -> bool:
    """Record that the requester proved the link to the record; let the work begin.

    The code proves only the record of the address it was sent to.  A ticket already linked to
    another person (e.g. one whose address was written into the message) is not verified by it:
    that would let one customer confirm a request about someone else and receive the answer in
    his chat.  Such a ticket goes to the DPO instead; returns whether the ticket was verified.
    """
    if ticket.subject_id is not None and ticket.subject_id != subject_id:
        audit(session, actor=actor, action="identity_mismatch", now=now, ticket_id=ticket.id,
              reason="Chat-Code bestätigt eine andere Person als die des Vorgangs")
        escalate(session, ticket, ["identity_unverified"], actor=actor, now=now,
                 reason="Code im Chat gehört zu einer anderen Person als der im Vorgang genannten")
        return False
    if ticket.subject_id is None:
        ticket.subject_id = subject_id
    record_identity(session, ticket, IdentityLevel.CODE_CONFIRMED, method=BOUND_METHOD, actor=actor, now=now)
    current = TicketState(ticket.state)
    if current is TicketState.AWAITING_IDENTITY and TicketState.IN_PROGRESS in TRANSITIONS[current]:
        transition(session, ticket, TicketState.IN_PROGRESS, actor=actor, reason="Identität bestätigt",
                   now=now)
    return True


def ticket_by_reference(session: Session, reference: str | None) -> Ticket | None:
    return find_by_reference(session, reference) if reference else None


def format_day(day: date | None, form: t.Form) -> str:
    if day is None:
        return ""
    return format_date(day, format="long", locale="en") if form == "en" else format_date_de(day)


def progress(ticket: Ticket, form: t.Form, *, prefix: str) -> str:
    """Where the ticket stands, as the next step ("next") or as a status ("status"), with its due date."""
    state = ticket.state
    if state == TicketState.AWAITING_IDENTITY.value:
        group = "identity"
    elif state in (TicketState.ANSWERED.value, TicketState.REFUSED.value, TicketState.CLOSED.value):
        group = "done"
    elif ticket.escalated or state == TicketState.ESCALATED.value:
        group = "person"
    elif state == TicketState.PAUSED.value:
        group = "paused"
    else:
        group = "working"
    due = format_day(ticket.extended_due_date or ticket.due_date, form) or t.text("status_no_due", form)
    return t.text(f"{prefix}_{group}", form, due=due)


def acknowledge(session: Session, ticket: Ticket, outcome: Outcome, *, chat_id: int, form: t.Form,
                now: datetime, controller: str) -> int | None:
    """Every message gets an answer: a follow-up the pipeline filed without answering the chat is
    acknowledged with where the ticket stands and its due date.  Returns the queued item, if any."""
    if outcome.outbox_ids and session.scalar(select(OutboxItem.id).where(
            OutboxItem.id.in_(list(outcome.outbox_ids)), OutboxItem.channel == "telegram").limit(1)):
        return None
    text = f"{t.text('noted', form, reference=ticket.reference)} {progress(ticket, form, prefix='status')}"
    return send_chat(session, controller=controller, chat_id=chat_id, text=text, now=now, ticket_id=ticket.id)


def held_replies(session: Session, ticket: Ticket, *, chat_id: int, now: datetime) -> list[int]:
    """The chat answers about `ticket` still waiting for the person's answer to the question."""
    return list(session.scalars(select(OutboxItem.id).where(
        OutboxItem.ticket_id == ticket.id, OutboxItem.channel == "telegram",
        OutboxItem.recipient == str(chat_id), OutboxItem.state == OutboxState.PENDING.value,
        OutboxItem.next_attempt_at > now).order_by(OutboxItem.id)))


def release_held(session: Session, held: Sequence[int], *, lead: str, now: datetime) -> bool:
    """The person answered the question: the held answers go out now, the first one opened by
    `lead` (what the answer changed and what happens next).  False when none was still waiting
    (they went out when the wait ended): the caller then says `lead` on its own."""
    items = _still_held(session, held, now)
    for position, item in enumerate(items):
        if position == 0:
            data = json.loads(item.payload.decode())
            data["text"] = f"{lead}\n\n{data['text']}"
            item.payload = json.dumps(data, ensure_ascii=False).encode()
            if item.message_id is not None:
                stored = session.get(Message, item.message_id)
                if stored is not None:
                    stored.body_text = data["text"]
        _due_now(session, item, now)
    return bool(items)


def withdraw_held(session: Session, ticket: Ticket, held: Sequence[int], *, actor: str, now: datetime,
                  reason: str) -> None:
    """The answer made the held answers wrong (the request is settled or goes to a person): they are
    never sent, so they leave the outbox and the conversation; the audit log names each and why."""
    for item in _still_held(session, held, now):
        audit(session, actor=actor, action="auto_reply_withheld", now=now, ticket_id=ticket.id, reason=reason,
              detail={"kind": item.kind, "outbox_id": item.id})
        stored = session.get(Message, item.message_id) if item.message_id is not None else None
        session.delete(item)
        if stored is not None:
            session.flush()
            session.delete(stored)


def _still_held(session: Session, held: Sequence[int], now: datetime) -> list[OutboxItem]:
    if not held:
        return []
    return list(session.scalars(select(OutboxItem).where(
        OutboxItem.id.in_(list(held)), OutboxItem.state == OutboxState.PENDING.value,
        OutboxItem.next_attempt_at > now).order_by(OutboxItem.id)))


def _due_now(session: Session, item: OutboxItem, now: datetime) -> None:
    """Due at once, and shown in the conversation where it now belongs: after the person's answer."""
    item.next_attempt_at = now
    item.created_at = now
    if item.message_id is not None:
        stored = session.get(Message, item.message_id)
        if stored is not None:
            stored.received_at = now


def opening_key(session: Session, ticket: Ticket) -> str | None:
    """The dedupe key of the message that opened `ticket` (its first inbound message)."""
    return session.scalar(select(Message.dedupe_key).where(
        Message.ticket_id == ticket.id, Message.direction == "in").order_by(Message.id).limit(1))


def ticket_by_message(session: Session, key: str) -> Ticket | None:
    """The ticket an already processed message went to (the pipeline answered DUPLICATE)."""
    ticket_id = session.scalar(select(Message.ticket_id).where(
        Message.channel == "telegram", Message.direction == "in", Message.dedupe_key == key))
    return session.get(Ticket, ticket_id) if ticket_id else None


def _chat_reply_queued(session: Session, ticket: Ticket) -> bool:
    query = select(OutboxItem.id).where(OutboxItem.ticket_id == ticket.id, OutboxItem.channel == "telegram")
    return session.scalar(query.limit(1)) is not None


def _reply_kinds(ticket: Ticket, rights: Sequence[Right]) -> list[ReplyKind]:
    kinds = []
    if Right.MARKETING_OBJECTION in rights:
        kinds.append(ReplyKind.MARKETING_OBJECTION_CONFIRMATION)
    if Right.CONSENT_WITHDRAWAL in rights:
        kinds.append(ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION)
    if ticket.escalated:
        kinds.append(ReplyKind.ESCALATION_NOTICE)
    elif set(rights) - IMMEDIATE or not kinds:
        kinds.append(ReplyKind.RECEIPT_CONFIRMATION)
    return kinds


def render_chat(ticket: Ticket, profile: ControllerProfile, *, form: t.Form, verified: bool,
                kind: ReplyKind = ReplyKind.IDENTITY_VERIFIED) -> str:
    """The chat variant of a reply about `ticket` (no personal data unless `verified`)."""
    ctx = reply_context(ticket, channel="telegram", verified=verified,
                        withdrawal_scope=withdrawal_scope(ticket))
    return render_reply(kind, ctx, profile, language="en" if form == "en" else "de", only="chat").chat


def _enqueue_reply(session: Session, kind: ReplyKind, ticket: Ticket, profile: ControllerProfile, *,
                   chat_id: int, verified: bool, form: t.Form, now: datetime,
                   not_before: datetime | None = None) -> int:
    text = render_chat(ticket, profile, form=form, verified=verified, kind=kind)
    return send_chat(session, controller=profile.key, chat_id=chat_id, text=text, now=now,
                     kind=kind.value, ticket_id=ticket.id, not_before=not_before)
