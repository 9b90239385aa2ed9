"""The KOMSA demo CRM and its map: partner applications, credit checks, scoring results, training
accounts, newsletter subscriptions; SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import load_profile
from dsr.datamap import load_datamap_for
from dsr.fulfilment.review import case_for, results_of
from dsr.intents.rights import Right
from dsr.service.demo_crm import create_demo_crm
from dsr.service.fulfilment_worker import FulfilmentWorker
from dsr.store.models import OutboxItem, Suppression
from dsr.store.suppression import suppress
from tests.support.fulfilment import NOW, Tickets, approve_and_execute


def test_komsa_access_and_erasure(sessions: sessionmaker[Session], tickets: Tickets, crm_url: str) -> None:
    engine: Engine = create_engine(crm_url)
    create_demo_crm(engine, "komsa")
    datamap = load_datamap_for("komsa")
    assert datamap is not None
    env = {"DSR_CRM_KOMSA_URL": crm_url}
    worker = FulfilmentWorker(sessions=sessions, datamaps={"komsa": datamap}, clock=lambda: NOW,
                              delivery=None, env=env)
    thomas = tickets.verified("thomas.riedel@example.org", (Right.ACCESS,), controller="komsa")
    sabine = tickets.verified("sabine.probe@example.net", (Right.ERASURE,), controller="komsa")
    with sessions.begin() as session:
        suppress(session, controller="komsa", address="sabine.probe@example.net", now=NOW)
    assert worker.tick().searched == 2
    with sessions() as session:
        case = case_for(session, thomas)
        assert case is not None
        (result,) = results_of(session, case)
        # Thomas is application 1; Tobias Riedl (same postal code, similar name) is application 3.
        assert result.found == {"applications": [1], "credit-checks": [1], "scoring": [1], "training": [1],
                                "newsletter": [1]}
    _, outcome = approve_and_execute(sessions, sabine, datamap=datamap, env=env,
                                     profile=load_profile("komsa"), rights={Right.ERASURE})
    assert outcome["failed"] == []
    assert outcome["notified"] == ["„CRIF Bürgel-Chemnitz“ Richter GmbH & Co. KG (Auskunftei)"]
    with engine.connect() as conn:
        for table in ("partner_applications", "credit_checks", "scoring_results", "newsletter_subscriptions"):
            assert conn.execute(text(f"select count(*) from {table}")).scalar_one() == 2, table
        # The training account is anonymised, not erased (test_anonymise.py checks the columns).
        assert conn.execute(text("select count(*) from training_accounts")).scalar_one() == 3
        assert conn.execute(text("select count(*) from newsletter_subscriptions where email = :e"),
                            {"e": "sabine.probe@example.net"}).scalar_one() == 0
    with sessions() as session:
        # Our suppression list is not a system of the map: the entry survives, so no more advertising.
        assert session.scalar(select(func.count()).select_from(Suppression)) == 1
        notice = session.scalars(select(OutboxItem).where(OutboxItem.kind == "art19_notice")).one()
        assert notice.recipient == "datenschutz@crif.example.com"
    engine.dispose()
