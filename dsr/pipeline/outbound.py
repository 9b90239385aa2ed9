"""Render a reply, compose it for its channel and put it into the outbox, in the caller's transaction.

Used only by the pipeline.  Each queued mail is also stored as an outbound `Message` with its
Message-ID, so that the answer a data subject replies to (or a bounce quotes) leads back to the
ticket.  Replies to data subjects are counted against the per-recipient cap of the loop guard.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.orm import Session

from dsr.controllers.profile import ControllerProfile
from dsr.inbound import InboundMessage
from dsr.intents.model import Classification
from dsr.intents.rights import RIGHTS, Right
from dsr.logs import mask_address
from dsr.mail.compose import compose_mail
from dsr.pipeline.loop_guard import over_reply_limit
from dsr.replies import render_reply
from dsr.replies.context import ReplyContext, ReplyKind
from dsr.store.audit import audit
from dsr.store.models import Direction, Message, Ticket
from dsr.store.outbox import enqueue_id

log = logging.getLogger(__name__)
BERLIN = ZoneInfo("Europe/Berlin")
INSERT_MESSAGE = insert(Message).returning(Message.id)  # a row nothing reads back in the transaction


def berlin_date(moment: datetime) -> date:
    return moment.astimezone(BERLIN).date()


def reply_context(ticket: Ticket, *, channel: str, verified: bool, recipient_name: str | None = None,
                  **extra: Any) -> ReplyContext:
    """What a reply about `ticket` may state; personal data (the name) only when verified."""
    rights = tuple(Right(r) for r in ticket.rights)
    statutory = any(RIGHTS[r].statutory_deadline for r in rights)
    return ReplyContext(
        reference=ticket.reference,
        rights=rights,
        received_date=berlin_date(ticket.received_at),
        due_date=ticket.due_date if statutory else None,
        channel=channel,
        verified=verified,
        recipient_name=recipient_name if verified else None,
        extended_due_date=ticket.extended_due_date,
        **extra,
    )


@dataclass(slots=True)
class ReplyQueue:
    session: Session
    profile: ControllerProfile
    msg: InboundMessage
    now: datetime
    overrides_dir: Path | None = None
    # Set when the sender asked for no automatic answers (X-Auto-Response-Suppress, noreply).
    withhold_from_sender: str = ""
    queued: list[int] = field(default_factory=list)

    def reply(self, kind: ReplyKind, ticket: Ticket, ctx: ReplyContext, *, to: str | None = None,
              channel: str | None = None) -> int | None:
        """Answer the data subject: on the inbound channel by default, or by mail to `to`.

        Returns the outbox id, or None when the per-recipient cap withheld the reply (the ticket is
        unaffected and the audit log says so).
        """
        channel = channel or self.msg.channel
        if to:
            recipient = to
        elif channel == "telegram":
            recipient = self._chat_recipient()
        else:
            recipient = self.msg.sender
        withheld = ""
        if self.withhold_from_sender and recipient.lower() == self.msg.sender.lower():
            withheld = f"Absender wünscht keine automatischen Antworten ({self.withhold_from_sender})"
        elif over_reply_limit(self.session, controller=self.profile.key, recipient=recipient, now=self.now):
            withheld = "Begrenzung automatischer Antworten je Empfänger erreicht"
        if withheld:
            audit(self.session, actor="system", action="auto_reply_withheld", now=self.now,
                  ticket_id=ticket.id, reason=withheld,
                  detail={"kind": kind.value, "recipient": mask_address(recipient)})
            log.warning("auto reply withheld ticket=%s kind=%s to=%s",
                        ticket.reference, kind.value, mask_address(recipient))
            return None
        rendered = render_reply(kind, ctx, self.profile, language=ticket.language,
                                overrides_dir=self.overrides_dir,
                                only="chat" if channel == "telegram" else "mail")
        if channel == "telegram":
            payload = json.dumps({"chat_id": self.msg.chat_id, "text": rendered.chat,
                                  "reference": ticket.reference, "kind": kind.value},
                                 ensure_ascii=False).encode()
            out = self._outbound(ticket, dedupe=f"out:{uuid.uuid4().hex}", message_id=None,
                                 recipient=recipient, subject="", text=rendered.chat)
            return self._enqueue(kind, ticket, "telegram", recipient, payload, out)
        answering = self.msg.channel == "email"
        mail = compose_mail(
            from_address=self.profile.from_address, from_name=f"{self.profile.short_name} Datenschutz",
            to=recipient, subject=rendered.subject, text=rendered.text, html=rendered.html, now=self.now,
            reference=ticket.reference, language=ticket.language,
            in_reply_to=self.msg.message_id if answering else None,
            references=self.msg.references if answering else (),
        )
        out = self._outbound(ticket, dedupe=mail.message_id, message_id=mail.message_id, recipient=recipient,
                             subject=mail.subject, text=rendered.text,
                             in_reply_to=self.msg.message_id if answering else None,
                             references=self.msg.references if answering else ())
        return self._enqueue(kind, ticket, "email", recipient, mail.payload, out)

    def alert_dpo(self, ticket: Ticket, reasons: Sequence[str], *,
                  kind: ReplyKind = ReplyKind.DPO_ESCALATION_ALERT, note: str = "") -> int:
        """Internal alert to the DPO / privacy contact: metadata only, never the message body."""
        to = (self.profile.dpo.email if self.profile.dpo and self.profile.dpo.email else None) \
            or str(self.profile.contact_email)
        ctx = reply_context(ticket, channel="email", verified=False,
                            escalation_reasons=tuple(reasons), outcome_text=note)
        rendered = render_reply(kind, ctx, self.profile, language="de", overrides_dir=self.overrides_dir,
                                only="mail")
        mail = compose_mail(
            from_address=self.profile.from_address, from_name=f"{self.profile.short_name} DSR-Assistent",
            to=to, subject=rendered.subject, text=rendered.text, html=rendered.html, now=self.now,
            reference=ticket.reference, auto_submitted="auto-generated",
        )
        out = self._outbound(ticket, dedupe=mail.message_id, message_id=mail.message_id, recipient=to,
                             subject=mail.subject, text=rendered.text)
        return self._enqueue(kind, ticket, "email", to, mail.payload, out)

    def _chat_recipient(self) -> str:
        return str(self.msg.chat_id) if self.msg.chat_id is not None else self.msg.sender

    def _outbound(self, ticket: Ticket, *, dedupe: str, message_id: str | None, recipient: str, subject: str,
                  text: str, in_reply_to: str | None = None, references: Sequence[str] = ()) -> int:
        """Store the reply as an outbound message and return its id.

        One INSERT on the transaction's connection, no ORM object: nothing in the transaction
        reads the row back through the session, and the ticket it points to is already written.
        """
        return self.session.connection().execute(INSERT_MESSAGE, {
            "controller": self.profile.key, "channel": "telegram" if message_id is None else "email",
            "direction": Direction.OUTBOUND.value, "dedupe_key": dedupe, "message_id": message_id,
            "in_reply_to": in_reply_to, "references": " ".join(references) or None,
            "sender": self.profile.from_address, "recipient": recipient, "subject_line": subject,
            "body_text": text, "headers": {}, "attachments": [], "received_at": self.now,
            "ticket_id": ticket.id, "disposition": "",
        }).scalar_one()

    def _enqueue(self, kind: ReplyKind, ticket: Ticket, channel: str, recipient: str, payload: bytes,
                 out_id: int) -> int:
        item_id = enqueue_id(self.session, controller=self.profile.key, channel=channel, kind=kind.value,
                             recipient=recipient, payload=payload, now=self.now, ticket_id=ticket.id,
                             message_id=out_id)
        audit(self.session, actor="system", action="reply_queued", now=self.now, ticket_id=ticket.id,
              reason=kind.value, detail={"outbox_id": item_id, "channel": channel,
                                         "recipient": mask_address(recipient)})
        self.queued.append(item_id)
        return item_id


@dataclass(slots=True)
class StoredInbound:
    """The inbound message's row: its id and the two columns the pipeline fills in afterwards
    (written with one UPDATE just before the commit)."""

    id: int
    ticket_id: int | None = None
    disposition: str = ""  # why no ticket was touched (loop guard, held, ...); "" when processed


@dataclass(slots=True)
class Run:
    """Everything one `Pipeline.handle` call works on, inside its single transaction."""

    session: Session
    profile: ControllerProfile
    msg: InboundMessage
    stored: StoredInbound  # the inbound message as stored
    now: datetime
    replies: ReplyQueue
    classification: Classification  # intents.classify of the message, computed before the transaction
