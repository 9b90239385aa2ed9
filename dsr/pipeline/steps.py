"""The pipeline's steps, each a small named unit working on one `Run`.

A step returns an `Outcome`, which ends the message's handling, or `CONTINUE`, which hands it to
the next step of `dsr.pipeline.core.STEPS`.  Everything they do happens in the run's single
transaction; none of them commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.controllers.profile import ProcessorClient
from dsr.deadlines import breach_notification_due
from dsr.inbound import Outcome, OutcomeStatus
from dsr.intents import routing
from dsr.intents.consent_scope import ConsentScope, consent_scope
from dsr.intents.model import Classification
from dsr.intents.rights import RIGHTS, Right, legal_sort
from dsr.intents.routing import UNCLEAR_REASONS, Route
from dsr.logs import mask_address
from dsr.pipeline import identity
from dsr.pipeline.clarification import chosen_readings
from dsr.pipeline.forwarding import ProcessorRecord, plan_forwarding, queue_forward, record_forwarding
from dsr.pipeline.identity import IdentityDecision, Rung
from dsr.pipeline.identity_flow import handle_identity_reply, start_verification
from dsr.pipeline.intake import stated_deadline
from dsr.pipeline.loop_guard import (
    BounceReport,
    LoopCheck,
    Verdict,
    check_message,
    is_returned_reply,
    parse_bounce,
)
from dsr.pipeline.outbound import berlin_date, reply_context
from dsr.pipeline.run import Run
from dsr.pipeline.threads import find_thread, is_requester
from dsr.replies.context import ReplyKind
from dsr.replies.labels import reasons_text
from dsr.store.audit import audit
from dsr.store.models import (
    AuditEvent,
    DataSubject,
    Direction,
    IdentityLevel,
    Message,
    OutboxItem,
    Ticket,
    TicketState,
)
from dsr.store.subjects import find_subject
from dsr.store.suppression import suppress_subject
from dsr.store.tickets.services import (
    correct_rights,
    escalate,
    flag_breach,
    open_ticket,
    record_identity,
    transition,
)

log = logging.getLogger(__name__)
# Rights with an acknowledgement of their own (Art. 21(1): hint at Art. 18(1)(d); Art. 22(3): the
# invitation to state a point of view), sent on receipt instead of the generic receipt or notice.
ACKNOWLEDGED: Mapping[Right, ReplyKind] = {
    Right.OBJECTION: ReplyKind.OBJECTION_ACK,
    Right.AUTOMATED_DECISION: ReplyKind.AUTOMATED_DECISION_ACK,
}
# Escalation reasons that only say "a person reviews this objection / decision": the
# acknowledgement says exactly that, so no separate escalation notice goes out for them.
REVIEW_REASONS = frozenset({"objection_balancing", "automated_decision_review", "low_confidence"})
# Escalation reason: a consent withdrawal that is not only about advertising (Art. 7(3), 17(1)(b)).
CONSENT_REVIEW = "consent_withdrawal_review"
# Escalation reason: the request names several clients of the processor register (Art. 28(3)(e)).
SEVERAL_CLIENTS = "several_clients"
# Escalation reason: we may be only the processor (the request concerns a registered client's data).
PROCESSOR_ROLE = "processor_role"
# Reasons a DPO reads before a request about one client's data is forwarded: an authority's letter
# (its own deadline, answered by a person), a threat of legal action or a complaint (they may be
# about our own conduct as processor), a reported breach (Art. 33(2): the processor tells the client
# without undue delay, and our 72-hour clock runs on the ticket) and suspected identity theft.
# Escalation wins over automatic forwarding; the DPO forwards with one action in the console.
HOLD_FORWARD_REASONS = frozenset({"authority", "legal_threat", "complaint", "breach", "identity_theft"})

NOT_A_REQUEST = "not_a_request"  # disposition of an ignored message (reason in disposition_reason)
# Mails to the DPO and managers: a bounce of one is an internal matter, not an unreachable person.
INTERNAL_KINDS = frozenset({ReplyKind.DPO_ESCALATION_ALERT.value, ReplyKind.DEADLINE_REMINDER.value,
                            ReplyKind.WEEKLY_DIGEST.value})
SYSTEM = "system"
_CLOSED_STATES = frozenset({TicketState.CLOSED.value, TicketState.PAUSED.value})


class Continue(Enum):
    """The result of a step that leaves the message to the next one."""

    CONTINUE = "continue"


CONTINUE: Final = Continue.CONTINUE
StepResult = Outcome | Continue


@dataclass(frozen=True, slots=True)
class Step:
    name: str  # stable, kebab-case (as in the decision log and the docs)
    run: Callable[[Run], StepResult]


# --- the steps ------------------------------------------------------------------------------------


def loop_guard(run: Run) -> StepResult:
    """Bounces and machine mail end here: recorded and attached, never answered."""
    check = check_message(run.msg, own_addresses=run.site.own_addresses, own_domains=run.site.own_domains)
    if check.verdict is Verdict.BOUNCE:
        return _bounce(run, check)
    if check.verdict is Verdict.AUTOMATIC:
        return _automatic(run, check)
    if check.verdict is Verdict.NO_REPLY:
        run.replies.withhold_from_sender = check.reason
    if is_returned_reply(run.session, controller=run.profile.key, msg=run.msg):
        return _automatic(run, LoopCheck(Verdict.AUTOMATIC, "own_reply_returned"))
    return CONTINUE


def follow_up(run: Run) -> StepResult:
    """A message that belongs to one of our tickets is attached to it (and acted on)."""
    match = find_thread(run.session, controller=run.profile.key, in_reply_to=run.msg.in_reply_to,
                        references=run.msg.references, subject=run.msg.subject)
    if match.ticket is None:
        return CONTINUE
    return _follow_up(run, match.ticket, match.method)


def new_request(run: Run) -> StepResult:
    """A new request: a ticket with its deadline, identity, escalation and the first reply (or,
    for a confident non-privacy reading, the message listed as ignored)."""
    return _new_request(run, run.classification)


# --- what the steps do --------------------------------------------------------------------------


def _automatic(run: Run, check: LoopCheck) -> Outcome:
    """Machine mail (auto-replies, lists, our own mail): recorded and attached, never answered."""
    match = find_thread(run.session, controller=run.profile.key, in_reply_to=run.msg.in_reply_to,
                        references=run.msg.references, subject=run.msg.subject)
    ticket = match.ticket
    run.stored.ticket_id = ticket.id if ticket else None
    run.stored.disposition = f"loop_guard:{check.reason}"
    audit(run.session, actor=SYSTEM, action="auto_reply_ignored", now=run.now,
          ticket_id=ticket.id if ticket else None, reason=check.reason,
          detail={"message_id": run.stored.id, "sender": mask_address(run.msg.sender)})
    return Outcome(OutcomeStatus.IGNORED, reason=check.reason, ticket_reference=_ref(ticket))


def _bounce(run: Run, check: LoopCheck) -> Outcome:
    """A delivery report: attach it to the ticket whose mail bounced; a lost answer is a DPO task.

    It counts only when it quotes the Message-ID of a mail we sent (anyone can write as
    mailer-daemon and copy a ticket tag): otherwise it is held for the DPO and the ticket is not
    escalated.  Each answer escalates once, however many bounces of it arrive.
    """
    report = parse_bounce(run.msg)
    bounced = _bounced_item(run.session, report.message_ids)
    if bounced is None:
        return _bounce_unverified(run, report, check)
    match = find_thread(run.session, controller=run.profile.key, in_reply_to=None,
                        references=list(reversed(report.message_ids)), subject="",
                        header_method="bounce_headers")
    ticket = match.ticket
    repeated = ticket is not None and _already_bounced(run.session, ticket, bounced.id)
    run.stored.ticket_id = ticket.id if ticket else None
    run.stored.disposition = "bounce_repeated" if repeated else "bounce" if ticket else "bounce_unmatched"
    audit(run.session, actor=SYSTEM, action="delivery_bounced", now=run.now,
          ticket_id=ticket.id if ticket else None,
          reason="Antwort nicht zustellbar" if report.permanent else "Zustellung verzögert",
          detail={"status": report.status, "permanent": report.permanent, "matched_by": match.method,
                  "outbox_id": bounced.id, "kind": bounced.kind, "detected_by": check.reason,
                  "repeated": repeated})
    internal = bounced.kind in INTERNAL_KINDS
    if (ticket is not None and report.permanent and not internal and not repeated
            and ticket.state not in _CLOSED_STATES):
        escalate(run.session, ticket, ["delivery_bounced"], actor=SYSTEM, now=run.now,
                 reason="Antwort an die betroffene Person nicht zustellbar; die Frist läuft weiter")
        run.replies.alert_dpo(ticket, ticket.escalation_reasons)
    return Outcome(OutcomeStatus.IGNORED, reason="bounce", ticket_reference=_ref(ticket))


def _bounce_unverified(run: Run, report: BounceReport, check: LoopCheck) -> Outcome:
    """A "bounce" that names none of our recorded mails: kept for the DPO, nothing escalated."""
    match = find_thread(run.session, controller=run.profile.key, in_reply_to=None, references=[],
                        subject="", tag_texts=[f"[{t}]" for t in report.tags], tag_method="bounce_tag")
    ticket = match.ticket
    run.stored.ticket_id = ticket.id if ticket else None
    run.stored.disposition = "bounce_unverified"
    audit(run.session, actor=SYSTEM, action="bounce_held", now=run.now,
          ticket_id=ticket.id if ticket else None,
          reason="Unzustellbarkeitsmeldung ohne Bezug auf eine von uns versandte Nachricht; "
                 "zur Prüfung zurückgehalten",
          detail={"status": report.status, "detected_by": check.reason, "message_id": run.stored.id,
                  "sender": mask_address(run.msg.sender)})
    return Outcome(OutcomeStatus.HELD, reason="bounce_unverified", ticket_reference=_ref(ticket))


def _already_bounced(session: Session, ticket: Ticket, outbox_id: int) -> bool:
    """Whether a bounce of this very answer was recorded before (committed earlier)."""
    details = session.scalars(select(AuditEvent.detail).where(
        AuditEvent.ticket_id == ticket.id, AuditEvent.action == "delivery_bounced"))
    return any(isinstance(d, dict) and d.get("outbox_id") == outbox_id for d in details)


def _bounced_item(session: Session, message_ids: Sequence[str]) -> OutboxItem | None:
    if not message_ids:
        return None
    return session.scalar(
        select(OutboxItem).join(Message, OutboxItem.message_id == Message.id)
        .where(Message.direction == Direction.OUTBOUND.value, Message.message_id.in_(list(message_ids)))
        .limit(1))


def _follow_up(run: Run, ticket: Ticket, matched_by: str) -> Outcome:
    run.stored.ticket_id = ticket.id
    if not is_requester(run.session, ticket, run.msg):
        # Zammad #5064 / FreeScout #2382: knowing a ticket number must not let anyone act on it.
        run.stored.disposition = "held_not_requester"
        audit(run.session, actor=SYSTEM, action="follow_up_held", now=run.now, ticket_id=ticket.id,
              reason="Nachricht zum Vorgang von einer anderen Adresse als der des Antragstellers",
              detail={"matched_by": matched_by, "sender": mask_address(run.msg.sender),
                      "message_id": run.stored.id})
        return Outcome(OutcomeStatus.HELD, reason="sender_not_requester",
                       ticket_reference=ticket.reference)
    audit(run.session, actor=SYSTEM, action="follow_up_received", now=run.now, ticket_id=ticket.id,
          detail={"matched_by": matched_by, "message_id": run.stored.id})
    result = run.classification
    if ticket.state == TicketState.NEW.value and ticket.classification.get("pending_clarification"):
        return _clarified(run, ticket, result)  # a breach in the answer is escalated there
    if ticket.state == TicketState.AWAITING_IDENTITY.value:
        outcome = handle_identity_reply(run, ticket)
    else:
        immediate = [r for r in result.requested if RIGHTS[r].immediate]
        if immediate:
            _act_immediately(run, ticket, immediate)
        run.stored.disposition = "follow_up"
        outcome = Outcome(OutcomeStatus.ACCEPTED, reason="follow_up_attached",
                          ticket_reference=ticket.reference)
    if "breach" in result.reasons and ticket.breach_due_at is None:
        _breach_in_follow_up(run, ticket)
    return outcome


def _breach_in_follow_up(run: Run, ticket: Ticket) -> None:
    """A data breach reported in passing on an existing ticket ("übrigens habe ich die Rechnung
    eines anderen Kunden bekommen"): the ticket gets the flag, the Art. 33 clock runs from this
    message's receipt, and the DPO is alerted, whatever else the message does."""
    flag_breach(run.session, ticket, actor=SYSTEM, now=run.now, aware_at=run.msg.received_at,
                reason="Hinweis auf eine Datenpanne in einer Nachricht zum Vorgang: Meldung an die "
                       "Aufsichtsbehörde binnen 72 Stunden prüfen (Art. 33 DSGVO)")
    run.replies.alert_dpo(ticket, ticket.escalation_reasons)


def _new_request(run: Run, result: Classification) -> Outcome:
    """Open a ticket for everything a person may have asked (`dsr.intents.routing`); only a
    confident non-privacy reading is ignored, with its reason, and listed for the DPO."""
    decision = routing.decide(result)
    if decision.route is Route.IGNORE:
        return _ignore(run, result, decision.ignore_reason)
    labels = list(decision.labels)
    unclear = decision.route is Route.CLARIFY
    readings = list(decision.readings)
    to_escalate = decision.route in (Route.ESCALATE, Route.TRIAGE)
    identity_decision = _decide(run, labels, result)
    to_escalate = to_escalate or identity_decision.rung is Rung.MANUAL
    reasons = list(decision.reasons)
    if to_escalate and unclear:  # identity needs a person: the person decides the reading too
        unclear, readings = False, []
    stated_due = (stated_deadline(run.msg.body, berlin_date(run.msg.received_at))
                  if "authority" in reasons else None)
    ticket = open_ticket(
        run.session, controller=run.profile.key, land=run.profile.state, channel=run.msg.channel,
        received_at=run.msg.received_at, rights=labels or readings or [Right.OTHER], now=run.now,
        subject_id=identity_decision.subject.id if identity_decision.subject else None,
        reply_to=_reply_address(run), language=result.language,
        classification={**result.to_dict(), "pending_clarification": unclear,
                        "route": decision.route.value},
        escalation_reasons=reasons if to_escalate else [],
        internal_target_working_days=run.profile.internal_target_working_days,
        stated_due_date=stated_due)
    run.stored.ticket_id = ticket.id
    _flag_id_documents(run, ticket)
    if decision.route is Route.TRIAGE:
        return _triage(run, ticket)
    clients = list(run.named_clients) if labels else []
    held = sorted(HOLD_FORWARD_REASONS.intersection(reasons)) if to_escalate else []
    if len(clients) == 1 and held:
        return _client_held_for_dpo(run, ticket, clients[0], reasons)
    if len(clients) == 1:
        return _forward_to_client(run, ticket, clients[0])
    if clients:
        return _several_clients(run, ticket, clients)
    return _proceed(run, ticket, labels, to_escalate, unclear, readings, reasons, identity_decision)


def _ignore(run: Run, result: Classification, why: str) -> Outcome:
    """A confident non-privacy reading: recorded with its reason, in the DPO's list of ignored
    messages (the DPO can still turn it into a ticket with its original receipt time)."""
    run.stored.disposition = NOT_A_REQUEST
    run.stored.disposition_reason = why[:200]
    audit(run.session, actor=SYSTEM, action="message_not_a_request", now=run.now,
          reason=f"keine Betroffenenanfrage: {why}",
          detail={"message_id": run.stored.id, "ignore_reason": why, "classification": result.to_dict()})
    return Outcome(OutcomeStatus.IGNORED, reason=NOT_A_REQUEST)


def _forward_to_client(run: Run, ticket: Ticket, client: ProcessorClient) -> Outcome:
    """Processor mode (Art. 28(3)(e)): the request concerns a client's data; the client answers.

    The request goes to the client's address in the register with its receipt date and an offer
    of support; the person gets a neutral note naming the client where the register allows it.
    No identity check and no letter in our name about the client's data.  The ticket records the
    forwarding and is answered ("forwarded"), which stops our own clock; the follow-up date stays
    on the ticket for the scheduler's reminder (`dsr.pipeline.forwarding`).
    """
    plan = plan_forwarding(ticket, run.profile, client, text=run.msg.body, now=run.now,
                           channel=run.msg.channel)
    item = queue_forward(run.session, run.profile, ticket, plan, now=run.now,
                         overrides_dir=run.replies.overrides_dir)
    run.replies.reply(ReplyKind.PROCESSOR_NOTICE, ticket, plan.notice)
    record_forwarding(run.session, ticket, plan, actor=SYSTEM, now=run.now, forward_item=item)
    return _accepted("forwarded_to_client", ticket)


def _several_clients(run: Run, ticket: Ticket, clients: Sequence[ProcessorClient]) -> Outcome:
    """The request names several registered clients: a person splits it and forwards each part.

    Neither a forward (to which client?) nor a letter in our own name goes out, which could
    promise an answer about data that is a client's to give: the person gets only the neutral
    receipt (`_held_receipt`).  The ticket waits in the DPO's queue with the clients named; the
    deadline runs from receipt as for any request.
    """
    names = ", ".join(client.name for client in clients)
    ProcessorRecord(candidates=tuple(client.key for client in clients)).store(ticket)
    escalate(run.session, ticket, [SEVERAL_CLIENTS], actor=SYSTEM, now=run.now,
             reason=f"Die Anfrage nennt mehrere Auftraggeber ({names}): bitte aufteilen und je "
                    "Auftraggeber weiterleiten (Art. 28 Abs. 3 lit. e DSGVO) oder selbst beantworten")
    _held_receipt(run, ticket)
    _start_breach_clock(run, ticket, ticket.escalation_reasons)
    run.replies.alert_dpo(ticket, ticket.escalation_reasons)
    return _accepted("escalated", ticket)


def _client_held_for_dpo(run: Run, ticket: Ticket, client: ProcessorClient,
                         reasons: Sequence[str]) -> Outcome:
    """One client's data, but also an authority, a legal threat, a complaint, a breach or identity
    theft: the DPO reads it first (`HOLD_FORWARD_REASONS`).

    Neither the forward nor a letter in our own name about the client's data goes out: the person
    gets only the neutral receipt (`_held_receipt`).  The client stays on the ticket as the
    candidate, so the DPO forwards with one action (or answers it as ours).  A breach report gets
    its 72-hour clock at once.
    """
    ProcessorRecord(candidates=(client.key,)).store(ticket)
    codes = list(dict.fromkeys([*reasons, PROCESSOR_ROLE]))
    escalate(run.session, ticket, codes, actor=SYSTEM, now=run.now,
             reason=f"Die Anfrage betrifft Daten im Auftrag von {client.name}, nennt aber auch: "
                    f"{reasons_text(tuple(reasons))}. Nicht automatisch weitergeleitet: bitte prüfen, "
                    "dann weiterleiten (Art. 28 Abs. 3 lit. e DSGVO) oder selbst beantworten")
    _held_receipt(run, ticket)
    _start_breach_clock(run, ticket, reasons)
    run.replies.alert_dpo(ticket, ticket.escalation_reasons)
    return _accepted("escalated", ticket)


def _held_receipt(run: Run, ticket: Ticket) -> None:
    """The person's receipt of a processor-mode request held for the DPO: the day it arrived and
    that we first check who is responsible for the data, nothing else (no data, no identity check,
    no date we may not be the one to keep).  An authority's letter gets no automatic answer."""
    if "authority" in ticket.escalation_reasons:
        audit(run.session, actor=SYSTEM, action="auto_reply_not_sent", now=run.now, ticket_id=ticket.id,
              reason="Schreiben einer Behörde, eines Gerichts oder der Polizei: Antwort nur durch einen "
                     "Menschen", detail={"stated_due_date": _iso(ticket.stated_due_date)})
        return
    ctx = reply_context(ticket, channel=run.msg.channel, verified=False, due_date=None)
    run.replies.reply(ReplyKind.PROCESSOR_RECEIPT, ticket, ctx)


def _start_breach_clock(run: Run, ticket: Ticket, reasons: Sequence[str]) -> None:
    if "breach" in reasons and ticket.breach_due_at is None:
        # Art. 33(1): aware on receipt of the report (a new message, or the answer to our question).
        ticket.breach_due_at = breach_notification_due(run.msg.received_at)
        audit(run.session, actor=SYSTEM, action="breach_flagged", now=run.now, ticket_id=ticket.id,
              reason="Hinweis auf eine Datenpanne: Meldung an die Aufsichtsbehörde binnen 72 Stunden "
                     "prüfen (Art. 33 DSGVO)", detail={"breach_due_at": ticket.breach_due_at.isoformat()})


def _triage(run: Run, ticket: Ticket) -> Outcome:
    """Nothing could be read from the message: a person decides, the deadline runs from receipt.

    No automatic answer goes out: we cannot say what the message asks, and an answer to mail
    that was no request at all (spam with a forged sender) would reach a stranger.  The ticket
    waits in the DPO's queue; the deadline reminders cover it like any other.
    """
    escalate(run.session, ticket, [routing.UNRECOGNISED], actor=SYSTEM, now=run.now,
             reason="Nachricht nicht zugeordnet: ein Mensch prüft, ob und was die Person verlangt")
    return _accepted("triage", ticket)


def _proceed(run: Run, ticket: Ticket, labels: Sequence[Right], to_escalate: bool, unclear: bool,
             readings: Sequence[Right], reasons: Sequence[str], decision: IdentityDecision) -> Outcome:
    immediate = [r for r in labels if RIGHTS[r].immediate]
    review = _act_immediately(run, ticket, immediate) if immediate else False
    if review:
        # A withdrawal beyond advertising: a person finds and stops what relied on it.  Alone,
        # the confirmation already told the person so; with other requests the usual notice.
        if len(immediate) == len(labels) and not to_escalate and not unclear:
            escalate(run.session, ticket, [CONSENT_REVIEW], actor=SYSTEM, now=run.now,
                     reason="Widerruf einer Einwilligung, die nicht nur Werbung betrifft")
            run.replies.alert_dpo(ticket, ticket.escalation_reasons)
            return _accepted("escalated", ticket)
        to_escalate, reasons = True, [*reasons, CONSENT_REVIEW]
    if immediate and len(immediate) == len(labels) and not to_escalate and not unclear:
        outcome = "suppressed" if Right.MARKETING_OBJECTION in immediate else "consent_withdrawn"
        transition(run.session, ticket, TicketState.ANSWERED, actor=SYSTEM, now=run.now,
                   outcome=outcome, reason="Wirksam mit Eingang; Bestätigung an die betroffene Person")
        return _accepted("effective_immediately", ticket)
    if decision.level is not IdentityLevel.NONE and decision.method:
        record_identity(run.session, ticket, decision.level, method=decision.method, actor=SYSTEM,
                        now=run.now)
    acked = _acknowledge(run, ticket, labels, decision) if not unclear else False
    if to_escalate:
        return _escalate(run, ticket, list(reasons) or ["low_confidence"], decision, acked=acked)
    if unclear:
        # A marketing objection among the readings is applied at once: it harms no one.
        marketing = Right.MARKETING_OBJECTION in readings
        if marketing:
            _suppress_marketing(run, ticket)
        ctx = reply_context(ticket, channel=run.msg.channel, verified=False, readings=tuple(readings),
                            marketing_applied=marketing,
                            general_question=run.classification.general_question)
        run.replies.reply(ReplyKind.CLARIFICATION, ticket, ctx)
        audit(run.session, actor=SYSTEM, action="clarification_requested", now=run.now,
              ticket_id=ticket.id, reason="Anliegen nicht eindeutig",
              detail={"readings": [r.value for r in readings]})
        return _accepted("clarification_requested", ticket)
    return start_verification(run, ticket, decision, receipt=not acked)


def _acknowledge(run: Run, ticket: Ticket, labels: Sequence[Right],
                 decision: IdentityDecision) -> bool:
    """Objections and Art. 22 contests get their own acknowledgement on receipt.

    It discloses nothing about the person (no identity check needed for it).  Returns True
    when every right of the request was acknowledged this way, so no generic receipt follows.
    """
    kinds = [ACKNOWLEDGED[r] for r in labels if r in ACKNOWLEDGED]
    if not kinds or "authority" in ticket.escalation_reasons:
        return False
    verified = decision.rung is Rung.CONTACT_ON_FILE
    for kind in kinds:
        ctx = reply_context(ticket, channel=run.msg.channel, verified=verified,
                            recipient_name=_name(decision.subject) if verified else None)
        run.replies.reply(kind, ticket, ctx)
    return all(r in ACKNOWLEDGED for r in labels)


def _escalate(run: Run, ticket: Ticket, reasons: Sequence[str],
              decision: IdentityDecision, *, acked: bool = False) -> Outcome:
    escalate(run.session, ticket, reasons, actor=SYSTEM, now=run.now,
             reason="Automatisch an den Datenschutz übergeben: " + reasons_text(tuple(reasons)))
    if "authority" in ticket.escalation_reasons:
        # An authority's, court's or police letter is answered by a person only (its own deadline).
        audit(run.session, actor=SYSTEM, action="auto_reply_not_sent", now=run.now, ticket_id=ticket.id,
              reason="Schreiben einer Behörde, eines Gerichts oder der Polizei: Antwort nur durch einen "
                     "Menschen", detail={"stated_due_date": _iso(ticket.stated_due_date)})
    elif not (acked and set(ticket.escalation_reasons) <= REVIEW_REASONS):
        verified = decision.rung in (Rung.CONTACT_ON_FILE, Rung.KNOWN_FACTS)
        ctx = reply_context(ticket, channel=run.msg.channel, verified=verified,
                            recipient_name=_name(decision.subject) if verified else None)
        run.replies.reply(ReplyKind.ESCALATION_NOTICE, ticket, ctx)
    _start_breach_clock(run, ticket, reasons)
    run.replies.alert_dpo(ticket, ticket.escalation_reasons)
    return _accepted("escalated", ticket)


def _clarified(run: Run, ticket: Ticket, result: Classification) -> Outcome:
    """The answer to our clarification question: proceed, or hand to a human if still unclear."""
    chosen = chosen_readings(run.session, ticket, run.msg.body)
    if chosen:
        # "2" or "1 und 3": the person picked readings from our numbered question.
        result = replace(result, labels=legal_sort(chosen), escalate=False,
                         reasons=tuple(r for r in result.reasons if r not in UNCLEAR_REASONS))
    labels = list(result.requested)
    still_unclear = not labels or (bool(result.reasons) and set(result.reasons) <= UNCLEAR_REASONS)
    ticket.classification = {**ticket.classification, "pending_clarification": False,
                             "clarification": result.to_dict()}
    decision = _decide(run, labels, result)
    if still_unclear or result.escalate:
        return _escalate(run, ticket, list(result.reasons) or ["ambiguous"], decision)
    correct_rights(run.session, ticket, labels, actor=SYSTEM, now=run.now,
                   reason="Klarstellung durch die betroffene Person")
    if decision.subject is not None and ticket.subject_id is None:
        ticket.subject_id = decision.subject.id
    return _proceed(run, ticket, labels, decision.rung is Rung.MANUAL, False, [], result.reasons,
                         decision)


def _decide(run: Run, labels: Sequence[Right], result: Classification) -> IdentityDecision:
    return identity.decide(run.session, controller=run.profile.key, msg=run.msg, rights=labels,
                           reasons=result.reasons, trusted_authserv_id=run.site.trusted_authserv_id,
                           now=run.now)


def _act_immediately(run: Run, ticket: Ticket, rights: Sequence[Right]) -> bool:
    """Art. 21(3) / Art. 7(3): effective on receipt, no verification, confirmation to the sender.

    A marketing objection, or a withdrawn consent to advertising, puts the sender's address and
    every identifier of the known subject on the suppression list.  Any other withdrawal is
    confirmed as received and being handled; returns True when it needs a person.
    """
    decision = consent_scope(f"{run.msg.subject}\n{run.msg.body}", rights)
    marketing = Right.MARKETING_OBJECTION in rights or decision.scope is ConsentScope.MARKETING
    ticket.classification = {**ticket.classification, "consent_scope": decision.to_dict()}
    if marketing:
        _suppress_marketing(run, ticket)
    scope = ConsentScope.MARKETING if marketing else ConsentScope.REVIEW
    for right in rights:
        kind = (ReplyKind.MARKETING_OBJECTION_CONFIRMATION if right is Right.MARKETING_OBJECTION
                else ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION)
        ctx = reply_context(ticket, channel=run.msg.channel, verified=False, withdrawal_scope=scope.value)
        run.replies.reply(kind, ticket, ctx)
    return Right.CONSENT_WITHDRAWAL in rights and not marketing


def _suppress_marketing(run: Run, ticket: Ticket) -> None:
    """Art. 21(3): the sender's address and every identifier of the person behind it.

    The person behind the sender (a fake opt-out harms nobody: docs/LEGAL-NOTES.md 1.8), so that every
    identifier a CRM or letter shop could use is on the list, not only this address.
    """
    address = (f"telegram:{run.msg.telegram_user_id}" if run.msg.telegram_user_id is not None
               else run.msg.sender)
    subject = ticket.subject or find_subject(
        run.session, run.profile.key, telegram_user_id=run.msg.telegram_user_id,
        email=run.msg.sender if run.msg.telegram_user_id is None else None)
    kinds = suppress_subject(run.session, controller=run.profile.key, subject=subject,
                             addresses=[address], now=run.now, ticket_id=ticket.id)
    audit(run.session, actor=SYSTEM, action="suppression_applied", now=run.now, ticket_id=ticket.id,
          reason="Werbesperre für alle zugeordneten Kennungen", detail={"kinds": kinds})


def _flag_id_documents(run: Run, ticket: Ticket) -> None:
    """EDPB § 79: an ID copy is checked by a person and deleted; the record only says it came."""
    flagged = [a.name for a in run.msg.attachments if a.looks_like_id_document]
    if flagged:
        audit(run.session, actor=SYSTEM, action="id_document_received", now=run.now, ticket_id=ticket.id,
              reason="Ausweiskopie erhalten: prüfen und danach löschen",
              detail={"count": len(flagged)})


def _reply_address(run: Run) -> str:
    return str(run.msg.chat_id) if run.msg.channel == "telegram" and run.msg.chat_id is not None \
        else run.msg.sender


def _accepted(reason: str, ticket: Ticket) -> Outcome:
    return Outcome(OutcomeStatus.ACCEPTED, reason=reason, ticket_reference=ticket.reference)


def _name(subject: DataSubject | None) -> str | None:
    return subject.name if subject is not None else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _ref(ticket: Ticket | None) -> str | None:
    return ticket.reference if ticket is not None else None
