"""CSV and XLSX files in one directory (the system's `path_env`): each category is one file.

Values are compared as text (spreadsheets have no types we could trust); e-mail addresses in
lower case.  `execute` writes every changed file to a temporary file beside it first and only then
replaces the originals, so a failure leaves all files of the system as they were.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dsr.datamap import Category, Identifier, Person, System, SystemKind
from dsr.fulfilment.connectors.base import (
    ConnectorError,
    Key,
    Record,
    Step,
    StepAction,
    Value,
    anonymised,
    plain,
)

Row = dict[str, Value]


class FileConnector:
    def __init__(self, system: System, directory: str) -> None:
        self.system = system
        self._dir = Path(directory)

    def close(self) -> None:
        return None

    # --- reading --------------------------------------------------------------------------------

    def _path(self, category: Category) -> Path:
        path = self._dir / category.table
        if path.resolve().parent != self._dir.resolve():
            raise ConnectorError(self.system, f"file {category.table!r} is outside the directory")
        if not path.is_file():
            raise ConnectorError(self.system, f"no file {category.table!r} in {self.system.path_env} "
                                 f"(category {category.key!r})")
        return path

    def _read(self, category: Category) -> tuple[list[str], Iterator[Row]]:
        path = self._path(category)
        try:
            if self.system.kind is SystemKind.XLSX:
                return _read_xlsx(path, category.sheet)
            return _read_csv(path)
        except (OSError, UnicodeDecodeError, csv.Error, ValueError, KeyError) as exc:
            raise ConnectorError(self.system, f"cannot read {category.table!r}: {type(exc).__name__}"
                                 ) from exc

    def check(self) -> None:
        for category in self.system.categories:
            header, rows = self._read(category)
            if hasattr(rows, "close"):
                rows.close()
            for name in category.named_columns():
                if name not in header:
                    raise ConnectorError(self.system, f"file {category.table!r} has no column {name!r} "
                                         f"(category {category.key!r})")

    def _record(self, category: Category, row: Row) -> Record:
        key = row.get(category.key_column)
        return Record(key=str(key), values={c: plain(row.get(c)) for c in category.columns})

    def find(self, category: Category, person: Person, parent_keys: Sequence[Key]) -> Iterator[Record]:
        _, rows = self._read(category)
        parents = {str(k) for k in parent_keys}
        groups = []
        for group in category.find:
            wanted = {column: {v.lower() if i is Identifier.EMAIL else v for v in person.values(i)}
                      for i, column in group.items()}
            if all(wanted.values()):
                groups.append((wanted, {c for i, c in group.items() if i is Identifier.EMAIL}))
        for row in rows:
            if category.parent:
                if _text(row.get(category.parent_column)) in parents:
                    yield self._record(category, row)
                continue
            for wanted, lowered in groups:
                if all((_text(row.get(c)).lower() if c in lowered else _text(row.get(c))) in values
                       for c, values in wanted.items()):
                    yield self._record(category, row)
                    break

    def read(self, category: Category, keys: Sequence[Key]) -> Iterator[Record]:
        wanted = {str(k) for k in keys}
        _, rows = self._read(category)
        for row in rows:
            if _text(row.get(category.key_column)) in wanted:
                yield self._record(category, row)

    # --- changing -------------------------------------------------------------------------------

    def execute(self, steps: Sequence[Step]) -> list[int]:
        by_file: dict[str, list[tuple[int, Step]]] = {}
        for index, step in enumerate(steps):
            by_file.setdefault(step.category.table, []).append((index, step))
        counts = [0] * len(steps)
        staged: list[tuple[Path, Path]] = []
        try:
            for file_steps in by_file.values():
                category = file_steps[0][1].category
                header, rows = self._read(category)
                kept: list[Row] = []
                for row in rows:
                    key = _text(row.get(category.key_column))
                    erased = False
                    for index, step in file_steps:
                        if key not in {str(k) for k in step.keys}:
                            continue
                        counts[index] += 1
                        if step.action is StepAction.ERASE:
                            erased = True
                        elif step.action is StepAction.RESTRICT:
                            row[step.category.restrict_column] = "true"
                        elif step.action is StepAction.ANONYMISE:
                            row.update(anonymised(step.values, row))
                        else:
                            row.update(step.values)
                    if not erased:
                        kept.append(row)
                title = _sheet_title(self._path(category), category.sheet) \
                    if self.system.kind is SystemKind.XLSX else ""
                staged.append((self._stage(self._path(category), title, header, kept),
                               self._path(category)))
            for temporary, target in staged:
                os.replace(temporary, target)
        except OSError as exc:
            raise ConnectorError(self.system, f"cannot write: {type(exc).__name__}") from exc
        finally:
            for temporary, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    temporary.unlink()
        return counts

    def _stage(self, path: Path, sheet: str, header: list[str], rows: list[Row]) -> Path:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        temporary = Path(name)
        if self.system.kind is SystemKind.XLSX:
            _write_xlsx(temporary, sheet, header, rows)
        else:
            with temporary.open("w", encoding="utf-8", newline="") as out:
                writer = csv.DictWriter(out, fieldnames=header)
                writer.writeheader()
                writer.writerows(rows)
        return temporary


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _read_csv(path: Path) -> tuple[list[str], Iterator[Row]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])

    def rows() -> Iterator[Row]:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                yield dict(row)

    return header, rows()


def _read_xlsx(path: Path, sheet: str) -> tuple[list[str], Iterator[Row]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        worksheet = book[sheet] if sheet else book.worksheets[0]
        lines = worksheet.iter_rows(values_only=True)
        header = [_text(c) for c in next(lines, ())]
    except Exception:
        book.close()
        raise

    def rows() -> Iterator[Row]:
        try:
            for line in lines:
                yield {name: plain(value) for name, value in zip(header, line, strict=False) if name}
        finally:
            book.close()

    return header, rows()


def _sheet_title(path: Path, sheet: str) -> str:
    """The worksheet the category reads, so a rewrite keeps its name."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        return sheet or str(book.worksheets[0].title)
    finally:
        book.close()


def _write_xlsx(path: Path, title: str, header: list[str], rows: list[Row]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet: Any = book.create_sheet(title=title or None)
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(name) for name in header])
    book.save(path)
