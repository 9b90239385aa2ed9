"""Pipeline steps of the verification ladder: start a check, and evaluate the requester's answer.

The decisions themselves live in `dsr.pipeline.identity`; these steps record them on the ticket (state,
identity level and method, audit events) and queue the mails that go with them.  The one-time code
always goes to the contact on file (level 2 of the ladder): the sender of an unverified message is
told the same whether or not a code went anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    retry = "facts" if decision.failed_facts else "unclear" if decision.facts_unclear else ""
    ask_facts(run, ticket, retry=retry, kept=decision.kept or identity.KeptFacts())
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


def ask_facts(run: Run, ticket: Ticket, *, retry: str = "",
              kept: identity.KeptFacts = identity.KeptFacts()) -> None:
    """Ask for two facts the controller already holds (never an ID copy, EDPB § 73).

    The same words for every unverified sender, whether or not anything named is on file: the
    reply says that a code goes to contact data on file *if* we can match any.  `retry` says what
    the message's facts came to ("facts": the pair did not match; "unclear": several values of one
    fact), `kept` the lone fact it gave, which is noted and not asked for again.
    """
    identity.open_facts_challenge(run.session, ticket=ticket, sent_to=run.msg.sender, now=run.now, kept=kept)
    ctx = reply_context(ticket, channel=run.msg.channel, verified=False,
                        facts_requested=kept.missing(), facts_received=kept.names(), code_hint=True,
                        identity_retry=retry, id_document_received=_id_document(run))
    run.replies.reply(ReplyKind.IDENTITY_REQUEST, ticket, ctx)
    audit(run.session, actor=SYSTEM, action="identity_challenge_sent", now=run.now, ticket_id=ticket.id,
          reason="Abfrage bereits bekannter Angaben", detail={"facts": list(kept.missing())})
    if kept.names():
        _audit_kept(run, ticket, kept.names())


def _audit_kept(run: Run, ticket: Ticket, names: Sequence[str]) -> None:
    """A lone fact is noted (its name only, never its value): no attempt used, not asked again."""
    audit(run.session, actor=SYSTEM, action="identity_fact_kept", now=run.now, ticket_id=ticket.id,
          reason="Angabe notiert; geprüft wird, sobald die zweite vorliegt", detail={"facts": list(names)})


def send_code(run: Run, ticket: Ticket, code_to: str, subject: DataSubject | None, *,
              tell_sender: bool = True, previous_expired: bool = False,
              retry_facts: Sequence[str] = (), kept: Sequence[str] = ()) -> None:
    """Send a one-time code to `code_to` (a contact on file); `tell_sender`: say so, without where.

    `previous_expired`: the person answered with a code that had run out; the new code's mail says
    so (one message, not an "expired" notice beside a new code), and a sender who is not that
    contact is told what a wrong code gets (the code is not valid; `retry_facts` still asked for,
    `kept` noted), so that the answer does not tell whether a code went anywhere.
    """
    code, expires = identity.issue_code(run.session, ticket=ticket, subject=subject, sent_to=code_to,
                                        now=run.now)
    ctx = reply_context(ticket, channel="email", verified=False, verification_code=code,
                        code_expires_at=expires, previous_code_expired=previous_expired)
    run.replies.reply(ReplyKind.VERIFICATION_CODE, ticket, ctx, to=code_to, channel="email")
    if tell_sender and (run.msg.channel != "email" or code_to.lower() != run.msg.sender.lower()):
        if previous_expired:
            ctx = reply_context(ticket, channel=run.msg.channel, verified=False,
                                facts_requested=tuple(retry_facts), facts_received=tuple(kept),
                                code_hint=bool(retry_facts), identity_retry="code",
                                id_document_received=_id_document(run))
        else:
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
        # why it comes (issue 15 no. 12).  A sender other than the contact on file hears what a
        # wrong code gets (the code is not valid, facts still asked for where they were).
        subject = _subject(run.session, check.subject_id)
        send_code(run, ticket, check.sent_to, subject, previous_expired=True, retry_facts=check.facts_missing,
                  kept=check.facts_kept)
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
        by_facts = check.purpose == identity.PURPOSE_FACTS
        audit(run.session, actor=SYSTEM, action="identity_attempt_failed", now=run.now, ticket_id=ticket.id,
              reason="Kundennummer und Postleitzahl passen nicht zusammen" if by_facts
              else "Bestätigungscode stimmt nicht")
        _ask_again(run, ticket, retry="facts" if by_facts else "code", check=check)
        return _accepted("identity_attempt_failed", ticket)
    if check.result is CheckResult.KEPT:
        _audit_kept(run, ticket, check.facts_kept)
        _ask_again(run, ticket, retry="", check=check)
        return _accepted("identity_fact_kept", ticket)
    if check.result is CheckResult.UNCLEAR:
        audit(run.session, actor=SYSTEM, action="identity_facts_unclear", now=run.now, ticket_id=ticket.id,
              reason="Mehrere Werte einer Angabe; nichts geprüft")
        _ask_again(run, ticket, retry="unclear", check=check)
        return _accepted("identity_facts_unclear", ticket)
    run.stored.disposition = "follow_up"
    return _accepted("follow_up_attached", ticket)


def _ask_again(run: Run, ticket: Ticket, *, retry: str, check: identity.IdentityCheck) -> None:
    """The identity request again, saying what the last message came to and asking only for what
    is missing (after a failed pair: both; the code hint wherever facts are asked for)."""
    ctx = reply_context(ticket, channel=run.msg.channel, verified=False, facts_requested=check.facts_missing,
                        facts_received=check.facts_kept, code_hint=bool(check.facts_missing),
                        identity_retry=retry, id_document_received=_id_document(run))
    run.replies.reply(ReplyKind.IDENTITY_REQUEST, ticket, ctx)


def _id_document(run: Run) -> bool:
    """The message carried what looks like an ID copy (the letter says it came and is not used)."""
    return any(a.looks_like_id_document for a in run.msg.attachments)


def _subject(session: Session, subject_id: int | None) -> DataSubject | None:
    return session.get(DataSubject, subject_id) if subject_id is not None else None


def _id(subject: DataSubject | None) -> int | None:
    return subject.id if subject is not None else None


def _name(subject: DataSubject | None) -> str | None:
    return subject.name if subject is not None else None
