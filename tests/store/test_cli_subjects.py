"""`dsr subjects import/export`, run as the operator runs them (subprocess, temporary SQLite)."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dsr.store.db import make_engine, session_factory
from dsr.store.models import AuditEvent, DataSubject, SubjectEmail
from tests.store.cli_helpers import run_dsr

GOOD_AND_BAD = """\
email;name;customer_number;postal_code;phone;birth_date;telegram_user_id;alt_emails;tarif
Max.Muster@Example.org;Max Muster;K-1;38100;+49 531 123456;1980-02-29;7412345678;max@privat.example;Basis
no-at-sign;Eva;K-2;38100;;;;;
erika@example.org;;K-3;38100;;;;;
erika@example.org;Erika Mustermann;K-3;ABC!;;;;;
jan@example.org;Jan;K-4;01067;12;;;;
anna@example.org;Anna;K-5;01067;;31.12.1990;;;
max.muster@example.org;Doppelt;K-6;38100;;;;;
otto@example.org;Otto;K-7;01067;;;-5;;
"ruth@example.org";"Ruth
Zeilenumbruch";K-8;01067;;;;;
zu;viele;Felder;;;;;;;;;;
paul@example.org;Paul;K-9;01067;;;;max@privat.example;
lisa@example.org;Lisa Lustig;;;;;;;Premium
"""

EXPECTED_REJECTIONS = [
    ("line 3:", "email is not a valid e-mail address"),
    ("line 4:", "name is empty"),
    ("line 5:", "postal_code 'ABC!' is not a postal code"),
    ("line 6:", "phone must be digits"),
    ("line 7:", "birth_date '31.12.1990' is not a date in the form YYYY-MM-DD"),
    ("line 8:", "e-mail address already used on line 2"),
    ("line 9:", "telegram_user_id '-5' is not a positive number"),
    ("line 10:", "name contains a line break or control character"),
    ("line 12:", "13 fields, the header has 9"),
    ("line 13:", "e-mail address already used on line 2"),
]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/dsr.sqlite3"


def _count(db_url: str, model: type[DataSubject] | type[SubjectEmail]) -> int:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return s.scalar(select(func.count()).select_from(model)) or 0
    finally:
        engine.dispose()


def test_bad_rows_are_reported_and_the_rest_imported(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "kunden.csv"
    path.write_text(GOOD_AND_BAD, encoding="utf-8")
    first = run_dsr("subjects", "import", str(path), db_url=db_url, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    problems = [line for line in first.stderr.splitlines() if line.startswith("line ")]
    assert len(problems) == len(EXPECTED_REJECTIONS), first.stderr
    for line, (prefix, reason) in zip(problems, EXPECTED_REJECTIONS, strict=True):
        assert line.startswith(prefix) and reason in line, line
    assert first.stderr.splitlines()[-1] == "12 rows: 2 inserted, 0 updated, 0 unchanged, 10 rejected"
    assert "Traceback" not in first.stderr

    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        max_ = s.scalars(select(DataSubject).where(DataSubject.email == "max.muster@example.org")).one()
        assert (max_.name, max_.customer_number, max_.postal_code, max_.phone) == (
            "Max Muster", "K-1", "38100", "+49 531 123456")
        assert str(max_.birth_date) == "1980-02-29" and max_.telegram_user_id == 7412345678
        assert [e.email for e in max_.emails] == ["max@privat.example"]
        assert max_.extra == {"tarif": "Basis"} and max_.controller == "kmb2"
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "subjects_imported")) == 1
    engine.dispose()

    again = run_dsr("subjects", "import", str(path), db_url=db_url, cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.splitlines()[-1] == "12 rows: 0 inserted, 0 updated, 2 unchanged, 10 rejected"
    assert _count(db_url, DataSubject) == 2


def test_update_clears_and_changes(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "a.csv"
    path.write_text("email,name,customer_number,postal_code,phone,alt_emails\n"
                    "a@example.org,A,K1,38100,0531 1234,a2@example.org;a3@example.org\n", encoding="utf-8")
    assert run_dsr("subjects", "import", str(path), db_url=db_url, cwd=tmp_path).returncode == 0
    path.write_text("email,name,customer_number,postal_code,phone,alt_emails\n"
                    "A@Example.org,A Neu,,38100,0531 1234,a3@example.org\n", encoding="utf-8")
    result = run_dsr("subjects", "import", str(path), db_url=db_url, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.strip().endswith("0 inserted, 1 updated, 0 unchanged, 0 rejected")
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        subject = s.scalars(select(DataSubject)).one()
        assert (subject.name, subject.customer_number) == ("A Neu", None)
        assert [e.email for e in subject.emails] == ["a3@example.org"]
    engine.dispose()


def test_controller_option_and_conflicts_between_controllers(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "a.csv"
    path.write_text("email,name,customer_number,postal_code,phone\na@example.org,A,1,01067,\n",
                    encoding="utf-8")
    assert run_dsr("subjects", "import", str(path), "--controller", "komsa", db_url=db_url,
                   cwd=tmp_path).returncode == 0
    assert run_dsr("subjects", "import", str(path), db_url=db_url, cwd=tmp_path).returncode == 0
    assert _count(db_url, DataSubject) == 2  # same address, two controllers
    unknown = run_dsr("subjects", "import", str(path), "--controller", "acme", db_url=db_url, cwd=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "error: --controller: 'acme' is not configured (DSR_CONTROLLER has kmb2, komsa)")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("email,name\nx@example.org,X\n", "header row lacks column(s): customer_number, postal_code, phone"),
        ("email,name,customer_number,postal_code,phone,name\n", "repeated column names"),
    ],
)
def test_unusable_files(tmp_path: Path, db_url: str, content: str, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(content, encoding="utf-8")
    result = run_dsr("subjects", "import", str(path), db_url=db_url, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "nothing imported" in result.stderr


def test_wrong_encoding_is_one_line(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("email;name;customer_number;postal_code;phone\nj@example.org;Jürgen;1;38100;\n"
                     .encode("cp1252"))
    result = run_dsr("subjects", "import", str(path), db_url=db_url, cwd=tmp_path)
    assert result.returncode == 2 and "--encoding cp1252" in result.stderr
    fixed = run_dsr("subjects", "import", str(path), "--encoding", "cp1252", db_url=db_url, cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr


def test_export_round_trips(tmp_path: Path, db_url: str) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD_AND_BAD, encoding="utf-8")
    run_dsr("subjects", "import", str(source), db_url=db_url, cwd=tmp_path)
    out = tmp_path / "out.csv"
    exported = run_dsr("subjects", "export", "--out", str(out), db_url=db_url, cwd=tmp_path)
    assert exported.returncode == 0 and exported.stderr.strip() == "2 subjects exported"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["email"] for r in rows] == ["max.muster@example.org", "lisa@example.org"]
    assert rows[0]["alt_emails"] == "max@privat.example" and rows[1]["tarif"] == "Premium"
    back = run_dsr("subjects", "import", str(out), db_url=db_url, cwd=tmp_path)
    assert back.returncode == 0
    assert back.stderr.splitlines()[-1] == "2 rows: 0 inserted, 0 updated, 2 unchanged, 0 rejected"
    stdout = run_dsr("subjects", "export", "--controller", "komsa", db_url=db_url, cwd=tmp_path)
    assert stdout.returncode == 0 and stdout.stdout.startswith("email,name,customer_number")
    assert stdout.stdout.count("\n") == 1  # header only: komsa has no subjects


@pytest.mark.slow
def test_large_import_with_progress(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name", "customer_number", "postal_code", "phone", "telegram_user_id",
                         "alt_emails", "segment"])
        for i in range(20_000):
            writer.writerow([f"person{i}@example.org", f"Person {i}", f"K-{i:06d}", str(38100 + i % 500),
                             f"+49 531 {100000 + i}", str(5_000_000_000 + i) if i % 3 == 0 else "",
                             f"p{i}@example.net" if i % 4 == 0 else "", "AB"[i % 2]])
    result = run_dsr("subjects", "import", str(path), db_url=db_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    progress = [line for line in result.stderr.splitlines() if line.startswith("... ")]
    assert len(progress) == 20 and progress[-1] == "... 20000 rows processed"
    assert result.stderr.splitlines()[-1] == "20000 rows: 20000 inserted, 0 updated, 0 unchanged, 0 rejected"
    assert _count(db_url, DataSubject) == 20_000 and _count(db_url, SubjectEmail) == 5_000
