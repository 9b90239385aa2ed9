"""`dsr classify`: classify messages from JSON Lines, explain one message, or score a corpus.

    dsr classify < messages.jsonl            one JSON object out per line in, same order
    dsr classify --explain < message.json    one message's evidence, for a person
    dsr classify --explain --subject "..." --body "..."
    dsr classify --heldout a.jsonl b.jsonl c.jsonl d.jsonl
                                             thresholds chosen on all files but one, figures
                                             on that one, for each file in turn
    dsr classify --score a.jsonl b.jsonl     per file: exact-set accuracy, requests ignored,
                                             auto-handled precision, escalation figures,
                                             per-label precision/recall, confusion table

--score reads the corpus record format (also what `dsr corpus export-corrections` writes).

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


def _score(paths: list[Path], *, details: bool) -> None:
    from dsr.intents import classify
    from dsr.intents.scoring import score

    for number, path in enumerate(paths):
        records = _read_labelled(path)
        result = score(records, classify)
        if number:
            typer.echo("")
        typer.echo(f"== {path}")
        for line in result.lines():
            typer.echo(line)
        typer.echo("")
        for line in result.label_lines():
            typer.echo(line)
        typer.echo("")
        for line in result.confusion_lines():
            typer.echo(line)
        typer.echo("")
        for line in result.reason_lines():
            typer.echo(line)
        if result.ignored_ids:
            typer.echo("requests ignored: " + ", ".join(result.ignored_ids))
        if details and result.mistakes:
            typer.echo("mistakes: " + ", ".join(result.mistakes))


def _read_labelled(path: Path) -> list[dict[str, Any]]:
    from dsr.intents.scoring import read_corpus

    try:
        records = read_corpus(path)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read corpus {path}: {exc}", exit_code=2) from exc
    problems = [f"line {i}: {p}" for i, r in enumerate(records, start=1)
                if (p := _check_labelled(r)) is not None]
    if problems:
        raise CliError(f"corpus {path}: " + "; ".join(problems[:5]), exit_code=2)
    return records


def _held_out(paths: list[Path]) -> None:
    from dsr.intents.classifier import default_classifier
    from dsr.intents.tuning import held_out

    if len(paths) < 2:
        raise CliError("--heldout needs at least two corpus files", exit_code=2)
    files = {path.name: _read_labelled(path) for path in paths}
    dev = paths[0].parent / "dev.jsonl"  # the shared dev corpus also trains the second signal
    extra = _read_labelled(dev) if dev.is_file() and dev.name not in files else []
    typer.echo(f"{'held out':<28} {'exact':>6} {'ignored':>8} {'auto prec':>10} {'auto n':>7} "
               f"{'esc rec':>8} {'false esc':>10} {'asked':>6} {'by model':>9}   "
               "thresholds (chosen on the other files)")
    for item in held_out(default_classifier(), files, extra=extra):
        s, t = item.scores, item.thresholds
        typer.echo(f"{item.name:<28} {s.exact:>6.3f} {s.ignored_share:>8.3f} "
                   f"{s.auto_handled_precision:>10.3f} {s.auto_handled:>7} {s.escalation_recall:>8.3f} "
                   f"{s.false_escalation:>10.3f} {s.asked_share:>6.3f} "
                   f"{s.asked_by_model_share:>9.3f}   "
                   f"strong={t.strong} routine_strong={t.routine_strong} max_labels={t.max_labels} "
                   f"max_words={t.max_words} "
                   f"(training auto prec {item.training.auto_handled_precision:.3f}; "
                   f"model trained on {item.model_examples})")
    typer.echo("esc rec / false esc: the DPO sees the message at once (escalation or triage queue); "
               "asked: share answered with a clarification question to the sender; by model: share asked "
               "because the learned second signal doubted a reading the rules would have answered")


def _check_labelled(record: Any) -> str | None:
    """Why a corpus record cannot be scored, or None."""
    problem = _check(record)
    if problem is not None:
        return problem
    labels = record.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
        return "'labels' must be a non-empty list of label names"
    if not isinstance(record.get("acceptable", []), list):
        return "'acceptable' must be a list"
    if record.get("escalate") not in (True, False, None):
        return "'escalate' must be true, false or null"
    return None


def classify_command(
    explain: bool = typer.Option(False, "--explain", help="Pretty-print one message's evidence."),
    score: list[Path] | None = typer.Option(
        None, "--score", help="Score labelled corpora (JSON Lines; repeat the option or list files)."),
    files: list[Path] | None = typer.Argument(None, help="With --score: further corpus files."),
    mistakes: bool = typer.Option(False, "--mistakes", help="With --score: list ids of every mistake."),
    heldout: bool = typer.Option(False, "--heldout", help="Tune on all files but one, score that one."),
    subject: str | None = typer.Option(None, "--subject", help="With --explain: the subject."),
    body: str | None = typer.Option(None, "--body", help="With --explain: the body."),
    channel: str = typer.Option("email", "--channel", help="With --explain: email or telegram."),
) -> None:
    """Classify data-subject messages (JSON Lines on stdin, one result per line on stdout)."""
    if heldout:
        _held_out([*(score or []), *(files or [])])
    elif score:
        _score([*score, *(files or [])], details=mistakes)
    elif files:
        raise CliError("file arguments are only read with --score or --heldout", exit_code=2)
    elif explain:
        _explain(subject, body, channel)
    else:
        classify_stream(sys.stdin, sys.stdout)


def register(app: typer.Typer) -> None:
    """Add `dsr classify` to `app`."""
    app.command("classify")(classify_command)
