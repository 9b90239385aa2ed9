"""Threading: which ticket a follow-up belongs to, and whether its sender may speak for it.

Order of evidence (as mature help desks thread mail): `In-Reply-To`, then `References` (newest first), both
matched against every message we stored for the controller (ours and theirs), then the
`[DSR-YYYY-NNNNNN]` tag in the subject.  German "AW:"/"WG:" prefixes need no special handling
because neither the headers nor the tag depend on them.

Matching a ticket is not the same as trusting the sender: Zammad #5064 and FreeScout #2382 attached
mail from anyone who knew a ticket number.  `is_requester` is the binding check the pipeline
applies before a follow-up may act on a ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.inbound import InboundMessage
from dsr.mail.compose import TAG_RE
from dsr.store.models import DataSubject, Message, SubjectEmail, Ticket

# Bound the header lookup: a References header of a long thread can list hundreds of ids.
MAX_IDS = 50


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    ticket: Ticket | None
    method: str = ""  # "in_reply_to", "references", "subject_tag", "bounce_headers", "bounce_tag"


def find_thread(
    session: Session,
    *,
    controller: str,
    in_reply_to: str | None,
    references: Sequence[str],
    subject: str,
    header_method: str = "",
    tag_texts: Sequence[str] = (),
    tag_method: str = "subject_tag",
) -> ThreadMatch:
    """Find the ticket a message refers to, by headers first and the subject tag second."""
    candidates = [in_reply_to] if in_reply_to else []
    candidates += [ref for ref in reversed(references) if ref]  # newest reference first
    unique = list(dict.fromkeys(candidates))[:MAX_IDS]
    if unique:
        rows = session.execute(
            select(Message.message_id, Message.ticket_id).where(
                Message.controller == controller,
                Message.message_id.in_(unique),
                Message.ticket_id.is_not(None),
            )
        ).all()
        by_id = {mid: tid for mid, tid in rows}
        for mid in unique:
            ticket_id = by_id.get(mid)
            ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
            if ticket is not None:
                method = header_method or ("in_reply_to" if mid == in_reply_to else "references")
                return ThreadMatch(ticket, method)
    for text in (subject, *tag_texts):
        for match in TAG_RE.finditer(text or ""):
            ticket = session.scalar(
                select(Ticket).where(Ticket.reference == match.group(1), Ticket.controller == controller)
            )
            if ticket is not None:
                return ThreadMatch(ticket, "subject_tag" if text is subject else tag_method)
    return ThreadMatch(None)


def is_requester(session: Session, ticket: Ticket, msg: InboundMessage) -> bool:
    """May this sender act on the ticket?  Only its requester or the verified data subject.

    For an e-mail ticket that is the address the ticket answers to, or any address on file for
    the data subject the ticket was verified against; for a chat ticket the same chat or the
    Telegram account bound to that data subject.
    """
    sender = msg.sender.strip().lower()
    if ticket.reply_to and ticket.reply_to.strip().lower() == sender:
        return True
    if msg.chat_id is not None and ticket.reply_to == str(msg.chat_id):
        return True
    if ticket.subject_id is None:
        return False
    subject = session.get(DataSubject, ticket.subject_id)
    if subject is None:
        return False
    if msg.telegram_user_id is not None and subject.telegram_user_id == msg.telegram_user_id:
        return True
    if subject.email and subject.email.lower() == sender:
        return True
    alt = session.scalar(
        select(SubjectEmail.id).where(SubjectEmail.subject_id == subject.id, SubjectEmail.email == sender)
    )
    return alt is not None
