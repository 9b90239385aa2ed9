"""Messages the DPO sends to the data subject, written to the outbox in the caller's transaction.

"Persist, then act": nothing is delivered from the web request.  An e-mail becomes complete
RFC 5322 bytes (threaded to the person's last message, tagged with the reference); a chat answer
becomes a `TelegramPayload`; both leave through the one door, `dsr.pipeline.outbound.send`.
A reply goes only to the ticket's recorded reply address (the verified contact), never to an
address typed into the console, so a DPO cannot disclose data to the wrong person by a typo
(Art. 32 GDPR).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dsr.controllers import ControllerProfile
from dsr.mail.compose import Attachment, ComposedMail, compose_mail
from dsr.pipeline.outbound import (
    Outgoing,
    TelegramPayload,
    chat_dedupe_key,
    recipient_problem,
    record_outbound,
    send,
    text_to_html,
)
from dsr.replies import normalise_language
from dsr.store.models import Channel, Direction, Message, Ticket


@dataclass(frozen=True, slots=True)
class SendProblem:
    message: str  # German, shown to the DPO


# Marks a gap in a draft that the DPO must fill before it may be sent.
PLACEHOLDER_OPEN, PLACEHOLDER_CLOSE = "⟦", "⟧"


def placeholder(what: str) -> str:
    return f"{PLACEHOLDER_OPEN}{what}{PLACEHOLDER_CLOSE}"


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
    attachment: Attachment | None = None,
) -> int | SendProblem:
    """Queue one message to the data subject on the ticket's own channel; returns the outbox id.

    `attachment`: a file attached to the mail (multipart/mixed), or sent as a document after the
    chat text.
    """
    if not ticket.reply_to:
        return SendProblem("Für dieses Ticket ist keine Antwortadresse hinterlegt.")
    refused = recipient_problem(ticket, kind=kind, recipient=ticket.reply_to)
    if refused is not None:
        return SendProblem(refused)  # the door would refuse it; say why before composing anything
    if not text.strip():
        return SendProblem("Die Nachricht ist leer.")
    if PLACEHOLDER_OPEN in text or PLACEHOLDER_CLOSE in text:
        return SendProblem(
            f"Der Text enthält noch Platzhalter ({PLACEHOLDER_OPEN}…{PLACEHOLDER_CLOSE}); bitte ersetzen."
        )
    last = _last_inbound(ticket)
    recipient = ticket.reply_to
    attachments = (attachment,) if attachment is not None else ()
    message: ComposedMail | TelegramPayload
    if ticket.channel == Channel.TELEGRAM.value:
        try:
            chat_id = int(ticket.reply_to)
        except ValueError:
            return SendProblem("Die hinterlegte Telegram-Chat-ID ist ungültig.")
        body = chat_text or text
        message = TelegramPayload(chat_id=chat_id, text=body, document=attachment)
        row = record_outbound(session, ticket, controller=ticket.controller, sender=profile.from_address,
                              recipient=recipient, dedupe=chat_dedupe_key("console"), message_id=None,
                              subject="", text=body, now=now, attachments=attachments)
    else:
        references = tuple((last.references or "").split()) if last else ()
        in_reply_to = last.message_id if last else None
        message = compose_mail(
            from_address=profile.from_address, from_name=profile.short_name, to=recipient, subject=subject,
            text=text, html=html_body or text_to_html(text), now=now, reference=ticket.reference,
            in_reply_to=in_reply_to, references=references,
            # A reply the DPO wrote or approved is not an automatic one (RFC 3834).
            auto_submitted="no", language=normalise_language(ticket.language), attachments=attachments,
        )
        row = record_outbound(session, ticket, controller=ticket.controller, sender=profile.from_address,
                              recipient=recipient, dedupe=message.message_id, message_id=message.message_id,
                              subject=message.subject, text=text, now=now, in_reply_to=in_reply_to,
                              references=references, attachments=attachments)
    outgoing = Outgoing(controller=ticket.controller, kind=kind, recipient=recipient, message=message,
                        ticket_id=ticket.id, message_row=row)
    return send(session, outgoing, now=now)
