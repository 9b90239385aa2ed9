"""Messages the service set aside without a ticket, and turning one into a ticket.

The pipeline ignores a message only on positive evidence that it is no privacy request (a routine
reading such as an invoice or a newsletter, or automatic mail caught by the loop guard); the DPO
sees every such message here with its reason, can search them, and can open a ticket for one that
was a request after all.  The ticket keeps the message's original receipt time and channel: the
month of Art. 12(3) GDPR ran from receipt, not from the DPO's decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from dsr.console.queries import ControllerScope
from dsr.deadlines import breach_notification_due
from dsr.intents.rights import Right
from dsr.store.audit import audit
from dsr.store.models import Direction, Message, Ticket, TicketState
from dsr.store.tickets.common import TicketError, require_text
from dsr.store.tickets.services import escalate, open_ticket, transition

NOT_A_REQUEST = "not_a_request"
LOOP_GUARD = "loop_guard:"
UNMATCHED_BOUNCE = "bounce_unmatched"
CONVERTED_ACTION = "ignored_message_converted"
MAX_ROWS = 500
MIN_TERM = 3

# The routine readings of `dsr.intents.reasons.ROUTINE_CODES` and the loop guard's reasons, as the
# DPO reads them; unknown codes are shown as they are.
REASONS_DE: dict[str, str] = {
    "order": "Bestellung, Lieferung oder Termin",
    "invoice": "Rechnung, Zahlung oder Vertrag",
    "support": "Support- oder Serviceanfrage",
    "application": "Bewerbung",
    "newsletter": "Newsletter oder Rundschreiben erhalten",
    "spam": "Spam oder unverlangtes Angebot",
    "auto_reply": "Automatische Nachricht",
    "chat_noise": "Chat-Nachricht ohne Anliegen (Gruß, Dank, Test)",
    "business": "Geschäftskorrespondenz",
    "closed": "Dank nach erledigter Anfrage",
    UNMATCHED_BOUNCE: "Unzustellbarkeitsmeldung ohne passenden Vorgang",
    "auto_submitted": "Automatische E-Mail (Auto-Submitted)",
    "precedence_bulk": "Massen-E-Mail (Precedence: bulk)",
    "precedence_junk": "Massen-E-Mail (Precedence: junk)",
    "list_id": "Verteiler- oder Newsletter-E-Mail (List-Id)",
    "own_address": "Eigene Absenderadresse",
    "chat_rate_limit": "Chat-Nachricht über der Nachrichtenbegrenzung (ohne automatische Antwort)",
}


@dataclass(frozen=True, slots=True)
class IgnoredRow:
    id: int
    controller: str
    channel: str
    received_at: datetime
    sender: str
    subject: str
    preview: str
    reason: str  # code: the routine reading, the loop guard's reason, "bounce_unmatched"
    ticket_id: int | None  # set once the DPO opened a ticket for it


def reason_code(message: Message) -> str:
    if message.disposition.startswith(LOOP_GUARD):
        return message.disposition[len(LOOP_GUARD):]
    if message.disposition == NOT_A_REQUEST:
        return message.disposition_reason or NOT_A_REQUEST
    return message.disposition


def reason_label(code: str) -> str:
    return REASONS_DE.get(code, code.replace("_", " "))


def _ignored() -> list[ColumnElement[bool]]:
    return [
        Message.direction == Direction.INBOUND.value,
        or_(Message.disposition == NOT_A_REQUEST, Message.disposition.startswith(LOOP_GUARD),
            Message.disposition == UNMATCHED_BOUNCE),
    ]


def ignored_messages(session: Session, *, scope: ControllerScope, term: str = "", reason: str = "",
                     controllers: Sequence[str] = (), include_converted: bool = False,
                     limit: int = MAX_ROWS) -> list[IgnoredRow]:
    """Set-aside inbound messages of the controllers in `scope`, newest first; `term` searches
    sender, subject and text."""
    query = select(Message).where(*_ignored(), scope.where(Message.controller))
    if not include_converted:
        query = query.where(Message.ticket_id.is_(None))
    if controllers:
        query = query.where(Message.controller.in_(list(controllers)))
    if term:
        pattern = f"%{_escape(term)}%"
        query = query.where(or_(Message.sender.ilike(pattern, escape="\\"),
                                Message.subject_line.ilike(pattern, escape="\\"),
                                Message.body_text.ilike(pattern, escape="\\")))
    if reason:
        routine = and_(Message.disposition == NOT_A_REQUEST, Message.disposition_reason == reason)
        query = query.where(or_(Message.disposition == reason, Message.disposition == LOOP_GUARD + reason,
                                routine))
    rows = session.scalars(query.order_by(Message.received_at.desc(), Message.id.desc()).limit(limit))
    return [_row(m) for m in rows]


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _row(message: Message) -> IgnoredRow:
    text = " ".join(message.body_text.split())
    return IgnoredRow(id=message.id, controller=message.controller, channel=message.channel,
                      received_at=message.received_at, sender=message.sender, subject=message.subject_line,
                      preview=text[:160] + ("…" if len(text) > 160 else ""), reason=reason_code(message),
                      ticket_id=message.ticket_id)


def ignored_message(session: Session, scope: ControllerScope, message_id: int) -> Message | None:
    """The set-aside inbound message `message_id`, or None if there is none, it is no such message
    or it belongs to a controller outside `scope`."""
    return session.scalar(select(Message).where(Message.id == message_id, *_ignored(),
                                                scope.where(Message.controller)))


def reply_address(message: Message) -> str:
    """Where answers go: the e-mail sender, or the chat ("tg:<chat>:<message>") for Telegram."""
    if message.channel == "telegram":
        parts = message.dedupe_key.split(":")
        if len(parts) >= 3 and parts[0] == "tg" and parts[1].lstrip("-").isdigit():
            return parts[1]
    return message.sender


def convert_to_ticket(session: Session, message: Message, *, rights: Sequence[Right], reason: str, land: str,
                      actor: str, now: datetime, breach: bool = False,
                      internal_target_working_days: int = 10) -> Ticket:
    """Open a ticket for a set-aside message with the rights the DPO chose; written, not committed.

    The ticket's receipt time and channel are the message's own, so the deadline is the one that
    has been running since it arrived; `breach` starts the 72-hour clock of Art. 33 from receipt
    as well.  Audited with the message id, the reason it was set aside and the DPO's reason.
    """
    reason = require_text(reason, "a reason for turning the message into a ticket")
    if message.ticket_id is not None:
        raise TicketError("this message already belongs to a ticket")
    chosen = [Right(r) for r in rights]
    if not chosen:
        raise TicketError("at least one right (or 'sonstiges Anliegen') is required")
    ignored_reason = reason_code(message)
    ticket = open_ticket(
        session, controller=message.controller, land=land, channel=message.channel,
        received_at=message.received_at, rights=chosen, now=now, reply_to=reply_address(message),
        classification={"converted_from_message": message.id, "ignored_reason": ignored_reason},
        escalation_reasons=["breach"] if breach else [], actor=actor,
        internal_target_working_days=internal_target_working_days,
        breach_due_at=breach_notification_due(message.received_at) if breach else None)
    message.ticket_id = ticket.id
    audit(session, actor=actor, action=CONVERTED_ACTION, now=now, ticket_id=ticket.id, reason=reason,
          detail={"message_id": message.id, "ignored_reason": ignored_reason, "rights": ticket.rights,
                  "received_at": message.received_at.isoformat(), "breach": breach})
    if breach:
        escalate(session, ticket, ["breach"], actor=actor, now=now,
                 reason="Datenpanne gemeldet: Meldung binnen 72 Stunden ab Eingang prüfen (Art. 33 DSGVO)")
    else:
        transition(session, ticket, TicketState.IN_PROGRESS, actor=actor, now=now,
                   reason="Vom Datenschutz aus einer zurückgestellten Nachricht angelegt")
    return ticket
