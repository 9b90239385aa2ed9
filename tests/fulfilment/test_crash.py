"""Erasure crash-atomicity on SQLite and PostgreSQL: a process that changed the CRM is killed
(SIGKILL) before it recorded the change; nothing is reported done meanwhile; after the lease the
worker re-checks the system (running the deletion by key again is harmless), finishes the run
exactly once with the evidence in the proof, the letter facts and one Art. 19 notice."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import ControllerProfile
from dsr.datamap import DataMap
from dsr.fulfilment.connectors import open_connector
from dsr.fulfilment.execute import outcome_facts
from dsr.fulfilment.journal import begin
from dsr.fulfilment.plan import build_plan
from dsr.fulfilment.review import approve, case_for, confirm_manual, sources
from dsr.intents.rights import Right
from dsr.service.fulfilment_worker import FulfilmentWorker
from dsr.store.models import ErasureProof, ExecutionStep, FulfilmentState, OutboxItem, RetentionHold
from tests.support.fulfilment import NOW, Tickets

MAX = "max.beispiel@example.net"
ROOT = Path(__file__).resolve().parents[2]


def test_killed_between_the_crm_change_and_its_record_is_rechecked_and_finished_once(
        sessions: sessionmaker[Session], tickets: Tickets, kmb2_map: DataMap, env: dict[str, str],
        kmb2: ControllerProfile, crm: Engine, db_url: str) -> None:
    ticket_id = tickets.verified(MAX, (Right.ERASURE,))

    def worker(minutes: int) -> FulfilmentWorker:
        return FulfilmentWorker(sessions=sessions, datamaps={"kmb2": kmb2_map}, delivery=None, env=env,
                                profiles={"kmb2": kmb2}, clock=lambda: NOW + timedelta(minutes=minutes))

    worker(0).tick()
    with sessions.begin() as session:
        case = case_for(session, ticket_id)
        assert case is not None
        assert confirm_manual(session, case, system="paper", found=False, note="", actor="console:dana",
                              now=NOW) is None
        assert approve(session, case, actor="console:dana", now=NOW) is None
        connector = open_connector(kmb2_map.system("crm"), env)
        plan = build_plan(kmb2_map, sources(session, case, kmb2_map), {Right.ERASURE},
                          connectors={"crm": connector}, today=NOW.date())
        connector.close()
        run_key = begin(session, case, plan, manual_done=set(), approver="console:dana", now=NOW)

    died = subprocess.run([sys.executable, "-m", "tests.support.crash_run", db_url, run_key], cwd=ROOT,
                          env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, timeout=120)
    assert died.returncode == -signal.SIGKILL, died.stderr.decode()[-2000:]
    with crm.connect() as conn:  # the CRM was changed ...
        assert conn.execute(text("select count(*) from customers where id = 2")).scalar_one() == 0
        assert conn.execute(text("select restricted from invoices where id = 3")).scalar_one() in (True, 1)
    with sessions() as session:  # ... but nothing says so yet
        steps = session.scalars(select(ExecutionStep).order_by(ExecutionStep.position)).all()
        assert {s.state for s in steps} == {"executing"} and len(steps) == 4
        assert len({s.idempotency_key for s in steps}) == 4
        case = case_for(session, ticket_id)
        assert case is not None and case.state == FulfilmentState.EXECUTING.value
        assert outcome_facts(case) is None  # the letter may state nothing
        assert session.scalar(select(func.count()).select_from(ErasureProof)) == 0

    assert worker(5).tick().executions_resumed == 0  # the lease has not passed: maybe still running
    assert worker(11).tick().executions_resumed == 1
    assert worker(12).tick().executions_resumed == 0  # finished exactly once
    with sessions() as session:
        steps = session.scalars(select(ExecutionStep).order_by(ExecutionStep.position)).all()
        assert [(s.category, s.state, s.rows, s.rechecked) for s in steps] == [
            ("customers", "done", 1, True), ("orders", "done", 1, True), ("invoices", "done", 1, True),
            ("appointments", "done", 1, True)]
        proofs = {p.category: p for p in session.scalars(select(ErasureProof))}
        assert set(proofs) == {"customers", "orders", "invoices", "appointments"}
        assert proofs["customers"].statement.endswith(
            "Nach einem Neustart geprüft: keiner der Einträge ist mehr vorhanden.")
        assert proofs["invoices"].statement.endswith("Nach einem Neustart erneut ausgeführt.")
        assert proofs["customers"].approved_by == "console:dana"
        holds = session.scalars(select(RetentionHold)).all()
        assert [(h.item_key, h.until) for h in holds] == [("3", date(2032, 12, 31))]
        notices = session.scalars(select(OutboxItem).where(OutboxItem.kind == "art19_notice")).all()
        assert len(notices) == 1
        case = case_for(session, ticket_id)
        assert case is not None and case.state == FulfilmentState.EXECUTED.value
        facts = outcome_facts(case)
    assert facts is not None and facts.complete
    assert facts.erased == ("Stammdaten (Name, Anschrift, Kontakt)", "Aufträge", "Termine")
    assert [(r.category, r.until) for r in facts.retained] == [("Rechnungen", date(2032, 12, 31))]
