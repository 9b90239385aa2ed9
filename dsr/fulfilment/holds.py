"""Records kept under a retention duty are erased after their end date, and that is recorded.

Run by the fulfilment worker once per round: holds whose `until` lies before today are erased
per system and category in one transaction; each batch leaves an `ErasureProof` approved by
"system:retention".  A system that fails keeps its holds for the next round.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.datamap import DataMap
from dsr.fulfilment.connectors import ConnectorError, Key, Step, StepAction, open_connector
from dsr.replies.labels import counted
from dsr.store.audit import audit
from dsr.store.models import ErasureProof, RetentionHold

log = logging.getLogger(__name__)
ACTOR = "system:retention"


def erase_due_holds(session: Session, datamaps: Mapping[str, DataMap], env: Mapping[str, str], *,
                    today: date, now: datetime) -> int:
    """Erase the records whose retention ended; returns rows erased (the caller commits)."""
    due = session.scalars(select(RetentionHold).where(
        RetentionHold.state == "held", RetentionHold.until < today,
        RetentionHold.controller.in_(list(datamaps))).order_by(RetentionHold.id)
        # Locked to the commit: another instance skips them (one erasure, one proof each).
        .with_for_update(skip_locked=True)).all()
    groups: dict[tuple[str, str, str], list[RetentionHold]] = {}
    for hold in due:
        groups.setdefault((hold.controller, hold.system, hold.category), []).append(hold)
    erased = 0
    for (controller, system_key, category_key), holds in groups.items():
        try:
            system = datamaps[controller].system(system_key)
            category = system.category(category_key)
        except KeyError:
            for hold in holds:
                hold.last_error = "system or category no longer in the data map"
            continue
        keys: list[Key] = [_key(h.item_key) for h in holds]
        try:
            connector = open_connector(system, env)
            try:
                (rows,) = connector.execute([Step(category, StepAction.ERASE, tuple(keys))])
            finally:
                connector.close()
        except ConnectorError as exc:
            for hold in holds:
                hold.last_error = str(exc)
            log.warning("retention erasure failed system=%s: %s", system_key, exc)
            continue
        for hold in holds:
            hold.state = "erased"
            hold.erased_at = now
            hold.last_error = None
        references = sorted({h.reference for h in holds})
        for reference in references:
            mine = [h for h in holds if h.reference == reference]
            # One statement erased them all: its row count belongs to a single reference only.
            affected = rows if len(references) == 1 else len(mine)
            session.add(ErasureProof(
                ticket_id=None, reference=reference, controller=controller, system=system_key,
                category=category_key, action="erase", rows=affected,
                statement=f"{counted(affected, 'Eintrag', 'Einträge')} „{category.name}“ nach Ablauf der "
                          f"Aufbewahrungsfrist gelöscht ({mine[0].legal_ground}).",
                retained_until=max(h.until for h in mine), legal_ground=mine[0].legal_ground,
                approved_by=ACTOR, executed_at=now))
        audit(session, actor=ACTOR, action="fulfilment.retention_erased", now=now,
              detail={"system": system_key, "category": category_key, "rows": rows,
                      "references": sorted({h.reference for h in holds})})
        erased += rows
    return erased


def _key(value: str) -> Key:
    return int(value) if value.isdigit() else value
