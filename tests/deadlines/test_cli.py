"""`dsr deadline` end to end, through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DSR = str(Path(sys.executable).with_name("dsr"))


def dsr(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DSR, "deadline", *args], input=stdin, capture_output=True, text=True, encoding="utf-8", timeout=60
    )


def test_single_receipt_prints_json() -> None:
    result = dsr("--received", "2026-01-31T10:00:00+01:00", "--state", "NI")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["received_local_date"] == "2026-01-31"
    assert data["nominal_due"] == "2026-02-28"
    assert data["due"] == "2026-03-02"
    assert data["extended_due"] == "2026-04-28"
    assert data["extended_nominal_from_receipt"] == "2026-04-30"
    assert data["internal_target"] == "2026-02-16"
    assert data["trail"] == "Eingang 31.01.2026 → 28.02.2026 (kein 31.02.) → Samstag → 02.03.2026"
    assert data["extended_trail"] == (
        "Eingang 31.01.2026 + 3 Monate = 30.04.2026 (spätere Lesart, nicht verwendet); "
        "Ende des ersten Monats 28.02.2026 + 2 Monate → 28.04.2026"
    )


# Issue 15: "two further months" run from the nominal end of the first month.
@pytest.mark.parametrize(
    ("received", "state", "due", "extended_due"),
    [
        ("2026-01-29T10:00:00+01:00", "NI", "2026-03-02", "2026-04-28"),
        ("2027-05-31T10:00:00+02:00", "NI", "2027-06-30", "2027-08-30"),
        ("2025-10-31T10:00:00+01:00", "SN", "2025-12-01", "2026-01-30"),
    ],
)
def test_extension_month_ends(received: str, state: str, due: str, extended_due: str) -> None:
    data = json.loads(dsr("--received", received, "--state", state).stdout)
    assert (data["due"], data["extended_due"]) == (due, extended_due)
    # Both readings are in the trail: the later receipt + 3 months one is named, not used.
    assert "+ 3 Monate = " in data["extended_trail"]
    assert data["extended_trail"].endswith(f"{extended_due[8:]}.{extended_due[5:7]}.{extended_due[:4]}")


def test_single_receipt_options() -> None:
    result = dsr(
        "--received", "2026-10-18T09:00:00+02:00", "--state", "sn", "--paused-days", "3",
        "--internal-target-days", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["state"], data["due"], data["internal_target"]) == ("SN", "2026-11-23", "2026-11-23")
    assert data["paused_days"] == 3


def test_utc_receipt_late_at_night_is_the_next_day_in_berlin() -> None:
    data = json.loads(dsr("--received", "2026-01-31T23:30:00Z", "--state", "NI").stdout)
    assert data["received_local_date"] == "2026-02-01"
    assert data["extended_due"] == "2026-05-04"


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_naive_timestamp_is_one_error_line_and_exit_2() -> None:
    assert_one_line_error(dsr("--received", "2026-01-31T10:00:00", "--state", "NI"), "no time zone")


def test_unknown_state_is_one_error_line_and_exit_2() -> None:
    assert_one_line_error(dsr("--received", "2026-01-31T10:00:00Z", "--state", "XX"), "unknown Land 'XX'")


def test_garbage_timestamp_is_one_error_line_and_exit_2() -> None:
    assert_one_line_error(dsr("--received", "yesterday", "--state", "NI"), "not an ISO-8601 timestamp")


def test_missing_arguments_are_one_error_line_and_exit_2() -> None:
    assert_one_line_error(dsr("--state", "NI"), "--received")


def test_jsonl_answers_every_line_in_order_and_survives_bad_lines() -> None:
    lines = [
        {"id": 1, "received": "2026-01-31T10:00:00+01:00", "state": "NI"},
        "this is not json",
        {"id": "two", "received": "2026-10-18T12:00:00", "state": "NI"},  # naive
        {"id": 3, "received": "2026-10-18T12:00:00+02:00", "state": "Bayern"},  # unknown state
        {"received": "2026-10-18T12:00:00+02:00", "state": "SN"},
        [1, 2],
        {"id": 7, "state": "NI"},  # missing received
        {"id": 8, "received": "2026-10-18T12:00:00+02:00", "state": "NI", "paused_days": -2},
        {"id": 9, "received": "2026-10-18T12:00:00+02:00", "state": "NI", "extra": True},
        {"id": 10, "received": "2026-10-18T12:00:00+02:00", "state": "NI"},
    ]
    stdin = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    stdin += "\n   \n"  # blank lines are skipped
    result = dsr("--jsonl", stdin=stdin)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(lines)
    first, bad_json, naive, unknown, saxony, array, missing, negative, extra, last = answers
    assert (first["id"], first["due"], first["extended_due"]) == (1, "2026-03-02", "2026-04-28")
    assert set(bad_json) == {"error"} and "invalid JSON" in bad_json["error"]
    assert naive["id"] == "two" and "no time zone" in naive["error"]
    assert unknown["id"] == 3 and "unknown Land 'Bayern'" in unknown["error"]
    assert "id" not in saxony and saxony["due"] == "2026-11-19"
    assert set(array) == {"error"}
    assert missing == {"id": 7, "error": "missing field 'received'"}
    assert negative["id"] == 8 and "paused_days" in negative["error"]
    assert extra["id"] == 9 and "extra" in extra["error"]
    assert last["id"] == 10 and last["due"] == "2026-11-18" and "error" not in last


def test_jsonl_streams_many_lines() -> None:
    stdin = "".join(
        json.dumps({"id": n, "received": f"2026-{month:02d}-15T08:00:00+01:00", "state": state}) + "\n"
        for n, (month, state) in enumerate((m, s) for m in range(1, 13) for s in ("NI", "SN", "BY"))
    )
    result = dsr("--jsonl", stdin=stdin)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in answers] == list(range(36))
    assert all("error" not in a for a in answers)


def test_jsonl_cannot_be_combined_with_received() -> None:
    assert_one_line_error(dsr("--jsonl", "--received", "2026-01-31T10:00:00Z", stdin=""), "--jsonl")
