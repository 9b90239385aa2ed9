"""Carrying out an approved plan safely against a crash: intent first, then the system, then the result.

Changing a controller's system and recording it in our database are two transactions; a crash
between them must neither lose what was done nor report what was not.  So:

1. `begin` records every plan item as an `ExecutionStep` ("executing", an idempotency key and a
   lease) and commits before any system is touched; the case is "executing".
2. `run` changes each system in a transaction of its own (`run_plan`), then records that system's
   steps "done" with their rows (or "failed" with the reason) in a short transaction.
3. `finish`, once no step is executing, writes the proofs, holds, Art. 19 notices and the outcome
   the letter may state (`record_execution`), exactly once (the case row is locked and must
   still be "executing").

A step left "executing" (the process died between the two transactions of 2.) is taken up by the
fulfilment worker when its lease has passed (`recover`): the system's steps run again, which is
harmless for delete, anonymise, restrict and update by key, and are then checked: keys that were
to be erased must be gone.  Only then is the step "done" (`rechecked`), and its proof says how it
was established; a step that cannot be checked is failed, never done.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import ControllerProfile
from dsr.datamap import DataMap
from dsr.fulfilment.connectors import ConnectorError, open_connector
from dsr.fulfilment.execute import SystemRun, record_execution, run_plan
from dsr.fulfilment.plan import PlanAction, PlanItem
from dsr.store.audit import audit
from dsr.store.models import ExecutionStep, FulfilmentCase, FulfilmentState, Ticket

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)
EXECUTING, DONE, FAILED = "executing", "done", "failed"
MANUAL_DONE, MANUAL_OPEN = "manual_done", "manual_open"
Between = Callable[[str], None]  # called with the system's key between its change and its record


def begin(session: Session, case: FulfilmentCase, plan: Sequence[PlanItem], *,
          manual_done: set[tuple[str, str]], approver: str, now: datetime) -> str:
    """Record the plan as steps about to be executed (the caller commits before `run`); the run's key."""
    run_key = uuid.uuid4().hex
    for position, item in enumerate(plan):
        manual = item.action is PlanAction.MANUAL
        state = EXECUTING
        if manual:
            state = MANUAL_DONE if (item.system.key, item.category.key) in manual_done else MANUAL_OPEN
        session.add(ExecutionStep(
            case_id=case.id, run_key=run_key, idempotency_key=uuid.uuid4().hex, position=position,
            system=item.system.key, category=item.category.key, action=item.action.value,
            keys=list(item.keys), values=dict(item.values),
            holds=[[key, until.isoformat()] for key, until in item.holds], ground=item.ground,
            approved_by=approver, state=state, rows=item.rows if manual else None,
            lease_until=None if manual else now + LEASE, created_at=now))
    case.state = FulfilmentState.EXECUTING.value
    case.updated_at = now
    audit(session, actor=approver, action="fulfilment.execution_started", now=now, ticket_id=case.ticket_id,
          detail={"run": run_key, "steps": len(plan)})
    return run_key


def _steps(session: Session, run_key: str) -> list[ExecutionStep]:
    return list(session.scalars(select(ExecutionStep).where(ExecutionStep.run_key == run_key)
                                .order_by(ExecutionStep.position)))


def _item(step: ExecutionStep, datamap: DataMap) -> PlanItem:
    """The plan item a step was recorded from (KeyError when its system left the map)."""
    system = datamap.system(step.system)
    holds = tuple((key, date.fromisoformat(str(until))) for key, until in step.holds)
    return PlanItem(system, system.category(step.category), PlanAction(step.action), tuple(step.keys),
                    holds=holds, values=dict(step.values), ground=step.ground)


def run(sessions: sessionmaker[Session], run_key: str, datamap: DataMap, env: Mapping[str, str], *,
        clock: Callable[[], datetime], gate: AbstractContextManager[Any] | None = None,
        between: Between | None = None) -> None:
    """Change each system (no database transaction open meanwhile), then record its steps."""
    _execute(sessions, run_key, datamap, env, clock=clock, gate=gate or nullcontext(), between=between,
             rechecked=False)


def _execute(sessions: sessionmaker[Session], run_key: str, datamap: DataMap, env: Mapping[str, str], *,
             clock: Callable[[], datetime], gate: AbstractContextManager[Any], between: Between | None,
             rechecked: bool) -> None:
    with sessions() as session:  # closed, not rolled back: the loaded steps stay readable
        pending = [s for s in _steps(session, run_key) if s.state == EXECUTING]
    by_system: dict[str, list[ExecutionStep]] = {}
    for step in pending:
        by_system.setdefault(step.system, []).append(step)
    for system_key, steps in by_system.items():
        try:
            items = [_item(step, datamap) for step in steps]
        except KeyError:
            result = SystemRun(system_key, (), error="system or category no longer in the data map")
        else:
            result = run_plan(items, env)[system_key]
            if rechecked and result.error is None:
                result = _check(items, result, env)
        if between is not None:
            between(system_key)
        with gate, sessions.begin() as session:
            _record(session, [s.id for s in steps], result, rechecked=rechecked, now=clock())


def _check(items: Sequence[PlanItem], result: SystemRun, env: Mapping[str, str]) -> SystemRun:
    """After a re-run: every key that was to be erased must be gone; erased rows count as found."""
    counts = list(result.counts)
    try:
        connector = open_connector(items[0].system, env)
        try:
            for index, item in enumerate(items):
                if item.action is not PlanAction.ERASE:
                    continue
                left = sum(1 for _ in connector.read(item.category, item.keys))
                if left:
                    return SystemRun(result.system, (), error=f"after a restart {left} of {item.rows} "
                                     f"records of {item.category.key!r} are still there")
                counts[index] = item.rows
        finally:
            connector.close()
    except ConnectorError as exc:
        return SystemRun(result.system, (), error=f"not checked after a restart: {exc}")
    return SystemRun(result.system, tuple(counts), rechecked=True)


def _record(session: Session, step_ids: list[int], result: SystemRun, *, rechecked: bool,
            now: datetime) -> None:
    for index, step_id in enumerate(step_ids):
        step = session.get(ExecutionStep, step_id, with_for_update=True)
        if step is None or step.state != EXECUTING:
            continue
        if result.error is not None:
            step.state, step.error = FAILED, result.error
        else:
            step.state, step.rows = DONE, result.counts[index]
        step.rechecked = rechecked
        step.finished_at = now
        step.lease_until = None


def finish(session: Session, run_key: str, *, profile: ControllerProfile, datamap: DataMap,
           now: datetime) -> dict[str, object] | None:
    """Proofs, holds, notices and outcome once every step is settled; None while one is executing
    or when the run was finished already (the caller commits)."""
    steps = _steps(session, run_key)
    if not steps or any(s.state == EXECUTING for s in steps):
        return None
    case = session.get(FulfilmentCase, steps[0].case_id, with_for_update=True)
    ticket = session.get(Ticket, case.ticket_id) if case is not None else None
    if case is None or ticket is None or case.state != FulfilmentState.EXECUTING.value:
        return None
    plan: list[PlanItem] = []
    runs: dict[str, SystemRun] = {}
    counts: dict[str, list[int]] = {}
    for step in steps:
        try:
            item = _item(step, datamap)
        except KeyError:
            continue
        plan.append(item)
        if item.action is PlanAction.MANUAL:
            continue
        if step.state == FAILED:
            runs[step.system] = SystemRun(step.system, (), error=step.error or "fehlgeschlagen")
        elif step.system not in runs or runs[step.system].error is None:
            counts.setdefault(step.system, []).append(step.rows or 0)
            runs[step.system] = SystemRun(step.system, tuple(counts[step.system]), rechecked=step.rechecked)
    manual_done = {(s.system, s.category) for s in steps if s.state == MANUAL_DONE}
    outcome = record_execution(session, case, ticket, profile=profile, datamap=datamap, plan=plan, runs=runs,
                               manual_done=manual_done, approver=steps[0].approved_by, now=now)
    if case.state == FulfilmentState.EXECUTING.value:  # something failed: the DPO may try again
        case.state = FulfilmentState.APPROVED.value
    return outcome


def recover(sessions: sessionmaker[Session], datamaps: Mapping[str, DataMap],
            profiles: Mapping[str, ControllerProfile], env: Mapping[str, str], *,
            clock: Callable[[], datetime], gate: AbstractContextManager[Any] | None = None) -> int:
    """Re-check the steps a crash left executing (lease passed) and finish their runs; returns runs."""
    gate = gate or nullcontext()
    now = clock()
    with gate, sessions.begin() as session:
        stale = session.scalars(select(ExecutionStep).where(
            ExecutionStep.state == EXECUTING, ExecutionStep.lease_until < now)
            .with_for_update(skip_locked=True)).all()
        runs: dict[str, str] = {}
        for step in stale:
            step.lease_until = now + LEASE  # claimed: another instance leaves it alone
            case = session.get(FulfilmentCase, step.case_id)
            if case is not None:
                runs[step.run_key] = case.controller
    finished = 0
    for run_key, controller in runs.items():
        datamap, profile = datamaps.get(controller), profiles.get(controller)
        if datamap is None or profile is None:
            continue
        log.warning("execution interrupted run=%s: re-checking its systems", run_key)
        _execute(sessions, run_key, datamap, env, clock=clock, gate=gate, between=None, rechecked=True)
        with gate, sessions.begin() as session:
            finished += finish(session, run_key, profile=profile, datamap=datamap, now=clock()) is not None
    return finished
