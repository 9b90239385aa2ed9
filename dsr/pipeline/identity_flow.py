"""Pipeline steps of the verification ladder: start a check, and evaluate the requester's answer.

The decisions themselves live in `dsr.pipeline.identity`; these steps record them on the ticket (state,
identity level and method, audit events) and queue the mails that go with them.  The one-time code
always goes to the contact on file (level 2 of the ladder): the sender of an unverified message is
told the same whether or not a code went anywhere.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dsr.inbound import Outcome, OutcomeStatus
from dsr.logs import mask_address
from dsr.pipeline import attempts, identity
from dsr.pipeline.identity import CheckResult, IdentityDecision, Rung
from dsr.pipeline.outbound import reply_context
from dsr.pipeline.run import Run
from dsr.replies.context import ReplyKind
from dsr.store.audit import audit
from dsr.store.models import DataSubject, IdentityLevel, Ticket, TicketState
from dsr.store.tickets.services import escalate, record_identity, transition

SYSTEM = "system"


def _accepted(reason: str, ticket: Ticket) -> Outcome:
    return Outcome(OutcomeStatus.ACCEPTED, reason=reason, ticket_reference=ticket.reference)


def start_verification(run: Run, ticket: Ticket, decision: IdentityDecision, *,
                       receipt: bool = True) -> Outcome:
    """Verified now (level 1, or facts in the first message): confirm receipt; else challenge.

    `receipt` False: the request was already acknowledged by its own letter (objection, Art. 22).
    """
    if decision.rung in (Rung.CONTACT_ON_FILE, Rung.KNOWN_FACTS):
        transition(run.session, ticket, TicketState.IN_PROGRESS, actor=SYSTEM, now=run.now,
                   reason=f"Identität bestätigt: {decision.method}")
        # Facts from an invoice find the record but are no proof of the person: no name in the reply.
        named = decision.subject if decision.rung is Rung.CONTACT_ON_FILE else None
        ctx = reply_context(ticket, channel=run.msg.channel, verified=True, recipient_name=_name(named))
        if receipt:
            run.replies.reply(ReplyKind.RECEIPT_CONFIRMATION, ticket, ctx)
        return _accepted("receipt_confirmed", ticket)
    transition(run.session, ticket, TicketState.AWAITING_IDENTITY, actor=SYSTEM, now=run.now,
               reason="Identität noch nicht bestätigt (Art. 12 Abs. 6 DSGVO)")
    if decision.rung is Rung.SEND_CODE and decision.code_to:
        if attempts.subject_locked(run.session, _id(decision.code_subject), run.now):
            return exhausted(run, ticket)
        send_code(run, ticket, decision.code_to, decision.code_subject)
        return _accepted("awaiting_identity", ticket)
    ask_facts(run, ticket, failed=bool(decision.failed_facts))
    if decision.failed_facts:
        # The first message counts as an attempt: its wrong facts are failures like any later ones.
        attempts.record_failures(run.session, ticket_id=ticket.id, subject_ids=decision.failed_facts,
                                 purpose=identity.PURPOSE_FACTS, now=run.now)
        audit(run.session, actor=SYSTEM, action="identity_attempt_failed", now=run.now, ticket_id=ticket.id,
              reason="Angaben stimmen nicht", detail={"values": len(decision.failed_facts)})
        if attempts.locked(run.session, ticket_id=ticket.id, subject_ids=decision.failed_facts, now=run.now):
            return exhausted(run, ticket)
    if decision.code_to and not attempts.subject_locked(run.session, _id(decision.code_subject), run.now):
        send_code(run, ticket, decision.code_to, decision.code_subject, tell_sender=False)
    return _accepted("awaiting_identity", ticket)


def ask_facts(run: Run, ticket: Ticket, *, failed: bool = False) -> None:
    """Ask for two facts the controller already holds (never an ID copy, EDPB § 73).

    The same words for every unverified sender, whether or not anything named is on file: the
    reply says that a code goes to contact data on file *if* we can match any.  With `failed`, the
    facts the message gave did not match, and the letter says so.
    """
    identity.open_facts_challenge(run.session, ticket=ticket, sent_to=run.msg.sender, now=run.now)
    ctx = reply_context(ticket, channel=run.msg.channel, verified=False,
                        facts_requested=identity.FACTS_REQUESTED, code_hint=True,
                        previous_attempt_failed=failed, id_document_received=_id_document(run))
    run.replies.reply(ReplyKind.IDENTITY_REQUEST, ticket, ctx)
    audit(run.session, actor=SYSTEM, action="identity_challenge_sent", now=run.now, ticket_id=ticket.id,
          reason="Abfrage bereits bekannter Angaben", detail={"facts": list(identity.FACTS_REQUESTED)})


def send_code(run: Run, ticket: Ticket, code_to: str, subject: DataSubject | None, *,
              tell_sender: bool = True, previous_expired: bool = False) -> None:
    """Send a one-time code to `code_to` (a contact on file); `tell_sender`: say so, without where.

    `previous_expired`: the person answered with a code that had run out; the new code's mail says
    so (one message, not an "expired" notice beside a new code).
    """
    code, expires = identity.issue_code(run.session, ticket=ticket, subject=subject, sent_to=code_to,
                                        now=run.now)
    ctx = reply_context(ticket, channel="email", verified=False, verification_code=code,
                        code_expires_at=expires, previous_code_expired=previous_expired)
    run.replies.reply(ReplyKind.VERIFICATION_CODE, ticket, ctx, to=code_to, channel="email")
    if tell_sender and (run.msg.channel != "email" or code_to.lower() != run.msg.sender.lower()):
        ctx = reply_context(ticket, channel=run.msg.channel, verified=False)
        run.replies.reply(ReplyKind.IDENTITY_REQUEST, ticket, ctx)
    audit(run.session, actor=SYSTEM, action="identity_challenge_sent", now=run.now, ticket_id=ticket.id,
          reason="Einmalcode an die hinterlegte Adresse",
          detail={"sent_to": mask_address(code_to), "expires_at": expires.isoformat()})


def exhausted(run: Run, ticket: Ticket) -> Outcome:
    """The attempt limit is reached: no more automatic checks, a person decides (neutral words)."""
    audit(run.session, actor=SYSTEM, action="identity_failed", now=run.now, ticket_id=ticket.id,
          reason="Zu viele falsche Angaben; ein Mensch entscheidet")
    run.replies.reply(ReplyKind.IDENTITY_FAILED, ticket,
                      reply_context(ticket, channel=run.msg.channel, verified=False))
    escalate(run.session, ticket, ["identity_unverified"], actor=SYSTEM, now=run.now,
             reason="Identität konnte nicht bestätigt werden")
    run.replies.alert_dpo(ticket, ticket.escalation_reasons)
    return _accepted("identity_failed", ticket)


def handle_identity_reply(run: Run, ticket: Ticket) -> Outcome:
    """A follow-up by the requester on a ticket awaiting identity: check the code or the facts."""
    text = f"{run.msg.subject}\n{run.msg.body}"
    check = identity.check_reply(run.session, ticket=ticket, controller=run.profile.key, text=text,
                                 now=run.now)
    if check.result is CheckResult.VERIFIED:
        subject = check.subject
        if subject is not None:
            ticket.subject_id = subject.id
            proven_mailbox = check.level is IdentityLevel.CODE_CONFIRMED and ticket.channel == "email"
            if proven_mailbox and subject.email:
                ticket.reply_to = subject.email  # answers go to the contact whose control was proven
        record_identity(run.session, ticket, check.level, method=check.method, actor=SYSTEM, now=run.now)
        transition(run.session, ticket, TicketState.IN_PROGRESS, actor=SYSTEM, now=run.now,
                   reason=f"Identität bestätigt: {check.method}")
        # The name only where control of the contact on file was proven (not for invoice facts).
        named = subject if check.level is IdentityLevel.CODE_CONFIRMED else None
        ctx = reply_context(ticket, channel=ticket.channel, verified=True, recipient_name=_name(named))
        run.replies.reply(ReplyKind.IDENTITY_VERIFIED, ticket, ctx,
                          to=ticket.reply_to if ticket.channel == "email" else None)
        return _accepted("identity_verified", ticket)
    if check.result is CheckResult.EXPIRED:
        # A late code did arrive: no "expired without reaching us" notice, one new code that says
        # why it comes (issue 15 no. 12).
        subject = _subject(run.session, check.subject_id)
        send_code(run, ticket, check.sent_to, subject, previous_expired=True)
        return _accepted("code_expired_resent", ticket)
    if check.result is CheckResult.CODE_NEEDED:
        # Facts found the record of a disclosing request: the code to its contact proves the person.
        subject = check.subject
        if subject is None or not subject.email or attempts.subject_locked(run.session, subject.id, run.now):
            return exhausted(run, ticket)
        audit(run.session, actor=SYSTEM, action="identity_facts_matched", now=run.now, ticket_id=ticket.id,
              reason="Angaben passen; die Anfrage gibt Daten heraus, daher zusätzlich Einmalcode")
        send_code(run, ticket, subject.email, subject)
        return _accepted("code_sent", ticket)
    if check.result is CheckResult.EXHAUSTED:
        return exhausted(run, ticket)
    if check.result is CheckResult.WRONG:
        audit(run.session, actor=SYSTEM, action="identity_attempt_failed", now=run.now, ticket_id=ticket.id,
              reason="Angaben stimmen nicht")
        by_facts = check.purpose == identity.PURPOSE_FACTS
        ctx = reply_context(ticket, channel=run.msg.channel, verified=False,
                            facts_requested=identity.FACTS_REQUESTED if by_facts else (), code_hint=by_facts,
                            previous_attempt_failed=True, id_document_received=_id_document(run))
        run.replies.reply(ReplyKind.IDENTITY_REQUEST, ticket, ctx)
        return _accepted("identity_attempt_failed", ticket)
    run.stored.disposition = "follow_up"
    return _accepted("follow_up_attached", ticket)


def _id_document(run: Run) -> bool:
    """The message carried what looks like an ID copy (the letter says it came and is not used)."""
    return any(a.looks_like_id_document for a in run.msg.attachments)


def _subject(session: Session, subject_id: int | None) -> DataSubject | None:
    return session.get(DataSubject, subject_id) if subject_id is not None else None


def _id(subject: DataSubject | None) -> int | None:
    return subject.id if subject is not None else None


def _name(subject: DataSubject | None) -> str | None:
    return subject.name if subject is not None else None
