"""The DPO's work list: by default every open ticket where the next step is ours.

Filters, sorting and paging travel in the query string because they are codes, never personal
data; a saved view stores that query string under a name.  The free-text search may contain a
name or an address, so it is a POST (the term never lands in a URL, a proxy log or the browser
history) and is audited without the term itself.  Bulk actions (assign, close with a result and
a reason) are one POST, one transaction, and every ticket gets its own audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import urlencode

from sqlalchemy import delete, func, select
from starlette.responses import Response

from dsr.console.guard import Ctx
from dsr.console.labels import CHANNELS, IDENTITY, OPEN_STATES, REASONS, STATES, counted
from dsr.console.operations import RefusedError, check_outcome, close, is_closed, refuse_closed
from dsr.console.views.closed import CLOSED_REFUSAL
from dsr.console.worklist import (
    WorkRow,
    follow_up_due_ids,
    load_work_rows,
    needs_action,
    search_ticket_ids,
)
from dsr.intents.rights import Right
from dsr.store.models import SavedView, Ticket, User
from dsr.store.tickets.services import OUTCOMES, REFUSAL_REASONS, TicketError, assign, audit

SCOPES = {
    "work": "Zu erledigen",
    "review": "Erfüllung prüfen",
    "escalated": "Eskalationen",
    "open": "alle offenen",
    "all": "alle",
}
SORTS = {
    "due": "Frist",
    "received": "Eingang",
    "person": "Person",
    "reference": "Aktenzeichen",
    "state": "Status",
    "assignee": "Zuständig",
}
PAGE_SIZE = 50
MAX_SAVED_VIEWS = 20


@dataclass(frozen=True, slots=True)
class QueueFilter:
    scope: str = "work"
    controller: str = ""
    reason: str = ""
    channel: str = ""
    identity: str = ""
    right: str = ""
    state: str = ""
    assignee: str = ""  # "", "me", "none"
    sort: str = "due"
    descending: bool = False
    page: int = 1

    @classmethod
    def from_query(cls, ctx: Ctx) -> QueueFilter:
        q = ctx.request.query_params

        def pick(name: str, allowed: set[str] | dict[str, str]) -> str:
            value = q.get(name, "")
            return value if value in allowed else ""

        try:
            page = max(1, int(q.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            scope=pick("scope", SCOPES) or "work",
            controller=pick("controller", set(ctx.scope.pick(ctx.services.profiles))),
            reason=pick("reason", REASONS),
            channel=pick("channel", CHANNELS),
            identity=pick("identity", IDENTITY),
            right=pick("right", {r.value for r in Right}),
            state=pick("state", STATES),
            assignee=pick("assignee", {"me", "none"}),
            sort=pick("sort", SORTS) or "due",
            descending=q.get("dir") == "desc",
            page=page,
        )

    def query(self, **changes: object) -> str:
        """The query string of this view with `changes` (defaults left out, so URLs stay short)."""
        flt = replace(self, **changes)  # type: ignore[arg-type]
        pairs = {
            "scope": flt.scope if flt.scope != "work" else "",
            "controller": flt.controller,
            "reason": flt.reason,
            "channel": flt.channel,
            "identity": flt.identity,
            "right": flt.right,
            "state": flt.state,
            "assignee": flt.assignee,
            "sort": flt.sort if flt.sort != "due" else "",
            "dir": "desc" if flt.descending else "",
            "page": str(flt.page) if flt.page > 1 else "",
        }
        return urlencode({k: v for k, v in pairs.items() if v})

    def sort_link(self, column: str) -> str:
        descending = not self.descending if self.sort == column else False
        return "/queue?" + self.query(sort=column, descending=descending, page=1)

    def keep(self, work: WorkRow, username: str) -> bool:
        row = work.row
        waiting = work.review or work.follow_up or work.held_chat
        if self.scope == "work" and not (needs_action(row) or waiting):
            return False
        if self.scope == "review" and not work.review:
            return False
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
            and (not self.state or row.state == self.state)
            and (self.assignee != "me" or row.assignee == username)
            and (self.assignee != "none" or not row.assignee)
        )


def _sort_key(column: str, work: WorkRow) -> tuple[object, ...]:
    row = work.row
    if column == "received":
        return (row.received, row.reference)
    if column == "person":
        return (work.person.casefold(), row.due or date.max, row.reference)
    if column == "reference":
        return (row.reference,)
    if column == "state":
        return (STATES.get(row.state, row.state), row.due or date.max, row.reference)
    if column == "assignee":
        return (row.assignee or "\uffff", row.due or date.max, row.reference)
    # Most urgent first, as everywhere: open data-breach reports (72 hours), then the earlier of the
    # legal due date and a date an authority's letter set.
    breach = row.breach_due_at is not None and row.is_open
    due = min((d for d in (row.due, row.stated_due) if d is not None), default=date.max)
    return (0 if breach else 1, due, row.received, row.reference)


def ordered(rows: list[WorkRow], flt: QueueFilter) -> list[WorkRow]:
    return sorted(rows, key=lambda w: _sort_key(flt.sort, w), reverse=flt.descending)


def _saved_views(ctx: Ctx) -> list[SavedView]:
    with ctx.services.sessions() as session:
        return list(
            session.scalars(
                select(SavedView).where(SavedView.username == ctx.user.username).order_by(SavedView.name)
            )
        )


def _dpos(ctx: Ctx) -> list[str]:
    with ctx.services.sessions() as session:
        return list(
            session.scalars(
                select(User.username)
                .where(User.role == "dpo", User.disabled.is_(False))
                .order_by(User.username)
            )
        )


def _render(ctx: Ctx, rows: list[WorkRow], flt: QueueFilter, *, searched: bool, term: str = "") -> Response:
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(flt.page, pages)
    flt = replace(flt, page=page)
    return ctx.render(
        "queue.html",
        rows=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(rows),
        pages=pages,
        flt=flt,
        scopes=SCOPES,
        sorts=SORTS,
        reasons=REASONS,
        channels=CHANNELS,
        identities=IDENTITY,
        states=STATES,
        rights=[r.value for r in Right],
        controllers=ctx.scope.pick(sorted(ctx.services.profiles)),
        searched=searched,
        term=term,
        saved=_saved_views(ctx),
        dpos=_dpos(ctx),
        outcomes=OUTCOMES,
        refusal_reasons=REFUSAL_REASONS,
        current_query=flt.query(page=1),
    )


def queue_page(ctx: Ctx) -> Response:
    flt = QueueFilter.from_query(ctx)
    states = OPEN_STATES if flt.scope != "all" else None
    with ctx.services.sessions() as session:
        rows = load_work_rows(session, scope=ctx.scope, today=ctx.today, states=states)
        if flt.scope == "work":
            # Forwarded to a client and not confirmed by its follow-up date: the DPO asks it now.
            due = follow_up_due_ids(session, scope=ctx.scope, today=ctx.today)
            rows += load_work_rows(session, scope=ctx.scope, today=ctx.today, ids=due) if due else []
    rows = ordered([r for r in rows if flt.keep(r, ctx.user.username)], flt)
    return _render(ctx, rows, flt, searched=False)


def search(ctx: Ctx) -> Response:
    """Find tickets by reference, person, address, subject line or message text (any state)."""
    term = ctx.field("q")[:200]
    flt = QueueFilter(scope="all")
    if len(term) < 3:
        ctx.flash("Bitte mindestens drei Zeichen eingeben.", "warn")
        return _render(ctx, [], flt, searched=True, term=term)
    with ctx.services.sessions.begin() as session:
        ids = search_ticket_ids(session, ctx.scope, term)
        found = load_work_rows(session, scope=ctx.scope, today=ctx.today, ids=sorted(ids)) if ids else []
        rows = ordered(found, flt)
        audit(session, actor=ctx.actor, action="console.search", now=ctx.now, detail={"hits": len(rows)})
    return _render(ctx, rows, flt, searched=True, term=term)


def save_view(ctx: Ctx) -> Response:
    name = ctx.field("name")[:80]
    query = ctx.field("query")[:500]
    if not name:
        return ctx.redirect(f"/queue?{query}", "Bitte einen Namen für die Ansicht angeben.", "error")
    with ctx.services.sessions.begin() as session:
        existing = session.scalar(
            select(SavedView).where(SavedView.username == ctx.user.username, SavedView.name == name)
        )
        if existing is not None:
            existing.query = query
        else:
            count = session.scalar(
                select(func.count()).select_from(SavedView).where(SavedView.username == ctx.user.username)
            )
            if (count or 0) >= MAX_SAVED_VIEWS:
                return ctx.redirect(f"/queue?{query}", "Höchstens 20 gespeicherte Ansichten.", "error")
            session.add(SavedView(username=ctx.user.username, name=name, query=query, created_at=ctx.now))
    return ctx.redirect(f"/queue?{query}", f"Ansicht „{name}“ gespeichert.")


def delete_view(ctx: Ctx) -> Response:
    view_id = ctx.path_int("view_id")
    with ctx.services.sessions.begin() as session:
        session.execute(
            delete(SavedView).where(SavedView.id == view_id, SavedView.username == ctx.user.username)
        )
    return ctx.redirect("/queue", "Ansicht gelöscht.")


def bulk(ctx: Ctx) -> Response:
    """Assign or close several tickets at once; each ticket is checked and audited on its own."""
    back = "/queue?" + ctx.field("query")[:500]
    ids = sorted({int(v) for v in ctx.fields("ids") if v.isdigit()})
    action = ctx.field("action")
    if not ids:
        return ctx.redirect(back, "Bitte mindestens eine Anfrage auswählen.", "error")
    reason = ctx.field("reason")
    if action == "assign":
        name = ctx.field("assignee")
        if name and name not in _dpos(ctx):
            return ctx.redirect(back, "Zuweisen nur an ein aktives DSB-Konto.", "error")
        with ctx.services.sessions.begin() as session:
            in_scope = ctx.scope.where(Ticket.controller)
            tickets = list(session.scalars(select(Ticket).where(Ticket.id.in_(ids), in_scope)
                                           .order_by(Ticket.id)))
            closed = [t for t in tickets if is_closed(t)]
            if closed:
                # A closed ticket is read-only until "Wieder öffnen": nothing is assigned (as a bulk
                # close changes nothing when one ticket refuses), each refusal is audited.
                for ticket in closed:
                    refuse_closed(session, ticket, actor=ctx.actor, action="queue/bulk assign",
                                  audit_action="console.action_refused_closed", reason=CLOSED_REFUSAL,
                                  now=ctx.now)
                refs = ", ".join(t.reference for t in closed)
                verb = "ist" if len(closed) == 1 else "sind"
                return ctx.redirect(back, f"Nichts zugewiesen: {refs} {verb} abgeschlossen und nur lesbar "
                                          "(zuerst „Wieder öffnen“).", "error")
            # Count what was done, not what was ticked: a ticket already with that assignee is left
            # alone (no write, no audit row), an id outside the user's scope or gone is not found.
            changed = [t for t in tickets if t.assignee != (name or None)]
            for ticket in changed:
                assign(session, ticket, name or None, actor=ctx.actor, now=ctx.now)
        done = counted(len(changed), "Anfrage", "Anfragen")
        parts = [f"{done} an {name} zugewiesen." if name else f"Zuweisung bei {done} aufgehoben."]
        if unchanged := len(tickets) - len(changed):
            already = f"Bereits an {name} zugewiesen" if name else "Bereits ohne Zuweisung"
            parts.append(f"{already}: {counted(unchanged, 'Anfrage', 'Anfragen')}.")
        if missing := len(ids) - len(tickets):
            parts.append(f"Nicht gefunden: {counted(missing, 'Anfrage', 'Anfragen')}.")
        return ctx.redirect(back, " ".join(parts))
    if action == "close":
        outcome = ctx.field("outcome")
        code = ctx.field("refusal_code") or None
        if len(reason) < 10:
            message = "Bitte einen Vermerk (mindestens 10 Zeichen) zum Abschließen angeben."
            return ctx.redirect(back, message, "error")
        try:
            check_outcome(outcome, code)
            with ctx.services.sessions.begin() as session:
                in_scope = ctx.scope.where(Ticket.controller)
                tickets = list(session.scalars(select(Ticket).where(Ticket.id.in_(ids), in_scope)))
                for ticket in tickets:
                    close(
                        session,
                        ticket,
                        outcome=outcome or None,
                        refusal_code=code,
                        actor=ctx.actor,
                        reason=reason,
                        now=ctx.now,
                    )
        except RefusedError as exc:
            return ctx.redirect(back, f"Nichts abgeschlossen: {exc}", "error")
        except TicketError as exc:
            message = f"Nichts abgeschlossen, eine Anfrage lässt das nicht zu: {exc}"
            return ctx.redirect(back, message, "error")
        parts = [f"{counted(len(tickets), 'Anfrage', 'Anfragen')} abgeschlossen."]
        if missing := len(ids) - len(tickets):
            parts.append(f"Nicht gefunden: {counted(missing, 'Anfrage', 'Anfragen')}.")
        return ctx.redirect(back, " ".join(parts))
    return ctx.redirect(back, "Bitte eine Aktion wählen.", "error")
