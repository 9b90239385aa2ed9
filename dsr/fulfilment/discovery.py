"""Discovery: which of the controller's systems hold records of the verified person.

Runs outside the message path (the service's fulfilment worker or `dsr fulfil`), never inside
the pipeline's transaction.  A ticket gets one `FulfilmentCase` and one `DiscoveryResult` per
system of the data map.  Each system is searched on its own: the search itself runs with no
database transaction open, its result (record keys per category, or the reason it failed) is
written in a short transaction afterwards.  A failing system never stops the others; it is
retried with backoff until it answers.  Manual items wait for the DPO.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dsr.datamap import Category, DataMap, Person, System, SystemKind
from dsr.fulfilment.connectors import ConnectorError, Key, open_connector
from dsr.intents.rights import Right
from dsr.store.audit import audit
from dsr.store.models import (
    DataSubject,
    DiscoveryResult,
    DiscoveryState,
    FulfilmentCase,
    FulfilmentState,
    IdentityLevel,
    Ticket,
    TicketState,
)

log = logging.getLogger(__name__)
ACTOR = "system:fulfilment"
FULFILMENT_RIGHTS = frozenset({Right.ACCESS, Right.PORTABILITY, Right.ERASURE, Right.RECTIFICATION,
                               Right.RESTRICTION})
VERIFIED_LEVELS = frozenset({IdentityLevel.CONTACT_ON_FILE.value, IdentityLevel.CODE_CONFIRMED.value,
                             IdentityLevel.KNOWN_FACTS.value, IdentityLevel.MANUAL.value})
WORKING_STATES = frozenset({TicketState.IN_PROGRESS.value, TicketState.ESCALATED.value,
                            TicketState.EXTENDED.value})
# Retry after 1, 2, 4 ... minutes, at most every 2 hours: an unreachable system is retried until
# it answers; the ticket shows why it failed meanwhile.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=2)
OPEN_RESULT_STATES = frozenset({DiscoveryState.PENDING.value, DiscoveryState.FAILED.value})
# Several `dsr serve` on one PostgreSQL (and the console's "search now") share the searches: a
# search is claimed by moving its next attempt this far ahead, so nobody else takes it meanwhile;
# if the instance dies, the search is due again when the lease has passed.
LEASE = timedelta(minutes=10)
CLAIM_BATCH = 20


def person_of(subject: DataSubject) -> Person:
    emails = [subject.email or ""] + [e.email for e in subject.emails]
    return Person(emails=tuple(dict.fromkeys(e for e in emails if e)),
                  customer_number=subject.customer_number, phone=subject.phone, name=subject.name,
                  postal_code=subject.postal_code)


def needs_fulfilment(ticket: Ticket) -> bool:
    """A verified person with a record, asking for a right that needs their data."""
    return (ticket.subject_id is not None and ticket.identity_level in VERIFIED_LEVELS
            and ticket.state in WORKING_STATES and any(r in FULFILMENT_RIGHTS for r in ticket.rights))


def open_case(session: Session, ticket: Ticket, datamap: DataMap, *, now: datetime,
              actor: str = ACTOR) -> FulfilmentCase:
    """The ticket's case with one pending result per system (existing case: returned as is)."""
    case = session.scalar(select(FulfilmentCase).where(FulfilmentCase.ticket_id == ticket.id))
    if case is not None:
        return case
    case = FulfilmentCase(ticket_id=ticket.id, controller=ticket.controller,
                          state=FulfilmentState.DISCOVERING.value, created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    for system in datamap.systems:
        manual = system.kind is SystemKind.MANUAL
        session.add(DiscoveryResult(
            case_id=case.id, system=system.key,
            state=DiscoveryState.MANUAL.value if manual else DiscoveryState.PENDING.value,
            next_attempt_at=now, found={}))
    audit(session, actor=actor, action="fulfilment.discovery_started", now=now, ticket_id=ticket.id,
          detail={"systems": [s.key for s in datamap.systems]})
    return case


def new_case_candidates(session: Session, datamaps: Mapping[str, DataMap]) -> list[int]:
    """Ids of the tickets that need a case and have none yet: a read of two columns, so the
    caller can open the cases in small batches of short transactions (`open_new_cases`)."""
    has_case = select(FulfilmentCase.ticket_id)
    rows = session.execute(select(Ticket.id, Ticket.rights).where(
        Ticket.controller.in_(list(datamaps)), Ticket.state.in_(list(WORKING_STATES)),
        Ticket.subject_id.is_not(None), Ticket.identity_level.in_(list(VERIFIED_LEVELS)),
        Ticket.id.not_in(has_case)).order_by(Ticket.id))
    return [ticket_id for ticket_id, rights in rows if any(r in FULFILMENT_RIGHTS for r in rights)]


def open_new_cases(session: Session, datamaps: Mapping[str, DataMap], *, now: datetime,
                   ticket_ids: Sequence[int] | None = None) -> list[int]:
    """Cases for verified tickets that have none yet (only those of `ticket_ids` if given);
    returns their ticket ids (caller commits)."""
    has_case = select(FulfilmentCase.ticket_id)
    query = select(Ticket).where(
        Ticket.controller.in_(list(datamaps)), Ticket.state.in_(list(WORKING_STATES)),
        Ticket.subject_id.is_not(None), Ticket.identity_level.in_(list(VERIFIED_LEVELS)),
        Ticket.id.not_in(has_case))
    if ticket_ids is not None:
        query = query.where(Ticket.id.in_(list(ticket_ids)))
    # Locked until the caller commits: another instance skips these tickets instead of opening a
    # second case for them.
    tickets = session.scalars(query.order_by(Ticket.id).with_for_update(skip_locked=True, of=Ticket))
    opened = []
    for ticket in tickets:
        if needs_fulfilment(ticket):
            open_case(session, ticket, datamaps[ticket.controller], now=now)
            opened.append(ticket.id)
    return opened


def ordered(system: System) -> list[Category]:
    """Categories with every parent before its children."""
    done: list[Category] = []
    pending = list(system.categories)
    while pending:
        ready = [c for c in pending if not c.parent or c.parent in {d.key for d in done}]
        if not ready:  # a cycle: the schema refuses unknown parents, so only a loop is left
            raise ConnectorError(system, "categories refer to each other as parents in a loop")
        done.extend(ready)
        pending = [c for c in pending if c not in ready]
    return done


def search_system(system: System, person: Person, env: Mapping[str, str]) -> dict[str, list[Key]]:
    """Keys of the person's records per category of one system (raises ConnectorError)."""
    connector = open_connector(system, env)
    try:
        found: dict[str, list[Key]] = {}
        for category in ordered(system):
            parent_keys = found.get(category.parent, []) if category.parent else []
            found[category.key] = [record.key for record in connector.find(category, person, parent_keys)]
        return found
    finally:
        connector.close()


@dataclass(frozen=True, slots=True)
class DueSearch:
    result_id: int
    ticket_id: int
    reference: str
    controller: str
    system: str
    attempts: int
    person: Person


def claim_searches(session: Session, *, now: datetime, ticket_id: int | None = None,
                   limit: int = CLAIM_BATCH) -> list[DueSearch]:
    """Claim due searches for this caller, as plain values (the caller commits at once).

    Rows are picked with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer anyway), and
    each claim is a compare-and-set on `next_attempt_at`: a search another instance claimed first
    is not taken.  The lease (`LEASE`) ends with the result (`record_search`) or runs out.
    """
    query = (select(DiscoveryResult, FulfilmentCase.ticket_id).join(FulfilmentCase)
             .where(DiscoveryResult.state.in_(list(OPEN_RESULT_STATES)),
                    DiscoveryResult.next_attempt_at <= now))
    if ticket_id is not None:
        query = query.where(FulfilmentCase.ticket_id == ticket_id)
    query = query.order_by(DiscoveryResult.id).limit(limit).with_for_update(skip_locked=True,
                                                                             of=DiscoveryResult)
    due = []
    for result, tid in session.execute(query).all():
        ticket = session.get(Ticket, tid)
        if ticket is None or ticket.subject is None:
            continue
        claimed = session.connection().execute(
            update(DiscoveryResult).where(DiscoveryResult.id == result.id,
                                          DiscoveryResult.next_attempt_at == result.next_attempt_at,
                                          DiscoveryResult.state.in_(list(OPEN_RESULT_STATES)))
            .values(next_attempt_at=now + LEASE))
        if claimed.rowcount == 1:
            due.append(DueSearch(result.id, tid, ticket.reference, ticket.controller, result.system,
                                 result.attempts, person_of(ticket.subject)))
    return due


def run_search(due: DueSearch, datamap: DataMap, env: Mapping[str, str]) -> dict[str, list[Key]] | str:
    """Search one system (no database session open): the found keys, or the failure reason."""
    try:
        system = datamap.system(due.system)
    except KeyError:
        return f'system "{due.system}" is no longer in the data map'
    try:
        return search_system(system, due.person, env)
    except ConnectorError as exc:
        return str(exc)
    except Exception as exc:  # a connector bug must not stop the other systems
        log.exception("discovery failed ticket=%s system=%s", due.reference, due.system)
        return f'system "{due.system}": unexpected error ({type(exc).__name__})'


def record_search(session: Session, due: DueSearch, outcome: dict[str, list[Key]] | str, *,
                  now: datetime) -> None:
    """Write one system's outcome, and move the case to review once nothing is open (caller commits)."""
    result = session.get(DiscoveryResult, due.result_id, with_for_update=True)
    if result is None or result.state not in OPEN_RESULT_STATES:
        return
    result.attempts += 1
    if isinstance(outcome, str):
        result.state = DiscoveryState.FAILED.value
        result.error = outcome
        delay = min(RETRY_BASE * (2 ** min(result.attempts - 1, 12)), RETRY_CAP)
        result.next_attempt_at = now + delay
        audit(session, actor=ACTOR, action="fulfilment.discovery_failed", now=now, ticket_id=due.ticket_id,
              reason=outcome, detail={"system": due.system, "attempt": result.attempts,
                                      "retry_at": result.next_attempt_at.isoformat()})
        log.warning("discovery failed ticket=%s system=%s attempt=%d: %s", due.reference, due.system,
                    result.attempts, outcome)
        return
    counts = {category: len(keys) for category, keys in outcome.items()}
    result.found = {category: list(keys) for category, keys in outcome.items()}
    result.state = DiscoveryState.FOUND.value if any(counts.values()) else DiscoveryState.NOTHING.value
    result.error = None
    result.finished_at = now
    audit(session, actor=ACTOR, action="fulfilment.discovery_done", now=now, ticket_id=due.ticket_id,
          detail={"system": due.system, "state": result.state, "counts": counts})
    log.info("discovery ticket=%s system=%s state=%s records=%d", due.reference, due.system, result.state,
             sum(counts.values()))
    update_case_state(session, result.case_id, now=now)


def update_case_state(session: Session, case_id: int, *, now: datetime) -> None:
    case = session.get(FulfilmentCase, case_id)
    if case is None or case.state != FulfilmentState.DISCOVERING.value:
        return
    states = session.scalars(select(DiscoveryResult.state).where(DiscoveryResult.case_id == case_id))
    if not any(s in OPEN_RESULT_STATES for s in states):
        case.state = FulfilmentState.REVIEW.value
        case.updated_at = now


def retry_now(session: Session, case: FulfilmentCase, *, now: datetime, actor: str) -> int:
    """Make every failed system of the case due at once (the DPO's "retry"); returns how many."""
    failed = session.scalars(select(DiscoveryResult).where(
        DiscoveryResult.case_id == case.id, DiscoveryResult.state == DiscoveryState.FAILED.value)).all()
    for result in failed:
        result.next_attempt_at = now
    if failed:
        audit(session, actor=actor, action="fulfilment.discovery_retry", now=now, ticket_id=case.ticket_id,
              detail={"systems": [r.system for r in failed]})
    return len(failed)
