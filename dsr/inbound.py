"""Value types crossing the boundary between channel adapters and the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from dsr.intents.rights import Right


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content_type: str
    size: int
    sha256: str
    looks_like_id_document: bool = False


@dataclass(frozen=True, slots=True)
class ReturnedMail:
    """What a delivery report quotes of the mail that came back (see `dsr.mail.bounce`)."""

    id_headers: tuple[str, ...] = ()  # Message-ID, In-Reply-To, References values of the returned mail
    texts: tuple[str, ...] = ()  # the returned subject(s) and the report's text parts
    status_codes: tuple[str, ...] = ()  # Status fields of the delivery-status blocks, e.g. "5.1.1"
    status_texts: tuple[str, ...] = ()  # the delivery-status parts as text


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as received, already parsed by its adapter; channel-neutral."""

    controller: str  # profile key
    channel: str  # "email" or "telegram"
    dedupe_key: str  # Message-ID, or "tg:<chat_id>:<message_id>"
    sender: str  # normalised e-mail address, or "telegram:<user_id>"
    received_at: datetime  # timezone-aware, when it reached our server
    subject: str = ""
    body: str = ""
    recipient: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # Only the headers the pipeline needs (loop guard, identity): lower-case names.
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    display_name: str = ""
    chat_id: int | None = None
    telegram_user_id: int | None = None
    raw: bytes | None = None
    # Parsed once by the adapter, typed (never computed headers):
    authentication_results: tuple[str, ...] = ()  # every Authentication-Results value (RFC 8601)
    returned: ReturnedMail | None = None  # set for a delivery report (bounce)
    defects: tuple[str, ...] = ()  # what the mail parser repaired or could not read
    # A delivery report's (field, value) pairs: action, status, final-recipient (RFC 3464).
    delivery_status: tuple[tuple[str, str], ...] = ()
    confirmed_rights: tuple[Right, ...] = ()  # chat only: rights the person confirmed by button
    # Chat only: the chat asks "Stimmt das?" first; replies to the chat wait until the answer
    # (which releases them) or until this moment, whichever comes first.
    hold_chat_replies_until: datetime | None = None


class OutcomeStatus(StrEnum):
    ACCEPTED = "accepted"  # committed; a ticket was opened or updated
    DUPLICATE = "duplicate"  # seen before; nothing done (still acknowledge to the sender)
    IGNORED = "ignored"  # committed but not answered (loop guard, bounce, rate limit)
    HELD = "held"  # committed and held for the DPO (e.g. follow-up from a stranger)
    QUARANTINED = "quarantined"  # could not be processed; kept for the DPO


@dataclass(frozen=True, slots=True)
class Outcome:
    status: OutcomeStatus
    reason: str = ""
    ticket_reference: str | None = None
    outbox_ids: tuple[int, ...] = ()


class MessageSink(Protocol):
    """Where adapters hand messages over; `dsr.pipeline.core.Pipeline` satisfies it.

    The service wires one sink (the pipeline, or its worker processes, waking the outbox sender
    after each commit) and gives the same one to every channel and to the console.
    """

    def handle(self, msg: InboundMessage) -> Outcome: ...

    def quarantine(self, *, controller: str, channel: str, raw: bytes, reason: str) -> Outcome: ...
