"""`dsr tickets list/show` as subprocesses against a temporary SQLite database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dsr.intents.rights import Right
from dsr.store.db import make_engine, migrate, session_factory
from dsr.store.models import Message, TicketState
from dsr.store.tickets.services import extend, open_ticket, transition
from tests.store.cli_helpers import run_dsr

SECRET_BODY = "GEHEIMER-NACHRICHTENTEXT"


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """Tickets relative to the real clock (the CLI uses it): overdue, due soon, later, closed."""
    url = f"sqlite:///{tmp_path}/dsr.sqlite3"
    engine = make_engine(url)
    migrate(engine)
    now = datetime.now(UTC)
    refs: dict[str, str] = {}
    with session_factory(engine).begin() as s:
        def ticket(name: str, days_ago: int, rights: list[Right], controller: str = "kmb2") -> None:
            received = now - timedelta(days=days_ago)
            reasons = ["complaint"] if name == "soon" else []
            t = open_ticket(s, controller=controller, land="NI", channel="email", received_at=received,
                            rights=rights, now=received, escalation_reasons=reasons)
            s.add(Message(controller=controller, channel="email", direction="in", dedupe_key=f"<{name}@x>",
                          sender="person@example.org", body_text=SECRET_BODY, received_at=received,
                          ticket_id=t.id))
            refs[name] = t.reference
            if name == "done":
                transition(s, t, TicketState.ANSWERED, actor="dpo", reason="erledigt", now=now,
                           outcome="granted")
            if name == "later":
                extend(s, t, land="NI", actor="dpo", reason="viele Systeme", now=now)

        ticket("overdue", 45, [Right.ACCESS])
        ticket("soon", 27, [Right.ERASURE, Right.ACCESS])
        ticket("later", 0, [Right.PORTABILITY], controller="komsa")
        ticket("done", 50, [Right.MARKETING_OBJECTION])
    engine.dispose()
    return url, refs


def test_list_filters_and_json(tmp_path: Path, seeded: tuple[str, dict[str, str]]) -> None:
    url, refs = seeded

    def listed(*args: str) -> list[str]:
        result = run_dsr("tickets", "list", "--json", *args, db_url=url, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return [row["reference"] for row in json.loads(result.stdout)]

    assert listed() == [refs["overdue"], refs["soon"], refs["later"]]
    assert listed("--overdue") == [refs["overdue"]]
    assert listed("--due-within", "7d") == [refs["overdue"], refs["soon"]]
    assert listed("--due-within", "1w", "--controller", "komsa") == []
    assert listed("--controller", "komsa") == [refs["later"]]
    assert listed("--all")[-1] == refs["done"]
    rows = json.loads(run_dsr("tickets", "list", "--json", db_url=url, cwd=tmp_path).stdout)
    assert rows[0]["overdue"] is True and rows[0]["days_left"] < 0
    assert rows[1]["escalation_reasons"] == ["complaint"] and rows[2]["extended"] is True


def test_table_output_has_no_bodies(tmp_path: Path, seeded: tuple[str, dict[str, str]]) -> None:
    url, refs = seeded
    result = run_dsr("tickets", "list", "--all", db_url=url, cwd=tmp_path)
    assert result.returncode == 0
    assert SECRET_BODY not in result.stdout and "person@example.org" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Aktenzeichen") and len(lines) == 5
    assert refs["overdue"] in lines[1] and "!" in lines[1] and "Auskunft" in lines[1]


def test_show(tmp_path: Path, seeded: tuple[str, dict[str, str]]) -> None:
    url, refs = seeded
    result = run_dsr("tickets", "show", refs["later"].lower(), db_url=url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"{refs['later']}  (komsa, email)")
    for expected in ("Status:        Frist verlängert [extended]", "Rechte:        Datenübertragbarkeit",
                     "Verlängert:", "Grund: viele Systeme", "Fristberechnung:", "Eingang ",
                     "Anfrage angelegt [ticket_opened]", "Frist verlängert [deadline_extended]",
                     "Nachrichten:   1"):
        assert expected in out, expected
    assert SECRET_BODY not in out
    # Codes only in brackets beside their German label (like the status line), never on their own.
    assert not re.findall(r"(?<!\[)\b[a-z]+(?:_[a-z]+)+\b(?!\])", out), out
    data = json.loads(run_dsr("tickets", "show", refs["done"], "--json", db_url=url, cwd=tmp_path).stdout)
    assert data["outcome"] == "granted" and data["state"] == "answered"
    assert data["due_trail"].startswith("Wirksam mit Eingang")
    assert [e["action"] for e in data["audit"]] == ["ticket_opened", "state_changed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tickets", "show", "DSR-2020-000001"), "error: no ticket 'DSR-2020-000001'"),
        (("tickets", "list", "--due-within", "soon"), "error: --due-within: expected days such as 7d or 2w"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_dsr(*args, db_url=f"sqlite:///{tmp_path}/x.sqlite3", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
