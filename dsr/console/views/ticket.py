"""The DPO's ticket page: everything needed to decide, on one page, and every view audited.

Shows the whole conversation across channels (inbound messages and everything we queued), the
classification with the words that triggered it, identity status and method, the deadline with
the trail of how it was computed, internal notes and the audit history.  Opening the page is
itself recorded in the audit log (access to personal data, Art. 5(2) accountability).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from dsr.console.extension import EXTENSION_REASONS, MIN_DETAIL
from dsr.console.guard import Ctx
from dsr.console.highlight import Segment, segments
from dsr.console.labels import (
    BERLIN,
    IDENTITY,
    OPEN_STATES,
    PAUSE_REASONS,
    date_de,
    disposition_label,
    kind_label,
    outbox_state_label,
    rights_names,
)
from dsr.console.letter_pdf import Letter, render_pdf
from dsr.console.processor import processor_section
from dsr.console.queries import scoped_ticket
from dsr.console.relationships import relationship_rows
from dsr.console.views.fulfilment import datamaps
from dsr.intents.rights import Right
from dsr.pipeline import codes
from dsr.pipeline.outbound import (
    NEUTRAL_EXTENSION_KIND,
    POSTAL_LETTER_KIND,
    extension_notice_kind,
    recipient_problem,
)
from dsr.replies.context import ReplyKind
from dsr.store.models import AuditEvent, Direction, Document, Message, OutboxItem, Ticket, TicketNote, User
from dsr.store.sealed import is_sealed
from dsr.store.tickets.services import OUTCOMES, REFUSAL_REASONS, audit, effective_due

log = logging.getLogger(__name__)

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
# The answer that fits each right (the first right of the ticket chooses the template).
KIND_FOR_RIGHT: dict[str, str] = {
    Right.ACCESS.value: ReplyKind.ACCESS_ANSWER.value,
    Right.PORTABILITY.value: ReplyKind.PORTABILITY_ANSWER.value,
    Right.RECTIFICATION.value: ReplyKind.RECTIFICATION_DONE.value,
    Right.ERASURE.value: ReplyKind.ERASURE_DONE.value,
    Right.RESTRICTION.value: ReplyKind.RESTRICTION_DONE.value,
    Right.OBJECTION.value: ReplyKind.OBJECTION_OUTCOME.value,
    Right.AUTOMATED_DECISION.value: ReplyKind.AUTOMATED_DECISION_OUTCOME.value,
}
VIEW_ACTIONS = frozenset({"console.ticket_viewed", "api.ticket_viewed"})
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
    held: bool = False  # a message of the person that is not part of this ticket's handling
    buttons: list[str] = field(default_factory=list)
    edited: bool = False
    letter_id: int | None = None  # an outbound postal letter: its PDF can be downloaded


@dataclass(frozen=True, slots=True)
class ChatOut:
    text: str
    buttons: list[str]
    edit: bool


SEALED_TEXT = "(Nachricht mit Anhang: verschlüsselt im Postausgang, nach dem Versand gelöscht)"


def chat_payload(item: OutboxItem) -> ChatOut:
    if is_sealed(item.payload) or not item.payload:
        return ChatOut(SEALED_TEXT, [], False)
    try:
        data = json.loads(item.payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return ChatOut("(Nachricht nicht lesbar)", [], False)
    if not isinstance(data, dict):
        return ChatOut("(Nachricht nicht lesbar)", [], False)
    rows = (data.get("reply_markup") or {}).get("inline_keyboard") or []
    buttons = [str(b.get("text", "")) for row in rows for b in row if isinstance(b, dict)]
    return ChatOut(codes.mask(str(data.get("text", ""))), buttons, data.get("edit_message_id") is not None)


def outbox_text(item: OutboxItem) -> tuple[str, str]:
    """(subject, text) of a queued message, decoded for display."""
    if item.channel == "telegram":
        return "", chat_payload(item).text
    if is_sealed(item.payload) or not item.payload:
        return "", SEALED_TEXT  # the stored outbound message shows its text and the file's name
    msg = message_from_bytes(item.payload, policy=policy.default)
    if not isinstance(msg, EmailMessage):
        return "", ""
    body = msg.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return str(msg.get("Subject", "")), codes.mask(str(text))  # a one-time code is the person's alone


def _note(kind: str, state: str) -> str:
    return f"{kind_label(kind)} · {outbox_state_label(state)}"


def _conversation(
    ticket: Ticket, evidence: list[dict[str, Any]], outbox: list[OutboxItem], others: list[Message]
) -> list[ConversationItem]:
    items: list[ConversationItem] = []
    first_inbound = True
    delivered_by = {o.message_id: o for o in outbox if o.message_id is not None}
    for msg in ticket.messages:
        item = _message_item(msg)
        delivery = delivered_by.get(msg.id)
        if msg.direction != Direction.INBOUND.value and delivery is not None:
            item.note = _note(delivery.kind, delivery.state)
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
        items.append(_outbox_item(out))
    for msg in others:
        item = _message_item(msg)
        item.held = msg.ticket_id is None and msg.direction == Direction.INBOUND.value
        items.append(item)
    items.sort(key=lambda i: i.at)
    return items


def _message_item(msg: Message) -> ConversationItem:
    inbound = msg.direction == Direction.INBOUND.value
    title = msg.subject_line
    if msg.channel == "telegram":
        title = ""  # chat messages have no subject; the pipeline's threading key is not one
    return ConversationItem(
        at=msg.received_at,
        direction=msg.direction,
        channel=msg.channel,
        title=title,
        party="Telegram-Chat" if msg.channel == "telegram" else _party(msg.sender if inbound
                                                                       else msg.recipient),
        text=msg.body_text,
        attachments=list(msg.attachments or []),
        note=disposition_label(msg.disposition) if msg.disposition else "",
        letter_id=msg.id if msg.channel == "letter" and not inbound else None,
    )


def _party(address: str) -> str:
    if address.startswith("telegram:"):
        return "Telegram-Chat"
    return address


def _outbox_item(out: OutboxItem) -> ConversationItem:
    if out.channel == "telegram":
        chat = chat_payload(out)
        return ConversationItem(
            at=out.created_at,
            direction="out",
            channel=out.channel,
            title="",
            party="Telegram-Chat",
            text=chat.text,
            note=_note(out.kind, out.state),
            buttons=chat.buttons,
            edited=chat.edit,
        )
    subject, text = outbox_text(out)
    return ConversationItem(
        at=out.created_at,
        direction="out",
        channel=out.channel,
        title=subject,
        party=out.recipient,
        text=text,
        note=_note(out.kind, out.state),
    )


def _chat_window(session: Session, ticket: Ticket) -> tuple[list[OutboxItem], list[Message]]:
    """Chat messages around a Telegram ticket that were not filed under it: the bot's questions
    before the ticket existed, the person's answers and button presses, kept with ticket_id NULL.
    The window runs from the previous ticket of the same chat to the next one."""
    if ticket.channel != "telegram" or not ticket.reply_to:
        return [], []
    chat = ticket.reply_to
    neighbours = list(
        session.scalars(
            select(Ticket.received_at).where(
                Ticket.channel == "telegram",
                Ticket.reply_to == chat,
                Ticket.controller == ticket.controller,
                Ticket.id != ticket.id,
            )
        )
    )
    before = max((t for t in neighbours if t < ticket.received_at), default=None)
    after = min((t for t in neighbours if t > ticket.received_at), default=None)
    outbox = select(OutboxItem).where(
        OutboxItem.channel == "telegram",
        OutboxItem.recipient == chat,
        OutboxItem.controller == ticket.controller,
        OutboxItem.ticket_id.is_(None),
    )
    inbound = select(Message).where(
        Message.channel == "telegram",
        Message.sender == f"telegram:{chat}",
        Message.controller == ticket.controller,
        Message.ticket_id.is_(None),
    )
    if before is not None:
        outbox = outbox.where(OutboxItem.created_at > before)
        inbound = inbound.where(Message.received_at > before)
    if after is not None:
        outbox = outbox.where(OutboxItem.created_at < after)
        inbound = inbound.where(Message.received_at < after)
    return list(session.scalars(outbox)), list(session.scalars(inbound))


def _held_for_person(session: Session, ticket: Ticket) -> list[Message]:
    """Messages from the person's addresses that no ticket took (ignored, held, bounced)."""
    addresses = {a.strip().lower() for a in (ticket.reply_to,) if a and "@" in a}
    if ticket.subject is not None:
        if ticket.subject.email:
            addresses.add(ticket.subject.email.strip().lower())
        addresses |= {e.email.strip().lower() for e in ticket.subject.emails}
    if not addresses:
        return []
    return list(
        session.scalars(
            select(Message).where(
                Message.ticket_id.is_(None),
                Message.controller == ticket.controller,
                Message.direction == Direction.INBOUND.value,
                func.lower(Message.sender).in_(sorted(addresses)),
            )
        )
    )


@dataclass(frozen=True, slots=True)
class Views:
    count: int
    last_at: datetime | None
    viewers: tuple[str, ...]


def split_views(events: list[AuditEvent]) -> tuple[list[AuditEvent], Views]:
    """The history without page views, and the views summarised in one line."""
    views = [e for e in events if e.action in VIEW_ACTIONS]
    rest = [e for e in events if e.action not in VIEW_ACTIONS]
    viewers = tuple(sorted({e.actor for e in views}))
    return rest, Views(len(views), views[-1].at if views else None, viewers)


def default_kind(ticket: Ticket) -> str:
    for right in ticket.rights:
        if right in KIND_FOR_RIGHT:
            return KIND_FOR_RIGHT[right]
    return ReplyKind.CLARIFICATION.value


def default_subject(ticket: Ticket) -> str:
    received = date_de(ticket.received_at)
    names = rights_names(ticket.rights) or "Ihre Anfrage"
    return f"{names}: Ihre Anfrage vom {received} ({ticket.reference})"


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
        documents = list(
            session.execute(
                select(Document.id, Document.name, Document.size, Document.created_at)
                .where(Document.ticket_id == ticket.id)
                .order_by(Document.id)
            )
        )
        chat_out, chat_in = _chat_window(session, ticket)
        others = chat_in + [m for m in _held_for_person(session, ticket) if m not in chat_in]
        history, views = split_views(events)
        kind = ctx.request.query_params.get("kind", "")
        relationships = ([] if profile is None else
                         relationship_rows(session, ticket, profile, datamaps(ctx).get(ticket.controller)))
        response = ctx.render(
            "ticket.html",
            ticket=ticket,
            subject=ticket.subject,
            profile=profile,
            conversation=_conversation(ticket, evidence, outbox + chat_out, others),
            classification=classification,
            evidence=evidence,
            scores=scores,
            events=history,
            views=views,
            draft_kind=kind if kind in DRAFT_KINDS else default_kind(ticket),
            default_subject=default_subject(ticket),
            extension_reasons=EXTENSION_REASONS,
            min_detail=MIN_DETAIL,
            is_closed=ticket.state == "closed",
            documents=documents,
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
            processor=processor_section(session, ctx.scope, ticket, profile),
            relationships=relationships,
            # What the door out would refuse (no personal data to an unverified contact), so the page
            # says why instead of offering the action.
            extend_neutral=extension_notice_kind(ticket) == NEUTRAL_EXTENSION_KIND,
            blocked={
                action: recipient_problem(ticket, kind=kind, recipient=ticket.reply_to or "")
                for action, kind in (("reply", "dpo_reply"), ("question", "dpo_question"),
                                     ("extend", extension_notice_kind(ticket)))
            } | {"letter": recipient_problem(ticket, kind=POSTAL_LETTER_KIND,
                                             recipient=ticket.postal_address or "")},
        )
        audit(session, actor=ctx.actor, action="console.ticket_viewed", now=ctx.now, ticket_id=ticket.id)
    response.headers["Cache-Control"] = "no-store"
    return response


def document_download(ctx: Ctx) -> Response:
    """A stored scan, only as a download: never inline, never with its claimed type."""
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ctx.path_int("ticket_id"))
        doc = session.get(Document, ctx.path_int("document_id"))
        if ticket is None or doc is None or doc.ticket_id != ticket.id:
            return ctx.not_found()
        audit(session, actor=ctx.actor, action="console.document_downloaded", now=ctx.now,
              ticket_id=doc.ticket_id, detail={"document_id": doc.id})
        return Response(
            doc.data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{doc.name}"'},
        )


def letter_document(ticket: Ticket, msg: Message, sender: str) -> tuple[str, bytes]:
    """The file name and PDF of a postal answer, from the letter as recorded (deterministic)."""
    letter = Letter(
        sender_line=sender,
        recipient=(ticket.postal_address or "").splitlines(),
        place_date=date_de(msg.received_at),
        reference=ticket.reference,
        subject=msg.subject_line,
        text=msg.body_text,
    )
    return f"brief-{ticket.reference}-{msg.id}.pdf", render_pdf(letter)


def approved_digest(msg: Message) -> str | None:
    """The SHA-256 of the PDF recorded when the letter was approved (None: approved before hashes)."""
    for entry in msg.attachments or []:
        if isinstance(entry, dict) and entry.get("content_type") == "application/pdf" and entry.get("sha256"):
            return str(entry["sha256"])
    return None


LETTER_ALTERED = (
    "Der Brief wird nicht ausgegeben: Er stimmt nicht mehr mit der freigegebenen Fassung überein "
    "(Text, Betreff, Anschrift oder Absender wurden danach verändert; die Prüfsumme weicht ab). "
    "Bitte den Vorgang prüfen und den Brief erneut freigeben."
)


def letter_pdf(ctx: Ctx) -> Response:
    """The PDF of a postal answer recorded on the ticket (an outbound message on channel "letter").

    Integrity: the SHA-256 of the PDF was stored when the DPO approved the letter; the PDF is
    made again from the stored letter and handed out only when it is byte for byte that one.
    Anything changed since (text, subject, postal address, the sender's name) is refused, audited.
    """
    with ctx.services.sessions() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ctx.path_int("ticket_id"))
        msg = session.get(Message, ctx.path_int("letter_id"))
        if ticket is None or msg is None or msg.ticket_id != ticket.id or msg.channel != "letter":
            return ctx.not_found()
        profile = ctx.services.profiles.get(ticket.controller)
        name, pdf = letter_document(ticket, msg, profile.short_name if profile else ticket.controller)
        approved, ticket_id, letter_id = approved_digest(msg), ticket.id, msg.id
    actual = hashlib.sha256(pdf).hexdigest()
    if approved is not None and approved != actual:
        with ctx.services.sessions.begin() as session:
            audit(session, actor=ctx.actor, action="console.letter_pdf_refused", now=ctx.now,
                  ticket_id=ticket_id, reason="Brief-PDF weicht von der freigegebenen Fassung ab",
                  detail={"message_id": letter_id, "approved_sha256": approved, "actual_sha256": actual})
        log.warning("letter pdf refused: digest differs ticket=%s letter=%s", ticket_id, letter_id)
        return ctx.render("error.html", status_code=409, title="Brief verändert", message=LETTER_ALTERED)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
