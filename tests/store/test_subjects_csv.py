"""CSV import/export at the store level, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.store.models import DataSubject
from dsr.store.subjects import find_subject
from dsr.store.subjects_csv import SubjectImportError, export_subjects, import_subjects

NOW = datetime(2026, 2, 2, 9, tzinfo=UTC)
HEADER = "email,name,customer_number,postal_code,phone,telegram_user_id,alt_emails,branche\n"


def _import(session: Session, text: str, controller: str = "kmb2") -> tuple[str, list[str]]:
    report = import_subjects(session, io.StringIO(text), controller=controller, now=NOW)
    return report.summary, [str(p) for p in report.rejected]


def test_import_is_idempotent_and_searchable(session: Session) -> None:
    text = HEADER + (
        "a@example.org,Anna,K1,38100,0531 11111,9000000001,anna@privat.example;Anna@Work.example,Handel\n"
        "b@example.org,Bernd,K2,01067,,,,\n"
    )
    assert _import(session, text) == ("2 rows: 2 inserted, 0 updated, 0 unchanged, 0 rejected", [])
    assert _import(session, text) == ("2 rows: 0 inserted, 0 updated, 2 unchanged, 0 rejected", [])
    anna = find_subject(session, "kmb2", email="anna@work.example")
    assert anna is not None and anna.name == "Anna" and anna.extra == {"branche": "Handel"}
    assert find_subject(session, "kmb2", telegram_user_id=9_000_000_001) is anna
    assert find_subject(session, "komsa", email="a@example.org") is None


def test_conflicts_with_other_subjects_are_rejected(session: Session) -> None:
    _import(session, HEADER + "a@example.org,Anna,K1,38100,,9000000001,alt@example.org,\n")
    summary, problems = _import(session, HEADER + (
        "c@example.org,Clara,K3,38100,,,alt@example.org,\n"  # Anna's alternate
        "d@example.org,Dora,K5,38100,,9000000001,,\n"  # Anna's Telegram id
        "e@example.org,Emil,K6,38100,,,a@example.org,\n"  # Anna's primary as an alternate
        "f@example.org,Fritz,K7,38100,,,,\n"
    ))
    assert summary == "4 rows: 1 inserted, 0 updated, 0 unchanged, 3 rejected"
    assert problems == [
        "line 2: an e-mail address of this row belongs to another subject",
        "line 3: telegram_user_id belongs to another subject",
        "line 4: an e-mail address of this row belongs to another subject",
    ]
    # Anna's alternate as somebody's primary address would make lookups ambiguous.
    assert _import(session, HEADER + "alt@example.org,Alt,K4,38100,,,,\n")[1] == [
        "line 2: an e-mail address of this row belongs to another subject"]


def test_export_round_trip(session: Session) -> None:
    _import(session, HEADER + "a@example.org,Anna,K1,38100,,9000000001,x@example.org;y@example.org,Handel\n")
    out = io.StringIO()
    assert export_subjects(session, out, controller="kmb2", now=NOW) == 1
    assert out.getvalue().splitlines() == [
        "email,name,customer_number,postal_code,phone,birth_date,telegram_user_id,alt_emails,branche",
        "a@example.org,Anna,K1,38100,,,9000000001,x@example.org;y@example.org,Handel",
    ]
    assert _import(session, out.getvalue())[0] == "1 rows: 0 inserted, 0 updated, 1 unchanged, 0 rejected"
    assert session.scalars(select(DataSubject)).one().telegram_user_id == 9_000_000_001


def test_header_problems(session: Session) -> None:
    with pytest.raises(SubjectImportError, match="lacks column"):
        _import(session, "mail,name\n")


def test_export_neutralises_formula_cells_and_reimports_unchanged(session: Session) -> None:
    """Issue 14 (low): `dsr subjects export` wrote =, @, +, - cells unchanged (CSV injection)."""
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(
        ["a@example.org", '=HYPERLINK("http://evil.example","x")', "-K9", "38100", "+49 531 1", "", "",
         "@SUM(A1)"])
    assert _import(session, HEADER + line.getvalue())[1] == []
    out = io.StringIO()
    export_subjects(session, out, controller="kmb2", now=NOW)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    for cell in rows[1]:
        assert not cell.startswith(("=", "@", "+", "-", "\t", "\r")), cell
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in rows[1] and "'+49 531 1" in rows[1]
    before = session.scalars(select(DataSubject)).one()
    values = (before.name, before.customer_number, before.phone, dict(before.extra))
    assert _import(session, out.getvalue())[0].endswith("1 unchanged, 0 rejected")
    after = session.scalars(select(DataSubject)).one()
    assert (after.name, after.customer_number, after.phone, dict(after.extra)) == values
