"""Read-side helpers shared by the queue, the board, the API and the calendar feed.

`TicketRow` is ticket *metadata* only (reference, rights, state, dates, reason codes): no names,
addresses or bodies, so managers and the calendar may see it (need-to-know, Art. 5(1)(c)).

Every read is scoped to the caller's controllers (`ControllerScope`): group companies are separate
legal entities, and a DPO of one must not see another's requests.  The helpers here take the scope
as a required argument, so a new view cannot forget it; a ticket outside the scope does not exist
for the caller (404, never 403, so references cannot be probed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from dsr.console.labels import BERLIN, OPEN_STATES
from dsr.intents.rights import RIGHTS, Right
from dsr.store.models import QuarantinedMessage, Ticket

ALL_CONTROLLERS = "*"  # granted explicitly (admins, a group-wide DPO); never implied by a role


@dataclass(frozen=True, slots=True)
class ControllerScope:
    """The controllers a console user or API token may see; `None` = all of them."""

    controllers: frozenset[str] | None

    @classmethod
    def granted(cls, controllers: Iterable[str]) -> ControllerScope:
        """From the stored grant (`User.controllers`): "*" means all, nothing means none."""
        names = frozenset(controllers)
        return cls(None if ALL_CONTROLLERS in names else names)

    @classmethod
    def only(cls, controller: str) -> ControllerScope:
        return cls(frozenset({controller}))

    @classmethod
    def nothing(cls) -> ControllerScope:
        return cls(frozenset())

    def allows(self, controller: str) -> bool:
        return self.controllers is None or controller in self.controllers

    def where(self, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        """A WHERE clause limiting `column` (a controller column) to the scope."""
        if self.controllers is None:
            return true()
        if not self.controllers:
            return false()
        return column.in_(sorted(self.controllers))

    def pick(self, controllers: Iterable[str]) -> list[str]:
        """Those of `controllers` in the scope, in their order."""
        return [c for c in controllers if self.allows(c)]


def scoped_ticket(session: Session, scope: ControllerScope, *, ticket_id: int | None = None,
                  reference: str | None = None) -> Ticket | None:
    """The ticket by id or reference, or None when it does not exist or is outside `scope`."""
    query = select(Ticket).where(scope.where(Ticket.controller))
    if ticket_id is not None:
        query = query.where(Ticket.id == ticket_id)
    elif reference is not None:
        query = query.where(Ticket.reference == reference)
    else:
        return None
    return session.scalar(query)


def scoped_quarantine(session: Session, scope: ControllerScope, item_id: int) -> QuarantinedMessage | None:
    """A quarantine entry, or None when it does not exist or belongs to a controller outside `scope`.

    Input for an unknown controller is visible only with a grant for all controllers.
    """
    return session.scalar(select(QuarantinedMessage).where(
        QuarantinedMessage.id == item_id, scope.where(QuarantinedMessage.controller)))


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

    @property
    def statutory(self) -> bool:
        """A request with the one-month deadline of Art. 12(3); not a marketing objection or consent
        withdrawal, which take effect on receipt and are confirmed automatically."""
        known = {r.value for r in Right}
        return any(RIGHTS[Right(code)].statutory_deadline for code in self.rights if code in known)

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
    scope: ControllerScope,
    today: date,
    states: Sequence[str] | None = None,
    controllers: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
) -> list[TicketRow]:
    query = select(Ticket).where(scope.where(Ticket.controller))
    if ids is not None:
        query = query.where(Ticket.id.in_(list(ids)))
    if states is not None:
        query = query.where(Ticket.state.in_(list(states)))
    if controllers is not None:
        query = query.where(Ticket.controller.in_(list(controllers)))
    return [to_row(t, today) for t in session.scalars(query)]


def open_rows(session: Session, *, scope: ControllerScope, today: date,
              controllers: Sequence[str] | None = None) -> list[TicketRow]:
    rows = load_rows(session, scope=scope, today=today, states=OPEN_STATES, controllers=controllers)
    return sort_by_due(rows)
