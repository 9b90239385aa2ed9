"""JSON API with bearer tokens: tickets, deadlines, DPO operations and the suppression check.

Token roles decide what a caller sees, as in the console: `manager` and `admin` tokens get ticket
metadata only, `dpo` tokens also the conversation and may act, `suppression` tokens (a CRM or a
newsletter tool) may only ask whether an address is on the Werbesperrdatei, or pull the list of
suppressed identifiers of one controller (plain or as SHA-256 hashes) to clean its own lists.
The address to check is sent in the POST body, never in a URL (it would end up in access logs),
and it is not audited or logged; the audit entry records who asked and the answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from dsr.console.auth import Role
from dsr.console.guard import Ctx
from dsr.console.openapi import document
from dsr.console.operations import (
    RefusedError,
    close,
    extend_with_notice,
    is_closed,
    refuse_closed,
    reply_problem,
)
from dsr.console.queries import load_rows, open_rows, scoped_ticket, to_row
from dsr.console.views.ticket import outbox_text
from dsr.replies import ReplyError
from dsr.store.models import OutboxItem, Ticket
from dsr.store.suppression import export_entries, is_suppressed
from dsr.store.tickets.services import TicketError, add_note, audit

MAX_ADDRESS = 320
CLOSED_REFUSAL = (
    "Der Vorgang ist abgeschlossen und nur lesbar: keine Notiz, keine Verlängerung, kein erneuter "
    "Abschluss. Bitte zuerst in der Konsole „Wieder öffnen“ (mit Grund)."
)


def openapi_document(ctx: Ctx) -> Response:
    return ctx.json(document(str(ctx.request.base_url).rstrip("/")))


def _problem(status: int, error: str, detail: str) -> dict[str, Any]:
    return {"status": status, "error": error, "detail": detail}


def list_tickets(ctx: Ctx) -> Response:
    q = ctx.request.query_params
    state = q.get("state") or None
    controller = q.get("controller") or None
    with ctx.services.sessions() as session:
        if state == "open":
            rows = open_rows(session, scope=ctx.scope, today=ctx.today)
        else:
            rows = load_rows(session, scope=ctx.scope, today=ctx.today, states=[state] if state else None)
    if controller:
        rows = [r for r in rows if r.controller == controller]
    if q.get("overdue") in ("1", "true"):
        rows = [r for r in rows if r.overdue]
    return ctx.json({"tickets": [r.as_json() for r in rows]})


def _conversation(session: Session, ticket: Ticket) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {
            "at": m.received_at.isoformat(),
            "direction": m.direction,
            "channel": m.channel,
            "sender": m.sender,
            "subject": m.subject_line,
            "text": m.body_text,
        }
        for m in ticket.messages
    ]
    for out in session.scalars(select(OutboxItem).where(OutboxItem.ticket_id == ticket.id)):
        subject, text = outbox_text(out)
        items.append(
            {
                "at": out.created_at.isoformat(),
                "direction": "out",
                "channel": out.channel,
                "recipient": out.recipient,
                "subject": subject,
                "text": text,
                "kind": out.kind,
                "delivery": out.state,
            }
        )
    return sorted(items, key=lambda i: str(i["at"]))


def ticket_detail(ctx: Ctx) -> Response:
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, reference=str(ctx.request.path_params["reference"]))
        if ticket is None:
            return ctx.json(_problem(404, "not_found", "Unbekanntes Aktenzeichen."), 404)
        data: dict[str, Any] = to_row(ticket, ctx.today).as_json()
        if ctx.role is Role.DPO:
            data.update(
                {
                    "deadline_trail": ticket.due_trail,
                    "identity_method": ticket.identity_method,
                    "extension_reason": ticket.extension_reason,
                    "paused_days": ticket.paused_days,
                    "classification": ticket.classification,
                    "draft_reply": ticket.draft_reply,
                    "reply_to": ticket.reply_to,
                    "conversation": _conversation(session, ticket),
                }
            )
            audit(session, actor=ctx.actor, action="api.ticket_viewed", now=ctx.now, ticket_id=ticket.id)
    return ctx.json(data)


def deadlines(ctx: Ctx) -> Response:
    try:
        within = int(ctx.request.query_params.get("within_days", "30"))
    except ValueError:
        return ctx.json(_problem(422, "invalid", "within_days muss eine Zahl sein."), 422)
    with ctx.services.sessions() as session:
        rows = open_rows(session, scope=ctx.scope, today=ctx.today)
    selected = [r for r in rows if r.due is not None and r.days_left is not None and r.days_left <= within]
    return ctx.json(
        {
            "today": ctx.today.isoformat(),
            "deadlines": [
                {
                    "reference": r.reference,
                    "controller": r.controller,
                    "rights": list(r.rights),
                    "state": r.state,
                    "due_date": r.due.isoformat() if r.due else None,
                    "days_left": r.days_left,
                    "overdue": r.overdue,
                    "extended": r.extended,
                }
                for r in selected
            ],
        }
    )


def _ticket_operation(ctx: Ctx, operation: str) -> Response:
    body = ctx.body
    try:
        with ctx.services.sessions.begin() as session:
            ticket = scoped_ticket(session, ctx.scope, reference=str(ctx.request.path_params["reference"]))
            if ticket is None:
                return ctx.json(_problem(404, "not_found", "Unbekanntes Aktenzeichen."), 404)
            if is_closed(ticket):
                # As in the console: a closed ticket is read-only until reopened; the attempt is audited.
                refuse_closed(session, ticket, actor=ctx.actor, action=operation,
                              audit_action="api.action_refused_closed", reason=CLOSED_REFUSAL, now=ctx.now)
                return ctx.json(_problem(409, "closed", CLOSED_REFUSAL), 409)
            profile = ctx.services.profiles.get(ticket.controller)
            if profile is None:
                raise RefusedError(f"Kein Profil für {ticket.controller} geladen.")
            result: dict[str, Any] = {"reference": ticket.reference}
            if operation == "extend":
                new_due = extend_with_notice(
                    session,
                    ticket,
                    profile,
                    reason=str(body.get("reason", "")),
                    actor=ctx.actor,
                    now=ctx.now,
                    overrides_dir=ctx.services.settings.templates_dir,
                )
                result["extended_due_date"] = new_due.isoformat()
            elif operation == "close":
                code = body.get("refusal_code")
                close(
                    session,
                    ticket,
                    outcome=str(body.get("outcome", "")) or None,
                    refusal_code=str(code) if code else None,
                    actor=ctx.actor,
                    reason=str(body.get("reason", "")),
                    now=ctx.now,
                )
            else:
                text = str(body.get("text", "")).strip()
                if not text:
                    raise RefusedError("Der Notiztext fehlt.")
                result["note_id"] = add_note(session, ticket, author=ctx.actor, text=text, now=ctx.now).id
            result["state"] = ticket.state
    except ReplyError as exc:
        return ctx.json(_problem(409, "refused", reply_problem(exc)), 409)
    except (RefusedError, TicketError) as exc:
        return ctx.json(_problem(409, "refused", str(exc)), 409)
    return ctx.json(result)


def extend_ticket(ctx: Ctx) -> Response:
    return _ticket_operation(ctx, "extend")


def close_ticket(ctx: Ctx) -> Response:
    return _ticket_operation(ctx, "close")


def add_ticket_note(ctx: Ctx) -> Response:
    return _ticket_operation(ctx, "note")


def suppression_check(ctx: Ctx) -> Response:
    """ "May we send marketing to this address?"  False when an objection (Art. 21(3)) is on file.

    `true` only means no objection is recorded here; it does not replace the consent that
    e-mail advertising needs under § 7 Abs. 2 UWG.
    """
    address = ctx.body.get("address")
    if not isinstance(address, str) or not address.strip() or len(address) > MAX_ADDRESS:
        return ctx.json(_problem(422, "invalid", "Feld 'address' (Text) fehlt oder ist zu lang."), 422)
    # A token answers only for its own controllers: the body may name one of them, never another.
    allowed = ctx.scope.pick(ctx.services.profiles)
    controller = ctx.body.get("controller") or (allowed[0] if len(allowed) == 1 else None)
    if controller not in allowed:
        detail = "Feld 'controller' fehlt oder ist für diesen Token unbekannt."
        return ctx.json(_problem(422, "invalid", detail), 422)
    with ctx.services.sessions.begin() as session:
        suppressed = is_suppressed(session, controller=str(controller), address=address)
        audit(
            session,
            actor=ctx.actor,
            action="api.suppression_checked",
            now=ctx.now,
            detail={"controller": controller, "suppressed": suppressed},
        )
    return ctx.json(
        {
            "controller": controller,
            "suppressed": suppressed,
            "may_send_marketing": not suppressed,
            "note": "Kein Werbewiderspruch bedeutet keine Einwilligung (§ 7 UWG)."
            if not suppressed
            else "Werbewiderspruch nach Art. 21 Abs. 3 DSGVO liegt vor: keine Werbung senden.",
        }
    )


def suppression_export(ctx: Ctx) -> Response:
    """Every identifier on one controller's Werbesperrdatei, for marketing tools to clean their lists.

    Query: `controller` (required with several profiles), `hashed` (default 1: SHA-256 of the
    normalised identifier, enough to match a list of one's own), `since` (ISO timestamp: only
    entries added later).  The audit records who pulled how many entries, never the entries.
    """
    q = ctx.request.query_params
    allowed = ctx.scope.pick(ctx.services.profiles)  # a token answers only for its own controllers
    controller = q.get("controller") or (allowed[0] if len(allowed) == 1 else None)
    if controller not in allowed:
        detail = "Parameter 'controller' fehlt oder ist für diesen Token unbekannt."
        return ctx.json(_problem(422, "invalid", detail), 422)
    hashed = q.get("hashed", "1") not in ("0", "false")
    since = None
    if q.get("since"):
        try:
            since = datetime.fromisoformat(q["since"])
        except ValueError:
            return ctx.json(_problem(422, "invalid", "Parameter 'since' ist kein ISO-Zeitpunkt."), 422)
        if since.tzinfo is None:
            return ctx.json(_problem(422, "invalid", "Parameter 'since' braucht eine Zeitzone."), 422)
    with ctx.services.sessions.begin() as session:
        entries = export_entries(session, controller=str(controller), hashed=hashed, since=since)
        audit(
            session,
            actor=ctx.actor,
            action="api.suppression_exported",
            now=ctx.now,
            detail={"controller": controller, "hashed": hashed, "count": len(entries)},
        )
    return ctx.json(
        {
            "controller": controller,
            "hashed": hashed,
            "normalisation": "E-Mail klein geschrieben; Telefon nur Ziffern und +; telegram:<id>; "
            "post:<Anschrift klein, Leerraum einfach>. Hash: SHA-256 (hex) des normalisierten Werts.",
            "entries": [e.as_dict() for e in entries],
        }
    )
