"""`dsr fulfil REF`: discovery now, one line per system, then the plan of an erasure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dsr.intents.rights import Right
from dsr.store.db import make_engine, migrate, session_factory
from dsr.store.models import Ticket
from tests.support.fulfilment import Tickets

DSR = Path(sys.executable).with_name("dsr")


@pytest.mark.parametrize("db_url", ["sqlite"])  # the CRM on SQLite; the CLI is the same on both
def test_fulfil_runs_discovery_and_shows_the_plan(tmp_path: Path, crm: Engine, crm_url: str) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    from dsr.service.demo import load_demo_data
    from tests.support.fulfilment import NOW

    load_demo_data(sessions, ["kmb2"], now=NOW)
    ticket_id = Tickets(sessions).verified("max.beispiel@example.net", (Right.ERASURE,))
    with sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        reference = ticket.reference
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env.update({"DSR_DATABASE_URL": url, "DSR_CONTROLLER": "kmb2", "DSR_CRM_KMB2_URL": crm_url})
    result = subprocess.run([str(DSR), "fulfil", reference], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{reference}: review"
    assert lines[1] == "  crm: found (customers 1, orders 1, invoices 1, appointments 1)"
    assert lines[2] == "  paper: manual"
    assert "  crm/invoices: retain 1 rows until 31.12.2032 (§ 147 Abs. 1 Nr. 4 und Abs. 3 AO" in result.stdout
    assert "  crm/customers: erase 1 rows" in lines
    unknown = subprocess.run([str(DSR), "fulfil", "DSR-2026-999999"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=120, check=False)
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "error: no ticket DSR-2026-999999")
