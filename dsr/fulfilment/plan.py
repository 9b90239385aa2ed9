"""The plan of an erasure, restriction or rectification: per system and category, what will be done.

Built from the data map and what discovery found: erase, anonymise, retain under a statutory duty
(ground and end date per record: the period runs from the end of the calendar year of the
record's date, § 147(4) AO, § 257(5) HGB), restrict (Art. 18), update fields (Art. 16), or "by
hand" for manual items.  The DPO sees the plan and approves it; `execute` carries it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from dsr.datamap import Category, DataMap, ErasureAction, Retention, System, SystemKind
from dsr.fulfilment.connectors import Connector, Key, StepAction, Value
from dsr.fulfilment.package import Source
from dsr.intents.rights import Right


class PlanAction(StrEnum):
    ERASE = "erase"
    ANONYMISE = "anonymise"
    RETAIN = "retain"
    RESTRICT = "restrict"
    UPDATE = "update"
    MANUAL = "manual"


ACTION_LABELS = {
    PlanAction.ERASE: "löschen",
    PlanAction.ANONYMISE: "anonymisieren",
    PlanAction.RETAIN: "aufbewahren (gesperrt) bis zum Fristende, dann löschen",
    PlanAction.RESTRICT: "einschränken (sperren)",
    PlanAction.UPDATE: "berichtigen",
    PlanAction.MANUAL: "von Hand erledigen",
}
STEP_OF = {PlanAction.ERASE: StepAction.ERASE, PlanAction.ANONYMISE: StepAction.ANONYMISE,
           PlanAction.RETAIN: StepAction.RESTRICT, PlanAction.RESTRICT: StepAction.RESTRICT,
           PlanAction.UPDATE: StepAction.UPDATE}


@dataclass(frozen=True, slots=True)
class PlanItem:
    system: System
    category: Category
    action: PlanAction
    keys: tuple[Key, ...]
    # RETAIN: end date per record key; the item's `until` is the latest of them.
    holds: tuple[tuple[Key, date], ...] = ()
    values: Mapping[str, Value] = field(default_factory=dict)  # ANONYMISE / UPDATE
    ground: str = ""

    @property
    def rows(self) -> int:
        return len(self.keys)

    @property
    def until(self) -> date | None:
        return max((d for _, d in self.holds), default=None)

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.action]


def retention_end(retention: Retention, value: Value) -> date | None:
    """The last day of the retention period of a record dated `value` (ISO date or datetime)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    if retention.from_year_end:
        return date(day.year + retention.years, 12, 31)
    try:
        return day.replace(year=day.year + retention.years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + retention.years, day=28)


def build_plan(datamap: DataMap, sources: list[Source], rights: set[Right], *,
               connectors: Mapping[str, Connector], today: date,
               changes: Mapping[tuple[str, str], Mapping[str, str]] | None = None) -> list[PlanItem]:
    """The plan for the found records; `changes` (rectification): (system, category) -> column -> value.

    Erasure wins over restriction and rectification of the same records (nothing left to restrict);
    records whose retention already ended are simply erased.
    """
    plan: list[PlanItem] = []
    for source in sources:
        system, category = source.system, source.category
        if not source.keys:
            continue
        if system.kind is SystemKind.MANUAL:
            plan.append(PlanItem(system, category, PlanAction.MANUAL, source.keys))
            continue
        if Right.ERASURE in rights:
            plan.extend(_erasure_items(source, connectors[system.key], today))
            continue
        if Right.RECTIFICATION in rights and changes and changes.get((system.key, category.key)):
            wanted = dict(changes[(system.key, category.key)])
            allowed = {k: v for k, v in wanted.items() if k in category.rectifiable}
            if allowed:
                plan.append(PlanItem(system, category, PlanAction.UPDATE, source.keys, values=allowed))
        if Right.RESTRICTION in rights:
            action = PlanAction.RESTRICT if category.restrict_column else PlanAction.MANUAL
            plan.append(PlanItem(system, category, action, source.keys))
    return plan


def _erasure_items(source: Source, connector: Connector, today: date) -> list[PlanItem]:
    system, category = source.system, source.category
    if category.on_erasure is ErasureAction.ERASE:
        return [PlanItem(system, category, PlanAction.ERASE, source.keys)]
    if category.on_erasure is ErasureAction.ANONYMISE:
        return [PlanItem(system, category, PlanAction.ANONYMISE, source.keys,
                         values=dict(category.anonymise))]
    retention = category.retention
    if retention is None:  # the schema requires one with "retain"
        return [PlanItem(system, category, PlanAction.MANUAL, source.keys)]
    holds: list[tuple[Key, date]] = []
    expired: list[Key] = []
    undated: list[Key] = []
    for record in connector.read(category, source.keys):
        end = retention_end(retention, record.values.get(retention.date_column))
        if end is None:
            undated.append(record.key)
        elif end < today:
            expired.append(record.key)
        else:
            holds.append((record.key, end))
    items = []
    if holds:
        items.append(PlanItem(system, category, PlanAction.RETAIN, tuple(k for k, _ in holds),
                              holds=tuple(holds), ground=retention.ground))
    if expired:
        items.append(PlanItem(system, category, PlanAction.ERASE, tuple(expired)))
    if undated:  # no date to count from: the DPO decides by hand
        items.append(PlanItem(system, category, PlanAction.MANUAL, tuple(undated), ground=retention.ground))
    return items
