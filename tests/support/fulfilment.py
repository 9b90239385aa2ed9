"""Fulfilment test helpers: the demo CRM, tickets to carry out, and the console on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from dsr.config import Settings
from dsr.console.app import create_app
from dsr.console.auth import Role, SessionStore
from dsr.console.users import add_user
from dsr.controllers import ControllerProfile, load_profile
from dsr.datamap import DataMap, SystemKind
from dsr.fulfilment.connectors import open_connector
from dsr.fulfilment.execute import record_execution, run_plan
from dsr.fulfilment.plan import PlanItem, build_plan
from dsr.fulfilment.review import approve, case_for, sources
from dsr.intents.rights import Right
from dsr.pipeline.core import Pipeline
from dsr.service.demo import load_demo_data
from dsr.service.demo_crm import create_demo_crm
from dsr.store.db import session_factory
from dsr.store.models import IdentityLevel, Ticket, TicketState, User
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


def fulfilment_console(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, channel: str,
                       reply_to: str, rights: tuple[Right, ...] = (Right.ACCESS,),
                       **settings: object) -> tuple[TestClient, int, sessionmaker[Session]]:
    """The console over the kmb2 demo (CRM on SQLite, packages encrypted in `tmp_path`), the DPO
    "dana" logged in (`client.csrf` holds her form token), and Erika's verified ticket on `channel`."""
    crm_url = f"sqlite:///{tmp_path}/crm.sqlite3"
    crm = create_engine(crm_url)
    create_demo_crm(crm, "kmb2")
    crm.dispose()
    monkeypatch.setenv("DSR_CRM_KMB2_URL", crm_url)
    sessions = session_factory(engine)
    load_demo_data(sessions, ["kmb2"], now=NOW)
    profiles = {"kmb2": load_profile("kmb2")}
    config = Settings(database_url="sqlite:///unused.sqlite3", controller="kmb2", web_cookie_secure=False,
                      package_key=KEY, package_dir=tmp_path / "packages", public_url="https://dsr.example.org",
                      **settings)  # type: ignore[arg-type]
    store = SessionStore(sessions)
    app = create_app(settings=config, sessions=sessions, profiles=profiles, clock=lambda: NOW,
                     sink=Pipeline(sessions=sessions, profiles=profiles, clock=lambda: NOW, settings=config),
                     session_store=store)
    with sessions.begin() as session:
        user = add_user(session, username="dana", role="dpo", password="korrekt-pferd-batterie", now=NOW,
                        controllers=["kmb2"])
        assert isinstance(user, User)
        subject = find_subject(session, "kmb2", email="erika.mustermann@example.org")
        assert subject is not None
        ticket = open_ticket(session, controller="kmb2", land="NI", channel=channel, received_at=NOW,
                             rights=list(rights), now=NOW, subject_id=subject.id, reply_to=reply_to,
                             identity_level=IdentityLevel.CONTACT_ON_FILE, identity_method="contact on file")
        transition(session, ticket, TicketState.IN_PROGRESS, actor="test", reason="verified", now=NOW)
        user_id, ticket_id = user.id, ticket.id
    client = TestClient(app, base_url="http://testserver", follow_redirects=False)
    web = store.create(user_id=user_id, username="dana", role=Role.DPO, now=NOW)
    client.cookies.set("dsr_session", web.handle)
    client.csrf = web.csrf  # type: ignore[attr-defined]
    return client, ticket_id, sessions
