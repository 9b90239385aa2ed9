"""Ticket services: references, opening, the audited state machine, extension and pause.

Every function takes the session and an explicit aware `now` and never commits: the caller (the
pipeline, the console) owns the transaction, so a ticket, its audit events and the outbox item
announcing it are written together or not at all.  Deadlines come from the pure engine in
`dsr.deadlines` (Art. 12(3) GDPR under Reg. 1182/71); the computed trail is stored with the
ticket so the DPO can see how each date was reached.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from dsr.deadlines import breach_notification_due, compute_deadline, may_extend, working_days_before
from dsr.intents.rights import RIGHTS, Right, legal_sort
from dsr.store.audit import actor_for_log, audit
from dsr.store.models import IdentityLevel, Ticket, TicketCounter, TicketState, User
from dsr.store.tickets.catalogue import (
    GUARDED_SOURCES,
    GUARDED_TARGETS,
    OUTCOMES,
    PARTIAL_OUTCOMES,
    REFUSAL_REASONS,
    TRANSITIONS,
    RefusalReason,
)
from dsr.store.tickets.common import (
    IllegalTransition,
    TicketError,
    berlin_date,
    check_refusal,
    require_text,
)
from dsr.store.tickets.facts import add_note, assign, correct_rights, record_identity
from dsr.store.tickets.queries import due_tickets, effective_due, find_by_reference

__all__ = [
    "OUTCOMES",
    "REFUSAL_REASONS",
    "TRANSITIONS",
    "IllegalTransition",
    "RefusalReason",
    "TicketError",
    "add_note",
    "assign",
    "audit",
    "berlin_date",
    "correct_rights",
    "dismiss_escalation_reason",
    "due_tickets",
    "effective_due",
    "escalate",
    "extend",
    "find_by_reference",
    "flag_breach",
    "next_reference",
    "open_ticket",
    "pause",
    "record_identity",
    "reopen",
    "resume",
    "transition",
]

log = logging.getLogger(__name__)


# --- references -----------------------------------------------------------------------------


def next_reference(session: Session, year: int) -> str:
    """Take the next number of `year` and return "DSR-YYYY-NNNNNN".

    The counter row is incremented with one atomic upsert in the caller's transaction: a second
    writer blocks on the row (PostgreSQL row lock; SQLite BEGIN IMMEDIATE) until the first
    commits or rolls back, so numbers are unique and, because a rollback also undoes the
    increment, without gaps.
    """
    if not 2000 <= year <= 9999:
        raise TicketError(f"year {year} out of range for a ticket reference")
    # A plain statement on the transaction's connection: it depends on no pending ORM change.
    value = session.connection().execute(_counter_upsert(session.get_bind().dialect.name),
                                         {"year": year}).scalar_one()
    if value > 999_999:
        raise TicketError(f"reference numbers for {year} exhausted")
    return f"DSR-{year:04d}-{value:06d}"


@cache
def _counter_upsert(dialect: str) -> Insert:
    """The counter upsert for `dialect`, built once (statement and cache key are reused)."""
    table = TicketCounter.__table__
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(TicketCounter).values(year=bindparam("year"), last_value=1)
        return pg_stmt.on_conflict_do_update(
            index_elements=[table.c.year], set_={"last_value": table.c.last_value + 1}
        ).returning(table.c.last_value)
    if dialect == "sqlite":
        lite_stmt = sqlite.insert(TicketCounter).values(year=bindparam("year"), last_value=1)
        return lite_stmt.on_conflict_do_update(
            index_elements=[table.c.year], set_={"last_value": table.c.last_value + 1}
        ).returning(table.c.last_value)
    raise TicketError(f"unsupported database {dialect!r} for ticket references")


_INSERT_TICKET = insert(Ticket).returning(Ticket.id)


# --- opening --------------------------------------------------------------------------------


def _takes_effect_on_receipt(rights: Sequence[Right]) -> bool:
    """Only marketing objections / consent withdrawals: effective on receipt (Art. 21(3), 7(3))."""
    return bool(rights) and all(RIGHTS[r].immediate for r in rights)


def open_ticket(
    session: Session,
    *,
    controller: str,
    land: str,
    channel: str,
    received_at: datetime,
    rights: Sequence[Right],
    now: datetime,
    subject_id: int | None = None,
    reply_to: str | None = None,
    postal_address: str | None = None,
    language: str = "de",
    classification: dict[str, Any] | None = None,
    escalation_reasons: Sequence[str] = (),
    identity_level: IdentityLevel = IdentityLevel.NONE,
    identity_method: str | None = None,
    internal_target_working_days: int = 10,
    actor: str = "system",
    breach_due_at: datetime | None = None,
    stated_due_date: date | None = None,
) -> Ticket:
    """Create a ticket in state NEW with its reference, deadline and trail; written, not committed.

    Escalation reasons are recorded (`escalated=True`), the state stays NEW: the caller moves it
    on (`escalate()` / `transition()`), so each step has its own audit event.  `breach_due_at`
    flags a reported data breach (Art. 33 clock); `stated_due_date` is a reply deadline an
    authority's letter names, and the internal target is brought forward to it.
    """
    ordered = legal_sort(tuple(Right(r) for r in rights))
    deadline = compute_deadline(
        received_at, land, internal_target_working_days=internal_target_working_days
    )
    trail = deadline.trail
    if _takes_effect_on_receipt(ordered):
        received = deadline.received_local_date.strftime("%d.%m.%Y")
        articles = " / ".join(RIGHTS[r].article for r in ordered)
        trail = (
            f"Wirksam mit Eingang am {received} ({articles}); Frist nur für die Bestätigung: {trail}"
        )
        if identity_level is IdentityLevel.NONE:
            identity_level = IdentityLevel.NOT_REQUIRED  # docs/LEGAL-NOTES.md 3.5, level 0
    internal_target = deadline.internal_target
    if stated_due_date is not None and stated_due_date < internal_target:
        internal_target = stated_due_date
    reference = next_reference(session, deadline.received_local_date.year)
    values: dict[str, Any] = {
        "reference": reference, "controller": controller, "subject_id": subject_id, "channel": channel,
        "reply_to": reply_to, "postal_address": postal_address, "language": language,
        "rights": [r.value for r in ordered],
        "state": TicketState.NEW.value, "received_at": received_at, "due_date": deadline.due,
        "due_trail": trail, "internal_target_date": internal_target, "extended_due_date": None,
        "extension_reason": None, "paused_days": 0, "paused_since": None,
        "identity_level": IdentityLevel(identity_level).value, "identity_method": identity_method,
        "escalated": bool(escalation_reasons), "escalation_reasons": sorted(set(escalation_reasons)),
        "classification": dict(classification or {}), "assignee": None, "outcome": None,
        "refusal_code": None, "draft_reply": None, "closed_at": None, "created_at": now, "updated_at": now,
        "breach_due_at": breach_due_at, "stated_due_date": stated_due_date,
    }
    # One INSERT on the transaction's connection, then the row's object joins the session as
    # persistent with exactly these values: no unit-of-work flush (a large part of a message's
    # cost); later changes to the ticket are flushed as UPDATEs as usual.
    ticket_id = session.connection().execute(_INSERT_TICKET, values).scalar_one()
    ticket = Ticket(id=ticket_id, **values)
    make_transient_to_detached(ticket)
    session.add(ticket)
    audit(
        session, actor=actor, action="ticket_opened", now=now, ticket_id=ticket.id,
        reason="Anfrage eingegangen",
        detail={
            "reference": reference, "channel": channel, "rights": ticket.rights,
            "due": deadline.due.isoformat(), "trail": trail,
            "internal_target": internal_target.isoformat(),
            "escalation_reasons": ticket.escalation_reasons, "identity_level": ticket.identity_level,
            **({"breach_due_at": breach_due_at.isoformat()} if breach_due_at else {}),
            **({"stated_due_date": stated_due_date.isoformat()} if stated_due_date else {}),
        },
    )
    log.debug("ticket opened ticket=%s due=%s rights=%s", reference, deadline.due, ticket.rights)
    return ticket


# --- state machine --------------------------------------------------------------------------


def _set_state(
    session: Session, ticket: Ticket, to: TicketState, *, actor: str, reason: str, now: datetime,
    action: str = "state_changed", detail: dict[str, Any] | None = None,
) -> None:
    current = TicketState(ticket.state)
    if to not in TRANSITIONS[current]:
        raise IllegalTransition(ticket, to)
    ticket.state = to.value
    ticket.updated_at = now
    audit(
        session, actor=actor, action=action, now=now, ticket_id=ticket.id, reason=reason,
        detail={"from": current.value, "to": to.value, **(detail or {})},
    )
    log.debug("ticket state ticket=%s %s->%s actor=%s", ticket.reference, current.value, to.value,
             actor_for_log(actor))


def transition(
    session: Session,
    ticket: Ticket,
    to: TicketState,
    *,
    actor: str,
    reason: str,
    now: datetime,
    outcome: str | None = None,
    refusal_code: str | None = None,
) -> None:
    """Move `ticket` along one edge of TRANSITIONS, with an audit event saying who and why.

    ANSWERED needs an `outcome` from OUTCOMES; REFUSED needs a `refusal_code` from
    REFUSAL_REASONS that fits the ticket's rights (Art. 12(4): reasons must be given).  A
    partial answer ("partially_granted") may carry the refusal code of the refused part.
    """
    to = TicketState(to)
    reason = require_text(reason, f"ticket {ticket.reference}: a reason for the transition")
    if to in GUARDED_TARGETS:
        raise TicketError(f"ticket {ticket.reference}: use {GUARDED_TARGETS[to]} to enter {to.value}")
    source = TicketState(ticket.state)
    if source in GUARDED_SOURCES:
        raise TicketError(f"ticket {ticket.reference}: state {source.value} is left only through "
                          f"{GUARDED_SOURCES[source]}")
    detail: dict[str, Any] = {}
    if to is TicketState.ANSWERED:
        if outcome not in OUTCOMES or outcome == "refused":
            raise TicketError(
                f"ticket {ticket.reference}: answering needs an outcome "
                f"({', '.join(k for k in OUTCOMES if k != 'refused')})"
            )
        if refusal_code is not None:
            if outcome not in PARTIAL_OUTCOMES:
                raise TicketError(f"ticket {ticket.reference}: outcome {outcome} takes no refusal code")
            detail["article"] = check_refusal(ticket, refusal_code).article
        detail["outcome"] = outcome
    elif to is TicketState.REFUSED:
        detail["article"] = check_refusal(ticket, refusal_code).article
        outcome = "refused"
        detail["outcome"] = outcome
    elif outcome is not None or refusal_code is not None:
        raise TicketError(f"ticket {ticket.reference}: outcome/refusal code only when answering or refusing")
    if refusal_code is not None:
        detail["refusal_code"] = refusal_code
    _set_state(session, ticket, to, actor=actor, reason=reason, now=now, detail=detail)
    if to in (TicketState.ANSWERED, TicketState.REFUSED):
        ticket.outcome = outcome
        ticket.refusal_code = refusal_code
    elif to is TicketState.ESCALATED:
        ticket.escalated = True
    elif to is TicketState.CLOSED:
        ticket.closed_at = now


def escalate(
    session: Session, ticket: Ticket, reasons: Sequence[str], *, actor: str, reason: str, now: datetime
) -> None:
    """Hand the ticket to a human: add escalation reason codes, enter ESCALATED if not there."""
    merged = sorted(set(ticket.escalation_reasons) | set(reasons))
    ticket.escalation_reasons = merged
    ticket.escalated = True
    if TicketState(ticket.state) is TicketState.ESCALATED:
        ticket.updated_at = now
        audit(session, actor=actor, action="escalation_reasons_added", now=now, ticket_id=ticket.id,
              reason=require_text(reason, "reason"), detail={"escalation_reasons": merged})
        return
    transition(session, ticket, TicketState.ESCALATED, actor=actor, reason=reason, now=now)



def reopen(session: Session, ticket: Ticket, *, actor: str, reason: str, now: datetime) -> None:
    """Take a closed ticket back into work; the earlier result stays in the audit log only."""
    reason = require_text(reason, f"ticket {ticket.reference}: a reason for reopening")
    if TicketState(ticket.state) is not TicketState.CLOSED:
        raise TicketError(f"ticket {ticket.reference}: only a closed ticket can be reopened")
    previous = {"outcome": ticket.outcome, "refusal_code": ticket.refusal_code}
    _set_state(session, ticket, TicketState.IN_PROGRESS, actor=actor, reason=reason, now=now,
               action="reopened", detail={"previous": previous})
    ticket.outcome = None
    ticket.refusal_code = None
    ticket.closed_at = None


def dismiss_escalation_reason(
    session: Session, ticket: Ticket, code: str, *, actor: str, note: str, now: datetime
) -> None:
    """Remove an escalation reason that fired wrongly; the note says why (kept in the audit log)."""
    note = require_text(note, f"ticket {ticket.reference}: a note why the reason does not apply")
    if code not in ticket.escalation_reasons:
        raise TicketError(f"ticket {ticket.reference}: reason {code} is not set")
    ticket.escalation_reasons = [c for c in ticket.escalation_reasons if c != code]
    ticket.updated_at = now
    audit(session, actor=actor, action="escalation_reason_dismissed", now=now, ticket_id=ticket.id,
          reason=note, detail={"reason_code": code, "remaining": list(ticket.escalation_reasons)})


def flag_breach(session: Session, ticket: Ticket, *, actor: str, reason: str, now: datetime,
                aware_at: datetime | None = None) -> datetime:
    """Mark the ticket as the report of a data breach and hand it to a person; return the due time.

    Art. 33(1) GDPR: the notification is due 72 hours after the controller became aware, which for
    a reported breach is the report's receipt, not the moment someone noticed what the message
    meant: `ticket.received_at` when the request itself reports it, the receipt of a later message
    on the ticket (`aware_at`) when that one does.  Flagging twice keeps the first deadline.
    """
    reason = require_text(reason, f"ticket {ticket.reference}: a reason for flagging a data breach")
    if ticket.breach_due_at is None:
        ticket.breach_due_at = breach_notification_due(aware_at or ticket.received_at)
        audit(session, actor=actor, action="breach_flagged", now=now, ticket_id=ticket.id, reason=reason,
              detail={"breach_due_at": ticket.breach_due_at.isoformat()})
    if TicketState(ticket.state) in (TicketState.CLOSED, TicketState.PAUSED):  # no edge to ESCALATED
        merged = sorted(set(ticket.escalation_reasons) | {"breach"})
        ticket.escalation_reasons, ticket.escalated = merged, True
        ticket.updated_at = now
    else:
        escalate(session, ticket, ["breach"], actor=actor, now=now, reason=reason)
    return ticket.breach_due_at


# --- deadline changes -----------------------------------------------------------------------


def _fmt(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def extend(session: Session, ticket: Ticket, *, land: str, actor: str, reason: str, now: datetime,
           internal_target_working_days: int = 10) -> date:
    """Extend the deadline by two further months (Art. 12(3) s. 2 GDPR) and return the new date.

    The two months run from the nominal end of the first month (see `dsr.deadlines`); the trail
    names the later receipt + 3 months reading too.

    Refused without a reason (the notice must give one), after the original due date (it must
    be decided and notified within the first month, EDPB § 157), and a second time.  The internal
    target moves with it: the same number of working days before the new due date.
    """
    reason = require_text(reason, f"ticket {ticket.reference}: a reason for the extension")
    current = TicketState(ticket.state)
    if TicketState.EXTENDED not in TRANSITIONS[current]:
        raise IllegalTransition(ticket, TicketState.EXTENDED)
    if ticket.extended_due_date is not None:
        raise TicketError(
            f"ticket {ticket.reference}: already extended to {_fmt(ticket.extended_due_date)}; "
            "Art. 12(3) allows at most three months in total"
        )
    deadline = compute_deadline(ticket.received_at, land, paused_days=ticket.paused_days)
    if ticket.due_date is not None and deadline.due != ticket.due_date:
        raise TicketError(
            f"ticket {ticket.reference}: Land {land} gives due date {_fmt(deadline.due)}, "
            f"the ticket says {_fmt(ticket.due_date)}; wrong Land?"
        )
    today = berlin_date(now)
    if not may_extend(deadline, today):
        raise TicketError(
            f"ticket {ticket.reference}: extension refused, the original due date {_fmt(deadline.due)} "
            "has passed (Art. 12(3) s. 3: decide and notify within the first month)"
        )
    ticket.extended_due_date = deadline.extended_due
    ticket.extension_reason = reason
    ticket.internal_target_date = working_days_before(
        deadline.extended_due, internal_target_working_days, land, not_before=today
    )
    ticket.due_trail = (
        f"{ticket.due_trail}\nVerlängert am {_fmt(today)} (Art. 12 Abs. 3 S. 2 DSGVO): "
        f"{deadline.extended_trail}"
    )
    _set_state(session, ticket, TicketState.EXTENDED, actor=actor, reason=reason, now=now,
               action="deadline_extended",
               detail={"extended_due": deadline.extended_due.isoformat(), "trail": deadline.extended_trail})
    return deadline.extended_due


def _require_dpo(session: Session, username: str, ticket: Ticket) -> str:
    username = require_text(username, f"ticket {ticket.reference}: the approving DPO")
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None or user.disabled or user.role != "dpo":
        raise TicketError(
            f"ticket {ticket.reference}: a pause must be approved by an active DPO account; "
            f"{username!r} is not one"
        )
    return username


def pause(
    session: Session, ticket: Ticket, *, approved_by: str, actor: str, reason: str, now: datetime
) -> None:
    """Suspend the deadline while identity (or the request's scope) is genuinely in doubt.

    EDPB 01/2022 § 159 permits a suspension only after the controller asked for the information
    without undue delay; the GDPR itself has no pause, so it needs a DPO's approval, a reason, and
    is impossible once the deadline has passed.  The unpaused date stays first in the trail.
    """
    reason = require_text(reason, f"ticket {ticket.reference}: a reason for the pause")
    if TicketState.PAUSED not in TRANSITIONS[TicketState(ticket.state)]:
        raise IllegalTransition(ticket, TicketState.PAUSED)
    approver = _require_dpo(session, approved_by, ticket)
    today = berlin_date(now)
    due = effective_due(ticket, today)
    if due is not None and today > due:
        raise TicketError(
            f"ticket {ticket.reference}: the deadline {_fmt(due)} has passed; it cannot be paused"
        )
    ticket.paused_since = now
    ticket.due_trail = f"{ticket.due_trail}\nPausiert ab {_fmt(today)} (freigegeben von {approver})"
    _set_state(session, ticket, TicketState.PAUSED, actor=actor, reason=reason, now=now,
               action="deadline_paused", detail={"approved_by": approver})


def resume(
    session: Session,
    ticket: Ticket,
    *,
    land: str,
    actor: str,
    reason: str,
    now: datetime,
    to: TicketState = TicketState.IN_PROGRESS,
    internal_target_working_days: int = 10,
) -> date:
    """End the pause: add the paused calendar days and recompute the dates; return the new due date."""
    reason = require_text(reason, f"ticket {ticket.reference}: a reason for resuming")
    to = TicketState(to)
    if TicketState(ticket.state) is not TicketState.PAUSED or ticket.paused_since is None:
        raise TicketError(f"ticket {ticket.reference}: not paused")
    if to not in TRANSITIONS[TicketState.PAUSED]:
        raise IllegalTransition(ticket, to)
    started, today = berlin_date(ticket.paused_since), berlin_date(now)
    days = max(0, (today - started).days)
    total = ticket.paused_days + days
    deadline = compute_deadline(ticket.received_at, land, paused_days=total,
                                internal_target_working_days=internal_target_working_days)
    before = ticket.extended_due_date or ticket.due_date
    ticket.paused_days = total
    ticket.paused_since = None
    ticket.due_date = deadline.due
    ticket.internal_target_date = deadline.internal_target
    if ticket.extended_due_date is not None:
        ticket.extended_due_date = deadline.extended_due
    new_due = ticket.extended_due_date or ticket.due_date
    ticket.due_trail = (
        f"{ticket.due_trail}\nFortgesetzt am {_fmt(today)} nach {days} Tag(en) Pause "
        f"(insgesamt {total}): {deadline.extended_trail if ticket.extended_due_date else deadline.trail}"
    )
    _set_state(session, ticket, to, actor=actor, reason=reason, now=now, action="deadline_resumed",
               detail={"paused_days": days, "total_paused_days": total,
                       "from_due": before.isoformat() if before else None,
                       "to_due": new_due.isoformat() if new_due else None})
    return new_due if new_due is not None else deadline.due
