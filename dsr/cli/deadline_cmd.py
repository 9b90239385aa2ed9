"""`dsr deadline`: the statutory dates of a request, one-off or as a JSON-lines filter.

One-off:  dsr deadline --received 2026-01-31T10:00:00+01:00 --state NI
Batch:    dsr deadline --jsonl < receipts.jsonl   (one {"received": ..., "state": ...} per line)

In batch mode a bad line yields {"error": "..."} in its place (keeping its "id") and the run goes
on, so output line N always answers input line N.  Blank input lines are skipped.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, TextIO

import typer

from dsr.cli.common import CliError
from dsr.deadlines import (
    DEFAULT_INTERNAL_TARGET_WORKING_DAYS,
    DeadlineError,
    compute_deadline,
)

_EXAMPLE = "2026-01-31T10:00:00+01:00"
_FIELDS = frozenset({"id", "received", "state", "paused_days", "internal_target_working_days"})


def _parse_received(value: Any) -> datetime:
    if not isinstance(value, str):
        raise DeadlineError(f"received must be an ISO-8601 string such as {_EXAMPLE}, got {value!r}")
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise DeadlineError(f"received {value!r} is not an ISO-8601 timestamp such as {_EXAMPLE}") from None


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DeadlineError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def deadline_result(
    received: Any,
    state: Any,
    *,
    paused_days: Any = 0,
    internal_target_working_days: Any = DEFAULT_INTERNAL_TARGET_WORKING_DAYS,
) -> dict[str, Any]:
    """The JSON object printed for one receipt; DeadlineError for bad input."""
    if not isinstance(state, str):
        raise DeadlineError(f"state must be a Land code such as 'NI', got {state!r}")
    received_at = _parse_received(received)
    deadline = compute_deadline(
        received_at,
        state,
        paused_days=_non_negative_int(paused_days, "paused_days"),
        internal_target_working_days=_non_negative_int(
            internal_target_working_days, "internal_target_working_days"
        ),
    )
    return {"received": received_at.isoformat(), **deadline.as_dict()}


def _answer_line(line: str, *, internal_target_working_days: int) -> dict[str, Any]:
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"invalid JSON: {exc.msg} (column {exc.colno})"}
    if not isinstance(request, dict):
        return {"error": 'expected a JSON object like {"received": "...", "state": "NI"}'}
    head: dict[str, Any] = {"id": request["id"]} if "id" in request else {}
    unknown = sorted(set(request) - _FIELDS)
    try:
        if unknown:
            raise DeadlineError(f"unknown field(s): {', '.join(unknown)}")
        for field in ("received", "state"):
            if field not in request:
                raise DeadlineError(f"missing field {field!r}")
        return head | deadline_result(
            request["received"],
            request["state"],
            paused_days=request.get("paused_days", 0),
            internal_target_working_days=request.get(
                "internal_target_working_days", internal_target_working_days
            ),
        )
    except DeadlineError as exc:
        return head | {"error": str(exc)}


def run_jsonl(source: TextIO, sink: TextIO, *, internal_target_working_days: int) -> int:
    """Answer every non-blank line of `source` on `sink`, in order; returns the number of errors."""
    errors = 0
    for line in source:
        if not line.strip():
            continue
        answer = _answer_line(line, internal_target_working_days=internal_target_working_days)
        errors += "error" in answer
        sink.write(json.dumps(answer, ensure_ascii=False) + "\n")
        sink.flush()
    return errors


def deadline(
    received: str | None = typer.Option(
        None, "--received", help=f"Receipt time, ISO-8601 with offset, e.g. {_EXAMPLE}."
    ),
    state: str | None = typer.Option(None, "--state", help="Land of the controller's seat, e.g. NI or SN."),
    jsonl: bool = typer.Option(
        False, "--jsonl", help='Read {"received": ..., "state": ...} objects from stdin, one per line.'
    ),
    paused_days: int = typer.Option(
        0, "--paused-days", min=0, help="Days of a DPO-approved identity pause (EDPB § 159)."
    ),
    internal_target_days: int = typer.Option(
        DEFAULT_INTERNAL_TARGET_WORKING_DAYS,
        "--internal-target-days",
        min=0,
        help="Internal target: this many working days before the legal due date.",
    ),
) -> None:
    """Compute the Art. 12(3) GDPR due date, extension date and internal target (Reg. 1182/71)."""
    if jsonl:
        if received is not None or state is not None:
            raise CliError("--jsonl reads receipts from stdin; do not combine it with --received/--state", 2)
        run_jsonl(sys.stdin, sys.stdout, internal_target_working_days=internal_target_days)
        return
    if received is None or state is None:
        raise CliError("give --received and --state (or --jsonl to read JSON lines from stdin)", 2)
    try:
        result = deadline_result(
            received, state, paused_days=paused_days, internal_target_working_days=internal_target_days
        )
    except DeadlineError as exc:
        raise CliError(str(exc), 2) from None
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


def register(app: typer.Typer) -> None:
    """Add `dsr deadline` to `app`."""
    app.command("deadline")(deadline)
