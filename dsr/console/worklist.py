"""The DPO's work list: which tickets need someone now, with the person and what they wrote.

Unlike `queries.TicketRow` (metadata a manager may see), a `WorkRow` carries the person's name
and the first line of their request, so it is built for DPO pages only.  All reads go through
`load_work_rows` and `search_ticket_ids`, the one place where console queries for DPO lists are
made (tenant scoping applies here).

Search folds German spellings on both sides ("Mößner", "Moessner", "Mossner" and "MÖSSNER" are
the same word, `dsr.store.search.fold`).  Messages (sender, display name, subject, body) are
searched through the database's full-text index (`dsr.store.search`: PostgreSQL German full text
and trigram, SQLite FTS5); tickets and people (reference, addresses, name, customer number,
postal code, phone) through the same fold in a LIKE over their small tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dsr.console.queries import ControllerScope, TicketRow, load_rows
from dsr.pipeline.forwarding import FORWARDED, ProcessorRecord
from dsr.store.models import (
    AuditEvent,
    DataSubject,
    Direction,
    FulfilmentCase,
    FulfilmentState,
    Message,
    Ticket,
    TicketState,
)
from dsr.store.search import folded, like_pattern, matching_ticket_ids

SUMMARY_CHARS = 90
# States where the next step is ours; "awaiting_identity" and "paused" wait for the person and
# come back into the work list when their deadline is near.
ACTION_STATES = frozenset({"new", "escalated", "in_progress", "extended"})
DUE_SOON_DAYS = 7
# Audited by the Telegram conversation when a chat goes over its message limit: the messages after
# it got no automatic answer, the chat was told the data protection team reads them and answers.
CHAT_RATE_LIMITED = "telegram_rate_limited"


def needs_action(row: TicketRow) -> bool:
    """Default view: the DPO decides, compiles or the deadline is near (a fulfilment in review is
    added by the caller from `WorkRow.review`)."""
    if not row.is_open:
        return False
    if row.state in ACTION_STATES or row.escalated:
        return True
    return row.days_left is not None and row.days_left <= DUE_SOON_DAYS


@dataclass(frozen=True, slots=True)
class Related:
    id: int
    reference: str
    channel: str


@dataclass(frozen=True, slots=True)
class WorkRow:
    row: TicketRow
    person: str
    summary: str
    related: tuple[Related, ...]
    review: bool = False  # the fulfilment found everything and waits for the DPO's review
    # Forwarded to a client (processor mode) whose confirmation is still missing on its follow-up
    # date: answered for us, but the DPO must ask the client now (Art. 28(3)(e)).
    follow_up: date | None = None
    # Chat messages over the message limit, kept without an automatic answer, and no DPO action on
    # the ticket since (a view does not count): the chat was promised that the team answers.
    held_chat: bool = False


def _first_line(subject: str, body: str) -> str:
    text = subject.strip()
    if not text or text.startswith("[DSR-"):
        text = next((line.strip() for line in body.splitlines() if line.strip()), text)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1].rstrip() + "…"


def _person_key(ticket: Ticket) -> tuple[str, str] | None:
    if ticket.subject_id is not None:
        return ("subject", str(ticket.subject_id))
    if ticket.reply_to:
        return ("address", ticket.reply_to.strip().lower())
    return None


def load_work_rows(
    session: Session,
    *,
    scope: ControllerScope,
    today: date,
    states: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
) -> list[WorkRow]:
    """Rows of the tickets in `scope` (the caller's controllers); related tickets from that scope only."""
    rows = load_rows(session, scope=scope, today=today, states=states, ids=ids)
    if not rows:
        return []
    wanted = [r.id for r in rows]
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(wanted)))}
    names = {
        ticket_id: name
        for ticket_id, name in session.execute(
            select(Ticket.id, DataSubject.name)
            .join(DataSubject, Ticket.subject_id == DataSubject.id)
            .where(Ticket.id.in_(wanted))
        )
    }
    first: dict[int, tuple[str, str, str]] = {}
    inbound = (
        select(Message.ticket_id, Message.sender, Message.subject_line, Message.body_text)
        .where(Message.ticket_id.in_(wanted), Message.direction == Direction.INBOUND.value)
        .order_by(Message.received_at, Message.id)
    )
    for ticket_id, sender, subject, body in session.execute(inbound):
        if ticket_id is not None and ticket_id not in first:
            first[ticket_id] = (sender, subject, body)
    related = _related(session, scope, tickets.values())
    in_review = set(session.scalars(select(FulfilmentCase.ticket_id).where(
        FulfilmentCase.ticket_id.in_(wanted), FulfilmentCase.state == FulfilmentState.REVIEW.value)))
    held = _held_chat(session, wanted)
    result = []
    for row in rows:
        sender, subject, body = first.get(row.id, ("", "", ""))
        ticket = tickets[row.id]
        person = names.get(row.id) or _sender_label(sender or ticket.reply_to or "")
        key = _person_key(ticket)
        others = tuple(r for r in related.get(key, ()) if r.id != row.id) if key else ()
        result.append(WorkRow(row=row, person=person, summary=_first_line(subject, body), related=others,
                              review=row.id in in_review and row.is_open,
                              follow_up=_follow_up_due(ticket, today),
                              held_chat=row.id in held and row.is_open))
    return result


def _held_chat(session: Session, ticket_ids: Sequence[int]) -> set[int]:
    """Tickets whose chat went over the message limit after the DPO last acted on them."""
    limited: dict[int | None, int] = {ticket: last for ticket, last in session.execute(
        select(AuditEvent.ticket_id, func.max(AuditEvent.id))
        .where(AuditEvent.ticket_id.in_(list(ticket_ids)), AuditEvent.action == CHAT_RATE_LIMITED)
        .group_by(AuditEvent.ticket_id))}
    if not limited:
        return set()
    acted: dict[int | None, int] = {ticket: last for ticket, last in session.execute(
        select(AuditEvent.ticket_id, func.max(AuditEvent.id))
        .where(AuditEvent.ticket_id.in_(list(limited)), AuditEvent.actor.like("console:%"),
               AuditEvent.action.not_like("%viewed"))
        .group_by(AuditEvent.ticket_id))}
    return {t for t, last in limited.items() if t is not None and last > acted.get(t, 0)}


def _follow_up_due(ticket: Ticket, today: date) -> date | None:
    """The follow-up date of a forwarding still unconfirmed once it is reached, else None."""
    if ticket.state != TicketState.ANSWERED.value or ticket.outcome != FORWARDED:
        return None
    record = ProcessorRecord.of(ticket)
    if not record.awaiting_confirmation or record.follow_up is None or record.follow_up > today:
        return None
    return record.follow_up


def follow_up_due_ids(session: Session, *, scope: ControllerScope, today: date) -> list[int]:
    """Tickets forwarded to a client whose follow-up date is reached without its confirmation.

    They are answered for us (our clock stopped), so they are not open; the default work list
    adds them on that date, when the DPO must ask the client (the scheduler's reminder is the
    mail of the same fact)."""
    forwarded = session.scalars(select(Ticket).where(
        scope.where(Ticket.controller), Ticket.state == TicketState.ANSWERED.value,
        Ticket.outcome == FORWARDED))
    return sorted(t.id for t in forwarded if _follow_up_due(t, today) is not None)


def _sender_label(sender: str) -> str:
    if sender.startswith("telegram:"):
        return "Telegram-Nutzer"
    return sender or "unbekannt"


def _related(session: Session, scope: ControllerScope, tickets: Any) -> dict[tuple[str, str], list[Related]]:
    """Every ticket of the same person: same data subject, or the same reply address."""
    subject_ids = {t.subject_id for t in tickets if t.subject_id is not None}
    addresses = {t.reply_to.strip().lower() for t in tickets if t.subject_id is None and t.reply_to}
    if not subject_ids and not addresses:
        return {}
    conditions = []
    if subject_ids:
        conditions.append(Ticket.subject_id.in_(subject_ids))
    if addresses:
        conditions.append(func.lower(Ticket.reply_to).in_(addresses))
    query = (
        select(Ticket.id, Ticket.reference, Ticket.channel, Ticket.subject_id, Ticket.reply_to)
        .where(or_(*conditions), scope.where(Ticket.controller))
        .order_by(Ticket.received_at)
    )
    grouped: dict[tuple[str, str], list[Related]] = defaultdict(list)
    for ticket_id, reference, channel, subject_id, reply_to in session.execute(query):
        item = Related(id=ticket_id, reference=reference, channel=channel)
        if subject_id is not None:
            grouped[("subject", str(subject_id))].append(item)
        elif reply_to:
            grouped[("address", reply_to.strip().lower())].append(item)
    return grouped


def search_ticket_ids(session: Session, scope: ControllerScope, term: str) -> set[int]:
    """Tickets in `scope` whose reference, person (name, addresses, customer number, postal code),
    sender, display name, subject lines or message texts contain `term`, compared in folded form."""
    pattern = like_pattern(term)

    def like(column: Any) -> Any:
        return folded(column).like(pattern, escape="\\")

    in_scope = scope.where(Ticket.controller)
    ids = set(
        session.scalars(select(Ticket.id).where(in_scope, or_(like(Ticket.reference), like(Ticket.reply_to))))
    )
    ids |= matching_ticket_ids(session, term, scope.where(Message.controller))
    people = (
        select(Ticket.id)
        .join(DataSubject, Ticket.subject_id == DataSubject.id)
        .where(
            in_scope,
            or_(
                like(DataSubject.name),
                like(DataSubject.email),
                like(DataSubject.customer_number),
                like(DataSubject.postal_code),
                like(DataSubject.phone),
            )
        )
    )
    ids |= set(session.scalars(people))
    return ids
