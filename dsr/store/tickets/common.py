"""Shared pieces of the ticket services: errors, the Berlin calendar and argument checks."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from dsr.intents.rights import Right
from dsr.store.models import Ticket, TicketState
from dsr.store.tickets.catalogue import REFUSAL_REASONS, TRANSITIONS, RefusalReason

BERLIN = ZoneInfo("Europe/Berlin")


class TicketError(Exception):
    """A ticket operation that the rules do not allow; the message names the rule."""


class IllegalTransition(TicketError):  # noqa: N818 - name fixed by the contract
    """The state machine has no edge from the ticket's state to the requested one."""

    def __init__(self, ticket: Ticket, to: TicketState) -> None:
        current = TicketState(ticket.state)
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        super().__init__(
            f"ticket {ticket.reference}: illegal transition {current.value} -> {to.value} "
            f"(allowed from {current.value}: {allowed})"
        )
        self.current = current
        self.to = to


def berlin_date(moment: datetime) -> date:
    """The calendar date in Europe/Berlin, where the controllers' deadlines run."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: timestamps must be timezone-aware")
    return moment.astimezone(BERLIN).date()


def require_text(text: str | None, what: str) -> str:
    """`text` stripped; a TicketError naming `what` when it is empty (every decision needs a why)."""
    if text is None or not text.strip():
        raise TicketError(f"{what} is required and must not be empty")
    return text.strip()


def check_refusal(ticket: Ticket, code: str | None) -> RefusalReason:
    """The catalogue entry for `code`; it must exist and fit one of the ticket's rights."""
    if code is None or code not in REFUSAL_REASONS:
        known = ", ".join(sorted(REFUSAL_REASONS))
        raise TicketError(f"ticket {ticket.reference}: refusal needs a code from the catalogue ({known})")
    reason = REFUSAL_REASONS[code]
    if reason.rights and not reason.rights & {Right(r) for r in ticket.rights}:
        names = ", ".join(sorted(reason.rights))
        raise TicketError(
            f"ticket {ticket.reference}: refusal ground {code} ({reason.article}) applies only to {names}"
        )
    return reason
