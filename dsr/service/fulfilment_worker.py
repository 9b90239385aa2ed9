"""The fulfilment worker inside `dsr serve`: discovery outside the message path, and housekeeping.

One round every few seconds (`INTERVAL`), each step in short transactions in a worker thread:

1. open a fulfilment case for every verified ticket that needs the person's data (access,
   portability, erasure, rectification, restriction) and has none yet, `OPEN_BATCH` tickets per
   transaction (on SQLite every other writer of the service waits while one holds the write
   gate: 1,000 new tickets opened in one transaction held it 2.7 s);
2. search every due system (pending, or failed and due for its retry): the search runs with no
   transaction open, its result is written afterwards; one failing system never stops the others;
3. delete package files whose link expired or whose downloads are used up;
4. re-check and finish the plan executions a crash interrupted (`dsr.fulfilment.journal.recover`);
5. erase records whose retention period ended (`dsr.fulfilment.holds`).

Several instances (`dsr serve` on one PostgreSQL) run this worker side by side: every job is
claimed first, with `FOR UPDATE SKIP LOCKED` and a lease for searches (`claim_searches`), with
row locks held to the commit for new cases, expired packages and due retention holds, so each
job runs exactly once (tests/fulfilment/test_instances.py).

The clock is injected; nothing here reads the system time.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import ControllerProfile
from dsr.datamap import DataMap
from dsr.fulfilment.delivery import DeliveryConfig, expire_packages
from dsr.fulfilment.discovery import (
    claim_searches,
    new_case_candidates,
    open_case,
    open_new_cases,
    record_search,
    retry_now,
    run_search,
)
from dsr.fulfilment.holds import erase_due_holds
from dsr.fulfilment.journal import recover
from dsr.store.models import Ticket

log = logging.getLogger(__name__)
BERLIN = ZoneInfo("Europe/Berlin")
INTERVAL = 10.0
OPEN_BATCH = 20  # tickets whose cases are opened in one transaction


@dataclass(frozen=True, slots=True)
class RoundReport:
    opened: int = 0
    searched: int = 0
    failed: int = 0
    packages_deleted: int = 0
    rows_erased: int = 0
    executions_resumed: int = 0  # plans a crash interrupted, re-checked and finished


class FulfilmentWorker:
    def __init__(self, *, sessions: sessionmaker[Session], datamaps: Mapping[str, DataMap],
                 clock: Callable[[], datetime], delivery: DeliveryConfig | None,
                 env: Mapping[str, str] | None = None, write_gate: AbstractContextManager[Any] | None = None,
                 interval: float = INTERVAL, profiles: Mapping[str, ControllerProfile] | None = None) -> None:
        self._sessions = sessions
        self._profiles = dict(profiles or {})
        self._maps = dict(datamaps)
        self._clock = clock
        self._delivery = delivery
        self._env = env if env is not None else os.environ
        self._gate = write_gate or nullcontext()
        self._interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        log.info("fulfilment worker: every %.0f s for %s", self._interval, ", ".join(self._maps) or "nobody")
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("fulfilment round failed; next try in %.0f s", self._interval)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
                return
            except TimeoutError:
                pass

    def tick(self) -> RoundReport:
        now = self._clock()
        opened = self._open_cases(now)
        searched, failed = self._search(ticket_id=None)
        deleted = erased = 0
        if self._delivery is not None:
            with self._gate, self._sessions() as session:
                deleted = expire_packages(session, self._delivery, now=now)
                session.commit()
        resumed = recover(self._sessions, self._maps, self._profiles, self._env, clock=self._clock,
                          gate=self._gate)
        with self._gate, self._sessions() as session:
            erased = erase_due_holds(session, self._maps, self._env, today=now.astimezone(BERLIN).date(),
                                     now=now)
            session.commit()
        return RoundReport(opened, searched, failed, deleted, erased, resumed)

    def _open_cases(self, now: datetime) -> int:
        """New cases in batches of short transactions, so no writer waits long for the gate."""
        with self._gate, self._sessions() as session:
            candidates = new_case_candidates(session, self._maps)
        opened = 0
        for start in range(0, len(candidates), OPEN_BATCH):
            with self._gate, self._sessions() as session:
                opened += len(open_new_cases(session, self._maps, now=now,
                                             ticket_ids=candidates[start:start + OPEN_BATCH]))
                session.commit()
        return opened

    def discover(self, ticket_id: int) -> tuple[int, int]:
        """Open the ticket's case if needed and search all its open systems now (`dsr fulfil`)."""
        now = self._clock()
        with self._gate, self._sessions() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is not None and ticket.controller in self._maps:
                case = open_case(session, ticket, self._maps[ticket.controller], now=now, actor="cli:fulfil")
                retry_now(session, case, now=now, actor="cli:fulfil")
                session.commit()
        return self._search(ticket_id=ticket_id)

    def _search(self, *, ticket_id: int | None) -> tuple[int, int]:
        """Claim due searches in small batches and run them; other instances take the rest."""
        searched = failed = 0
        while True:
            with self._gate, self._sessions() as session:
                due = claim_searches(session, now=self._clock(), ticket_id=ticket_id)
                session.commit()
            if not due:
                return searched, failed
            for item in due:
                datamap = self._maps.get(item.controller)
                outcome = run_search(item, datamap, self._env) if datamap is not None else \
                    f'controller "{item.controller}" has no data map on this instance'
                with self._gate, self._sessions() as session:
                    record_search(session, item, outcome, now=self._clock())
                    session.commit()
                searched += 1
                failed += isinstance(outcome, str)
