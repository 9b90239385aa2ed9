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
    ARRAY,
    Column,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    Table,
    and_,
    any_,
    bindparam,
    create_engine,
    delete,
    func,
    inspect,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import NoSuchTableError, SAWarning, SQLAlchemyError

from dsr.datamap import Category, Identifier, Person, System
from dsr.fulfilment.connectors.base import (
    KEY_CHUNK,
    ConnectorError,
    Key,
    Record,
    Step,
    StepAction,
    anonymised,
    chunks,
    hashed_columns,
    plain,
)


class SqlConnector:
    def __init__(self, system: System, url: str) -> None:
        self.system = system
        try:
            # A connector lives for one search or one package: no pre-ping, the pool is fresh.
            self._engine: Engine = create_engine(url)
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
                # Only the columns are read (one query): keys, indexes and the tables that foreign
                # keys point to are not needed to find, read or change rows.
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
                    columns = inspect(self._engine).get_columns(category.table)
                table = Table(category.table, MetaData(), *(Column(c["name"], c["type"]) for c in columns))
            except NoSuchTableError as exc:
                raise ConnectorError(self.system, f"no table {category.table!r} "
                                     f"(category {category.key!r})") from exc
            except SQLAlchemyError as exc:
                raise ConnectorError(self.system, _unreachable(exc)) from exc
            self._tables[category.table] = table
        return table

    @property
    def _chunk(self) -> int:
        return 10 * KEY_CHUNK if self._engine.dialect.name == "postgresql" else KEY_CHUNK

    def _among(self, column: Any, keys: list[Key]) -> ColumnElement[bool]:
        """`column IN keys`; on PostgreSQL one array parameter (`= ANY(:keys)`) instead of one per key."""
        if self._engine.dialect.name == "postgresql":
            return column == any_(bindparam("keys", keys, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
        return column.in_(keys)  # type: ignore[no-any-return]

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
        """Keys only (values empty): discovery stores keys; contents are read when shown or packed."""
        table = self._table(category)
        where = self._where(table, category, person, parent_keys)
        if where is None:
            return
        key = table.c[category.key_column]
        try:
            with self._engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=5000).execute(
                    select(key).where(where).order_by(key))
                for (value,) in result:
                    yield Record(key=value, values={})
        except SQLAlchemyError as exc:
            raise ConnectorError(self.system, _unreachable(exc)) from exc

    def read(self, category: Category, keys: Sequence[Key]) -> Iterator[Record]:
        table = self._table(category)
        key = table.c[category.key_column]
        columns = self._columns(table, category)
        try:
            with self._engine.connect() as conn:
                # At most KEY_CHUNK rows per statement: memory stays flat, no server-side cursor needed.
                for part in chunks(keys, self._chunk):
                    statement = select(*columns).where(self._among(key, part)).order_by(key)
                    for row in conn.execute(statement).mappings():
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
                    if hashed_columns(step):
                        counts.append(self._anonymise_rows(conn, table, step))
                        continue
                    for part in chunks(step.keys, self._chunk):
                        statement: Any
                        if step.action is StepAction.ERASE:
                            statement = delete(table).where(self._among(key_column, part))
                        elif step.action is StepAction.RESTRICT:
                            if not step.category.restrict_column:
                                raise ConnectorError(self.system, f"category {step.category.key!r} has no "
                                                     "restrict_column")
                            statement = update(table).where(self._among(key_column, part)).values(
                                {step.category.restrict_column: true()})
                        else:
                            statement = update(table).where(self._among(key_column, part)).values(
                                dict(step.values))
                        total += conn.execute(statement).rowcount
                    counts.append(total)
        except SQLAlchemyError as exc:
            raise ConnectorError(self.system, _unreachable(exc)) from exc
        return counts


    def _anonymise_rows(self, conn: Connection, table: Table, step: Step) -> int:
        """Anonymise row by row: each hashed column gets its own value (see `anonymised`)."""
        key_column = table.c[step.category.key_column]
        hashed = [table.c[name] for name in hashed_columns(step)]
        total = 0
        for part in chunks(step.keys, self._chunk):
            rows = conn.execute(select(key_column, *hashed).where(self._among(key_column, part))).mappings()
            for row in list(rows):
                values = anonymised(step.values, {name: row[name] for name in hashed_columns(step)})
                total += conn.execute(update(table).where(key_column == row[step.category.key_column])
                                      .values(values)).rowcount
        return total


def _unreachable(exc: SQLAlchemyError) -> str:
    """The first line of the driver's message without parameters (they could hold personal data)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).splitlines()[0] if str(orig or exc) else type(exc).__name__
    return f"database error: {text[:200]}"
