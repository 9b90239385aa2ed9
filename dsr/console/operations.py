"""Ticket operations shared by the console pages and the JSON API.

They add what the console needs around the store services: German refusals for the common
cases, and the message to the person that belongs to a decision, queued in the same transaction.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from dsr.console.free_text import reason_problem
from dsr.console.labels import BERLIN, OPEN_STATES, date_de
from dsr.console.outgoing import SendProblem, send_to_subject
from dsr.controllers import ControllerProfile
from dsr.pipeline.outbound import extension_notice_kind, is_verified, reply_context
from dsr.replies import ReplyError, UnverifiedDisclosureError, render_reply
from dsr.replies.context import ReplyKind
from dsr.store.models import Ticket, TicketState
from dsr.store.tickets.services import OUTCOMES, REFUSAL_REASONS, audit, extend, transition

log = logging.getLogger(__name__)


class RefusedError(Exception):
    """The request cannot be carried out; the message is German and shown as is."""


def is_closed(ticket: Ticket) -> bool:
    return ticket.state == TicketState.CLOSED.value


def refuse_closed(session: Session, ticket: Ticket, *, actor: str, action: str, audit_action: str,
                  reason: str, now: datetime) -> None:
    """Record the refusal of a change to a closed ticket (read-only until "Wieder öffnen").

    A stale page, a second tab or an API client must not change a finished case; the attempt is
    kept in the ticket's history (who, which action, the German explanation), nothing else changes.
    """
    audit(session, actor=actor, action=audit_action, now=now, ticket_id=ticket.id, reason=reason,
          detail={"action": action})
    log.info("action refused ticket=%s action=%s: ticket closed", ticket.id, action)


def reply_problem(exc: ReplyError) -> str:
    """German explanation why a template could not be filled."""
    if isinstance(exc, UnverifiedDisclosureError):
        return (
            "Diese Antwort enthält personenbezogene Daten; bitte zuerst die Identität vermerken "
            "(Art. 12 Abs. 6 DSGVO)."
        )
    return f"Die Vorlage braucht weitere Angaben: {exc}"


def queued_id(result: int | SendProblem) -> int:
    if isinstance(result, SendProblem):
        raise RefusedError(result.message)
    return result


def check_extendable(ticket: Ticket, today: date) -> None:
    """The German refusals for an extension that the law does not allow now."""
    if ticket.extended_due_date is not None:
        raise RefusedError(
            "Die Frist wurde bereits verlängert; mehr als drei Monate insgesamt erlaubt Art. 12 Abs. 3 nicht."
        )
    if ticket.due_date is not None and today > ticket.due_date:
        raise RefusedError(
            f"Verlängerung nicht mehr möglich: Die ursprüngliche Frist ist am {date_de(ticket.due_date)} "
            "abgelaufen. Die Mitteilung musste innerhalb des ersten Monats erfolgen (Art. 12 Abs. 3 S. 3)."
        )
    if ticket.state == TicketState.PAUSED.value:
        raise RefusedError("Die Frist ist pausiert; bitte zuerst die Pause beenden.")


def extend_with_notice(
    session: Session,
    ticket: Ticket,
    profile: ControllerProfile,
    *,
    reason: str,
    actor: str,
    now: datetime,
    overrides_dir: Path | None = None,
    reasons: tuple[str, ...] = (),
) -> date:
    """Extend by two months (Art. 12(3) s. 2) and queue the notice with the reasons (s. 3).

    `reasons` are the sentences of the notice (catalogue sentence, the DPO's details); without
    them the notice states `reason` alone.
    """
    today = now.astimezone(BERLIN).date()
    check_extendable(ticket, today)
    if not reason.strip():
        raise RefusedError("Bitte die Gründe für die Verlängerung angeben (sie gehen an die Person).")
    # The same slips the console's dialog refuses, also for the API's free text (kept short there).
    for text in reasons or (reason,):
        problem = reason_problem(text, reference=ticket.reference, min_words=1)
        if problem is not None:
            raise RefusedError(problem)
    new_due = extend(
        session, ticket, land=profile.state, actor=actor, reason=reason, now=now,
        internal_target_working_days=profile.internal_target_working_days,
    )
    # Unverified: the neutral notice (reply_context leaves the name out, the kind tells the door).
    context = reply_context(
        ticket,
        as_of=today,
        extended_due_date=new_due,
        extension_reasons=reasons or (reason,),
        verified=is_verified(ticket),
    )
    rendered = render_reply(
        ReplyKind.EXTENSION_NOTICE,
        context,
        profile,
        language=ticket.language or "de",
        overrides_dir=overrides_dir,
    )
    item = queued_id(
        send_to_subject(
            session,
            ticket,
            profile,
            kind=extension_notice_kind(ticket),
            subject=rendered.subject,
            text=rendered.text,
            html_body=rendered.html,
            chat_text=rendered.chat,
            now=now,
        )
    )
    audit(
        session,
        actor=actor,
        action="console.extension_notice_queued",
        now=now,
        ticket_id=ticket.id,
        detail={"outbox_id": item, "extended_due": new_due.isoformat()},
    )
    return new_due


def check_outcome(outcome: str, refusal_code: str | None) -> None:
    if outcome not in OUTCOMES:
        raise RefusedError("Bitte das Ergebnis aus dem Katalog wählen.")
    if refusal_code is not None and refusal_code not in REFUSAL_REASONS:
        raise RefusedError("Unbekannter Ablehnungsgrund.")
    if outcome == "refused" and refusal_code is None:
        raise RefusedError("Eine Ablehnung braucht den Grund mit Artikel aus dem Katalog (Art. 12 Abs. 4).")


def record_outcome(
    session: Session,
    ticket: Ticket,
    *,
    outcome: str,
    refusal_code: str | None,
    actor: str,
    reason: str,
    now: datetime,
) -> str:
    """Move an open ticket to ANSWERED (or REFUSED) with a catalogue outcome; returns its label."""
    check_outcome(outcome, refusal_code)
    if outcome == "refused":
        transition(
            session,
            ticket,
            TicketState.REFUSED,
            actor=actor,
            reason=reason,
            now=now,
            refusal_code=refusal_code,
        )
    else:
        transition(
            session,
            ticket,
            TicketState.ANSWERED,
            actor=actor,
            reason=reason,
            now=now,
            outcome=outcome,
            refusal_code=refusal_code,
        )
    return OUTCOMES[outcome]


def close(
    session: Session,
    ticket: Ticket,
    *,
    outcome: str | None,
    refusal_code: str | None,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    """Close with a documented result: an open ticket needs the outcome first (no silent closing)."""
    reason = reason.strip() or "Vorgang abgeschlossen"
    if ticket.state in OPEN_STATES:
        if not outcome:
            raise RefusedError("Bitte das Ergebnis aus dem Katalog wählen.")
        record_outcome(
            session, ticket, outcome=outcome, refusal_code=refusal_code, actor=actor, reason=reason, now=now
        )
    elif ticket.state not in (TicketState.ANSWERED.value, TicketState.REFUSED.value):
        raise RefusedError("Dieses Ticket ist bereits abgeschlossen.")
    transition(session, ticket, TicketState.CLOSED, actor=actor, reason=reason, now=now)
