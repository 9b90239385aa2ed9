"""A manual item (a paper archive, a system without an interface): the DPO looks and confirms.

The connector reaches nothing and finds nothing by itself; discovery records such a system as
"to be confirmed by hand", and the DPO records what was found and, later, what was done.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from dsr.datamap import Category, Person, System
from dsr.fulfilment.connectors.base import ConnectorError, Key, Record, Step


class ManualConnector:
    def __init__(self, system: System) -> None:
        self.system = system

    def check(self) -> None:
        return None

    def find(self, category: Category, person: Person, parent_keys: Sequence[Key]) -> Iterator[Record]:
        return iter(())

    def read(self, category: Category, keys: Sequence[Key]) -> Iterator[Record]:
        return iter(())

    def execute(self, steps: Sequence[Step]) -> list[int]:
        raise ConnectorError(self.system, "a manual item is carried out by hand and confirmed by the DPO")

    def close(self) -> None:
        return None
