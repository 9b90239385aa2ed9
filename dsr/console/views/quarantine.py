"""Quarantine: input the service could not process, kept with the reason, never silently dropped.

A request counts from its arrival on an official channel whether or not anyone could read it
(EDPB § 159), so every quarantined item needs a human decision: process it again (e-mail runs
through the normal pipeline), mark it handled by hand, or discard it (spam, empty).  Looking at
the raw content is access to personal data and is audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import and_, func, select, true
from starlette.responses import Response

from dsr.console.guard import Ctx
from dsr.console.labels import quarantine_reason_label
from dsr.console.queries import scoped_quarantine
from dsr.inbound import OutcomeStatus
from dsr.mail.parse import UnparseableMessage, parse_email, recipient_candidates
from dsr.store.models import QuarantinedMessage
from dsr.store.tickets.services import audit

log = logging.getLogger(__name__)
MAX_SHOWN_BYTES = 200_000
PAGE_SIZE = 100
STATES = {"open": "offen", "processed": "verarbeitet", "discarded": "verworfen"}
OUTCOME_WORDS = {
    "accepted": "angenommen",
    "duplicate": "schon vorhanden",
    "ignored": "ohne Antwort abgelegt",
    "held": "zurückgehalten",
    "quarantined": "wieder in Quarantäne",
}


ENVELOPE_BYTES = 8000  # the header lines read for the list (the raw message can be megabytes)


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the raw bytes say about where a message came from (header lines only, decoded)."""

    envelope_sender: str
    sender: str
    subject: str


def envelope(raw: bytes) -> Envelope:
    head = raw[:20_000].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", errors="replace")
    fields: dict[str, str] = {}
    for line in head.splitlines():
        name, sep, value = line.partition(":")
        if sep and not line[:1].isspace() and name.lower() not in fields:
            fields[name.lower()] = value.strip()
    return Envelope(
        envelope_sender=fields.get("return-path", "").strip("<>"),
        sender=fields.get("from", ""),
        subject=fields.get("subject", ""),
    )


def quarantine_list(ctx: Ctx) -> Response:
    """Newest first, PAGE_SIZE entries a page: every entry is reachable, however many there are.

    Only the columns the list shows are read (the raw message may be megabytes)."""
    show_all = ctx.request.query_params.get("all") == "1"
    page = _page_number(ctx.request.query_params.get("page", "1"))
    condition = and_(ctx.scope.where(QuarantinedMessage.controller),
                     true() if show_all else QuarantinedMessage.state == "open")
    with ctx.services.sessions() as session:
        total = session.scalar(select(func.count(QuarantinedMessage.id)).where(condition)) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        items = session.execute(
            select(QuarantinedMessage.id, QuarantinedMessage.received_at, QuarantinedMessage.controller,
                   QuarantinedMessage.channel, QuarantinedMessage.reason, QuarantinedMessage.state,
                   func.length(QuarantinedMessage.raw).label("size"),
                   func.substr(QuarantinedMessage.raw, 1, ENVELOPE_BYTES).label("head"))
            .where(condition)
            .order_by(QuarantinedMessage.received_at.desc(), QuarantinedMessage.id.desc())
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
        rows = [(item, envelope(bytes(item.head or b""))) for item in items]
        return ctx.render("quarantine.html", items=rows, show_all=show_all, states=STATES, page=page,
                          pages=pages, total=total, first=(page - 1) * PAGE_SIZE + 1 if items else 0,
                          last=(page - 1) * PAGE_SIZE + len(items))


def _page_number(value: str) -> int:
    return int(value) if value.isdigit() and 0 < int(value) < 1_000_000 else 1


def quarantine_item(ctx: Ctx) -> Response:
    with ctx.services.sessions.begin() as session:
        item = scoped_quarantine(session, ctx.scope, ctx.path_int("item_id"))
        if item is None:
            return ctx.not_found()
        raw = item.raw[:MAX_SHOWN_BYTES].decode("utf-8", errors="replace")
        audit(
            session,
            actor=ctx.actor,
            action="console.quarantine_viewed",
            now=ctx.now,
            detail={"quarantine_id": item.id},
        )
        return ctx.render(
            "quarantine_item.html",
            item=item,
            env=envelope(item.raw),
            raw=raw,
            truncated=len(item.raw) > MAX_SHOWN_BYTES,
            states=STATES,
        )


def _resolve(ctx: Ctx, item: QuarantinedMessage, state: str) -> None:
    item.state = state
    item.resolved_by = ctx.actor
    item.resolved_at = ctx.now


def quarantine_discard(ctx: Ctx) -> Response:
    return _resolve_by_hand(ctx, state="discarded", action="console.quarantine_discarded",
                            missing_reason="Bitte begründen, warum verworfen wird.",
                            done="Eintrag verworfen.")


def quarantine_handled(ctx: Ctx) -> Response:
    """The DPO dealt with the content by hand (e.g. answered by letter): record that."""
    return _resolve_by_hand(ctx, state="processed", action="console.quarantine_handled",
                            missing_reason="Bitte vermerken, wie der Eintrag erledigt wurde.",
                            done="Als erledigt vermerkt.")


def _resolve_by_hand(ctx: Ctx, *, state: str, action: str, missing_reason: str, done: str) -> Response:
    """Close an open quarantine entry without the pipeline; a reason is required and audited."""
    reason = ctx.field("reason")
    if not reason:
        return ctx.redirect(f"/quarantine/{ctx.path_int('item_id')}", missing_reason, "error")
    with ctx.services.sessions.begin() as session:
        item = scoped_quarantine(session, ctx.scope, ctx.path_int("item_id"))
        if item is None or item.state != "open":
            return ctx.not_found()
        _resolve(ctx, item, state)
        audit(session, actor=ctx.actor, action=action, now=ctx.now, reason=reason,
              detail={"quarantine_id": item.id})
    return ctx.redirect("/quarantine", done)


def quarantine_process(ctx: Ctx) -> Response:
    """Run a quarantined e-mail through the normal pipeline again (e.g. after a parser fix)."""
    item_id = ctx.path_int("item_id")
    services = ctx.services
    with services.sessions() as session:
        item = scoped_quarantine(session, ctx.scope, item_id)
        if item is None or item.state != "open":
            return ctx.not_found()
        channel, controller, raw, received_at = item.channel, item.controller, item.raw, item.received_at
    if channel != "email" or controller not in services.profiles:
        return ctx.redirect(
            f"/quarantine/{item_id}",
            "Nur E-Mails eines geladenen Verantwortlichen können erneut "
            "verarbeitet werden; bitte von Hand erledigen.",
            "error",
        )
    profile = services.profiles[controller]
    candidates = recipient_candidates(raw)
    try:
        msg = parse_email(
            raw,
            controller=controller,
            recipient=candidates[0] if candidates else profile.from_address,
            received_at=received_at,
        )
    except UnparseableMessage as exc:
        reason = quarantine_reason_label(exc.reason)
        return ctx.redirect(f"/quarantine/{item_id}", f"Weiterhin nicht lesbar: {reason}", "error")
    outcome = services.sink.handle(msg)
    if outcome.status is OutcomeStatus.QUARANTINED:
        reason = quarantine_reason_label(outcome.reason)
        return ctx.redirect(f"/quarantine/{item_id}", f"Erneut nicht verarbeitbar: {reason}", "error")
    with services.sessions.begin() as session:
        item = scoped_quarantine(session, ctx.scope, item_id)
        if item is not None:
            _resolve(ctx, item, "processed")
        audit(
            session,
            actor=ctx.actor,
            action="console.quarantine_reprocessed",
            now=ctx.now,
            detail={
                "quarantine_id": item_id,
                "status": outcome.status.value,
                "reference": outcome.ticket_reference,
            },
        )
    where = f" Vorgang {outcome.ticket_reference}." if outcome.ticket_reference else ""
    word = OUTCOME_WORDS.get(outcome.status.value, "")
    return ctx.redirect("/quarantine", f"Erneut verarbeitet ({word}).{where}")
