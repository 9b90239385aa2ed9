"""The one interface every connector implements, and the values that cross it.

A connector is a small adapter for one kind of system (`dsr.datamap.SystemKind`).  It reaches
the system (`check`), finds a person's records per category (`find`), reads records again by
their keys for the package (`read`), and carries out the approved steps of an erasure,
restriction or rectification plan in one transaction per system (`execute`).  Adding a kind is
one module with a class like these and one line in `dsr.fulfilment.connectors.CONNECTORS`.

Errors are `ConnectorError` with a one-line message that names the system and never contains
personal data or secrets (it is shown on the ticket, in the CLI and in the log).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from dsr.datamap import HASHED, Category, Person, System

Key = int | str
Value = str | int | float | bool | None
# Keys are read in chunks of this size (one IN list per statement).
KEY_CHUNK = 1000


class ConnectorError(Exception):
    """A system could not be reached or does not match the map; one line, no personal data."""

    def __init__(self, system: System, problem: str) -> None:
        super().__init__(f'system "{system.key}" ({system.name}): {problem}')
        self.system_key = system.key
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Record:
    key: Key
    values: dict[str, Value]


class StepAction(StrEnum):
    ERASE = "erase"
    ANONYMISE = "anonymise"
    RESTRICT = "restrict"  # set the restrict column (Art. 18, and rows kept under retention)
    UPDATE = "update"  # rectification: set columns to the new values


@dataclass(frozen=True, slots=True)
class Step:
    category: Category
    action: StepAction
    keys: tuple[Key, ...]
    values: Mapping[str, Value] = field(default_factory=dict)  # ANONYMISE / UPDATE: column -> value


class Connector(Protocol):
    system: System

    def check(self) -> None:
        """Reach the system and verify that every table/file/folder and column of the map exists."""

    def find(self, category: Category, person: Person, parent_keys: Sequence[Key]) -> Iterator[Record]:
        """The person's records of `category` (`parent_keys`: found keys of its parent category)."""

    def read(self, category: Category, keys: Sequence[Key]) -> Iterator[Record]:
        """The records with these keys (streamed, in chunks)."""

    def execute(self, steps: Sequence[Step]) -> list[int]:
        """Carry out the steps in one transaction; rows affected per step."""

    def close(self) -> None:
        """Release connections."""


_SIMPLE = frozenset({str, int, float, bool})


def plain(value: object) -> Value:
    """A JSON-safe value for the package (dates as ISO strings, decimals as strings)."""
    if value is None or type(value) in _SIMPLE:
        return value  # type: ignore[return-value]
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def chunks(keys: Sequence[Key], size: int = KEY_CHUNK) -> Iterator[list[Key]]:
    for start in range(0, len(keys), size):
        yield list(keys[start:start + size])


def hashed_columns(step: Step) -> list[str]:
    """The columns an ANONYMISE step replaces by a salted hash of their old value (`HASHED`)."""
    if step.action is not StepAction.ANONYMISE:
        return []
    return [column for column, value in step.values.items() if value == HASHED]


def anonymised(values: Mapping[str, Value], old: Mapping[str, Value]) -> dict[str, Value]:
    """The new values of one row: fixed replacements as given, `HASHED` columns as a salted hash.

    The salt is random and never stored, so the hash cannot be recomputed from the person's data
    (SHA-256 of a bare e-mail address could be, by trying addresses); an empty old value stays empty.
    """
    row: dict[str, Value] = {}
    for column, value in values.items():
        if value != HASHED:
            row[column] = value
        elif old.get(column) in (None, ""):
            row[column] = old.get(column)
        else:
            digest = hashlib.sha256(os.urandom(16) + str(old[column]).encode()).hexdigest()
            row[column] = f"anon-{digest[:24]}"
    return row
