"""The ticket state machine, table-driven over every (from, to) pair on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.intents.rights import Right
from dsr.store.models import AuditEvent, Ticket, TicketState
from dsr.store.tickets.catalogue import (
    GUARDED_SOURCES,
    GUARDED_TARGETS,
    OUTCOMES,
    REFUSAL_REASONS,
    TRANSITIONS,
)
from dsr.store.tickets.services import (
    IllegalTransition,
    TicketError,
    extend,
    pause,
    reopen,
    resume,
    transition,
)
from tests.support.store import RECEIVED, new_ticket

NOW = RECEIVED + timedelta(days=3)
ALL_PAIRS = [(a, b) for a in TicketState for b in TicketState]


def _audit_actions(session: Session, ticket: Ticket) -> list[str]:
    return list(session.scalars(
        select(AuditEvent.action).where(AuditEvent.ticket_id == ticket.id).order_by(AuditEvent.id)
    ))


def _enter(session: Session, ticket: Ticket, to: TicketState, dpo: str) -> None:
    """Take the legal edge ticket.state -> to through the function the rules prescribe."""
    if to is TicketState.EXTENDED:
        extend(session, ticket, land="NI", actor="dpo", reason="viele Systeme", now=NOW)
    elif to is TicketState.PAUSED:
        pause(session, ticket, approved_by=dpo, actor="dpo", reason="Identität zweifelhaft", now=NOW)
    elif TicketState(ticket.state) is TicketState.PAUSED:
        resume(session, ticket, land="NI", actor="dpo", reason="Nachweis erhalten", now=NOW, to=to)
    elif TicketState(ticket.state) is TicketState.CLOSED and to is TicketState.IN_PROGRESS:
        reopen(session, ticket, actor="dpo", reason="Person meldet: Auskunft unvollständig", now=NOW)
    elif to is TicketState.ANSWERED:
        transition(session, ticket, to, actor="dpo", reason="Auskunft erteilt", now=NOW, outcome="granted")
    elif to is TicketState.REFUSED:
        transition(session, ticket, to, actor="dpo", reason="Wiederholung", now=NOW, refusal_code="excessive")
    else:
        transition(session, ticket, to, actor="dpo", reason="weiter", now=NOW)


@pytest.mark.parametrize("source", list(TicketState), ids=str)
def test_every_pair_from_source(session: Session, dpo: str, source: TicketState) -> None:
    """Legal edges succeed and are audited; every other target raises IllegalTransition."""
    for target in TicketState:
        ticket = new_ticket(session, state=source)
        before = len(_audit_actions(session, ticket))
        if target in TRANSITIONS[source]:
            _enter(session, ticket, target, dpo)
            assert ticket.state == target.value
            assert len(_audit_actions(session, ticket)) == before + 1, (source, target)
        else:
            with pytest.raises(TicketError) as info:
                _enter(session, ticket, target, dpo)
            if source not in GUARDED_SOURCES:
                assert isinstance(info.value, IllegalTransition), (source, target, info.value)
                assert f"{source.value} -> {target.value}" in str(info.value)
            assert ticket.state == source.value
            assert len(_audit_actions(session, ticket)) == before


def test_table_shape() -> None:
    """Closed is reached only with a documented result and left only by reopening into work."""
    assert set(TRANSITIONS) == set(TicketState)
    assert TRANSITIONS[TicketState.CLOSED] == frozenset({TicketState.IN_PROGRESS})
    assert GUARDED_SOURCES[TicketState.CLOSED] == "reopen()"
    assert {s for s, nxt in TRANSITIONS.items() if TicketState.CLOSED in nxt} == {
        TicketState.ANSWERED, TicketState.REFUSED}
    for guarded in GUARDED_TARGETS:
        assert any(guarded in nxt for nxt in TRANSITIONS.values())


@pytest.mark.parametrize("target", sorted(GUARDED_TARGETS), ids=str)
def test_guarded_targets_need_their_function(session: Session, target: TicketState) -> None:
    ticket = new_ticket(session, state=TicketState.IN_PROGRESS)
    with pytest.raises(TicketError, match=GUARDED_TARGETS[target].replace("(", r"\(").replace(")", r"\)")):
        transition(session, ticket, target, actor="dpo", reason="x", now=NOW)


def test_paused_is_left_only_through_resume(session: Session) -> None:
    ticket = new_ticket(session, state=TicketState.PAUSED)
    with pytest.raises(TicketError, match=r"resume\(\)"):
        transition(session, ticket, TicketState.IN_PROGRESS, actor="dpo", reason="x", now=NOW)


def test_answer_requires_known_outcome(session: Session) -> None:
    ticket = new_ticket(session, state=TicketState.IN_PROGRESS)
    for bad in (None, "refused", "nonsense"):
        with pytest.raises(TicketError, match="outcome"):
            transition(session, ticket, TicketState.ANSWERED, actor="dpo", reason="x", now=NOW, outcome=bad)
    transition(session, ticket, TicketState.ANSWERED, actor="dpo", reason="x", now=NOW, outcome="no_data")
    assert ticket.outcome == "no_data" and ticket.refusal_code is None


def test_partial_answer_carries_refusal_code(session: Session) -> None:
    ticket = new_ticket(session, rights=(Right.ACCESS,), state=TicketState.IN_PROGRESS)
    with pytest.raises(TicketError, match="takes no refusal code"):
        transition(session, ticket, TicketState.ANSWERED, actor="dpo", reason="x", now=NOW,
                   outcome="granted", refusal_code="rights_of_others")
    transition(session, ticket, TicketState.ANSWERED, actor="dpo", reason="Dritte geschwärzt", now=NOW,
               outcome="partially_granted", refusal_code="rights_of_others")
    event = session.scalars(select(AuditEvent).where(AuditEvent.ticket_id == ticket.id)
                            .order_by(AuditEvent.id.desc())).first()
    assert event is not None and event.detail["article"] == "Art. 15 Abs. 4 DSGVO"


def test_refusal_needs_fitting_catalogue_code(session: Session) -> None:
    ticket = new_ticket(session, rights=(Right.ACCESS,), state=TicketState.IN_PROGRESS)
    with pytest.raises(TicketError, match="catalogue"):
        transition(session, ticket, TicketState.REFUSED, actor="dpo", reason="x", now=NOW)
    with pytest.raises(TicketError, match="catalogue"):
        transition(session, ticket, TicketState.REFUSED, actor="dpo", reason="x", now=NOW,
                   refusal_code="because")
    # Art. 17(3)(e) restricts erasure, not access.
    with pytest.raises(TicketError, match="applies only to erasure"):
        transition(session, ticket, TicketState.REFUSED, actor="dpo", reason="x", now=NOW,
                   refusal_code="legal_claims")
    transition(session, ticket, TicketState.REFUSED, actor="dpo", reason="§ 34 geprüft", now=NOW,
               refusal_code="bdsg_34_retention_only")
    assert (ticket.state, ticket.outcome) == ("refused", "refused")
    assert ticket.refusal_code == "bdsg_34_retention_only"


def test_transition_needs_a_reason(session: Session) -> None:
    ticket = new_ticket(session)
    with pytest.raises(TicketError, match="reason"):
        transition(session, ticket, TicketState.IN_PROGRESS, actor="dpo", reason="  ", now=NOW)
    assert ticket.state == "new"


def test_close_records_time_and_audit_detail(session: Session) -> None:
    ticket = new_ticket(session, state=TicketState.ANSWERED)
    transition(session, ticket, TicketState.CLOSED, actor="anna", reason="erledigt", now=NOW)
    assert ticket.closed_at == NOW
    event = session.scalars(select(AuditEvent).where(AuditEvent.ticket_id == ticket.id)
                            .order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert (event.actor, event.action, event.reason, event.detail) == (
        "anna", "state_changed", "erledigt", {"from": "answered", "to": "closed"})


def test_catalogues_are_complete() -> None:
    for code, reason in REFUSAL_REASONS.items():
        assert reason.code == code and reason.article and reason.title_de and reason.explanation_de
    articles = {r.article for r in REFUSAL_REASONS.values()}
    for needed in ("Art. 12 Abs. 5", "Art. 17 Abs. 3 lit. b", "Art. 17 Abs. 3 lit. e", "Art. 15 Abs. 4",
                   "Art. 11 Abs. 2", "§ 34", "§ 35", "Art. 21 Abs. 1"):
        assert any(needed in a for a in articles), needed
    assert "granted" in OUTCOMES and "refused" in OUTCOMES
