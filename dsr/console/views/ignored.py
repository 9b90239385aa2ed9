"""Ignored messages: everything the service set aside without a ticket, with the reason.

The DPO can search the list (sender, subject, text), open a message (the view is audited: it is
access to personal data) and turn it into a ticket with the rights the DPO chooses; the ticket
keeps the message's receipt time and channel (`dsr.console.ignored`).
"""

from __future__ import annotations

from starlette.responses import Response

from dsr.console.guard import Ctx
from dsr.console.ignored import (
    MAX_ROWS,
    MIN_TERM,
    REASONS_DE,
    IgnoredRow,
    convert_to_ticket,
    ignored_message,
    ignored_messages,
    reason_code,
    reason_label,
)
from dsr.intents.rights import Right
from dsr.store.models import Message
from dsr.store.tickets.common import TicketError
from dsr.store.tickets.services import audit

MAX_SHOWN_CHARS = 100_000


def ignored_list(ctx: Ctx) -> Response:
    """The list, newest first; `reason` and `all` filter it (no personal data in the URL)."""
    params = ctx.request.query_params
    reason = (params.get("reason") or "").strip()
    show_all = params.get("all") == "1"
    with ctx.services.sessions() as session:
        rows = ignored_messages(session, scope=ctx.scope, reason=reason, include_converted=show_all)
        return _render(ctx, rows, reason=reason, show_all=show_all)


def ignored_search(ctx: Ctx) -> Response:
    """Search sender, subject and text: a POST, so the term never lands in a URL or a log line."""
    term = ctx.field("q")[:200]
    reason = ctx.field("reason")
    show_all = ctx.field("all") == "1"
    if len(term) < MIN_TERM:
        ctx.flash("Bitte mindestens drei Zeichen eingeben.", "warn")
        return _render(ctx, [], reason=reason, show_all=show_all, term=term, searched=True)
    with ctx.services.sessions.begin() as session:
        rows = ignored_messages(session, scope=ctx.scope, term=term, reason=reason,
                                include_converted=show_all)
        # The term itself may be personal data: the audit records that a search ran, not for what.
        audit(session, actor=ctx.actor, action="console.ignored_searched", now=ctx.now,
              detail={"hits": len(rows)})
    return _render(ctx, rows, reason=reason, show_all=show_all, term=term, searched=True)


def _render(ctx: Ctx, rows: list[IgnoredRow], *, reason: str, show_all: bool, term: str = "",
            searched: bool = False) -> Response:
    return ctx.render("ignored.html", rows=rows, term=term, reason=reason, show_all=show_all,
                      searched=searched, reasons=REASONS_DE, label=reason_label,
                      truncated=len(rows) >= MAX_ROWS)


def ignored_item(ctx: Ctx) -> Response:
    with ctx.services.sessions.begin() as session:
        message = ignored_message(session, ctx.scope, ctx.path_int("message_id"))
        if message is None:
            return ctx.not_found()
        audit(session, actor=ctx.actor, action="console.ignored_viewed", now=ctx.now,
              ticket_id=message.ticket_id, detail={"message_id": message.id})
        return ctx.render("ignored_item.html", message=message, text=message.body_text[:MAX_SHOWN_CHARS],
                          truncated=len(message.body_text) > MAX_SHOWN_CHARS, reason=reason_code(message),
                          label=reason_label, all_rights=[r.value for r in Right])


def ignored_to_ticket(ctx: Ctx) -> Response:
    """Open a ticket for the message: rights chosen by the DPO, receipt time and channel kept."""
    message_id = ctx.path_int("message_id")
    valid = {r.value for r in Right}
    rights = [Right(v) for v in ctx.fields("rights") if v in valid]
    reason = ctx.field("reason")
    back = f"/ignored/{message_id}"
    if not rights:
        return ctx.redirect(back, "Bitte mindestens ein Recht (oder „sonstiges Anliegen“) wählen.", "error")
    if not reason:
        return ctx.redirect(back, "Bitte begründen, warum die Nachricht doch eine Anfrage ist.", "error")
    with ctx.services.sessions.begin() as session:
        message: Message | None = ignored_message(session, ctx.scope, message_id)
        if message is None:
            return ctx.not_found()
        profile = ctx.services.profiles.get(message.controller)
        if profile is None:
            return ctx.redirect(back, "Der Verantwortliche dieser Nachricht ist nicht geladen.", "error")
        try:
            ticket = convert_to_ticket(
                session, message, rights=rights, reason=reason, land=profile.state, actor=ctx.actor,
                now=ctx.now, breach=ctx.field("breach") == "1",
                internal_target_working_days=profile.internal_target_working_days)
        except TicketError as exc:
            return ctx.redirect(back, f"Nicht angelegt: {exc}", "error")
        ticket_id, reference = ticket.id, ticket.reference
    return ctx.redirect(f"/tickets/{ticket_id}",
                        f"Vorgang {reference} angelegt; die Frist läuft ab dem ursprünglichen Eingang.")
