"""`dsr corpus export-corrections`: the DPO's decisions as corpus records `dsr classify --score` reads."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from starlette.testclient import TestClient

from dsr.intents.rights import Right
from dsr.store.models import Ticket
from dsr.store.tickets.services import correct_rights
from tests.store.cli_helpers import run_dsr
from tests.support.console import ACCESS_BODY, NOW, World


def _post(client: TestClient, url: str, data: dict[str, object]) -> None:
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303, response.text[:300]


def test_corrections_and_converted_messages_are_exported_and_scored(world: World, tmp_path: Path) -> None:
    client = world.client("dpo")
    _post(client, f"/tickets/{world.email_ticket}/rights", {"rights": ["rectification"], "reason": "falsch"})
    _post(client, f"/tickets/{world.email_ticket}/rights", {"rights": ["access"], "reason": "nur Auskunft"})
    _post(client, f"/ignored/{world.ignored_id}/ticket", {"rights": ["erasure"], "reason": "doch Löschung"})
    with world.sessions.begin() as s:  # the chat person's own confirmation is no DPO correction
        chat = s.get(Ticket, world.chat_ticket)
        assert chat is not None
        correct_rights(s, chat, [Right.ERASURE], actor="system", reason="im Chat bestätigt", now=NOW)
    # The DPO finds the chat message was no request at all: a negative example.
    _post(client, f"/tickets/{world.chat_ticket}/close", {"outcome": "not_a_request", "reason": "Gruß"})
    out = tmp_path / "corrections.jsonl"
    db_url = f"sqlite:///{tmp_path / 'dsr.sqlite3'}"
    done = run_dsr("corpus", "export-corrections", "--out", str(out), db_url=db_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 labelled record(s)" in done.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # message texts: owner only
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    corrected, chat, converted = records  # in ticket order
    assert (chat["labels"], chat["channel"], chat["subject"]) == (["other"], "telegram", "")
    assert chat["body"] == "was habt ihr über mich gespeichert" and "keine Betroffenenanfrage" in chat["note"]
    assert corrected["id"] == f"kmb2-{world.email_reference}"
    assert (corrected["labels"], corrected["channel"]) == (["access"], "email")  # the last decision wins
    assert corrected["body"] == ACCESS_BODY
    assert corrected["subject"] == "Auskunft und Löschung"
    assert "access, erasure" in corrected["note"]  # what the classifier had said
    assert converted["labels"] == ["erasure"]
    assert converted["body"] == "Ich habe die Rechnung eines anderen Kunden bekommen."
    assert "invoice" in converted["note"]
    for record in records:
        assert set(record) == {"id", "channel", "subject", "body", "labels", "acceptable", "escalate", "lang",
                               "note"}
        # Nothing about the person beyond the message text: no sender, name or customer number.
        rest = json.dumps({k: v for k, v in record.items() if k not in ("subject", "body")})
        assert "@" not in rest and "Schmidt" not in rest and "K-1001" not in rest

    scored = run_dsr("classify", "--score", str(out), db_url=db_url, cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "corrections.jsonl" in scored.stdout


def test_since_and_bad_dates(world: World, tmp_path: Path) -> None:
    client = world.client("dpo")
    _post(client, f"/tickets/{world.email_ticket}/rights", {"rights": ["access"], "reason": "nur Auskunft"})
    db_url = f"sqlite:///{tmp_path / 'dsr.sqlite3'}"
    out = tmp_path / "later.jsonl"
    done = run_dsr("corpus", "export-corrections", "--out", str(out), "--since", "2026-03-03", db_url=db_url,
                   cwd=tmp_path)
    assert done.returncode == 0 and out.read_text(encoding="utf-8") == ""  # the correction was on 2 March
    bad = run_dsr("corpus", "export-corrections", "--out", str(out), "--since", "3.3.2026", db_url=db_url,
                  cwd=tmp_path)
    assert bad.returncode == 2 and "--since" in bad.stderr
