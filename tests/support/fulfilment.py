"""Fulfilment test helpers: the demo CRM and tickets to carry out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import ControllerProfile
from dsr.datamap import DataMap, SystemKind
from dsr.fulfilment.connectors import open_connector
from dsr.fulfilment.execute import record_execution, run_plan
from dsr.fulfilment.plan import PlanItem, build_plan
from dsr.fulfilment.review import approve, case_for, sources
from dsr.intents.rights import Right
from dsr.store.models import IdentityLevel, Ticket, TicketState
from dsr.store.subjects import find_subject
from dsr.store.tickets.services import open_ticket, transition

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


KEY = "w9Jx4pQh0n0jz3wq5m9Bq8b2X7mVdQy1hZ6tC0kR3uE"


@dataclass
class Tickets:
    sessions: sessionmaker[Session]

    def verified(self, email: str, rights: tuple[Right, ...], *, controller: str = "kmb2",
                 language: str = "de") -> int:
        """An in-progress ticket of a demo subject, identity confirmed by the contact on file."""
        with self.sessions.begin() as session:
            subject = find_subject(session, controller, email=email)
            assert subject is not None
            ticket: Ticket = open_ticket(
                session, controller=controller, land="NI", channel="email", received_at=NOW, rights=rights,
                now=NOW, subject_id=subject.id, reply_to=email, language=language,
                identity_level=IdentityLevel.CONTACT_ON_FILE, identity_method="sender address on file")
            transition(session, ticket, TicketState.IN_PROGRESS, actor="test", reason="verified", now=NOW)
            return ticket.id


def approve_and_execute(sessions: sessionmaker[Session], ticket_id: int, *, datamap: DataMap,
                        env: Mapping[str, str], profile: ControllerProfile, rights: set[Right],
                        approver: str = "console:dana") -> tuple[list[PlanItem], dict[str, object]]:
    """The DPO approves what discovery found and carries out the plan at once; (plan, outcome)."""
    with sessions.begin() as session:
        case = case_for(session, ticket_id)
        ticket = session.get(Ticket, ticket_id)
        assert case is not None and ticket is not None
        assert approve(session, case, actor=approver, now=NOW) is None
        connectors = {s.key: open_connector(s, env) for s in datamap.systems
                      if s.kind is not SystemKind.MANUAL}
        try:
            plan = build_plan(datamap, sources(session, case, datamap), rights, connectors=connectors,
                              today=NOW.date())
        finally:
            for connector in connectors.values():
                connector.close()
        outcome = record_execution(session, case, ticket, profile=profile, datamap=datamap, plan=plan,
                                   runs=run_plan(plan, env), manual_done=set(), approver=approver, now=NOW)
    return plan, outcome
