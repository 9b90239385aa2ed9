"""What a reply is about: the kind of reply and the facts it may state.

The pipeline and the console build a `ReplyContext`; `replies.render_reply` turns it into text.
Fields may be added (always with a default); existing ones keep their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from dsr.intents.rights import Right
from dsr.replies.facts import fact_names


class ReplyKind(StrEnum):
    # To the data subject.
    RECEIPT_CONFIRMATION = "receipt_confirmation"
    IDENTITY_REQUEST = "identity_request"  # asks for 1-2 facts already held, or says a code was sent
    VERIFICATION_CODE = "verification_code"  # carries the one-time code, sent to the contact on file
    IDENTITY_VERIFIED = "identity_verified"
    IDENTITY_FAILED = "identity_failed"
    IDENTITY_EXPIRED = "identity_expired"
    MARKETING_OBJECTION_CONFIRMATION = "marketing_objection_confirmation"
    CONSENT_WITHDRAWAL_CONFIRMATION = "consent_withdrawal_confirmation"
    ACCESS_ANSWER = "access_answer"
    PORTABILITY_ANSWER = "portability_answer"
    RECTIFICATION_DONE = "rectification_done"
    ERASURE_DONE = "erasure_done"
    RESTRICTION_DONE = "restriction_done"
    OBJECTION_ACK = "objection_ack"
    OBJECTION_OUTCOME = "objection_outcome"
    AUTOMATED_DECISION_ACK = "automated_decision_ack"
    AUTOMATED_DECISION_OUTCOME = "automated_decision_outcome"
    EXTENSION_NOTICE = "extension_notice"
    REFUSAL_NOTICE = "refusal_notice"
    NO_DATA = "no_data"
    ESCALATION_NOTICE = "escalation_notice"  # "handed to our data protection officer"
    CLARIFICATION = "clarification"  # "did I understand you correctly?"
    PROCESSOR_NOTICE = "processor_notice"  # "forwarded to the controller we process for"
    PROCESSOR_TAKEN_BACK = "processor_taken_back"  # "we answer it ourselves after all"
    # Held for the DPO before any forwarding: "received; we first check who is responsible".
    PROCESSOR_RECEIPT = "processor_receipt"
    # Internal.
    DPO_ESCALATION_ALERT = "dpo_escalation_alert"
    DEADLINE_REMINDER = "deadline_reminder"
    WEEKLY_DIGEST = "weekly_digest"
    # To a client we process for (German): the request forwarded (Art. 28(3)(e)).
    PROCESSOR_FORWARD = "processor_forward"
    # To the client (German): a forwarding taken back, we answer the request ourselves after all.
    PROCESSOR_WITHDRAWN = "processor_withdrawn"
    # Internal: a forwarded request whose client has not confirmed it by the follow-up date.
    PROCESSOR_FOLLOW_UP = "processor_follow_up"


@dataclass(frozen=True, slots=True)
class RetainedItem:
    """Data kept despite erasure (Art. 17(3), § 35 BDSG): what, why, until when."""

    category: str
    legal_basis: str
    until: date | str  # a date; in a DPO draft a placeholder text the DPO replaces


@dataclass(frozen=True, slots=True)
class PersonRelationship:
    """A relationship of the person with the controller (a key of the profile's `relationships`).

    `origin` says who established it: "dpo" (chosen on the ticket) or "discovery" (proposed from
    the data found, `found_in` names those data categories in German and `found_in_en` in English).
    """

    key: str
    origin: str = "dpo"
    found_in: tuple[str, ...] = ()
    found_in_en: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseRecipient:
    """A recipient that received this person's data (access answer, CJEU C-154/21).

    `group` is the key of the profile's recipient category it belongs to, where the DPO said so
    ("": not said).  The letter says "from these groups" only when every recipient has the key of
    a category the letter lists.
    """

    name: str
    group: str = ""


@dataclass(frozen=True, slots=True)
class DigestRow:
    """One ticket line in internal mails: metadata only, never bodies or contact details."""

    reference: str
    rights: tuple[Right, ...]
    state: str
    due_date: date
    escalation_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplyContext:
    reference: str  # "DSR-2026-000123"
    rights: tuple[Right, ...]
    received_date: date  # Europe/Berlin calendar date of receipt
    due_date: date | None = None  # legal due date (None where the right takes effect at once)
    channel: str = "email"  # "email" or "telegram"
    # False: the sender is not verified; the reply must contain no personal data at all.
    verified: bool = False
    recipient_name: str | None = None  # used only when verified
    extended_due_date: date | None = None
    extension_reasons: tuple[str, ...] = ()
    verification_code: str | None = None
    code_expires_at: datetime | None = None
    code_sent_to_masked: str | None = None  # e.g. "m***@example.org"
    previous_code_expired: bool = False
    # Clarification: a marketing objection was one of the readings and is already in effect (it
    # harms no one), so the letter says so.
    marketing_applied: bool = False
    # Clarification: the sender asked a general question about privacy (the notice, the DPO), so
    # the letter names the privacy notice and the DPO before offering the rights.
    general_question: bool = False
    # Processor mode: the client the request was forwarded to (None: it may not be named), the day
    # it was forwarded, what we process for it, and the request's text (only in the forward).
    client_name: str | None = None
    forwarded_date: date | None = None
    client_data: str = ""
    forwarded_text: str = ""
    # Only part of the request was forwarded (a mixed request split by the DPO): the note names that
    # part (`rights`) and says that we answer the rest ourselves.
    forwarded_part: bool = False
    # A forwarding taken back: True only when the forward had gone out and the client was told
    # that it need do nothing (the person's letter says so only then).
    client_told: bool = False
    follow_up_date: date | None = None  # internal follow-up reminder: the date that was reached
    facts_requested: tuple[str, ...] = ()  # e.g. ("Kundennummer", "Postleitzahl")
    # IDENTITY_REQUEST to an unverified sender: say that a code goes to contact data on file *if*
    # any matches (the same words whether or not one does).
    code_hint: bool = False
    # Identity retries: what the person's last message came to, said in the letter instead of
    # repeating it: "facts" (customer number and postal code together do not match what we hold;
    # never which of the two), "code" (the code is not valid: wrong or expired), "unclear" (several
    # values of one fact, so nothing could be checked); "" for the first request.
    identity_retry: str = ""
    # Facts already given (kept, not asked for again), by their German names; `facts_requested`
    # then holds only the missing ones.
    facts_received: tuple[str, ...] = ()
    # An ID copy came that we neither need nor keep.
    id_document_received: bool = False
    readings: tuple[Right, ...] = ()  # for CLARIFICATION: the likely readings to choose from
    escalation_reasons: tuple[str, ...] = ()  # reason codes (internal alert), never shown raw
    refusal_code: str | None = None  # catalogue code, e.g. "art12_5_excessive"
    refusal_reasons: str = ""
    # Erasure: what is kept (Art. 17(3)) — None = not answered yet (the letter cannot be sent),
    # () = nothing is kept.
    retained: tuple[RetainedItem, ...] | None = None
    # Art. 19: the recipients told — None = not answered yet (the letter cannot be sent), () = the
    # data went to no recipient who would have to be told.
    notified_recipients: tuple[str, ...] | None = None
    changes: tuple[str, ...] = ()  # rectification: what was changed
    outcome_text: str = ""  # objection / automated-decision outcome in the DPO's words
    export_format: str = "JSON"  # portability
    # The copy (Art. 15(3)) / the export (Art. 20): files really attached to this very message, or a
    # download link really issued.  Without either the letter says that the copy is not part of it.
    attachment_names: tuple[str, ...] = ()
    copy_link: str | None = None
    copy_link_expires: date | None = None
    # True: the personal download link went to the person in a message of its own (the copy
    # package's delivery); the letter refers to it (valid until copy_link_expires).
    copy_link_sent_separately: bool = False
    digest_rows: tuple[DigestRow, ...] = field(default=())
    period_label: str = ""  # digest: e.g. "KW 47/2026"
    # Access answer (C-154/21): the individual recipients of this person's data where the profile
    # lists only a category (e.g. the craftsman who worked on the order).  () = no recipient of those
    # categories received this person's data; None = not determined (the letter offers the names).
    case_recipients: tuple[CaseRecipient, ...] | None = None
    # Access answer (Art. 15(1)(h), C-203/22): how the automated decisions of the profile were
    # applied to this person, in the DPO's words (factors, values, result).  () = none was applied
    # to this person; None = not determined (the letter cannot be sent while the profile has any).
    automated_logic_applied: tuple[str, ...] | None = None
    # Access answer (Art. 15(1)): the person's relationships with the controller; the letter states
    # only their purposes, categories, recipients, storage, sources and decisions.  None (or empty):
    # not determined, and the answer cannot be written (it would be the whole privacy notice).
    relationships: tuple[PersonRelationship, ...] | None = None
    erased: tuple[str, ...] = ()  # erasure: what was erased (required: the DPO states it)
    restricted: tuple[str, ...] = ()  # restriction: what is restricted (empty: all processing)
    # Objection / automated-decision outcome: True = the request was granted in full; otherwise
    # (False or unknown) the reply carries the Art. 12(4) remedies.
    request_granted: bool | None = None
    # Internal mails and guards: the Europe/Berlin date the reply is written (reminder "days left",
    # digest, extension "sent before the original date").
    as_of: date | None = None
    internal_target: date | None = None  # reminder: the internal target date
    ticket_state: str = ""  # reminder: the ticket's state code (metadata only), e.g. "in_progress"
    # Internal mails: the ticket's identity level code, so the alert names the same identity status
    # as the console ("Kontakt aus dem Bestand"), not just whether this mail may carry a name.
    identity_level: str = ""
    # Internal alert: a reported data breach's Art. 33 notification deadline (72 h from receipt)
    # and the reply deadline an authority's letter names.
    breach_due_at: datetime | None = None
    stated_due_date: date | None = None
    # Internal reminder about that deadline: "" (none), "breach_due_soon" or "breach_expired".
    breach_stage: str = ""
    # Consent withdrawal (Art. 7(3)): "marketing" = an advertising consent, honoured by the
    # suppression list at once; "review" = anything else, a person handles it (the letter says so).
    withdrawal_scope: str = "review"

    def facts_in(self, language: str) -> tuple[str, ...]:
        """`facts_requested` named in the reply's language (the ladder passes German names)."""
        return fact_names(self.facts_requested, language)

    def received_in(self, language: str) -> tuple[str, ...]:
        """`facts_received` named in the reply's language."""
        return fact_names(self.facts_received, language)
