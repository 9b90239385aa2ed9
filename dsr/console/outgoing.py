"""Messages the DPO sends to the data subject, written to the outbox in the caller's transaction.

"Persist, then act": nothing is delivered from the web request.  An e-mail becomes complete
RFC 5322 bytes (threaded to the person's last message, tagged with the reference); a chat answer
becomes the Telegram adapter's JSON payload.  A reply goes only to the ticket's recorded reply
address (the verified contact), never to an address typed into the console, so a DPO cannot
disclose data to the wrong person by a typo (Art. 32; LEGAL.md 5 case 7).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dsr.controllers import ControllerProfile
from dsr.intents.rights import Right
from dsr.mail.compose import compose_mail
from dsr.replies import render_reply
from dsr.replies.context import ReplyContext, ReplyKind
from dsr.store.models import Channel, Direction, IdentityLevel, Message, OutboxItem, Ticket
from dsr.store.outbox import enqueue

BERLIN = ZoneInfo("Europe/Berlin")
VERIFIED_LEVELS = frozenset(
    {
        IdentityLevel.CONTACT_ON_FILE,
        IdentityLevel.CODE_CONFIRMED,
        IdentityLevel.KNOWN_FACTS,
        IdentityLevel.MANUAL,
    }
)


@dataclass(frozen=True, slots=True)
class SendProblem:
    message: str  # German, shown to the DPO


def text_to_html(text: str) -> str:
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8"></head><body>\n{body}</body></html>\n'
    )


def is_verified(ticket: Ticket) -> bool:
    try:
        return IdentityLevel(ticket.identity_level) in VERIFIED_LEVELS
    except ValueError:
        return False


# Marks a gap in a draft that the DPO must fill before it may be sent.
PLACEHOLDER_OPEN, PLACEHOLDER_CLOSE = "⟦", "⟧"


def placeholder(what: str) -> str:
    return f"{PLACEHOLDER_OPEN}{what}{PLACEHOLDER_CLOSE}"


def reply_context(ticket: Ticket, as_of: date, **extra: object) -> ReplyContext:
    """The facts a template may state about this ticket (no name unless verified)."""
    values: dict[str, object] = {
        "reference": ticket.reference,
        "as_of": as_of,
        "received_date": ticket.received_at.astimezone(BERLIN).date(),
        "internal_target": ticket.internal_target_date,
        "rights": tuple(Right(r) for r in ticket.rights),
        "due_date": ticket.due_date,
        "channel": "telegram" if ticket.channel == Channel.TELEGRAM else "email",
        "verified": is_verified(ticket),
        "recipient_name": ticket.subject.name if ticket.subject is not None and is_verified(ticket) else None,
        "extended_due_date": ticket.extended_due_date,
    }
    values.update(extra)
    return ReplyContext(**values)  # type: ignore[arg-type]


def _last_inbound(ticket: Ticket) -> Message | None:
    inbound = [m for m in ticket.messages if m.direction == Direction.INBOUND.value]
    return inbound[-1] if inbound else None


def send_to_subject(
    session: Session,
    ticket: Ticket,
    profile: ControllerProfile,
    *,
    kind: str,
    subject: str,
    text: str,
    now: datetime,
    html_body: str | None = None,
    chat_text: str | None = None,
) -> OutboxItem | SendProblem:
    """Queue one message to the data subject on the ticket's own channel."""
    if not ticket.reply_to:
        return SendProblem("Für dieses Ticket ist keine Antwortadresse hinterlegt.")
    if not text.strip():
        return SendProblem("Die Nachricht ist leer.")
    if PLACEHOLDER_OPEN in text or PLACEHOLDER_CLOSE in text:
        return SendProblem(
            f"Der Text enthält noch Platzhalter ({PLACEHOLDER_OPEN}…{PLACEHOLDER_CLOSE}); bitte ersetzen."
        )
    last = _last_inbound(ticket)
    if ticket.channel == Channel.TELEGRAM.value:
        try:
            chat_id = int(ticket.reply_to)
        except ValueError:
            return SendProblem("Die hinterlegte Telegram-Chat-ID ist ungültig.")
        body = chat_text or text
        payload = json.dumps({"chat_id": chat_id, "text": body}, ensure_ascii=False).encode("utf-8")
        out = _record(
            session,
            ticket,
            profile,
            channel=Channel.TELEGRAM.value,
            dedupe=f"console:{uuid4().hex}",
            message_id=None,
            subject="",
            text=body,
            now=now,
        )
        return enqueue(
            session,
            controller=ticket.controller,
            channel=Channel.TELEGRAM.value,
            kind=kind,
            recipient=ticket.reply_to,
            payload=payload,
            now=now,
            ticket_id=ticket.id,
            message_id=out.id,
        )
    references = tuple((last.references or "").split()) if last else ()
    in_reply_to = last.message_id if last else None
    mail = compose_mail(
        from_address=profile.from_address,
        from_name=profile.short_name,
        to=ticket.reply_to,
        subject=subject,
        text=text,
        html=html_body or text_to_html(text),
        now=now,
        reference=ticket.reference,
        in_reply_to=in_reply_to,
        references=references,
        # A reply the DPO wrote or approved is not an automatic one (RFC 3834).
        auto_submitted="no",
        language=ticket.language or "de",
    )
    out = _record(
        session,
        ticket,
        profile,
        channel=Channel.EMAIL.value,
        dedupe=mail.message_id,
        message_id=mail.message_id,
        subject=mail.subject,
        text=text,
        now=now,
        in_reply_to=in_reply_to,
        references=references,
    )
    return enqueue(
        session,
        controller=ticket.controller,
        channel=Channel.EMAIL.value,
        kind=kind,
        recipient=ticket.reply_to,
        payload=mail.payload,
        now=now,
        ticket_id=ticket.id,
        message_id=out.id,
    )


def queue_internal_mail(
    session: Session,
    profile: ControllerProfile,
    *,
    kind: ReplyKind,
    context: ReplyContext,
    to: str,
    now: datetime,
    reference: str | None = None,
    overrides_dir: Path | None = None,
) -> OutboxItem:
    """Render an internal mail (DPO, managers: German, metadata only) and queue it to `to`.

    The one path for internal mails started outside the pipeline: the console's weekly digest
    and the scheduler's digest and deadline reminders.  `to` must be an internal address from the
    controller profile, never one typed in.  The item is not linked to the ticket (`ticket_id`
    stays empty): a failed internal mail must not be mistaken for an undeliverable answer to the
    data subject, which escalates the ticket; the reference travels in the subject and in
    `X-DSR-Reference` instead.
    """
    rendered = render_reply(kind, context, profile, language="de", overrides_dir=overrides_dir)
    mail = compose_mail(
        from_address=profile.from_address,
        from_name=f"{profile.short_name} DSR-Assistent",
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html or text_to_html(rendered.text),
        now=now,
        reference=reference,
        # Mail we start ourselves, not an answer to a message (RFC 3834).
        auto_submitted="auto-generated",
    )
    return enqueue(
        session,
        controller=profile.key,
        channel=Channel.EMAIL.value,
        kind=kind.value,
        recipient=to,
        payload=mail.payload,
        now=now,
    )


def _record(
    session: Session,
    ticket: Ticket,
    profile: ControllerProfile,
    *,
    channel: str,
    dedupe: str,
    message_id: str | None,
    subject: str,
    text: str,
    now: datetime,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
) -> Message:
    """The outbound message row, as the pipeline writes it: the person's answer threads to it."""
    out = Message(
        controller=ticket.controller,
        channel=channel,
        direction=Direction.OUTBOUND.value,
        dedupe_key=dedupe,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=" ".join(references) or None,
        sender=profile.from_address,
        recipient=ticket.reply_to or "",
        subject_line=subject,
        body_text=text,
        headers={},
        attachments=[],
        received_at=now,
        ticket_id=ticket.id,
        disposition="",
    )
    session.add(out)
    session.flush()
    return out
