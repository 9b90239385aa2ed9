"""What each reply kind needs before it may be rendered (rules as data).

A reply that silently leaves out a legally required element (the reasons of an extension, the new
date, the copy of the data) is worse than no reply: `check_context` refuses it with an error that
names the kind, the missing field and the legal reason.  The audience decides the layout and the
languages: data-subject replies exist in German and English, internal mails only in German.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dsr.intents.rights import RIGHTS
from dsr.replies.context import ReplyContext, ReplyKind


class Audience(StrEnum):
    SUBJECT = "subject"  # the data subject: e-mail (text + HTML) and chat, German and English
    INTERNAL = "internal"  # DPO and managers: e-mail (text + HTML), German only


class ReplyError(Exception):
    """Base class: a reply could not be rendered."""


class ReplyDataError(ReplyError, ValueError):
    """The context lacks a value the reply must state, or states something it must not."""


class UnverifiedDisclosureError(ReplyDataError):
    """A reply that discloses personal data was requested for a sender who is not verified."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """A field that must be non-empty, with the legal reason given in the error."""

    field: str
    why: str
    # True: the field must be answered (not None) but may be empty, e.g. "no recipients" = ().
    may_be_empty: bool = False


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: ReplyKind
    audience: Audience
    # Disclosure kinds: the content reveals personal data or that we hold some (Art. 12(6), 32).
    requires_verified: bool = False
    required: tuple[Requirement, ...] = ()

    @property
    def internal(self) -> bool:
        return self.audience is Audience.INTERNAL


_S, _I = Audience.SUBJECT, Audience.INTERNAL
K = ReplyKind


def _req(field: str, why: str) -> Requirement:
    return Requirement(field, why)


def _answered(field: str, why: str) -> Requirement:
    return Requirement(field, why, may_be_empty=True)


_ART19 = _answered("notified_recipients", "Art. 19: the DPO states which recipients were told (or none)")


KIND_SPECS: dict[ReplyKind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(K.RECEIPT_CONFIRMATION, _S, required=(_req("rights", "the recognised rights are stated"),)),
        KindSpec(K.IDENTITY_REQUEST, _S, required=(_req("rights", "the reply names what was requested"),)),
        KindSpec(K.VERIFICATION_CODE, _S, required=(
            _req("verification_code", "the mail carries the one-time code"),
            _req("code_expires_at", "the person must know until when the code is valid"),
        )),
        KindSpec(K.IDENTITY_VERIFIED, _S, required=(_req("rights", "the reply names what was requested"),)),
        KindSpec(K.IDENTITY_FAILED, _S),
        KindSpec(K.IDENTITY_EXPIRED, _S),
        KindSpec(K.MARKETING_OBJECTION_CONFIRMATION, _S),
        KindSpec(K.CONSENT_WITHDRAWAL_CONFIRMATION, _S),
        # Art. 15(3): the copy is attached or linked when it really is; otherwise the letter says
        # it is not part of it (never "in der Anlage" with nothing attached).
        KindSpec(K.ACCESS_ANSWER, _S, requires_verified=True),
        KindSpec(K.PORTABILITY_ANSWER, _S, requires_verified=True, required=(
            _req("export_format", "Art. 20(1): the format must be named"),
        )),
        KindSpec(K.RECTIFICATION_DONE, _S, requires_verified=True, required=(
            _req("changes", "Art. 16: the reply says what was changed"), _ART19,
        )),
        KindSpec(K.ERASURE_DONE, _S, requires_verified=True, required=(
            _req("erased", "Art. 17: the reply says what was erased"),
            _answered("retained", "Art. 17(3): what is kept, on which ground and until when (or nothing)"),
            _ART19,
        )),
        KindSpec(K.RESTRICTION_DONE, _S, requires_verified=True, required=(_ART19,)),
        KindSpec(K.OBJECTION_ACK, _S, required=(_req("due_date", "Art. 12(3): the answer date is stated"),)),
        KindSpec(K.OBJECTION_OUTCOME, _S, requires_verified=True, required=(
            _req("outcome_text", "Art. 21(1): the result of the balancing is explained"),
        )),
        KindSpec(K.AUTOMATED_DECISION_ACK, _S, required=(
            _req("due_date", "Art. 12(3): the answer date is stated"),
        )),
        KindSpec(K.AUTOMATED_DECISION_OUTCOME, _S, requires_verified=True, required=(
            _req("outcome_text", "Art. 22(3): the outcome of the human review is explained"),
        )),
        KindSpec(K.EXTENSION_NOTICE, _S, required=(
            _req("rights", "the reply names what was requested"),
            _req("due_date", "Art. 12(3): the original date is stated"),
            _req("extended_due_date", "Art. 12(3): the new date is stated"),
            _req("extension_reasons", "Art. 12(3) sentence 3: an extension needs reasons"),
        )),
        KindSpec(K.REFUSAL_NOTICE, _S, required=(
            _req("rights", "the reply names what was requested"),
            _req("refusal_reasons", "Art. 12(4): a refusal states its reasons"),
        )),
        KindSpec(K.NO_DATA, _S, required=(_req("rights", "the reply names what was requested"),)),
        KindSpec(K.ESCALATION_NOTICE, _S),
        KindSpec(K.CLARIFICATION, _S, required=(
            _req("readings", "the person chooses between the possible readings"),
        )),
        KindSpec(K.PROCESSOR_NOTICE, _S, required=(
            _req("forwarded_date", "Art. 28(3)(e): the person learns when the request was forwarded"),
        )),
        KindSpec(K.PROCESSOR_TAKEN_BACK, _S, required=(
            _req("forwarded_date", "the person learns which note of ours is corrected"),
            _req("due_date", "Art. 12(3): our own date runs again from the original receipt"),
        )),
        # No due date on purpose: as processor we may not be the one who answers.
        KindSpec(K.PROCESSOR_RECEIPT, _S),
        KindSpec(K.PROCESSOR_FORWARD, _I, required=(
            _req("forwarded_text", "the controller receives the request itself"),
            _req("client_data", "which data we process for the client"),
        )),
        KindSpec(K.PROCESSOR_WITHDRAWN, _I, required=(
            _req("forwarded_date", "the client learns which forwarding is taken back"),
        )),
        KindSpec(K.PROCESSOR_FOLLOW_UP, _I, required=(
            _req("client_name", "the DPO must know which client to ask"),
            _req("forwarded_date", "the reminder names the day the request was forwarded"),
            _req("follow_up_date", "the reminder names the follow-up date that was reached"),
        )),
        KindSpec(K.DPO_ESCALATION_ALERT, _I, required=(
            _req("escalation_reasons", "the DPO must see why the case was escalated"),
        )),
        KindSpec(K.DEADLINE_REMINDER, _I, required=(
            _req("due_date", "a reminder names the legal due date"),
            _req("as_of", "days left are counted from the reminder date"),
        )),
        KindSpec(K.WEEKLY_DIGEST, _I, required=(
            _req("period_label", "the digest names its week"),
            _req("as_of", "overdue and due-soon are judged on the digest date"),
        )),
    )
}

# Fields that are personal data of the data subject; blanked for unverified senders so that no
# template (nor a controller's override) can print them (docs/LEGAL-NOTES.md 3.5: no personal data
# in the reply).
PERSONAL_FIELDS: tuple[str, ...] = (
    "recipient_name", "code_sent_to_masked", "changes", "retained", "notified_recipients",
    "case_recipients", "erased", "restricted", "attachment_names", "copy_link", "copy_link_expires",
    "copy_link_sent_separately", "automated_logic_applied", "relationships",
)
# Personal fields whose blank value is None ("not stated") rather than ().
PERSONAL_OPTIONAL_FIELDS: frozenset[str] = frozenset({
    "recipient_name", "code_sent_to_masked", "case_recipients", "retained", "notified_recipients",
    "automated_logic_applied", "relationships",
    "copy_link", "copy_link_expires",
})

MAX_FACTS_REQUESTED = 2  # EDPB 01/2022 §§ 65, 70: one or two facts already held, no more


def _missing(value: object) -> bool:
    return value is None or value == "" or value == ()


def check_context(spec: KindSpec, ctx: ReplyContext) -> None:
    """Raise ReplyDataError naming the first missing or inadmissible value for this kind."""
    if spec.requires_verified and not ctx.verified:
        raise UnverifiedDisclosureError(
            f"{spec.kind}: the sender is not verified; this reply would disclose personal data "
            "(Art. 12(6), Art. 32 DSGVO): verify first or send an identity request"
        )
    if not spec.internal and not ctx.reference:
        raise ReplyDataError(f"{spec.kind}: reference is empty (the subject must carry the ticket tag)")
    for req in spec.required:
        value = getattr(ctx, req.field)
        if value is None if req.may_be_empty else _missing(value):
            raise ReplyDataError(f"{spec.kind}: {req.field} is missing ({req.why})")
    statutory = any(RIGHTS[r].statutory_deadline for r in ctx.rights)
    needs_date = spec.kind in {K.RECEIPT_CONFIRMATION, K.IDENTITY_VERIFIED, K.ESCALATION_NOTICE}
    if needs_date and statutory and ctx.due_date is None:
        raise ReplyDataError(f"{spec.kind}: due_date is missing (Art. 12(3): the legal date is stated)")
    if spec.kind is K.IDENTITY_REQUEST and len(ctx.facts_requested) > MAX_FACTS_REQUESTED:
        raise ReplyDataError(
            f"{spec.kind}: {len(ctx.facts_requested)} facts requested; at most {MAX_FACTS_REQUESTED} "
            "facts already held may be asked for (EDPB 01/2022 §§ 65, 70)"
        )
    if spec.kind is K.EXTENSION_NOTICE:
        _check_extension(ctx)
    if spec.kind is K.PORTABILITY_ANSWER and not (
        ctx.attachment_names or ctx.copy_link or ctx.copy_link_sent_separately
    ):
        raise ReplyDataError(
            "portability_answer: no file is attached and no download link issued "
            "(Art. 20(1): the data are handed over; the letter must not promise a file that is not sent)"
        )
    if ctx.withdrawal_scope not in {"marketing", "review"}:
        raise ReplyDataError(f"{spec.kind}: withdrawal_scope must be 'marketing' or 'review'")
    if spec.kind is K.PORTABILITY_ANSWER and ctx.export_format.strip().upper() == "PDF":
        raise ReplyDataError(
            "portability_answer: PDF is not machine-readable; use CSV, JSON or XML (EDPB 01/2022 § 156)"
        )


def _check_extension(ctx: ReplyContext) -> None:
    assert ctx.due_date is not None and ctx.extended_due_date is not None  # checked as required
    if ctx.extended_due_date <= ctx.due_date:
        raise ReplyDataError("extension_notice: extended_due_date is not after due_date")
    if ctx.as_of is not None and ctx.as_of > ctx.due_date:
        raise ReplyDataError(
            "extension_notice: the original due date has passed; Art. 12(3) sentence 3 requires the "
            "notice within the first month"
        )


def check_profile_facts(kind: ReplyKind, ctx: ReplyContext, *, group_recipients: bool,
                        automated_decisions: bool, known_relationships: frozenset[str]) -> None:
    """The access answer and the Art. 22 review outcome state this person's items.

    Art. 15(1): the items of the relationships this person has with the controller, never the
    whole privacy notice; C-154/21: where those name recipients only by category, the answer
    names the ones that actually received this person's data (or says none did); C-203/22: where
    they have automated decisions, the answer says how they were applied to this person.  The
    Art. 22(3) review outcome explains the automated decisions of this person's relationships
    (Recital 71: an explanation of the decision reached), not every procedure of the notice.
    `group_recipients` and `automated_decisions` describe the chosen relationships.
    """
    if kind not in {K.ACCESS_ANSWER, K.AUTOMATED_DECISION_OUTCOME}:
        return
    if not ctx.relationships:
        raise ReplyDataError(
            f"{kind}: relationships is missing (Art. 15(1), Art. 22(3): the letter states the items "
            "of this person's relationships with the controller; the DPO chooses them or discovery "
            "finds them)"
        )
    unknown = [r.key for r in ctx.relationships if r.key not in known_relationships]
    if unknown:
        raise ReplyDataError(f"{kind}: unknown relationship {unknown[0]!r} (not in the profile)")
    if kind is K.ACCESS_ANSWER and group_recipients and ctx.case_recipients is None:
        raise ReplyDataError(
            "access_answer: case_recipients is missing (Art. 15(1)(c), CJEU C-154/21: name the "
            "recipients that actually received this person's data, or state that none did)"
        )
    if automated_decisions and ctx.automated_logic_applied is None:
        raise ReplyDataError(
            f"{kind}: automated_logic_applied is missing (Art. 15(1)(h), CJEU C-203/22: the "
            "logic as applied to this person, or that no automated decision was made about them)"
        )
