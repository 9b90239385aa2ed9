"""The persistent model: data subjects, messages, tickets, audit log, outbox and friends.

SQLAlchemy 2.x typed ORM.  Every timestamp is timezone-aware UTC (`UTCDateTime`); legal dates
(due dates) are plain `date` values in Europe/Berlin terms.  Identifiers of rights and states are
the stable snake_case strings of `dsr.intents.rights.Right` and `TicketState`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dsr.store.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}  # noqa: RUF012


class TicketState(StrEnum):
    NEW = "new"
    AWAITING_IDENTITY = "awaiting_identity"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"
    EXTENDED = "extended"
    PAUSED = "paused"
    ANSWERED = "answered"
    REFUSED = "refused"
    CLOSED = "closed"


class Channel(StrEnum):
    EMAIL = "email"
    TELEGRAM = "telegram"
    CONSOLE = "console"


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanent failure: a DPO task


class IdentityLevel(StrEnum):
    """docs/LEGAL-NOTES.md 3.5 verification ladder, as recorded on a ticket."""

    NONE = "none"  # nothing checked yet
    NOT_REQUIRED = "not_required"  # level 0: marketing objection, consent withdrawal
    CONTACT_ON_FILE = "contact_on_file"  # level 1: sender address / bound chat matches the record
    CODE_CONFIRMED = "code_confirmed"  # level 2: one-time code sent to the contact on file
    KNOWN_FACTS = "known_facts"  # level 2: facts the controller holds matched
    MANUAL = "manual"  # level 3: a human decided (method recorded)
    UNIDENTIFIABLE = "unidentifiable"  # level 4: Art. 11(2)


class DataSubject(Base):
    __tablename__ = "data_subjects"
    __table_args__ = (
        UniqueConstraint("controller", "email", name="uq_subject_email"),
        UniqueConstraint("controller", "telegram_user_id", name="uq_subject_telegram"),
        Index("ix_subject_customer", "controller", "customer_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    controller: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # Normalised (lower-case, trimmed) primary e-mail address; further ones in SubjectEmail.
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    customer_number: Mapped[str | None] = mapped_column(String(64))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    postal_address: Mapped[str | None] = mapped_column(Text)  # lines of the postal address, for letters
    birth_date: Mapped[date | None] = mapped_column(Date)
    # Telegram user ids exceed 32 bits (up to 52 bits per the Bot API): BigInteger.
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    emails: Mapped[list[SubjectEmail]] = relationship(back_populates="subject", cascade="all, delete-orphan")


class SubjectEmail(Base):
    __tablename__ = "subject_emails"
    __table_args__ = (UniqueConstraint("controller", "email", name="uq_subject_alt_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("data_subjects.id", ondelete="CASCADE"))
    controller: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))

    subject: Mapped[DataSubject] = relationship(back_populates="emails")


class TicketCounter(Base):
    """Gap-free reference numbers per year: incremented in the transaction that inserts the ticket."""

    __tablename__ = "ticket_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_ticket_due", "state", "due_date"),
        Index("ix_ticket_controller", "controller"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # DSR-YYYY-NNNNNN
    controller: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("data_subjects.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    # Where answers go: the verified contact (e-mail address or Telegram chat id as text).
    reply_to: Mapped[str | None] = mapped_column(String(320))
    # Where a postal answer goes (requests by letter, phone, in person): the address lines.
    postal_address: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2), default="de")
    rights: Mapped[list[str]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(24), default=TicketState.NEW.value)
    received_at: Mapped[datetime]
    due_date: Mapped[date | None] = mapped_column(Date)
    due_trail: Mapped[str] = mapped_column(Text, default="")
    internal_target_date: Mapped[date | None] = mapped_column(Date)
    extended_due_date: Mapped[date | None] = mapped_column(Date)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    paused_days: Mapped[int] = mapped_column(default=0)
    paused_since: Mapped[datetime | None]
    identity_level: Mapped[str] = mapped_column(String(24), default=IdentityLevel.NONE.value)
    identity_method: Mapped[str | None] = mapped_column(String(200))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_reasons: Mapped[list[str]] = mapped_column(default=list)
    # Data breach reported (Art. 33 GDPR): when the notification to the authority is due, 72 hours
    # after the controller became aware (the report's receipt).  None: no breach flagged.
    breach_due_at: Mapped[datetime | None]
    # The reply deadline a letter of an authority, court or police names ("Stellungnahme bis ...").
    stated_due_date: Mapped[date | None] = mapped_column(Date)
    classification: Mapped[dict[str, Any]] = mapped_column(default=dict)  # labels, scores, evidence
    assignee: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(40))
    refusal_code: Mapped[str | None] = mapped_column(String(40))
    draft_reply: Mapped[str | None] = mapped_column(Text)  # awaiting DPO approval
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    subject: Mapped[DataSubject | None] = relationship()
    messages: Mapped[list[Message]] = relationship(back_populates="ticket", order_by="Message.received_at")


class Message(Base):
    """A message in or out, on any channel.  Inbound duplicates are refused by `dedupe_key`."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("controller", "channel", "direction", "dedupe_key", name="uq_message_dedupe"),
        Index("ix_message_msgid", "message_id"),
        Index("ix_message_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    controller: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))
    # E-mail: the Message-ID; Telegram: "chat:<id>:msg:<id>"; used to refuse redeliveries.
    dedupe_key: Mapped[str] = mapped_column(String(998))
    message_id: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320), default="")
    subject_line: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # only those needed for threading/loops
    attachments: Mapped[list[str]] = mapped_column(default=list)  # JSON list of {name,type,size,sha256}
    received_at: Mapped[datetime]
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    # Why no ticket was touched (duplicate, loop guard, held for DPO ...); empty when processed normally.
    disposition: Mapped[str] = mapped_column(String(40), default="")
    # Why the message was ignored (the non-privacy reading, e.g. "invoice"): shown to the DPO.
    disposition_reason: Mapped[str] = mapped_column(String(200), default="")

    ticket: Mapped[Ticket | None] = relationship(back_populates="messages")


class AuditEvent(Base):
    """Append-only: who did what, when and why.  The system itself is an actor ("system")."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_ticket", "ticket_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxItem(Base):
    """A message to deliver, written in the same transaction as the decision that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        # The loop guard counts recent automatic mails per recipient (bot/loop_guard.py).
        Index("ix_outbox_recipient", "controller", "recipient", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    controller: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(60))  # reply kind, e.g. "receipt_confirmation"
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    recipient: Mapped[str] = mapped_column(String(320))
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # RFC 5322 bytes, or UTF-8 JSON for chat
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # The lease of the sender delivering the item right now (`dsr.store.outbox.claim_deliveries`):
    # set before the SMTP transaction, cleared by the sent/failed mark; an expired lease (its
    # sender died) makes the item due again, with the same payload and Message-ID.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    # Since when delivery keeps failing (first failed attempt; cleared by a requeue): retries go
    # on for the configured period from here.  `delay_warned_at`: when the DPO was told.
    failing_since: Mapped[datetime | None]
    delay_warned_at: Mapped[datetime | None]


class Suppression(Base):
    """Werbesperrdatei: the minimal entry kept to honour a marketing objection (Art. 21(3))."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("controller", "address", name="uq_suppression"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    controller: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(320))  # normalised e-mail, phone or "telegram:<id>"
    scope: Mapped[str] = mapped_column(String(40), default="all")  # all channels unless narrowed
    source_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class VerificationChallenge(Base):
    """A one-time code sent to a contact on file; only its hash is stored."""

    __tablename__ = "verification_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("data_subjects.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(40))  # "ticket" or "telegram_binding"
    code_hash: Mapped[str] = mapped_column(String(128))
    sent_to: Mapped[str] = mapped_column(String(320))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending/verified/failed/expired
    created_at: Mapped[datetime]
    # Facts challenges: one half of the pair the sender already gave (a lone customer number or
    # postal code), kept unchecked until the other half arrives, so it is not asked for again;
    # cleared when a pair is checked (dsr.pipeline.identity.read_facts).
    given_customer_number: Mapped[str | None] = mapped_column(String(64))
    given_postal_code: Mapped[str | None] = mapped_column(String(16))


class VerificationFailure(Base):
    """One failed identity attempt (a wrong code or wrong facts), kept to limit guessing.

    Counted per ticket over all its challenges (a re-issued code does not reset them) and per data
    subject across tickets and channels (e-mail, chat binding) within a window.
    """

    __tablename__ = "verification_failures"
    __table_args__ = (
        Index("ix_vfail_ticket", "ticket_id"),
        Index("ix_vfail_subject", "subject_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("data_subjects.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(40))  # as VerificationChallenge.purpose
    at: Mapped[datetime]


class QuarantinedMessage(Base):
    """Input we could not process; kept with the reason for the DPO, never silently dropped."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    controller: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="open")  # open/processed/discarded
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]


class TicketNote(Base):
    __tablename__ = "ticket_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class User(Base):
    """A console user; password stored as an argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # dpo / manager / admin
    # The controllers (profile keys) whose tickets the user may see; ["*"] = all, granted explicitly.
    controllers: Mapped[list[str]] = mapped_column(default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # Console sessions started before this moment are over (`dsr users passwd`).
    password_changed_at: Mapped[datetime | None]


class Document(Base):
    """A file the DPO stored with a ticket (a scanned letter): kept as bytes, only ever downloaded.

    The console never renders or inlines it (served as an attachment with a neutral type), so a
    crafted PDF or image cannot run in the console's origin.
    """

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class SavedView(Base):
    """A DPO's named queue view: the filter and sort codes of the queue's query string (no personal data)."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("username", "name", name="uq_saved_view_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # As User.controllers.  A token created by a console user (calendar feed) belongs to that user:
    # it answers with the user's controllers and dies when the user is disabled or deleted.
    controllers: Mapped[list[str]] = mapped_column(default=list)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ConsoleSession(Base):
    """A logged-in console browser, kept on the server (Art. 32 GDPR).

    The cookie carries a random handle; only its SHA-256 digest is stored, so a reader of the
    database cannot take over a session.  Stored here rather than in a process, a session survives
    a restart and is valid on every `dsr serve` of one database.  `role` and `controllers` are the
    grant at login: a session whose user has since another role, other controllers, a new password
    or is disabled is over (`dsr.console.auth.SessionStore`).
    """

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    controllers: Mapped[list[str]] = mapped_column(default=list)
    csrf: Mapped[str] = mapped_column(String(64))  # the synchronizer token forms echo
    created_at: Mapped[datetime]
    last_seen: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute end (created_at + maximum lifetime)
    # Notices for the next page the browser shows ((level, German text) pairs).
    flashes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ThrottleKey(Base):
    """Login attempts per key (a user name, a client address), counted for every process at once.

    The key is stored only as its SHA-256 digest.  `attempts` counts the attempts since
    `window_start`; a row is locked while an attempt is reserved (`dsr.console.auth.LoginThrottle`).
    """

    __tablename__ = "throttle_keys"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    last_at: Mapped[datetime] = mapped_column(index=True)


class ChannelState(Base):
    """Small durable cursors: Telegram getUpdates offset, IMAP UIDVALIDITY/last UID, chat state."""

    __tablename__ = "channel_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


# --- Fulfilment (dsr.fulfilment): discovery, review, packages, erasure proof -----------------------
# These tables hold keys of records in the controller's systems, counts and decisions, never the
# records' contents: the person's data stays where it is until the package is built.


class FulfilmentState(StrEnum):
    DISCOVERING = "discovering"  # systems are being searched
    REVIEW = "review"  # all systems answered (or failed for good): the DPO reviews
    APPROVED = "approved"  # the DPO approved what was found (the package is built from it)
    EXECUTING = "executing"  # the approved plan is being carried out (`ExecutionStep`)
    EXECUTED = "executed"  # erasure/restriction/rectification carried out


class DiscoveryState(StrEnum):
    PENDING = "pending"
    FOUND = "found"
    NOTHING = "nothing"
    FAILED = "failed"  # retried with backoff; the reason is on the row
    MANUAL = "manual"  # a manual item: the DPO confirms by hand
    CONFIRMED = "confirmed"  # a manual item the DPO has answered


class FulfilmentCase(Base):
    """One per ticket whose rights need the person's data (access, portability, erasure ...)."""

    __tablename__ = "fulfilment_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    controller: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=FulfilmentState.DISCOVERING.value)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    # Erasure/restriction/rectification: what was actually done (for the letter), no personal data.
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DiscoveryResult(Base):
    """Per ticket and system: state, found record keys per category, or why it failed."""

    __tablename__ = "discovery_results"
    __table_args__ = (
        UniqueConstraint("case_id", "system", name="uq_discovery_system"),
        Index("ix_discovery_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("fulfilment_cases.id", ondelete="CASCADE"))
    system: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=DiscoveryState.PENDING.value)
    # {category key: [record keys]}; keys are the systems' own identifiers (ids, UIDs).
    found: Mapped[dict[str, Any]] = mapped_column(default=dict)
    manual_note: Mapped[str] = mapped_column(Text, default="")  # manual items: what the DPO found
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    error: Mapped[str | None] = mapped_column(Text)  # one line, no personal data
    finished_at: Mapped[datetime | None]


class ReviewExclusion(Base):
    """An item the DPO left out of the copy (Art. 15(4): third parties' rights, trade secrets)."""

    __tablename__ = "review_exclusions"
    __table_args__ = (UniqueConstraint("case_id", "system", "category", "item_key", name="uq_exclusion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("fulfilment_cases.id", ondelete="CASCADE"))
    system: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    item_key: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class DeliveryPackage(Base):
    """An encrypted package on disk and its download link (token and one-time code: hashes only)."""

    __tablename__ = "delivery_packages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    reference: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(200))  # inside DSR_PACKAGE_DIR
    # A file the DPO made by hand (reply editor): its name and type for the download; empty for
    # the built package ("<reference>.zip", application/zip).
    download_name: Mapped[str] = mapped_column(String(200), default="")
    media_type: Mapped[str] = mapped_column(String(100), default="application/zip")
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # of the plain ZIP
    contact: Mapped[str] = mapped_column(String(320))  # the verified contact the code goes to
    channel: Mapped[str] = mapped_column(String(16))
    max_uses: Mapped[int] = mapped_column(default=3)
    uses: Mapped[int] = mapped_column(default=0)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]  # file removed (expired, used up or revoked)


class ErasureProof(Base):
    """Kept after the person's data is gone: what was done where, by whose approval; no personal data."""

    __tablename__ = "erasure_proofs"
    __table_args__ = (Index("ix_proof_reference", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    reference: Mapped[str] = mapped_column(String(20))
    controller: Mapped[str] = mapped_column(String(64))
    system: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # erase / anonymise / retain / restrict / update
    rows: Mapped[int]
    statement: Mapped[str] = mapped_column(Text)  # what was done, in words (German)
    retained_until: Mapped[date | None] = mapped_column(Date)
    legal_ground: Mapped[str] = mapped_column(Text, default="")
    approved_by: Mapped[str] = mapped_column(String(100))
    executed_at: Mapped[datetime]


class ExecutionStep(Base):
    """One item of an approved plan being carried out, recorded before its system is touched.

    "executing" (with an idempotency key and a lease) is written and committed first; the system
    is changed in its own transaction; the result ("done" with the rows, or "failed") is written
    after.  A step a crash left "executing" is re-checked by the fulfilment worker once its lease
    has passed (deleting, anonymising, restricting or updating by key again is harmless) and is
    reported done only with that evidence.  Manual items are recorded as "manual_done" or
    "manual_open".  Keys are the systems' own ids; no other personal data.
    """

    __tablename__ = "execution_steps"
    __table_args__ = (Index("ix_execution_open", "state", "lease_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("fulfilment_cases.id", ondelete="CASCADE"), index=True)
    run_key: Mapped[str] = mapped_column(String(32), index=True)  # one execution of the plan
    idempotency_key: Mapped[str] = mapped_column(String(32), unique=True)
    position: Mapped[int]  # in plan order
    system: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # PlanAction
    keys: Mapped[list[Any]] = mapped_column(JSON, default=list)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)  # anonymise / update: column -> value
    holds: Mapped[list[Any]] = mapped_column(JSON, default=list)  # retain: [key, ISO end date] pairs
    ground: Mapped[str] = mapped_column(Text, default="")
    approved_by: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))  # executing / done / failed / manual_done / manual_open
    rows: Mapped[int | None]
    rechecked: Mapped[bool] = mapped_column(default=False)  # finished by the worker after a crash
    error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class RetentionHold(Base):
    """Records kept under a retention duty, restricted, to be erased by the scheduler after `until`."""

    __tablename__ = "retention_holds"
    __table_args__ = (Index("ix_hold_due", "state", "until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    controller: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(20))
    system: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    item_key: Mapped[str] = mapped_column(String(200))
    until: Mapped[date] = mapped_column(Date)
    legal_ground: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="held")  # held / erased / failed
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]


class SubjectRelationship(Base):
    """A relationship of a person with the controller (a key of the profile's `relationships`).

    Chosen by the DPO on the ticket page; the access answer states only these relationships'
    purposes, categories, recipients, storage and sources (Art. 15(1)).
    """

    __tablename__ = "subject_relationships"
    __table_args__ = (UniqueConstraint("subject_id", "key", name="uq_subject_relationship"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("data_subjects.id", ondelete="CASCADE"))
    controller: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    chosen_by: Mapped[str] = mapped_column(String(100))
    chosen_at: Mapped[datetime]


class FactConfirmation(Base):
    """A DPO confirmed a profile fact the privacy notice does not contain (`assumed_facts`).

    Kept here, not by editing the profile, so that who confirmed what and when is on record; the
    letters state the fact from then on (`ControllerProfile.with_confirmed`).
    """

    __tablename__ = "fact_confirmations"
    __table_args__ = (UniqueConstraint("controller", "fact_id", name="uq_fact_confirmation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    controller: Mapped[str] = mapped_column(String(64))
    fact_id: Mapped[str] = mapped_column(String(200))
    statement: Mapped[str] = mapped_column(Text)  # the wording confirmed (German), as it was then
    confirmed_by: Mapped[str] = mapped_column(String(100))
    confirmed_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
