"""The DPO's escalation queue: most urgent legal deadline first.

Filters travel in the query string because they are codes, never personal data.  The free-text
search may contain a name or an address, so it is a POST (the term never lands in a URL, a proxy
log or the browser history) and is audited without the term itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from starlette.responses import Response

from dsr.console.guard import Ctx
from dsr.console.labels import CHANNELS, IDENTITY, OPEN_STATES, REASONS
from dsr.console.queries import TicketRow, load_rows, sort_by_due
from dsr.intents.rights import Right
from dsr.store.models import DataSubject, Message, Ticket
from dsr.store.tickets.services import audit

SCOPES = {"escalated": "Eskalationen", "open": "alle offenen", "all": "alle"}
MAX_ROWS = 500


@dataclass(frozen=True, slots=True)
class QueueFilter:
    scope: str = "escalated"
    controller: str = ""
    reason: str = ""
    channel: str = ""
    identity: str = ""
    right: str = ""
    assignee: str = ""  # "", "me", "none"

    @classmethod
    def from_query(cls, ctx: Ctx) -> QueueFilter:
        q = ctx.request.query_params
        scope = q.get("scope", "escalated")

        def pick(name: str, allowed: set[str]) -> str:
            value = q.get(name, "")
            return value if value in allowed else ""

        return cls(
            scope=scope if scope in SCOPES else "escalated",
            controller=pick("controller", set(ctx.services.profiles)),
            reason=pick("reason", set(REASONS)),
            channel=pick("channel", set(CHANNELS)),
            identity=pick("identity", set(IDENTITY)),
            right=pick("right", {r.value for r in Right}),
            assignee=pick("assignee", {"me", "none"}),
        )

    def keep(self, row: TicketRow, username: str) -> bool:
        if self.scope == "escalated" and not (row.escalated and row.is_open):
            return False
        if self.scope == "open" and not row.is_open:
            return False
        return (
            (not self.controller or row.controller == self.controller)
            and (not self.reason or self.reason in row.reasons)
            and (not self.channel or row.channel == self.channel)
            and (not self.identity or row.identity_level == self.identity)
            and (not self.right or self.right in row.rights)
            and (self.assignee != "me" or row.assignee == username)
            and (self.assignee != "none" or not row.assignee)
        )


def _render(ctx: Ctx, rows: list[TicketRow], flt: QueueFilter, *, searched: bool, term: str = "") -> Response:
    return ctx.render(
        "queue.html",
        rows=rows[:MAX_ROWS],
        truncated=len(rows) > MAX_ROWS,
        flt=flt,
        scopes=SCOPES,
        reasons=REASONS,
        channels=CHANNELS,
        identities=IDENTITY,
        rights=[r.value for r in Right],
        controllers=sorted(ctx.services.profiles),
        searched=searched,
        term=term,
    )


def queue_page(ctx: Ctx) -> Response:
    flt = QueueFilter.from_query(ctx)
    states = OPEN_STATES if flt.scope != "all" else None
    with ctx.services.sessions() as session:
        rows = load_rows(session, scope=ctx.scope, today=ctx.today, states=states)
    rows = sort_by_due(r for r in rows if flt.keep(r, ctx.user.username))
    return _render(ctx, rows, flt, searched=False)


def search(ctx: Ctx) -> Response:
    """Find tickets by reference, sender address, name or subject line (all tickets, any state)."""
    term = ctx.field("q")[:200]
    flt = QueueFilter(scope="all")
    if len(term) < 3:
        ctx.flash("Bitte mindestens drei Zeichen eingeben.", "warn")
        return _render(ctx, [], flt, searched=True, term=term)
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    def like(column: Any) -> Any:
        return func.lower(column).like(f"%{escaped}%", escape="\\")

    with ctx.services.sessions.begin() as session:
        ids = set(session.scalars(select(Ticket.id).where(like(Ticket.reference))))
        senders = select(Message.ticket_id).where(or_(like(Message.sender), like(Message.subject_line)))
        ids |= {i for i in session.scalars(senders) if i is not None}
        subjects = (
            select(Ticket.id)
            .join(DataSubject, Ticket.subject_id == DataSubject.id)
            .where(or_(like(DataSubject.name), like(DataSubject.email), like(DataSubject.customer_number)))
        )
        ids |= set(session.scalars(subjects))
        found = load_rows(session, scope=ctx.scope, today=ctx.today, ids=sorted(ids)) if ids else []
        rows = sort_by_due(found)
        audit(session, actor=ctx.actor, action="console.search", now=ctx.now, detail={"hits": len(rows)})
    return _render(ctx, rows, flt, searched=True, term=term)
