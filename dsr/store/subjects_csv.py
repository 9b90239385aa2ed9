"""CSV import and export of the data subjects a controller already knows.

The import is how the controller's customer master data reaches the assistant, so that requests
can be matched to the contact on file (docs/LEGAL-NOTES.md 3.5: identity by data the controller already
holds, never by asking for more).  It validates every row, rejects bad rows with their line
number, and upserts the rest by e-mail address: running the same file twice changes nothing.
Columns present in the header are authoritative (an empty cell clears the value); columns absent
from it leave stored values alone.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from dsr.mail.address import normalize_address
from dsr.store.audit import audit
from dsr.store.models import DataSubject, SubjectEmail

HEADER_REQUIRED = ("email", "name", "customer_number", "postal_code", "phone")
HEADER_OPTIONAL = ("birth_date", "telegram_user_id", "alt_emails")
KNOWN_COLUMNS = HEADER_REQUIRED + HEADER_OPTIONAL
BATCH_SIZE = 500
PROGRESS_EVERY = 1000
MAX_TELEGRAM_ID = 2**53
_POSTAL = re.compile(r"^[0-9A-Za-z][0-9A-Za-z \-]{1,15}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PHONE = re.compile(r"^\+?[0-9 ()/.\-]+$")
_LIMITS = {"name": 200, "customer_number": 64, "postal_code": 16, "phone": 64}


class SubjectImportError(ValueError):
    """The file as a whole cannot be imported (no usable header); nothing was written."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class SubjectRow:
    line: int
    values: dict[str, Any]  # known columns present in the header, validated
    alt_emails: tuple[str, ...] | None  # None when the file has no alt_emails column
    extra: dict[str, str]  # further columns present in the header (empty cells included as "")


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowProblem] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (f"{self.rows} rows: {self.inserted} inserted, {self.updated} updated, "
                f"{self.unchanged} unchanged, {len(self.rejected)} rejected")


class _RowInvalidError(Exception):
    pass


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _check_email(raw: str, what: str) -> str:
    address = normalize_address(raw)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise _RowInvalidError(f"{what} is not a valid e-mail address ({exc})") from exc
    return address


def _validate(line: int, header: list[str], cells: list[str], today: date) -> SubjectRow:
    if len(cells) != len(header):
        raise _RowInvalidError(f"{len(cells)} fields, the header has {len(header)}")
    raw = {name: unquote_cell(cell.strip()) for name, cell in zip(header, cells, strict=True)}
    for name, value in raw.items():
        if _CONTROL.search(value):
            # Names and addresses end up in mail headers: no line breaks or control characters.
            raise _RowInvalidError(f"{name} contains a line break or control character")
    values: dict[str, Any] = {}
    if not raw["email"]:
        raise _RowInvalidError("email is empty")
    values["email"] = _check_email(raw["email"], "email")
    if not raw["name"]:
        raise _RowInvalidError("name is empty")
    for column, limit in _LIMITS.items():
        if len(raw[column]) > limit:
            raise _RowInvalidError(f"{column} longer than {limit} characters")
    values["name"] = raw["name"]
    values["customer_number"] = raw["customer_number"] or None
    if raw["postal_code"] and not _POSTAL.match(raw["postal_code"]):
        raise _RowInvalidError(f"postal_code {raw['postal_code']!r} is not a postal code")
    values["postal_code"] = raw["postal_code"] or None
    phone = raw["phone"]
    if phone and (not _PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < 5):
        raise _RowInvalidError("phone must be digits with optional + ( ) / . - and spaces, at least 5 digits")
    values["phone"] = phone or None
    if "birth_date" in raw:
        values["birth_date"] = _birth_date(raw["birth_date"], today)
    if "telegram_user_id" in raw:
        values["telegram_user_id"] = _telegram_id(raw["telegram_user_id"])
    alternates: tuple[str, ...] | None = None
    if "alt_emails" in raw:
        found: list[str] = []
        for part in raw["alt_emails"].split(";"):
            if part.strip():
                address = _check_email(part, "alt_emails entry")
                if address != values["email"] and address not in found:
                    found.append(address)
        alternates = tuple(found)
    extra = {name: value for name, value in raw.items() if name not in KNOWN_COLUMNS}
    return SubjectRow(line, values, alternates, extra)


def _birth_date(text: str, today: date) -> date | None:
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise _RowInvalidError(f"birth_date {text!r} is not a date in the form YYYY-MM-DD") from exc
    if not date(1900, 1, 1) <= value <= today or len(text) != 10:
        raise _RowInvalidError(f"birth_date {text!r} is not plausible (YYYY-MM-DD, 1900 to today)")
    return value


def _telegram_id(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < MAX_TELEGRAM_ID:
        raise _RowInvalidError(f"telegram_user_id {text!r} is not a positive number")
    return int(text)


def read_rows(
    stream: IO[str], *, today: date, problems: list[RowProblem]
) -> Iterator[SubjectRow]:
    """Valid rows of a CSV file; invalid ones are appended to `problems` with their line number.

    The delimiter (comma, semicolon or tab, as German spreadsheet exports vary) is taken from the
    header line.  Duplicates inside the file (e-mail, alternate address, Telegram id) are rejected
    on their second occurrence.
    """
    header_line = stream.readline()
    if not header_line.strip():
        raise SubjectImportError("the file is empty; expected a header row")
    delimiter = _delimiter(header_line)
    header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter))]
    missing = [c for c in HEADER_REQUIRED if c not in header]
    if missing:
        raise SubjectImportError(f"header row lacks column(s): {', '.join(missing)}")
    duplicates = sorted({h for h in header if header.count(h) > 1 or not h})
    if duplicates:
        raise SubjectImportError(f"header row has empty or repeated column names: {duplicates}")
    reader = csv.reader(stream, delimiter=delimiter)
    seen_addresses: dict[str, int] = {}
    seen_telegram: dict[int, int] = {}
    previous_end = 1
    for cells in reader:
        line, previous_end = previous_end + 1, reader.line_num + 1
        if not cells or all(not c.strip() for c in cells):
            continue
        try:
            row = _validate(line, header, cells, today)
            for address in (row.values["email"], *(row.alt_emails or ())):
                if address in seen_addresses:
                    raise _RowInvalidError(f"e-mail address already used on line {seen_addresses[address]}")
            telegram = row.values.get("telegram_user_id")
            if telegram is not None and telegram in seen_telegram:
                raise _RowInvalidError(f"telegram_user_id already used on line {seen_telegram[telegram]}")
        except _RowInvalidError as exc:
            problems.append(RowProblem(line, str(exc)))
            continue
        for address in (row.values["email"], *(row.alt_emails or ())):
            seen_addresses[address] = line
        if telegram is not None:
            seen_telegram[telegram] = line
        yield row


def _batches(rows: Iterable[SubjectRow], size: int) -> Iterator[list[SubjectRow]]:
    batch: list[SubjectRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_subjects(
    session: Session,
    stream: IO[str],
    *,
    controller: str,
    now: datetime,
    actor: str = "cli",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate and upsert every row of `stream` for `controller`; flushed, not committed."""
    report = ImportReport()
    problems: list[RowProblem] = []
    done = 0
    if session.get_bind().dialect.name == "postgresql":
        # Right after a bulk load the planner still believes the tables are empty and scans them
        # once per batch lookup, which makes a large import several times slower.
        session.execute(text("ANALYZE data_subjects"))
        session.execute(text("ANALYZE subject_emails"))
    for batch in _batches(read_rows(stream, today=now.date(), problems=problems), BATCH_SIZE):
        _apply_batch(session, batch, controller=controller, now=now, report=report, problems=problems)
        before, done = done, done + len(batch)
        if progress is not None and done // PROGRESS_EVERY != before // PROGRESS_EVERY:
            progress(done + len(problems))
    report.rejected = sorted(problems, key=lambda p: p.line)
    report.rows = report.inserted + report.updated + report.unchanged + len(report.rejected)
    audit(session, actor=actor, action="subjects_imported", now=now, reason="CSV-Import",
          detail={"controller": controller, "inserted": report.inserted, "updated": report.updated,
                  "unchanged": report.unchanged, "rejected": len(report.rejected)})
    return report


def _apply_batch(
    session: Session, batch: list[SubjectRow], *, controller: str, now: datetime,
    report: ImportReport, problems: list[RowProblem],
) -> None:
    primaries = [row.values["email"] for row in batch]
    alternates = [a for row in batch for a in row.alt_emails or ()]
    telegram_ids = [row.values["telegram_user_id"] for row in batch if row.values.get("telegram_user_id")]
    existing = {
        s.email: s for s in session.scalars(
            select(DataSubject).options(selectinload(DataSubject.emails))
            .where(DataSubject.controller == controller, DataSubject.email.in_(primaries))
        )
    }
    # Who owns each address or Telegram id already (subject id), to refuse taking it over.
    owner: dict[str, int] = {
        email: sid for email, sid in session.execute(
            select(SubjectEmail.email, SubjectEmail.subject_id)
            .where(SubjectEmail.controller == controller, SubjectEmail.email.in_(primaries + alternates))
        )
    }
    if alternates:
        owner.update({email: sid for email, sid in session.execute(
            select(DataSubject.email, DataSubject.id)
            .where(DataSubject.controller == controller, DataSubject.email.in_(alternates))
        ) if email is not None})
    telegram_owner: dict[int, int] = {
        tid: sid for tid, sid in session.execute(
            select(DataSubject.telegram_user_id, DataSubject.id)
            .where(DataSubject.controller == controller, DataSubject.telegram_user_id.in_(telegram_ids))
        ) if tid is not None
    } if telegram_ids else {}
    for row in batch:
        subject = existing.get(row.values["email"])
        own_id = subject.id if subject is not None else None
        conflict = next((a for a in (row.values["email"], *(row.alt_emails or ()))
                         if a in owner and owner[a] != own_id), None)
        if conflict is not None:
            problems.append(RowProblem(row.line, "an e-mail address of this row belongs to another subject"))
            continue
        telegram = row.values.get("telegram_user_id")
        if telegram is not None and telegram_owner.get(telegram, own_id) != own_id:
            problems.append(RowProblem(row.line, "telegram_user_id belongs to another subject"))
            continue
        if subject is None:
            subject = DataSubject(controller=controller, extra={}, created_at=now, updated_at=now, emails=[])
            _assign(subject, row, controller)
            session.add(subject)
            report.inserted += 1
        elif _assign(subject, row, controller):
            subject.updated_at = now
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()


def _assign(subject: DataSubject, row: SubjectRow, controller: str) -> bool:
    """Copy the row onto `subject`; True if anything changed."""
    changed = False
    for column, value in row.values.items():
        if getattr(subject, column) != value:
            setattr(subject, column, value)
            changed = True
    if row.extra:
        extra = dict(subject.extra or {})
        for key, value in row.extra.items():
            if value:
                extra[key] = value
            else:
                extra.pop(key, None)
        if extra != (subject.extra or {}):
            subject.extra = extra
            changed = True
    if row.alt_emails is not None:
        current = {e.email for e in subject.emails}
        wanted = set(row.alt_emails)
        if current != wanted:
            subject.emails = [e for e in subject.emails if e.email in wanted] + [
                SubjectEmail(controller=controller, email=a) for a in row.alt_emails if a not in current
            ]
            changed = True
    return changed


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): "=HYPERLINK(...)"
# in a name imported from a web form would run on the DPO's machine.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading formula character gets a "'" in front.

    A phone number ("+49 ...") keeps its digits and reads "'+49 ..." in the file; the import strips
    the quote again, so an export re-imports unchanged.
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unquote_cell(value: str) -> str:
    """The value `safe_cell` protected, without its quote (so an export re-imports unchanged)."""
    return value[1:] if value.startswith("'") and value[1:2] in FORMULA_STARTS and len(value) > 1 else value


def export_subjects(
    session: Session, stream: IO[str], *, controller: str, now: datetime, actor: str = "cli"
) -> int:
    """Write all subjects of `controller` as CSV (the import format, so it round-trips)."""
    subjects = session.scalars(
        select(DataSubject).options(selectinload(DataSubject.emails))
        .where(DataSubject.controller == controller).order_by(DataSubject.id)
    ).all()
    extra_columns = sorted({key for s in subjects for key in (s.extra or {})} - set(KNOWN_COLUMNS))
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*KNOWN_COLUMNS, *extra_columns])
    for s in subjects:
        writer.writerow(safe_cell(cell) for cell in [
            s.email or "", s.name, s.customer_number or "", s.postal_code or "", s.phone or "",
            s.birth_date.isoformat() if s.birth_date else "",
            str(s.telegram_user_id) if s.telegram_user_id is not None else "",
            ";".join(sorted(e.email for e in s.emails)),
            *[str((s.extra or {}).get(key, "")) for key in extra_columns],
        ])
    audit(session, actor=actor, action="subjects_exported", now=now, reason="CSV-Export",
          detail={"controller": controller, "count": len(subjects)})
    return len(subjects)
