"""A closed ticket is read-only until "Wieder öffnen" (issue 17).

Every state-changing action of a closed ticket (its page, its fulfilment page, the previews that
lead to a change) is refused the same way: 409, a German explanation, and an audit row naming the
action; nothing else changes.  A stale page or a second tab would otherwise note, send, search,
deliver or erase on a finished case.  The exceptions are reopening itself and the breach flag (a
breach the closed ticket's message reported can still be recognised later: Art. 33, 72 hours from
its receipt); both pass `closed_ok` to the runner in `dsr.console.views.ticket_actions`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session
from starlette.responses import Response

from dsr.console.guard import Ctx
from dsr.console.operations import is_closed, refuse_closed
from dsr.console.queries import scoped_ticket
from dsr.store.models import Ticket

CLOSED_TITLE = "Vorgang abgeschlossen"
CLOSED_REFUSAL = ("Der Vorgang ist abgeschlossen und nur lesbar: es wird nichts mehr geändert, vermerkt "
                  "oder gesendet. Bitte zuerst auf der Ticketseite „Wieder öffnen“ (mit Grund).")
FULFILMENT_REFUSAL = ("Der Vorgang ist abgeschlossen und nur lesbar: es wird nichts mehr gesucht, "
                      "herausgegeben, gesendet oder gelöscht. Bitte zuerst auf der Ticketseite "
                      "„Wieder öffnen“ (mit Grund).")
ACTION_REFUSED = "console.action_refused_closed"
FULFILMENT_REFUSED = "console.fulfilment_refused_closed"
TICKET_PREFIX = "/tickets/"


def action_name(ctx: Ctx) -> str:
    """The action as the route names it below the ticket: `notes`, `draft/template`, `fulfilment/deliver`."""
    path = ctx.request.url.path.removeprefix(TICKET_PREFIX)
    return path.partition("/")[2] or path


def refused(ctx: Ctx, session: Session, ticket: Ticket, *, fulfilment: bool = False) -> Response:
    """Audit the refused action in `session` (the caller commits) and answer 409 in German."""
    action = action_name(ctx)
    message = FULFILMENT_REFUSAL if fulfilment else CLOSED_REFUSAL
    refuse_closed(session, ticket, actor=ctx.actor, now=ctx.now, reason=message,
                  audit_action=FULFILMENT_REFUSED if fulfilment else ACTION_REFUSED,
                  action=action.removeprefix("fulfilment/") if fulfilment else action)
    return ctx.render("error.html", status_code=409, title=CLOSED_TITLE, message=message,
                      back=f"{TICKET_PREFIX}{ticket.id}#closed")


def open_only(view: Callable[[Ctx], Response]) -> Callable[[Ctx], Response]:
    """Refuse a fulfilment action of a closed ticket before the view searches, packages or sends."""

    def guarded(ctx: Ctx) -> Response:
        with ctx.services.sessions.begin() as session:
            ticket = scoped_ticket(session, ctx.scope, ticket_id=ctx.path_int("ticket_id"))
            if ticket is not None and is_closed(ticket):
                return refused(ctx, session, ticket, fulfilment=True)
        return view(ctx)

    guarded.__name__ = view.__name__
    guarded.__doc__ = view.__doc__
    return guarded
