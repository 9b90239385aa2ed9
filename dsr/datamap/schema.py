"""Data map schema: systems, the categories of personal data each holds, and how to act on them.

A DPO reads and edits the map (TOML).  Per system: its kind (SQL database, CSV/XLSX files, an IMAP
mailbox, a manual item such as a paper archive), where its secrets come from (the *name* of an
environment variable, never the value), and per category: the profile categories it belongs to
(Art. 15(1)(b)), how a person is found, what is exported, what erasure does (erase, anonymise or
retain under a statutory duty with its ground, period and date column), the column that marks a
row restricted (Art. 18), the fields a rectification may change and the recipients (Art. 19).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
ENV_PATTERN = r"^[A-Z][A-Z0-9_]*$"
# An `anonymise` replacement: a one-way hash of the old value with a random salt that is thrown
# away at once.  Unique per row (a unique column such as a login stays valid), yet the same address
# never gives the same value twice, so nothing links the row back to the person.
HASHED = "{hash}"


def is_english(language: str | None) -> bool:
    """The primary subtag is "en", whatever its case or separator.

    The rule of `dsr.replies.language.is_english`, which the data map may not import (a sibling in
    the import layers); tests/fulfilment/test_datamap.py keeps both in step.
    """
    return (language or "").strip().lower().replace("_", "-").split("-")[0] == "en"


class SystemKind(StrEnum):
    SQL = "sql"
    CSV = "csv"
    XLSX = "xlsx"
    IMAP = "imap"
    MANUAL = "manual"


class Identifier(StrEnum):
    """What we know about a verified person and may look them up by."""

    EMAIL = "email"
    CUSTOMER_NUMBER = "customer_number"
    PHONE = "phone"
    NAME = "name"
    POSTAL_CODE = "postal_code"


class ErasureAction(StrEnum):
    ERASE = "erase"  # delete the rows
    ANONYMISE = "anonymise"  # overwrite the personal columns, keep the row (e.g. statistics)
    RETAIN = "retain"  # keep under a statutory retention duty, restricted, erased at its end date


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retention(_Strict):
    """A statutory retention duty (Art. 17(3)(b) GDPR), e.g. § 147 AO, § 257 HGB, § 14b UStG."""

    ground: str = Field(min_length=3)
    years: int = Field(ge=1, le=30)
    date_column: str = Field(pattern=NAME_PATTERN)
    # § 147(4) AO and § 257(5) HGB: the period starts at the end of the calendar year.
    from_year_end: bool = True


class Recipient(_Strict):
    """Who receives data from a system (Art. 19: told of erasure, restriction, rectification)."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str
    email: EmailStr
    # The profile's recipient (key) this is, or belongs to where the notice names only a category:
    # the privacy notice names it, so a letter may state it.  `dsr datamap check` reports a
    # recipient the profile does not know (a fact no notice contains).
    profile_recipient: str = Field(default="", pattern=r"^$|" + KEY_PATTERN)


class Category(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str  # German, as the copy shows it
    name_en: str = ""
    # The profile's data categories this is part of (Art. 15(1)(b)), by their exact names.
    profile_categories: list[str] = Field(default_factory=list)
    # SQL: table; CSV/XLSX: file name inside the system's directory; IMAP: folder.
    table: str = ""
    sheet: str = ""  # XLSX: worksheet (default: the first)
    key_column: str = Field(default="", pattern=r"^$|" + NAME_PATTERN)
    columns: list[str] = Field(default_factory=list)  # exported columns
    # How a person is found: a list of alternatives, each mapping identifiers to columns that must
    # all match (e.g. [{email = "email"}, {customer_number = "kdnr"}]).
    find: list[dict[Identifier, str]] = Field(default_factory=list)
    # Child tables: rows whose `parent_column` holds the key of a found row of category `parent`.
    parent: str = ""
    parent_column: str = ""
    on_erasure: ErasureAction = ErasureAction.ERASE
    # column -> replacement: a fixed text, None (NULL), or HASHED ("{hash}", see above)
    anonymise: dict[str, str | None] = Field(default_factory=dict)
    retention: Retention | None = None
    restrict_column: str = ""  # boolean column set for restricted rows (Art. 18) and retained ones
    rectifiable: list[str] = Field(default_factory=list)
    description: str = ""  # manual items: where the records are and what they are
    recipients: list[str] = Field(default_factory=list)

    def label(self, language: str | None) -> str:
        """The English name for an English code ("en", "EN", "en-GB", "en_US"), else the German one."""
        return self.name_en if is_english(language) and self.name_en else self.name

    def named_columns(self) -> list[str]:
        """Every column the map names for this category (what `datamap check` must find)."""
        names = [self.key_column, *self.columns, self.parent_column, self.restrict_column,
                 *self.anonymise, *self.rectifiable]
        for alternative in self.find:
            names.extend(alternative.values())
        if self.retention is not None:
            names.append(self.retention.date_column)
        unique: dict[str, None] = {}
        for name in names:
            if name:
                unique.setdefault(name, None)
        return list(unique)


class System(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str
    kind: SystemKind
    url_env: str = Field(default="", pattern=r"^$|" + ENV_PATTERN)  # SQL, IMAP: URL with credentials
    path_env: str = Field(default="", pattern=r"^$|" + ENV_PATTERN)  # CSV, XLSX: the directory
    categories: list[Category] = Field(min_length=1)
    recipients: list[str] = Field(default_factory=list)  # receive every category of this system

    def category(self, key: str) -> Category:
        for category in self.categories:
            if category.key == key:
                return category
        raise KeyError(key)

    def secret_env(self) -> str:
        """The environment variable this system needs, or "" for a manual item."""
        return self.url_env or self.path_env

    @model_validator(mode="after")
    def _consistent(self) -> System:
        needs = {SystemKind.SQL: "url_env", SystemKind.IMAP: "url_env", SystemKind.CSV: "path_env",
                 SystemKind.XLSX: "path_env"}.get(self.kind)
        if needs and not getattr(self, needs):
            raise ValueError(f"a {self.kind.value} system needs {needs} (the environment variable with "
                             f"its {'URL' if needs == 'url_env' else 'directory'})")
        keys = [c.key for c in self.categories]
        if len(set(keys)) != len(keys):
            raise ValueError("category keys must be unique within a system")
        for category in self.categories:
            _check_category(self.kind, category, keys)
        return self


def _check_category(kind: SystemKind, category: Category, keys: list[str]) -> None:
    where = f"category {category.key!r}"
    tabular = kind in (SystemKind.SQL, SystemKind.CSV, SystemKind.XLSX)
    if kind is not SystemKind.MANUAL and not category.table:
        raise ValueError(f"{where}: table (table, file or folder) is required")
    if tabular:
        if not category.key_column:
            raise ValueError(f"{where}: key_column is required")
        if not category.columns:
            raise ValueError(f"{where}: columns (what is exported) must not be empty")
        if bool(category.find) == bool(category.parent):
            raise ValueError(f"{where}: give either find (how a person is found) or parent")
        if category.parent and (category.parent not in keys or category.parent == category.key):
            raise ValueError(f"{where}: parent {category.parent!r} is not another category of this system")
        if category.parent and not category.parent_column:
            raise ValueError(f"{where}: parent_column is required with parent")
    if kind is SystemKind.MANUAL and not category.description:
        raise ValueError(f"{where}: a manual item needs a description (where the records are)")
    if any(not group for group in category.find):
        raise ValueError(f"{where}: an empty alternative in find")
    if category.on_erasure is ErasureAction.RETAIN and category.retention is None:
        raise ValueError(f"{where}: on_erasure = 'retain' needs a retention (ground, years, date_column)")
    if category.on_erasure is ErasureAction.ANONYMISE and not category.anonymise:
        raise ValueError(f"{where}: on_erasure = 'anonymise' needs anonymise (column = replacement)")
    if category.retention is not None and category.retention.date_column not in category.columns:
        raise ValueError(f"{where}: the retention date_column must be one of columns (it is exported)")
    if category.retention is not None and category.on_erasure is not ErasureAction.RETAIN:
        raise ValueError(f"{where}: a retention duty needs on_erasure = 'retain'")


class DataMap(_Strict):
    controller: str = Field(pattern=KEY_PATTERN)
    recipients: list[Recipient] = Field(default_factory=list)
    systems: list[System] = Field(min_length=1)

    def system(self, key: str) -> System:
        for system in self.systems:
            if system.key == key:
                return system
        raise KeyError(key)

    def recipients_of(self, system: System, category: Category) -> list[Recipient]:
        wanted = set(system.recipients) | set(category.recipients)
        return [r for r in self.recipients if r.key in wanted]

    @model_validator(mode="after")
    def _references(self) -> DataMap:
        keys = [s.key for s in self.systems]
        if len(set(keys)) != len(keys):
            raise ValueError("system keys must be unique")
        known = {r.key for r in self.recipients}
        for system in self.systems:
            for name in system.recipients + [r for c in system.categories for r in c.recipients]:
                if name not in known:
                    raise ValueError(f"system {system.key!r}: unknown recipient {name!r}")
        return self


@dataclass(frozen=True, slots=True)
class Person:
    """The verified person's identifiers, as the DSR record holds them (never logged)."""

    emails: tuple[str, ...] = ()
    customer_number: str | None = None
    phone: str | None = None
    name: str | None = None
    postal_code: str | None = None

    def values(self, identifier: Identifier) -> tuple[str, ...]:
        if identifier is Identifier.EMAIL:
            return tuple(e.strip().lower() for e in self.emails if e.strip())
        value = getattr(self, identifier.value)
        return (value.strip(),) if isinstance(value, str) and value.strip() else ()
