"""Two fulfilment workers (two `dsr serve`) on one PostgreSQL: every job runs exactly once.

Each worker has its own engine, as a second instance would.  Both start their rounds at the same
moment (a barrier) over the same tickets and the same due retention holds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from itertools import cycle, islice
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from dsr.datamap import DataMap
from dsr.intents.rights import Right
from dsr.service.demo import load_demo_data
from dsr.service.demo_crm import create_demo_crm
from dsr.service.fulfilment_worker import FulfilmentWorker, RoundReport
from dsr.store.db import make_engine, migrate, session_factory
from dsr.store.models import AuditEvent, DiscoveryResult, ErasureProof, RetentionHold
from tests.support.fulfilment import NOW, Tickets

SUBJECTS = ("erika.mustermann@example.org", "max.beispiel@example.net", "juergen.moessner@example.com")
JOBS = 24
pytestmark = pytest.mark.postgres


@pytest.fixture
def instances(pg_url: str) -> Iterator[list[sessionmaker[Session]]]:
    """Two instances' session factories on one migrated PostgreSQL database (one engine each)."""
    engines = [make_engine(pg_url) for _ in range(2)]
    migrate(engines[0])
    yield [session_factory(e) for e in engines]
    for engine in engines:
        engine.dispose()


def _both(workers: list[FulfilmentWorker], rounds: int = 2) -> list[RoundReport]:
    start = threading.Barrier(len(workers))

    def run(worker: FulfilmentWorker) -> list[RoundReport]:
        start.wait()
        return [worker.tick() for _ in range(rounds)]

    with ThreadPoolExecutor(len(workers)) as pool:
        return [r for reports in pool.map(run, workers) for r in reports]


def test_two_workers_share_discovery_and_retention_jobs_each_run_once(
        instances: list[sessionmaker[Session]], tmp_path: Path, kmb2_map: DataMap) -> None:
    sessions = instances[0]
    crm_url = f"sqlite:///{tmp_path}/crm.sqlite3"
    crm: Engine = create_engine(crm_url)
    create_demo_crm(crm, "kmb2")
    env = {"DSR_CRM_KMB2_URL": crm_url}
    load_demo_data(sessions, ["kmb2"], now=NOW)
    tickets = Tickets(sessions)
    for email in islice(cycle(SUBJECTS), JOBS):
        tickets.verified(email, (Right.ACCESS,))
    workers = [FulfilmentWorker(sessions=s, datamaps={"kmb2": kmb2_map}, clock=lambda: NOW, delivery=None,
                                env=env) for s in instances]

    reports = _both(workers)
    assert sum(r.opened for r in reports) == JOBS  # one case per ticket, no unique-constraint failure
    assert sum(r.searched for r in reports) == JOBS  # each CRM search ran once, across both
    with sessions() as session:
        done = session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "fulfilment.discovery_done"))
        crm_results = session.scalars(select(DiscoveryResult).where(DiscoveryResult.system == "crm")).all()
    assert done == JOBS
    assert sorted({(r.state, r.attempts) for r in crm_results}) == [("found", 1)]
    assert len(crm_results) == JOBS

    # Retention holds that ended: erased once, one proof each, whichever instance took them.
    with sessions.begin() as session:
        for invoice in (1, 2, 5, 6):
            session.add(RetentionHold(controller="kmb2", reference=f"DSR-2026-00010{invoice}", system="crm",
                                      category="invoices", item_key=str(invoice), until=date(2026, 1, 1),
                                      legal_ground="§ 147 AO", created_at=NOW - timedelta(days=400)))
    reports = _both(workers, rounds=1)
    assert sum(r.rows_erased for r in reports) == 4
    with sessions() as session:
        proofs = session.scalars(select(ErasureProof.reference).order_by(ErasureProof.reference)).all()
        states = set(session.scalars(select(RetentionHold.state)))
    assert proofs == [f"DSR-2026-00010{i}" for i in (1, 2, 5, 6)]
    assert states == {"erased"}
    with crm.connect() as conn:
        assert conn.execute(text("select id from invoices")).scalars().all() == [3]
    crm.dispose()
