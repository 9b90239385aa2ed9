"""`dsr classify`: classify messages from JSON Lines, explain one message, or score a corpus.

    dsr classify < messages.jsonl            one JSON object out per line in, same order
    dsr classify --explain < message.json    one message's evidence, for a person
    dsr classify --explain --subject "..." --body "..."
    dsr classify --score corpus.jsonl        exact-set accuracy, macro-F1, escalation figures

A malformed input line yields {"line": n, "error": "..."} and processing continues, so one bad
record never stops a batch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import typer

from dsr.cli.common import CliError


def _check(record: Any) -> str | None:
    """Why a decoded input record cannot be classified, or None."""
    if not isinstance(record, dict):
        return "expected a JSON object"
    for key in ("subject", "body", "channel"):
        if key in record and not isinstance(record[key], str):
            return f"'{key}' must be a string"
    if "body" not in record and "subject" not in record:
        return "needs 'body' (and optionally 'subject', 'channel')"
    if "id" in record and not isinstance(record["id"], str | int):
        return "'id' must be a string or a number"
    return None


def classify_stream(source: TextIO, sink: TextIO) -> int:
    """Classify JSON Lines from `source` into `sink`; returns the number of malformed lines."""
    from dsr.intents import classify

    errors = 0
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problem: str | None = f"invalid JSON: {exc.msg} (column {exc.colno})"
            record = None
        else:
            problem = _check(record)
        if problem is not None:
            errors += 1
            out: dict[str, Any] = {"line": number, "error": problem}
            if isinstance(record, dict) and isinstance(record.get("id"), str | int):
                out = {"id": record["id"], **out}
        else:
            result = classify(
                record.get("subject", ""), record.get("body", ""), record.get("channel", "email")
            )
            out = {"id": record["id"]} if "id" in record else {}
            out.update(result.to_dict())
        sink.write(json.dumps(out, ensure_ascii=False) + "\n")
        sink.flush()
    return errors


def _explain(subject: str | None, body: str | None, channel: str) -> None:
    from dsr.intents import classify
    from dsr.intents.explain import explain

    if subject is None and body is None:
        raw = sys.stdin.read()
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CliError(f"--explain reads one JSON object on stdin: {exc.msg}", exit_code=2) from exc
        problem = _check(record)
        if problem is not None:
            raise CliError(f"--explain: {problem}", exit_code=2)
        subject, body = record.get("subject", ""), record.get("body", "")
        channel = record.get("channel", channel)
    typer.echo(explain(classify(subject or "", body or "", channel)))


def _score(path: Path) -> None:
    from dsr.intents import classify
    from dsr.intents.scoring import read_corpus, score

    try:
        records = read_corpus(path)
    except (OSError, json.JSONDecodeError) as exc:
        raise CliError(f"cannot read corpus {path}: {exc}", exit_code=2) from exc
    result = score(records, classify)
    for line in result.lines():
        typer.echo(line)
    if result.mistakes:
        typer.echo("mistakes: " + ", ".join(result.mistakes))


def classify_command(
    explain: bool = typer.Option(False, "--explain", help="Pretty-print one message's evidence."),
    score: Path | None = typer.Option(None, "--score", help="Score a labelled corpus (JSON Lines)."),
    subject: str | None = typer.Option(None, "--subject", help="With --explain: the subject."),
    body: str | None = typer.Option(None, "--body", help="With --explain: the body."),
    channel: str = typer.Option("email", "--channel", help="With --explain: email or telegram."),
) -> None:
    """Classify data-subject messages (JSON Lines on stdin, one result per line on stdout)."""
    if score is not None:
        _score(score)
    elif explain:
        _explain(subject, body, channel)
    else:
        classify_stream(sys.stdin, sys.stdout)


def register(app: typer.Typer) -> None:
    """Add `dsr classify` to `app`."""
    app.command("classify")(classify_command)
