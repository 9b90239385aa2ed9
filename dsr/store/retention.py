"""Retention of DSR records: delete what the accountability period no longer justifies.

Records of handled requests are kept to prove how each request was answered (Art. 5(2), 12, 24
GDPR) and to defend against claims (Art. 82 GDPR); after that, storage limitation (Art. 5(1)(e))
requires deleting them (a retention schedule for the DSR data itself, the deletion
irreversible).  The period is the profile's `dsr_record_retention_years` (KOMSA: 3).

**The horizon.**  A ticket closed in calendar year Y is kept until 31 December of Y + N and
deleted from 1 January of Y + N + 1.  The period runs from the end of the calendar year of
closing because the claims these records answer become time-barred that way: the regular
limitation period of three years (§ 195 BGB) starts at the end of the year in which the claim
arose (§ 199(1) BGB).  German retention periods count the same way (§ 147(4) AO, § 257(5) HGB;
docs/LEGAL-NOTES.md 4.2), so the DPO's retention schedule reads alike, and there is one purge date a year
that an authority can follow.  Unlinked records (messages that opened no ticket, quarantine,
internal mails, chat binding codes) are deleted by the same horizon, using their own date.

**What stays.**
* Suppression entries (Werbesperrdatei): the objection to direct marketing must be honoured for
  good (Art. 21(3)); only their link to the deleted ticket is cleared.
* Data subjects: the controller's customer records, not records of the request.
* Tickets not closed (still open, or answered/refused but never closed) are never deleted; those
  past the horizon are counted (`unclosed_past_horizon`) so the DPO can close them.
* The manager board's statistics: the board looks back twelve months (`dsr.console.metrics`), and a
  ticket is deleted at the earliest on 1 January of Y + 2 (N ≥ 1), thirteen months after it
  was answered and closed at the latest, so every figure the board shows comes from tickets
  that are still there.  No separate statistics table is needed; tests/store/test_retention.py
  proves the figures are unchanged by a purge at the earliest possible date.
* Audit events not about a deleted ticket.  The audit events of deleted tickets are removed
  through the audit gate (`allow_audit_purge`, which also satisfies the PostgreSQL trigger), and
  the purge itself leaves one audit event with counts only.
* Erasure proofs (`ErasureProof`): they hold no personal data and prove what was erased.

**The execution journal** (`ExecutionStep`, dsr/fulfilment/journal.py) exists only to finish a
plan execution a crash interrupted; it holds the systems' record keys and, for a rectification,
the new values, i.e. personal data that the proofs deliberately leave out.  Once a run is over
(no step executing, its case no longer "executing": proofs, holds and outcome are written) the
steps serve no purpose, so the purge deletes them `EXECUTION_STEP_DAYS` (30) days after the
run's last step ended, whatever the ticket's state; with a deleted ticket they go with it.

A dry run counts with the very conditions the purge deletes by, so its figures are the purge's.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from dsr.store.audit import allow_audit_purge, audit
from dsr.store.marks import drop_marks, stale_marks
from dsr.store.models import (
    AuditEvent,
    DataSubject,
    ExecutionStep,
    FulfilmentCase,
    FulfilmentState,
    Message,
    OutboxItem,
    OutboxState,
    QuarantinedMessage,
    Suppression,
    Ticket,
    TicketNote,
    TicketState,
    VerificationChallenge,
)

log = logging.getLogger(__name__)
BERLIN = ZoneInfo("Europe/Berlin")
CHUNK = 500  # ids per IN list (SQLite's limit on bound parameters is far above)
# How long the steps of a finished plan execution are kept (time to look into a failed run).
EXECUTION_STEP_DAYS = 30
STEP_EXECUTING = "executing"  # dsr.fulfilment.journal.EXECUTING (the store may not import it)


def retention_horizon(today: date, years: int) -> date:
    """Records closed (or dated) before this day are past retention: 1 January of today's year − N.

    Closed in 2022, N = 3: kept through 31.12.2025, deleted from 01.01.2026 (horizon 01.01.2023).
    """
    if years < 1:
        raise ValueError(f"retention years must be at least 1, got {years}")
    return date(today.year - years, 1, 1)


def horizon_instant(horizon: date) -> datetime:
    """Midnight at the start of the horizon day in Europe/Berlin, as UTC."""
    return datetime(horizon.year, horizon.month, horizon.day, tzinfo=BERLIN).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    tickets: int = 0
    messages: int = 0
    notes: int = 0
    challenges: int = 0
    outbox_items: int = 0
    quarantine: int = 0
    audit_events: int = 0
    marks: int = 0  # reminder/digest/purge marks of the scheduler
    execution_steps: int = 0  # the plan execution journal: finished runs, or of deleted tickets
    suppressions_kept: int = 0  # suppression entries of deleted tickets, kept with the link cleared
    unclosed_past_horizon: int = 0  # answered/refused before the horizon but never closed: kept

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def deleted(self) -> int:
        return (self.tickets + self.messages + self.notes + self.challenges + self.outbox_items
                + self.quarantine + self.audit_events + self.execution_steps)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    controller: str
    years: int
    horizon: date
    dry_run: bool
    counts: PurgeCounts


def _count(session: Session, model: type[Any], where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(where)) or 0)


class _Step:
    """Counts (dry run) or deletes (purge) rows of one table matching one condition."""

    def __init__(self, session: Session, *, dry_run: bool) -> None:
        self.session = session
        self.dry_run = dry_run

    def run(self, model: type[Any], where: ColumnElement[bool]) -> int:
        if self.dry_run:
            return _count(self.session, model, where)
        result = self.session.execute(
            delete(model).where(where).execution_options(synchronize_session=False)
        )
        return int(cast(CursorResult[Any], result).rowcount)


def purge(
    session: Session,
    *,
    controller: str,
    years: int,
    now: datetime,
    dry_run: bool = False,
    actor: str = "system",
    record_empty: bool = True,
) -> PurgeReport:
    """Delete (or, with `dry_run`, count) the controller's DSR records past the horizon.

    A purge writes one audit event with the counts; with `record_empty=False` (the daily
    automatic run) only when it deleted something.  The caller owns the transaction: commit to
    make the purge happen, roll back a dry run.
    """
    horizon = retention_horizon(now.astimezone(BERLIN).date(), years)
    cutoff = horizon_instant(horizon)
    step = _Step(session, dry_run=dry_run)
    ticket_ids = list(session.scalars(
        select(Ticket.id).where(
            Ticket.controller == controller,
            Ticket.state == TicketState.CLOSED.value,
            Ticket.closed_at.is_not(None),
            Ticket.closed_at < cutoff,
        ).order_by(Ticket.id)
    ))
    totals: dict[str, int] = dict.fromkeys(PurgeCounts().as_dict(), 0)
    if ticket_ids and not dry_run:
        allow_audit_purge(session)
    # First the journal of finished runs (also of tickets about to go), so the tickets' own
    # step below counts only the rest and a dry run counts no step twice.
    finished = finished_steps(controller=controller, now=now)
    totals["execution_steps"] += step.run(ExecutionStep, finished)
    for start in range(0, len(ticket_ids), CHUNK):
        _purge_tickets(session, step, ticket_ids[start : start + CHUNK], totals, finished)
    _purge_unlinked(session, step, controller=controller, cutoff=cutoff, totals=totals)
    marks = stale_marks(session, controller=controller, ticket_ids=set(ticket_ids), before=horizon)
    totals["marks"] = len(marks) if dry_run else drop_marks(session, marks)
    totals["unclosed_past_horizon"] = _count(session, Ticket, (
        (Ticket.controller == controller)
        & Ticket.state.in_([TicketState.ANSWERED.value, TicketState.REFUSED.value])
        & (Ticket.updated_at < cutoff)
    ))
    counts = PurgeCounts(**totals)
    report = PurgeReport(controller=controller, years=years, horizon=horizon, dry_run=dry_run, counts=counts)
    if not dry_run and (record_empty or counts.deleted):
        audit(
            session, actor=actor, action="retention_purged", now=now,
            reason=f"Aufbewahrungsfrist für Vorgänge ({years} Jahre ab Ende des Abschlussjahres) abgelaufen",
            detail={"controller": controller, "years": years, "horizon": horizon.isoformat(),
                    **counts.as_dict()},
        )
    log.info("retention %s controller=%s horizon=%s %s", "dry run" if dry_run else "purge", controller,
             horizon.isoformat(), " ".join(f"{k}={v}" for k, v in counts.as_dict().items()))
    return report


def _purge_tickets(session: Session, step: _Step, ids: list[int], totals: dict[str, int],
                   finished: ColumnElement[bool]) -> None:
    """One chunk of closed tickets with everything that belongs to them, children first."""
    def add(name: str, count: int) -> None:
        totals[name] += count

    ticket_messages = select(Message.id).where(Message.ticket_id.in_(ids))
    add("audit_events", step.run(AuditEvent, AuditEvent.ticket_id.in_(ids)))
    kept = Suppression.source_ticket_id.in_(ids)
    add("suppressions_kept", _count(session, Suppression, kept))
    if not step.dry_run:
        session.execute(update(Suppression).where(kept).values(source_ticket_id=None)
                        .execution_options(synchronize_session=False))
    add("outbox_items", step.run(
        OutboxItem, OutboxItem.ticket_id.in_(ids) | OutboxItem.message_id.in_(ticket_messages)))
    add("notes", step.run(TicketNote, TicketNote.ticket_id.in_(ids)))
    cases = select(FulfilmentCase.id).where(FulfilmentCase.ticket_id.in_(ids))
    add("execution_steps", step.run(ExecutionStep, ExecutionStep.case_id.in_(cases) & ~finished))
    add("challenges", step.run(VerificationChallenge, VerificationChallenge.ticket_id.in_(ids)))
    add("messages", step.run(Message, Message.ticket_id.in_(ids)))
    add("tickets", step.run(Ticket, Ticket.id.in_(ids)))


def _purge_unlinked(session: Session, step: _Step, *, controller: str, cutoff: datetime,
                    totals: dict[str, int]) -> None:
    """Records of no ticket, by their own date: noise and unmatched mail, internal mails that were
    delivered or gave up, chat binding codes, quarantine."""
    loose_messages = select(Message.id).where(
        Message.controller == controller, Message.ticket_id.is_(None), Message.received_at < cutoff)
    internal_mail = (
        OutboxItem.message_id.is_(None)
        & (OutboxItem.created_at < cutoff)
        & (OutboxItem.state != OutboxState.PENDING.value)
    )
    totals["outbox_items"] += step.run(OutboxItem, (
        (OutboxItem.controller == controller)
        & OutboxItem.ticket_id.is_(None)
        & (internal_mail | OutboxItem.message_id.in_(loose_messages))
    ))
    totals["messages"] += step.run(Message, Message.id.in_(loose_messages))
    subjects = select(DataSubject.id).where(DataSubject.controller == controller)
    totals["challenges"] += step.run(VerificationChallenge, (
        VerificationChallenge.ticket_id.is_(None)
        & VerificationChallenge.subject_id.in_(subjects)
        & (VerificationChallenge.created_at < cutoff)
    ))
    totals["quarantine"] += step.run(QuarantinedMessage, (
        (QuarantinedMessage.controller == controller) & (QuarantinedMessage.received_at < cutoff)
    ))


def finished_steps(*, controller: str, now: datetime) -> ColumnElement[bool]:
    """Journal steps of the controller's runs that are over and ended `EXECUTION_STEP_DAYS` ago.

    A run is over when none of its steps is executing and its case is no longer "executing" (the
    worker may still need the steps to finish it).  A run counts from its last step's end (its
    start for a step that never ended), so no step of a run is deleted before the run's last.
    """
    cases = select(FulfilmentCase.id).where(FulfilmentCase.controller == controller,
                                            FulfilmentCase.state != FulfilmentState.EXECUTING.value)
    ended = func.coalesce(ExecutionStep.finished_at, ExecutionStep.created_at)
    running = select(ExecutionStep.run_key).where(ExecutionStep.state == STEP_EXECUTING)
    recent = select(ExecutionStep.run_key).where(ended >= now - timedelta(days=EXECUTION_STEP_DAYS))
    return (ExecutionStep.case_id.in_(cases) & ExecutionStep.run_key.not_in(running)
            & ExecutionStep.run_key.not_in(recent))
