"""Read-side helpers shared by the queue, the board, the API and the calendar feed.

`TicketRow` is ticket *metadata* only (reference, rights, state, dates, reason codes): no names,
addresses or bodies, so managers and the calendar may see it (need-to-know, Art. 5(1)(c)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

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
    breach_due_at: datetime | None = None  # reported data breach: Art. 33 notification due (72 h)
    stated_due: date | None = None  # the reply deadline an authority's letter names

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
            "breach_due_at": self.breach_due_at.isoformat() if self.breach_due_at else None,
            "stated_due_date": self.stated_due.isoformat() if self.stated_due else None,
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
        breach_due_at=ticket.breach_due_at,
        stated_due=ticket.stated_due_date,
    )


def sort_by_due(rows: Iterable[TicketRow]) -> list[TicketRow]:
    """Most urgent first: open data-breach reports (72 hours), then the earlier of the legal due date
    and a date an authority set, then receipt; tickets without a deadline last."""
    def key(r: TicketRow) -> tuple[int, date, date, str]:
        breach = r.breach_due_at is not None and r.is_open
        due = min((d for d in (r.due, r.stated_due) if d is not None), default=date.max)
        return (0 if breach else 1, due, r.received, r.reference)

    return sorted(rows, key=key)


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
