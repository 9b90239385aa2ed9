"""Anonymisation from the data map on the real demo CRM (SQLite and PostgreSQL): the configured
columns are rewritten (name to a fixed text, e-mail and login to a salted hash), the row stays,
the proof records it, and nobody else's row changes."""

from __future__ import annotations

import re

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import load_profile
from dsr.datamap import load_datamap_for
from dsr.fulfilment.execute import outcome_facts
from dsr.fulfilment.plan import PlanAction
from dsr.fulfilment.review import case_for
from dsr.intents.rights import Right
from dsr.service.demo_crm import create_demo_crm
from dsr.service.fulfilment_worker import FulfilmentWorker
from dsr.store.models import ErasureProof
from tests.support.fulfilment import NOW, Tickets, approve_and_execute

SABINE = "sabine.probe@example.net"
HASH = re.compile(r"anon-[0-9a-f]{24}")


def test_anonymise_rewrites_the_columns_keeps_the_row_and_records_proof(
        sessions: sessionmaker[Session], tickets: Tickets, crm_url: str) -> None:
    engine: Engine = create_engine(crm_url)
    create_demo_crm(engine, "komsa")
    datamap = load_datamap_for("komsa")
    assert datamap is not None
    env = {"DSR_CRM_KOMSA_URL": crm_url}
    with engine.connect() as conn:
        before = {tuple(r) for r in conn.execute(text(
            "select id, login, name, email, courses_completed from training_accounts where id <> 2"))}
    ticket_id = tickets.verified(SABINE, (Right.ERASURE,), controller="komsa")
    FulfilmentWorker(sessions=sessions, datamaps={"komsa": datamap}, clock=lambda: NOW, delivery=None,
                     env=env).tick()
    plan, outcome = approve_and_execute(sessions, ticket_id, datamap=datamap, env=env,
                                        profile=load_profile("komsa"), rights={Right.ERASURE},
                                        approver="console:kora")
    training = [i for i in plan if i.category.key == "training"]
    assert [(i.action, i.keys) for i in training] == [(PlanAction.ANONYMISE, (2,))]
    assert outcome["failed"] == [] and outcome["anonymised"] == ["Schulungskonten"]
    with engine.connect() as conn:
        row = conn.execute(text("select login, name, email, courses_completed from training_accounts "
                                "where id = 2")).one()
        after = {tuple(r) for r in conn.execute(text(
            "select id, login, name, email, courses_completed from training_accounts where id <> 2"))}
        leftover = conn.execute(text("select count(*) from training_accounts where lower(email) = :e "
                                     "or name like :n or login like :l"),
                                {"e": SABINE, "n": "%Probe%", "l": "%2011734%"}).scalar_one()
    login, name, email, courses = row
    assert name == "anonymisiert"
    assert HASH.fullmatch(email) and HASH.fullmatch(login) and email != login  # salted per value
    assert courses == 2  # the statistics stay
    assert leftover == 0
    assert after == before  # nobody else's account changed
    with sessions() as session:
        proof = session.scalars(select(ErasureProof).where(ErasureProof.category == "training")).one()
        assert (proof.system, proof.action, proof.rows, proof.approved_by) == (
            "partner-crm", "anonymise", 1, "console:kora")
        assert proof.statement.startswith("1 Eintrag „Schulungskonten (Partner-CRM")
        assert proof.statement.endswith("“ anonymisiert (Felder: name, email, login).")
        assert "Probe" not in proof.statement and SABINE not in proof.statement
        facts = outcome_facts(case_for(session, ticket_id))
        assert facts is not None and facts.anonymised == ("Schulungskonten",)
    engine.dispose()
