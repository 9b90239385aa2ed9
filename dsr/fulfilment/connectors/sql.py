"""SQL databases through SQLAlchemy (PostgreSQL, SQLite): statements built from the map, values bound.

Tables are reflected, so names come from the database and a column the map names but the table
lacks is an error of `check` ("table orders has no column kunde_id").  Identifiers are quoted by
SQLAlchemy; the person's identifiers are always bound parameters, never part of the SQL text.
E-mail addresses are compared in lower case (`lower(column) IN (...)`): index them as
`CREATE INDEX ... ON customers (lower(email))` (docs/FULFILMENT.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    MetaData,
    Table,
    and_,
    create_engine,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import NoSuchTableError, SAWarning, SQLAlchemyError

from dsr.datamap import Category, Identifier, Person, System
from dsr.fulfilment.connectors.base import ConnectorError, Key, Record, Step, StepAction, chunks, plain


class SqlConnector:
    def __init__(self, system: System, url: str) -> None:
        self.system = system
        try:
            self._engine: Engine = create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ValueError) as exc:
            raise ConnectorError(system, f"invalid database URL in {system.url_env} ({type(exc).__name__})"
                                 ) from exc
        self._tables: dict[str, Table] = {}

    def close(self) -> None:
        self._engine.dispose()

    def _table(self, category: Category) -> Table:
        table = self._tables.get(category.table)
        if table is None:
            try:
                with warnings.catch_warnings():
                    # Expression indexes (lower(email)) cannot be reflected; only columns matter here.
                    warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
                    table = Table(category.table, MetaData(), autoload_with=self._engine)
            except NoSuchTableError as exc:
                raise ConnectorError(self.system, f"no table {category.table!r} "
                                     f"(category {category.key!r})") from exc
            except SQLAlchemyError as exc:
                raise ConnectorError(self.system, _unreachable(exc)) from exc
            self._tables[category.table] = table
        return table

    def check(self) -> None:
        for category in self.system.categories:
            table = self._table(category)
            for name in category.named_columns():
                if name not in table.c:
                    raise ConnectorError(self.system, f"table {category.table!r} has no column {name!r} "
                                         f"(category {category.key!r})")

    def _where(self, table: Table, category: Category, person: Person,
               parent_keys: Sequence[Key]) -> ColumnElement[bool] | None:
        if category.parent:
            return table.c[category.parent_column].in_(list(parent_keys)) if parent_keys else None
        alternatives: list[ColumnElement[bool]] = []
        for group in category.find:
            conditions: list[ColumnElement[bool]] = []
            for identifier, column_name in group.items():
                values = person.values(identifier)
                if not values:
                    break
                column = table.c[column_name]
                target = func.lower(column) if identifier is Identifier.EMAIL else column
                conditions.append(target.in_(values) if len(values) > 1 else target == values[0])
            else:
                alternatives.append(and_(*conditions))
        return or_(*alternatives) if alternatives else None

    def _columns(self, table: Table, category: Category) -> list[Any]:
        names = [category.key_column, *[c for c in category.columns if c != category.key_column]]
        return [table.c[name] for name in names]

    def find(self, category: Category, person: Person, parent_keys: Sequence[Key]) -> Iterator[Record]:
        table = self._table(category)
        where = self._where(table, category, person, parent_keys)
        if where is None:
            return
        statement = select(*self._columns(table, category)).where(where).order_by(
            table.c[category.key_column])
        yield from self._stream(category, statement)

    def read(self, category: Category, keys: Sequence[Key]) -> Iterator[Record]:
        table = self._table(category)
        for part in chunks(keys):
            statement = select(*self._columns(table, category)).where(
                table.c[category.key_column].in_(part)).order_by(table.c[category.key_column])
            yield from self._stream(category, statement)

    def _stream(self, category: Category, statement: Any) -> Iterator[Record]:
        try:
            with self._engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=1000).execute(statement)
                for row in result.mappings():
                    yield Record(key=row[category.key_column],
                                 values={name: plain(row[name]) for name in category.columns})
        except SQLAlchemyError as exc:
            raise ConnectorError(self.system, _unreachable(exc)) from exc

    def execute(self, steps: Sequence[Step]) -> list[int]:
        counts: list[int] = []
        try:
            with self._engine.begin() as conn:
                for step in steps:
                    table = self._table(step.category)
                    key_column = table.c[step.category.key_column]
                    total = 0
                    for part in chunks(step.keys):
                        statement: Any
                        if step.action is StepAction.ERASE:
                            statement = delete(table).where(key_column.in_(part))
                        elif step.action is StepAction.RESTRICT:
                            if not step.category.restrict_column:
                                raise ConnectorError(self.system, f"category {step.category.key!r} has no "
                                                     "restrict_column")
                            statement = update(table).where(key_column.in_(part)).values(
                                {step.category.restrict_column: true()})
                        else:
                            statement = update(table).where(key_column.in_(part)).values(dict(step.values))
                        total += conn.execute(statement).rowcount
                    counts.append(total)
        except SQLAlchemyError as exc:
            raise ConnectorError(self.system, _unreachable(exc)) from exc
        return counts


def _unreachable(exc: SQLAlchemyError) -> str:
    """The first line of the driver's message without parameters (they could hold personal data)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).splitlines()[0] if str(orig or exc) else type(exc).__name__
    return f"database error: {text[:200]}"
