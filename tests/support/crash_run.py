"""`python -m tests.support.crash_run DB_URL RUN_KEY`: carry out a recorded plan run and die hard
(SIGKILL) right after the first system committed its change, before our database records it.

The CRM's URL comes from the environment (DSR_CRM_KMB2_URL), as in `dsr serve`.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime

from dsr.datamap import load_datamap_for
from dsr.fulfilment.journal import run
from dsr.store.db import make_engine, session_factory


def _die(system: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(database_url: str, run_key: str) -> None:
    datamap = load_datamap_for("kmb2")
    assert datamap is not None
    sessions = session_factory(make_engine(database_url))
    run(sessions, run_key, datamap, os.environ, clock=lambda: datetime(2026, 3, 2, 9, 31, tzinfo=UTC),
        between=_die)
    sys.exit("not killed: the run never reached a system")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
