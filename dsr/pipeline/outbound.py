"""The one door out: every message the service sends is put into the outbox here.

Pipeline replies, the console's answers, questions and extension notices, the scheduler's
reminders and digests, the Telegram conversation's chat messages and binding codes: each becomes
an `Outgoing` (a composed mail, or one typed `TelegramPayload`) and passes `send`, in the
caller's transaction.  `send` asks `check_recipient` first; that is the place for every rule
about who may receive what.  `reply_context` is the one builder of what a letter about a ticket
may state.

Each reply to a data subject is also stored as an outbound `Message` (`record_outbound`) with its
Message-ID, so that the answer a data subject replies to (or a bounce quotes) leads back to the
ticket.  Pipeline replies to data subjects are counted against the per-recipient cap of the loop
guard (`ReplyQueue`).
"""

from __future__ import annotations

import base64
import hashlib
import html
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
from dsr.datamap import DataMap
from dsr.inbound import InboundMessage
from dsr.intents.rights import RIGHTS, Right
from dsr.logs import mask_address
from dsr.mail.compose import Attachment, ComposedMail, compose_mail
from dsr.pipeline import codes
from dsr.pipeline.loop_guard import over_reply_limit
from dsr.replies import normalise_language, render_reply
from dsr.replies.context import ReplyContext, ReplyKind
from dsr.store.audit import audit
from dsr.store.models import Channel, Direction, IdentityLevel, Message, Ticket
from dsr.store.outbox import enqueue_id

log = logging.getLogger(__name__)
BERLIN = ZoneInfo("Europe/Berlin")
INSERT_MESSAGE = insert(Message).returning(Message.id)  # a row nothing reads back in the transaction

# Identity levels at which a ticket's person counts as verified (Art. 12(6) GDPR).
VERIFIED_LEVELS = frozenset(
    {IdentityLevel.CONTACT_ON_FILE, IdentityLevel.CODE_CONFIRMED, IdentityLevel.KNOWN_FACTS,
     IdentityLevel.MANUAL}
)


def berlin_date(moment: datetime) -> date:
    return moment.astimezone(BERLIN).date()


def is_verified(ticket: Ticket) -> bool:
    return ticket.identity_level in VERIFIED_LEVELS


# --- what goes out --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TelegramPayload:
    """One chat message (or an edit of an earlier one) as the Telegram delivery sends it."""

    chat_id: int
    text: str
    reference: str | None = None  # the ticket it answers (pipeline replies)
    kind: str | None = None  # the reply kind (pipeline replies)
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()  # rows of (label, callback data)
    edit_message_id: int | None = None
    # A file sent after the text as a document (sendDocument): never shown inline by the chat.
    document: Attachment | None = None

    def encode(self) -> bytes:
        """UTF-8 JSON; keys only when set (the delivery reads `reply_markup`, `edit_message_id`)."""
        data: dict[str, Any] = {"chat_id": self.chat_id, "text": self.text}
        if self.reference is not None:
            data["reference"] = self.reference
        if self.kind is not None:
            data["kind"] = self.kind
        if self.buttons:
            rows = [[{"text": label, "callback_data": callback} for label, callback in row]
                    for row in self.buttons]
            data["reply_markup"] = {"inline_keyboard": rows}
        if self.edit_message_id is not None:
            data["edit_message_id"] = self.edit_message_id
        if self.document is not None:
            data["document"] = {"filename": self.document.filename, "media_type": self.document.media_type,
                                "data": base64.b64encode(self.document.data).decode("ascii")}
        return json.dumps(data, ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for the outbox: a composed mail to `recipient`, or a chat payload."""

    controller: str
    kind: str
    recipient: str  # the mail address, or the chat id for a chat payload
    message: ComposedMail | TelegramPayload
    ticket_id: int | None = None  # the ticket it is about (None for internal mail: see queue_internal_mail)
    message_row: int | None = None  # the outbound `Message` stored for it (`record_outbound`)
    not_before: datetime | None = None  # due only then (a chat reply waiting for an answer first)

    @property
    def channel(self) -> str:
        return Channel.TELEGRAM.value if isinstance(self.message, TelegramPayload) else Channel.EMAIL.value

    @property
    def payload(self) -> bytes:
        return self.message.encode() if isinstance(self.message, TelegramPayload) else self.message.payload


class RecipientRefusedError(ValueError):
    """A message that must not leave: raised in the caller's transaction, so nothing is sent."""


# The Art. 12(3) extension notice must reach the person within the first month, verified or not.
# To an unverified contact it goes in a neutral version (`extension_notice_kind`): rendered as
# unverified, so it carries no name and no data, only the reference, the dates and the reasons.
NEUTRAL_EXTENSION_KIND = "extension_notice_neutral"

# What may go to a contact that is not verified: letters that carry no personal data beyond what
# the sender wrote (receipt, identity steps, the code to the contact on file, level-0 confirmations,
# "handed to our DPO", "did we understand you?") and the chat's own conversation texts.
UNVERIFIED_KINDS = frozenset({
    ReplyKind.RECEIPT_CONFIRMATION.value, ReplyKind.IDENTITY_REQUEST.value, ReplyKind.VERIFICATION_CODE.value,
    ReplyKind.IDENTITY_VERIFIED.value, ReplyKind.IDENTITY_FAILED.value, ReplyKind.IDENTITY_EXPIRED.value,
    ReplyKind.MARKETING_OBJECTION_CONFIRMATION.value, ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION.value,
    ReplyKind.ESCALATION_NOTICE.value, ReplyKind.CLARIFICATION.value, "chat",
    # Acknowledgements of an objection or an Art. 22 contest and the processor-mode note say only
    # that the request arrived and what happens next: no personal data.
    ReplyKind.OBJECTION_ACK.value, ReplyKind.AUTOMATED_DECISION_ACK.value, ReplyKind.PROCESSOR_NOTICE.value,
    # Its correction (the forwarding taken back) says only that we answer ourselves, and by when.
    ReplyKind.PROCESSOR_TAKEN_BACK.value, NEUTRAL_EXTENSION_KIND,
    # The receipt of a request held before forwarding: the date it arrived, that we check who is
    # responsible, nothing else.
    ReplyKind.PROCESSOR_RECEIPT.value,
})
# Mail not to the data subject: to the controller's own staff (metadata only: only to the internal
# addresses of its profile), to the recipients of the data named in the controller's data map (Art.
# 19 notices: only to those), and the processor-mode forward and its withdrawal (only to a client of
# the profile's register).  `internal_problem` checks each against the configuration, never against
# the caller.
ART19_KIND = "art19_notice"
STAFF_KINDS = frozenset({ReplyKind.DPO_ESCALATION_ALERT.value, ReplyKind.DEADLINE_REMINDER.value,
                         ReplyKind.WEEKLY_DIGEST.value, ReplyKind.PROCESSOR_FOLLOW_UP.value})
CLIENT_KINDS = frozenset({ReplyKind.PROCESSOR_FORWARD.value, ReplyKind.PROCESSOR_WITHDRAWN.value})
INTERNAL_KINDS = STAFF_KINDS | CLIENT_KINDS | {ART19_KIND}
# The DPO's answer printed as a postal letter (console "Brief"): it needs a verified ticket, and the
# address must be the person's verified one, the address on file or one a person checked (then
# the post proves control of the address, as the code does for a mail address; `_postal_problem`).
POSTAL_LETTER_KIND = "postal_letter"
# Letters that hand out personal data (a copy, an export, changed or erased data, the logic of a
# decision, "we hold nothing about you", the DPO's own words, a download): only to a contact whose
# control was proven (on file, code, or a person's decision), never on invoice facts alone.
PROVEN_LEVELS = frozenset({IdentityLevel.CONTACT_ON_FILE.value, IdentityLevel.CODE_CONFIRMED.value,
                           IdentityLevel.MANUAL.value})
DISCLOSING_KINDS = frozenset({
    ReplyKind.ACCESS_ANSWER.value, ReplyKind.PORTABILITY_ANSWER.value, ReplyKind.RECTIFICATION_DONE.value,
    ReplyKind.ERASURE_DONE.value, ReplyKind.AUTOMATED_DECISION_OUTCOME.value, ReplyKind.NO_DATA.value,
    "dpo_reply", "package_link", "download_code", "file_link", "file_attachment", "package_attachment",
    "package_password",
})
# The password of an encrypted attachment goes by the other verified channel: the chat bound to
# the person (Telegram binding) when the attachment went by mail.
SECOND_CHANNEL_KINDS = frozenset({"package_password"})


def extension_notice_kind(ticket: Ticket) -> str:
    """The kind an extension notice about `ticket` goes out as: the neutral one while unverified."""
    return ReplyKind.EXTENSION_NOTICE.value if is_verified(ticket) else NEUTRAL_EXTENSION_KIND


def recipient_problem(ticket: Ticket | None, *, kind: str, recipient: str) -> str | None:
    """Why a message of `kind` about `ticket` must not go to `recipient` (German, for the DPO), or None.

    Personal data only to verified contacts (Art. 5(1)(f), Art. 12(6), Art. 32 GDPR): anything but
    the letters of `UNVERIFIED_KINDS` needs a verified ticket and goes only to its recorded reply
    address; disclosing letters need a proven contact.  The console asks this before it offers an
    action, so it can say why the action is unavailable.
    """
    if ticket is None or kind in UNVERIFIED_KINDS or kind in INTERNAL_KINDS:
        return None
    level = ticket.identity_level
    if level not in VERIFIED_LEVELS:
        return ("Die Identität der anfragenden Person ist nicht bestätigt: an die Antwortadresse darf "
                "nur gehen, was keine personenbezogenen Daten enthält (Art. 12 Abs. 6 DSGVO). "
                "Bitte zuerst die Identität bestätigen (Abschnitt Identität).")
    if kind == POSTAL_LETTER_KIND:
        return _postal_problem(ticket, recipient)
    if kind in DISCLOSING_KINDS and level not in PROVEN_LEVELS:
        return ("Die Identität ist nur über Rechnungsangaben (Kundennummer und Postleitzahl) bestätigt; "
                "das genügt nicht für eine Antwort mit personenbezogenen Daten. Bitte die Identität "
                "über die hinterlegten Kontaktdaten bestätigen.")
    if (ticket.reply_to or "").strip().lower() != recipient.strip().lower() and not (
            kind in SECOND_CHANNEL_KINDS and recipient.strip() == bound_chat(ticket)):
        return "Nachrichten zu diesem Vorgang gehen nur an die bestätigte Antwortadresse des Vorgangs."
    return None


def bound_chat(ticket: Ticket) -> str | None:
    """The Telegram chat bound to the ticket's person (a private chat's id is the user's), if any."""
    subject = ticket.subject
    return str(subject.telegram_user_id) if subject is not None and subject.telegram_user_id else None


def _address_lines(address: str | None) -> tuple[str, ...]:
    return tuple(" ".join(line.split()).lower() for line in (address or "").splitlines() if line.strip())


def _postal_problem(ticket: Ticket, address: str) -> str | None:
    """A letter goes to the ticket's postal address, and that must be the person's verified one: the
    address on file, or one a person checked (identity level manual: the DPO vouches for it)."""
    if not _address_lines(address) or _address_lines(address) != _address_lines(ticket.postal_address):
        return "Briefe zu diesem Vorgang gehen nur an die Postanschrift des Vorgangs."
    if ticket.identity_level == IdentityLevel.MANUAL.value:
        return None
    on_file = ticket.subject.postal_address if ticket.subject is not None else None
    if _address_lines(on_file) == _address_lines(address):
        return None
    return ("Die Postanschrift des Vorgangs ist nicht die hinterlegte Anschrift der Person: ein Brief mit "
            "personenbezogenen Daten geht nur an eine bestätigte Anschrift. Bitte die Anschrift prüfen "
            "und die Identität von Hand bestätigen (Abschnitt Identität).")


def internal_addresses(profile: ControllerProfile) -> frozenset[str]:
    """The controller's own addresses for internal mail: DPO, privacy contact, notification addresses."""
    addresses = [str(profile.contact_email), *(str(a) for a in profile.notification_addresses)]
    if profile.dpo is not None and profile.dpo.email:
        addresses.append(profile.dpo.email)
    return frozenset(a.strip().lower() for a in addresses)


def internal_problem(out: Outgoing, profile: ControllerProfile | None, datamap: DataMap | None) -> str | None:
    """Why an internal message (`INTERNAL_KINDS`) must not go to its recipient, or None."""
    if profile is None or profile.key != out.controller:
        return f"outgoing {out.kind}: internal mail needs its controller's profile to check the recipient"
    if out.kind == ART19_KIND:
        allowed = frozenset(str(r.email).lower() for r in datamap.recipients) if datamap else frozenset()
    elif out.kind in CLIENT_KINDS:
        allowed = frozenset(str(c.forward_to).lower() for c in profile.processor_clients)
    else:
        allowed = internal_addresses(profile)
    if out.recipient.strip().lower() not in allowed:
        return (f"outgoing {out.kind}: {mask_address(out.recipient)} is not a configured recipient "
                "of this kind (profile or data map)")
    return None


def check_recipient(session: Session, out: Outgoing, *, profile: ControllerProfile | None = None,
                    datamap: DataMap | None = None) -> None:
    """The recipient guard of the door: every rule about who may receive what lives here.

    A recipient is named; a chat payload goes to the chat it is addressed to; internal kinds go
    only to the recipients configured for them (`internal_problem`: the caller passes its `profile`,
    and its `datamap` for Art. 19 notices); anything else needs its ticket, unless it is one of the
    letters without personal data (`UNVERIFIED_KINDS`); a chat text about a ticket goes to that
    ticket's chat; and a message about a ticket passes `recipient_problem` (personal data only to
    the ticket's verified contact), chat kinds exactly like mail kinds.
    """
    recipient = out.recipient.strip()
    if not recipient:
        raise RecipientRefusedError(f"outgoing {out.kind}: no recipient")
    if isinstance(out.message, TelegramPayload) and recipient != str(out.message.chat_id):
        raise RecipientRefusedError(f"outgoing {out.kind}: chat payload for another chat than its recipient")
    if out.kind in INTERNAL_KINDS:
        refused = internal_problem(out, profile, datamap)
        if refused is not None:
            log.warning("outgoing refused kind=%s to=%s", out.kind, mask_address(recipient))
            raise RecipientRefusedError(refused)
        return
    ticket = session.get(Ticket, out.ticket_id) if out.ticket_id is not None else None
    if ticket is None and out.kind not in UNVERIFIED_KINDS:
        raise RecipientRefusedError(f"outgoing {out.kind}: a message with personal data needs its ticket "
                                    "(the recipient is checked against it)")
    problem = recipient_problem(ticket, kind=out.kind, recipient=recipient)
    if problem is None and ticket is not None and out.kind == "chat" and recipient != ticket.reply_to:
        problem = "Chat-Nachrichten zu diesem Vorgang gehen nur an den Chat des Vorgangs."
    if problem is not None:
        log.warning("outgoing refused kind=%s ticket=%s to=%s", out.kind,
                    ticket.reference if ticket else None, mask_address(recipient))
        raise RecipientRefusedError(problem)


def send(session: Session, out: Outgoing, *, now: datetime, profile: ControllerProfile | None = None,
         datamap: DataMap | None = None) -> int:
    """The one door out: check the recipient, then queue the message; returns the outbox id.

    Nothing is delivered here: the outbox sender delivers after the caller's commit.  Internal mail
    passes the controller's `profile` (and an Art. 19 notice its `datamap`) for the check.
    """
    check_recipient(session, out, profile=profile, datamap=datamap)
    return enqueue_id(session, controller=out.controller, channel=out.channel, kind=out.kind,
                      recipient=out.recipient, payload=out.payload, now=now, ticket_id=out.ticket_id,
                      message_id=out.message_row, not_before=out.not_before)


def send_chat(session: Session, *, controller: str, chat_id: int, text: str, now: datetime,
              buttons: Sequence[Sequence[tuple[str, str]]] = (), edit_message_id: int | None = None,
              kind: str = "chat", ticket_id: int | None = None, not_before: datetime | None = None) -> int:
    """A chat message of the Telegram conversation (or an edit of an earlier one) through `send`."""
    payload = TelegramPayload(chat_id=chat_id, text=text, buttons=tuple(tuple(row) for row in buttons),
                              edit_message_id=edit_message_id)
    outgoing = Outgoing(controller=controller, kind=kind, recipient=str(chat_id), message=payload,
                        ticket_id=ticket_id, not_before=not_before)
    item_id = send(session, outgoing, now=now)
    session.flush()
    return item_id


def record_outbound(session: Session, ticket: Ticket, *, controller: str, sender: str, recipient: str,
                    dedupe: str, message_id: str | None, subject: str, text: str, now: datetime,
                    in_reply_to: str | None = None, references: Sequence[str] = (),
                    attachments: Sequence[Attachment] = ()) -> int:
    """Store a reply to the person as an outbound message and return its id (the person's answer
    threads to it).  A one-time code in it is stored masked: only the outbox holds it, to send it.

    One INSERT on the transaction's connection, no ORM object: nothing in the transaction
    reads the row back through the session, and the ticket it points to is already written.
    """
    row_id: int = session.connection().execute(INSERT_MESSAGE, {
        "controller": controller, "channel": "telegram" if message_id is None else "email",
        "direction": Direction.OUTBOUND.value, "dedupe_key": dedupe, "message_id": message_id,
        "in_reply_to": in_reply_to, "references": " ".join(references) or None,
        "sender": sender, "recipient": recipient, "subject_line": subject,
        "body_text": codes.mask(text), "headers": {},
        "attachments": [{"name": a.filename, "content_type": a.media_type, "size": len(a.data),
                         "sha256": hashlib.sha256(a.data).hexdigest()} for a in attachments],
        "received_at": now,
        "ticket_id": ticket.id, "disposition": "",
    }).scalar_one()
    return row_id


def chat_dedupe_key(prefix: str = "out") -> str:
    """Dedupe key of an outbound chat message (chat messages have no Message-ID)."""
    return f"{prefix}:{uuid.uuid4().hex}"


# --- what a letter may state ----------------------------------------------------------------


def reply_context(ticket: Ticket, *, channel: str | None = None, verified: bool | None = None,
                  recipient_name: str | None = None, as_of: date | None = None, **extra: Any) -> ReplyContext:
    """What a reply about `ticket` may state; personal data (the name) only when verified.

    The pipeline says how far the sender is verified and passes the name it verified.  Letters
    started outside the pipeline (console, scheduler) pass `as_of`, the day they are written:
    they state what the ticket records (its identity level and the name on file, its due date and
    internal target).  Otherwise the due date is stated only for a right with a statutory
    deadline.  `extra` sets further fields of `ReplyContext` (and overrides the above).
    """
    rights = tuple(Right(r) for r in ticket.rights)
    verified = is_verified(ticket) if verified is None else verified
    values: dict[str, Any] = {
        "reference": ticket.reference,
        "rights": rights,
        "received_date": berlin_date(ticket.received_at),
        "due_date": ticket.due_date if any(RIGHTS[r].statutory_deadline for r in rights) else None,
        "channel": channel or ("telegram" if ticket.channel == Channel.TELEGRAM else "email"),
        "verified": verified,
        "recipient_name": recipient_name if verified else None,
        "extended_due_date": ticket.extended_due_date,
    }
    if as_of is not None:
        values.update(as_of=as_of, due_date=ticket.due_date, internal_target=ticket.internal_target_date)
        if verified and recipient_name is None and ticket.subject is not None:
            values["recipient_name"] = ticket.subject.name
    values.update(extra)
    return ReplyContext(**values)


def text_to_html(text: str) -> str:
    """The HTML part of a mail written as plain text (paragraphs, line breaks kept)."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8"></head><body>\n{body}</body></html>\n'
    )


def queue_internal_mail(session: Session, profile: ControllerProfile, *, kind: ReplyKind,
                        context: ReplyContext, to: str, now: datetime, reference: str | None = None,
                        overrides_dir: Path | None = None) -> int:
    """Render an internal mail (DPO, managers: German, metadata only) and send it to `to`.

    For internal mails started outside the pipeline: the console's weekly digest and the
    scheduler's digest and deadline reminders.  `to` must be an internal address from the
    controller profile, never one typed in.  The item is not linked to the ticket (`ticket_id`
    stays empty): a failed internal mail must not be mistaken for an undeliverable answer to the
    data subject, which escalates the ticket; the reference travels in the subject and in
    `X-DSR-Reference` instead.
    """
    outgoing = compose_internal_mail(profile, kind=kind, context=context, to=to, now=now, reference=reference,
                                     overrides_dir=overrides_dir)
    return send(session, outgoing, now=now, profile=profile)


def compose_internal_mail(profile: ControllerProfile, *, kind: ReplyKind, context: ReplyContext, to: str,
                          now: datetime, reference: str | None = None,
                          overrides_dir: Path | None = None) -> Outgoing:
    """The internal mail of `queue_internal_mail`, rendered and composed without a database:
    a long letter (the weekly digest) is built outside the transaction that queues it."""
    rendered = render_reply(kind, context, profile, language="de", overrides_dir=overrides_dir)
    mail = compose_mail(
        from_address=profile.from_address, from_name=f"{profile.short_name} DSR-Assistent", to=to,
        subject=rendered.subject, text=rendered.text, html=rendered.html or text_to_html(rendered.text),
        now=now, reference=reference,
        # Mail we start ourselves, not an answer to a message (RFC 3834).
        auto_submitted="auto-generated",
    )
    return Outgoing(controller=profile.key, kind=kind.value, recipient=to, message=mail)


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
            chat = TelegramPayload(chat_id=self._chat_id(), text=rendered.chat, reference=ticket.reference,
                                   kind=kind.value)
            out = self._outbound(ticket, dedupe=chat_dedupe_key(), message_id=None,
                                 recipient=recipient, subject="", text=rendered.chat)
            return self._enqueue(kind, ticket, recipient, chat, out)
        answering = self.msg.channel == "email"
        mail = compose_mail(
            from_address=self.profile.from_address, from_name=f"{self.profile.short_name} Datenschutz",
            to=recipient, subject=rendered.subject, text=rendered.text, html=rendered.html, now=self.now,
            reference=ticket.reference, language=normalise_language(ticket.language),
            in_reply_to=self.msg.message_id if answering else None,
            references=self.msg.references if answering else (),
        )
        out = self._outbound(ticket, dedupe=mail.message_id, message_id=mail.message_id, recipient=recipient,
                             subject=mail.subject, text=rendered.text,
                             in_reply_to=self.msg.message_id if answering else None,
                             references=self.msg.references if answering else ())
        return self._enqueue(kind, ticket, recipient, mail, out)

    def alert_dpo(self, ticket: Ticket, reasons: Sequence[str], *,
                  kind: ReplyKind = ReplyKind.DPO_ESCALATION_ALERT, note: str = "") -> int:
        """Internal alert to the DPO / privacy contact: metadata only, never the message body."""
        to = (self.profile.dpo.email if self.profile.dpo and self.profile.dpo.email else None) \
            or str(self.profile.contact_email)
        ctx = reply_context(ticket, channel="email", verified=False,
                            escalation_reasons=tuple(reasons), outcome_text=note,
                            breach_due_at=ticket.breach_due_at, stated_due_date=ticket.stated_due_date,
                            identity_level=ticket.identity_level)
        rendered = render_reply(kind, ctx, self.profile, language="de", overrides_dir=self.overrides_dir,
                                only="mail")
        mail = compose_mail(
            from_address=self.profile.from_address, from_name=f"{self.profile.short_name} DSR-Assistent",
            to=to, subject=rendered.subject, text=rendered.text, html=rendered.html, now=self.now,
            reference=ticket.reference, auto_submitted="auto-generated",
        )
        out = self._outbound(ticket, dedupe=mail.message_id, message_id=mail.message_id, recipient=to,
                             subject=mail.subject, text=rendered.text)
        return self._enqueue(kind, ticket, to, mail, out)

    def _chat_recipient(self) -> str:
        return str(self.msg.chat_id) if self.msg.chat_id is not None else self.msg.sender

    def _chat_id(self) -> int:
        if self.msg.chat_id is None:
            raise RecipientRefusedError("a chat reply to a message without a chat id")
        return self.msg.chat_id

    def _outbound(self, ticket: Ticket, *, dedupe: str, message_id: str | None, recipient: str, subject: str,
                  text: str, in_reply_to: str | None = None, references: Sequence[str] = ()) -> int:
        return record_outbound(self.session, ticket, controller=self.profile.key,
                               sender=self.profile.from_address, recipient=recipient, dedupe=dedupe,
                               message_id=message_id, subject=subject, text=text, now=self.now,
                               in_reply_to=in_reply_to, references=references)

    def _enqueue(self, kind: ReplyKind, ticket: Ticket, recipient: str,
                 message: ComposedMail | TelegramPayload, out_id: int) -> int:
        hold = self.msg.hold_chat_replies_until if isinstance(message, TelegramPayload) else None
        outgoing = Outgoing(controller=self.profile.key, kind=kind.value, recipient=recipient,
                            message=message, ticket_id=ticket.id, message_row=out_id, not_before=hold)
        item_id = send(self.session, outgoing, now=self.now, profile=self.profile)
        audit(self.session, actor="system", action="reply_queued", now=self.now, ticket_id=ticket.id,
              reason=kind.value, detail={"outbox_id": item_id, "channel": outgoing.channel,
                                         "recipient": mask_address(recipient)})
        self.queued.append(item_id)
        return item_id
