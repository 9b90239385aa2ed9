"""`dsr classify`: JSON Lines in and out, errors per line, --explain and --score."""

from __future__ import annotations

import io
import json
from pathlib import Path

from typer.testing import CliRunner

from dsr.cli import app
from dsr.cli.classify_cmd import classify_stream

HARD = Path(__file__).with_name("corpus_hard.jsonl")


def test_stream_keeps_order_ids_and_survives_bad_lines() -> None:
    source = io.StringIO(
        '{"id": "a", "channel": "telegram", "subject": "", "body": "löschen"}\n'
        "not json\n"
        '{"id": 7, "body": 5}\n'
        "\n"
        '{"channel": "email", "subject": "Art. 15 DSGVO", "body": ""}\n'
    )
    sink = io.StringIO()
    assert classify_stream(source, sink) == 2
    rows = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert len(rows) == 4
    assert rows[0]["id"] == "a" and rows[0]["labels"] == ["erasure"]
    assert rows[0]["escalate"] is False and 0 <= rows[0]["confidence"] <= 1
    assert isinstance(rows[0]["reasons"], list) and rows[0]["evidence"]
    assert rows[1] == {"line": 2, "error": rows[1]["error"]} and "invalid JSON" in rows[1]["error"]
    assert rows[2]["id"] == 7 and "'body' must be a string" in rows[2]["error"]
    assert "id" not in rows[3] and rows[3]["labels"] == ["access"]


def test_cli_classify_reads_stdin() -> None:
    result = CliRunner().invoke(app, ["classify"], input='{"id": "x", "channel": "email", "body": "STOP"}\n')
    assert result.exit_code == 0
    assert json.loads(result.stdout)["labels"] == ["marketing_objection"]


def test_cli_explain_from_options_and_stdin() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["classify", "--explain", "--subject", "", "--body", "Bitte NICHT löschen"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Recht: kein Betroffenenrecht")
    assert "ignored: negation" in result.stdout
    message = '{"channel": "email", "body": "Auskunft bitte"}'
    result = runner.invoke(app, ["classify", "--explain"], input=message)
    assert result.exit_code == 0
    assert "Recht auf Auskunft (Art. 15 DSGVO)" in result.stdout
    assert "access.auskunft_noun" in result.stdout


def test_cli_score_prints_all_figures() -> None:
    result = CliRunner().invoke(app, ["classify", "--score", str(HARD)])
    assert result.exit_code == 0
    for name in ("exact-set accuracy", "macro-F1", "escalation recall", "false-escalation rate",
                 "precision without a human", "escalation reason"):
        assert name in result.stdout
