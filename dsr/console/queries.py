"""Read-side helpers shared by the queue, the board, the API and the calendar feed.

`TicketRow` is ticket *metadata* only (reference, rights, state, dates, reason codes): no names,
addresses or bodies, so managers and the calendar may see it (need-to-know, Art. 5(1)(c)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.console.labels import BERLIN, OPEN_STATES
from dsr.store.models import Ticket


def effective_due(ticket: Ticket) -> date | None:
    """The legal due date that applies now: the extended one once the DPO extended (Art. 12(3))."""
    return ticket.extended_due_date or ticket.due_date


@dataclass(frozen=True, slots=True)
class TicketRow:
    id: int
    reference: str
    controller: str
    channel: str
    rights: tuple[str, ...]
    state: str
    received: date
    due: date | None
    original_due: date | None
    internal_target: date | None
    extended: bool
    escalated: bool
    reasons: tuple[str, ...]
    identity_level: str
    assignee: str | None
    outcome: str | None
    closed: date | None
    age_days: int
    days_left: int | None

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0 and self.state in OPEN_STATES

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def as_json(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "controller": self.controller,
            "channel": self.channel,
            "rights": list(self.rights),
            "state": self.state,
            "received_date": self.received.isoformat(),
            "due_date": self.due.isoformat() if self.due else None,
            "original_due_date": self.original_due.isoformat() if self.original_due else None,
            "internal_target_date": self.internal_target.isoformat() if self.internal_target else None,
            "extended": self.extended,
            "escalated": self.escalated,
            "escalation_reasons": list(self.reasons),
            "identity_level": self.identity_level,
            "assignee": self.assignee,
            "outcome": self.outcome,
            "closed_date": self.closed.isoformat() if self.closed else None,
            "days_left": self.days_left,
            "overdue": self.overdue,
        }


def to_row(ticket: Ticket, today: date) -> TicketRow:
    received = ticket.received_at.astimezone(BERLIN).date()
    due = effective_due(ticket)
    return TicketRow(
        id=ticket.id,
        reference=ticket.reference,
        controller=ticket.controller,
        channel=ticket.channel,
        rights=tuple(ticket.rights or ()),
        state=ticket.state,
        received=received,
        due=due,
        original_due=ticket.due_date,
        internal_target=ticket.internal_target_date,
        extended=ticket.extended_due_date is not None,
        escalated=bool(ticket.escalated) or ticket.state == "escalated",
        reasons=tuple(ticket.escalation_reasons or ()),
        identity_level=ticket.identity_level,
        assignee=ticket.assignee,
        outcome=ticket.outcome,
        closed=ticket.closed_at.astimezone(BERLIN).date() if ticket.closed_at else None,
        age_days=(today - received).days,
        days_left=(due - today).days if due else None,
    )


def sort_by_due(rows: Iterable[TicketRow]) -> list[TicketRow]:
    """Most urgent first: legal due date, then receipt; tickets without a deadline last."""
    return sorted(rows, key=lambda r: (r.due or date.max, r.received, r.reference))


def load_rows(
    session: Session,
    *,
    today: date,
    states: Sequence[str] | None = None,
    controllers: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
) -> list[TicketRow]:
    query = select(Ticket)
    if ids is not None:
        query = query.where(Ticket.id.in_(list(ids)))
    if states is not None:
        query = query.where(Ticket.state.in_(list(states)))
    if controllers is not None:
        query = query.where(Ticket.controller.in_(list(controllers)))
    return [to_row(t, today) for t in session.scalars(query)]


def open_rows(session: Session, *, today: date, controllers: Sequence[str] | None = None) -> list[TicketRow]:
    return sort_by_due(load_rows(session, today=today, states=OPEN_STATES, controllers=controllers))
