"""The DPO's ticket page: everything needed to decide, on one page, and every view audited.

Shows the whole conversation across channels (inbound messages and everything we queued), the
classification with the words that triggered it, identity status and method, the deadline with
the trail of how it was computed, internal notes and the audit history.  Opening the page is
itself recorded in the audit log (access to personal data, Art. 5(2) accountability).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from dsr.console.guard import Ctx
from dsr.console.highlight import Segment, segments
from dsr.console.labels import BERLIN, IDENTITY, OPEN_STATES, PAUSE_REASONS
from dsr.console.queries import scoped_ticket
from dsr.intents.rights import Right
from dsr.pipeline.outbound import recipient_problem
from dsr.replies.context import ReplyKind
from dsr.store.models import AuditEvent, Direction, OutboxItem, Ticket, TicketNote, User
from dsr.store.tickets.services import OUTCOMES, REFUSAL_REASONS, audit, effective_due

# Templates a DPO may start a draft from (the person-facing answers of replies/).
DRAFT_KINDS: dict[str, str] = {
    ReplyKind.ACCESS_ANSWER.value: "Auskunft (Art. 15)",
    ReplyKind.PORTABILITY_ANSWER.value: "Datenübertragbarkeit (Art. 20)",
    ReplyKind.RECTIFICATION_DONE.value: "Berichtigung erledigt (Art. 16)",
    ReplyKind.ERASURE_DONE.value: "Löschung erledigt (Art. 17)",
    ReplyKind.RESTRICTION_DONE.value: "Einschränkung erledigt (Art. 18)",
    ReplyKind.OBJECTION_OUTCOME.value: "Ergebnis des Widerspruchs (Art. 21)",
    ReplyKind.AUTOMATED_DECISION_OUTCOME.value: "Ergebnis der Überprüfung (Art. 22)",
    ReplyKind.NO_DATA.value: "Negativauskunft (keine Daten)",
    ReplyKind.REFUSAL_NOTICE.value: "Ablehnung mit Begründung (Art. 12 Abs. 4)",
    ReplyKind.CLARIFICATION.value: "Rückfrage zum Anliegen",
    ReplyKind.IDENTITY_REQUEST.value: "Identitätsnachweis anfordern",
}
VERIFY_LEVELS = ("contact_on_file", "code_confirmed", "known_facts", "manual", "unidentifiable")


@dataclass
class ConversationItem:
    at: datetime
    direction: str  # "in" or "out"
    channel: str
    title: str
    party: str  # sender (in) or recipient (out)
    text: str
    marks: list[Segment] = field(default_factory=list)
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    subject_marks: list[Segment] = field(default_factory=list)
    attachments: list[Any] = field(default_factory=list)
    note: str = ""  # outbox state, disposition


def outbox_text(item: OutboxItem) -> tuple[str, str]:
    """(subject, text) of a queued message, decoded for display."""
    if item.channel == "telegram":
        try:
            data = json.loads(item.payload.decode("utf-8"))
            return "", str(data.get("text", ""))
        except (ValueError, UnicodeDecodeError, AttributeError):
            return "", "(Nachricht nicht lesbar)"
    msg = message_from_bytes(item.payload, policy=policy.default)
    if not isinstance(msg, EmailMessage):
        return "", ""
    body = msg.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return str(msg.get("Subject", "")), str(text)


OUTBOX_STATES = {"pending": "wartet auf Versand", "sent": "versandt", "failed": "Versand fehlgeschlagen"}


def _conversation(
    ticket: Ticket, evidence: list[dict[str, Any]], outbox: list[OutboxItem]
) -> list[ConversationItem]:
    items: list[ConversationItem] = []
    first_inbound = True
    delivered_by = {o.message_id: o for o in outbox if o.message_id is not None}
    for msg in ticket.messages:
        item = ConversationItem(
            at=msg.received_at,
            direction=msg.direction,
            channel=msg.channel,
            title=msg.subject_line,
            party=msg.sender if msg.direction == Direction.INBOUND.value else msg.recipient,
            text=msg.body_text,
            attachments=list(msg.attachments or []),
            note=msg.disposition,
        )
        delivery = delivered_by.get(msg.id)
        if msg.direction != Direction.INBOUND.value and delivery is not None:
            item.note = f"{delivery.kind} · {OUTBOX_STATES.get(delivery.state, delivery.state)}"
        if msg.direction == Direction.INBOUND.value and first_inbound and evidence:
            # The classification was made on the message that opened the ticket.
            item.marks, item.unplaced = segments(msg.body_text, evidence, "body")
            item.subject_marks, _ = segments(msg.subject_line, evidence, "subject")
            first_inbound = False
        items.append(item)
    outbound_ids = {m.id for m in ticket.messages if m.direction != Direction.INBOUND.value}
    for out in outbox:
        if out.message_id in outbound_ids:
            continue  # already shown as the outbound message it delivers
        subject, text = outbox_text(out)
        items.append(
            ConversationItem(
                at=out.created_at,
                direction="out",
                channel=out.channel,
                title=subject,
                party=out.recipient,
                text=text,
                note=f"{out.kind} · {OUTBOX_STATES.get(out.state, out.state)}",
            )
        )
    items.sort(key=lambda i: i.at)
    return items


def ticket_page(ctx: Ctx) -> Response:
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ctx.path_int("ticket_id"))
        if ticket is None:
            return ctx.not_found()
        profile = ctx.services.profiles.get(ticket.controller)
        classification = dict(ticket.classification or {})
        evidence = [e for e in classification.get("evidence", []) if isinstance(e, dict)]
        outbox = list(
            session.scalars(
                select(OutboxItem).where(OutboxItem.ticket_id == ticket.id).order_by(OutboxItem.created_at)
            )
        )
        events = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.ticket_id == ticket.id)
                .order_by(AuditEvent.at, AuditEvent.id)
            )
        )
        notes = list(
            session.scalars(
                select(TicketNote).where(TicketNote.ticket_id == ticket.id).order_by(TicketNote.created_at)
            )
        )
        dpos = list(
            session.scalars(
                select(User.username)
                .where(User.role == "dpo", User.disabled.is_(False))
                .order_by(User.username)
            )
        )
        due = effective_due(ticket, ctx.today)
        original_due = ticket.due_date
        can_extend = (
            ticket.state in OPEN_STATES
            and ticket.state != "paused"
            and ticket.extended_due_date is None
            and original_due is not None
            and ctx.today <= original_due
        )
        scores = sorted(
            ((k, float(v)) for k, v in (classification.get("scores") or {}).items()), key=lambda kv: -kv[1]
        )
        response = ctx.render(
            "ticket.html",
            ticket=ticket,
            subject=ticket.subject,
            profile=profile,
            conversation=_conversation(ticket, evidence, outbox),
            classification=classification,
            evidence=evidence,
            scores=scores,
            events=events,
            notes=notes,
            dpos=dpos,
            due=due,
            days_left=(due - ctx.today).days if due else None,
            can_extend=can_extend,
            is_open=ticket.state in OPEN_STATES,
            trail=[line for line in (ticket.due_trail or "").split("\n") if line],
            received_local=ticket.received_at.astimezone(BERLIN),
            all_rights=[r.value for r in Right],
            verify_levels=VERIFY_LEVELS,
            identities=IDENTITY,
            pause_reasons=PAUSE_REASONS,
            pause_allowed=bool(profile and profile.allow_identity_pause),
            outcomes=OUTCOMES,
            refusal_reasons=REFUSAL_REASONS,
            draft_kinds=DRAFT_KINDS,
            # What the door out would refuse (no personal data to an unverified contact), so the page
            # says why instead of offering the action.
            blocked={
                action: recipient_problem(ticket, kind=kind, recipient=ticket.reply_to or "")
                for action, kind in (("reply", "dpo_reply"), ("question", "dpo_question"),
                                     ("extend", ReplyKind.EXTENSION_NOTICE.value))
            },
        )
        audit(session, actor=ctx.actor, action="console.ticket_viewed", now=ctx.now, ticket_id=ticket.id)
    response.headers["Cache-Control"] = "no-store"
    return response
