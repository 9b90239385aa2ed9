"""Worked examples from docs/LEGAL.md 2.2 and issue 2, month ends, leap years and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dsr.deadlines import compute_deadline

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))


def at_noon(day: str) -> datetime:
    """Noon in Berlin on `day`, far from any midnight."""
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=ZoneInfo("Europe/Berlin"))


# LEGAL.md 2.2, first table: received, nominal one-month end, legal end in NI, legal end in SN.
ONE_MONTH_TABLE = [
    ("2026-03-05", "2026-04-05", "2026-04-07", "2026-04-07"),  # Easter Sunday, then Ostermontag
    ("2026-03-03", "2026-04-03", "2026-04-07", "2026-04-07"),  # Karfreitag .. Ostermontag block
    ("2026-01-31", "2026-02-28", "2026-03-02", "2026-03-02"),  # month-end clamp + weekend
    ("2028-01-31", "2028-02-29", "2028-02-29", "2028-02-29"),  # leap year
    ("2026-08-31", "2026-09-30", "2026-09-30", "2026-09-30"),  # clamp (EDPB Example 33 pattern)
    ("2026-10-18", "2026-11-18", "2026-11-18", "2026-11-19"),  # Buß- und Bettag only in SN
    ("2026-11-25", "2026-12-25", "2026-12-28", "2026-12-28"),  # 25 Dec, 26 Dec (Sat), Sunday
]

# LEGAL.md 2.2, second table, and the issue 15 cases: received, nominal end of the first month +
# 2 months, legal end in NI, legal end in SN.
EXTENSION_TABLE = [
    ("2026-01-31", "2026-04-28", "2026-04-28", "2026-04-28"),  # 28 Feb + 2; receipt + 3 would be 30 Apr
    # 29 Feb + 2 months is 29 Apr (a Saturday; LEGAL.md's table says 30 Apr, the legal end is the same)
    ("2028-01-31", "2028-04-29", "2028-05-02", "2028-05-02"),  # Saturday, Sunday, then 1 May
    ("2025-07-31", "2025-10-31", "2025-11-03", "2025-11-03"),  # Reformationstag in both Länder
    ("2026-01-29", "2026-04-28", "2026-04-28", "2026-04-28"),
    ("2027-05-31", "2027-08-30", "2027-08-30", "2027-08-30"),  # receipt + 3 would be 31 Aug
    ("2025-10-31", "2026-01-30", "2026-01-30", "2026-01-30"),  # 30 Nov (Sunday) + 2, not 1 Dec + 2
]


@pytest.mark.parametrize(("received", "nominal", "due_ni", "due_sn"), ONE_MONTH_TABLE)
def test_legal_md_one_month_table(received: str, nominal: str, due_ni: str, due_sn: str) -> None:
    for state, due in (("NI", due_ni), ("SN", due_sn)):
        deadline = compute_deadline(at_noon(received), state)
        assert deadline.received_local_date == date.fromisoformat(received)
        assert deadline.nominal_due == date.fromisoformat(nominal), state
        assert deadline.due == date.fromisoformat(due), state


@pytest.mark.parametrize(("received", "nominal", "due_ni", "due_sn"), EXTENSION_TABLE)
def test_legal_md_extension_table(received: str, nominal: str, due_ni: str, due_sn: str) -> None:
    for state, due in (("NI", due_ni), ("SN", due_sn)):
        deadline = compute_deadline(at_noon(received), state)
        assert deadline.extended_nominal == date.fromisoformat(nominal), state
        assert deadline.extended_due == date.fromisoformat(due), state


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        ("2026-03-05", "2026-04-05"),  # EDPB Example 32 (5 March -> 5 April)
        ("2026-08-31", "2026-09-30"),  # EDPB Example 33 (31 August -> 30 September)
        ("2026-09-03", "2026-10-03"),  # ICO: 3 Sep -> 3 Oct
        ("2026-03-31", "2026-04-30"),  # ICO: 31 Mar -> 30 Apr
    ],
)
def test_edpb_and_ico_nominal_examples(received: str, expected: str) -> None:
    assert compute_deadline(at_noon(received), "NI").nominal_due == date.fromisoformat(expected)


def test_issue_examples() -> None:
    january = compute_deadline(datetime(2026, 1, 31, 10, 0, tzinfo=CET), "NI")
    assert (january.due, january.extended_due) == (date(2026, 3, 2), date(2026, 4, 28))
    assert january.extended_nominal_from_receipt == date(2026, 4, 30)
    # The wrong method ("due + 2 months") would give 2 May; the engine must not.
    assert january.extended_due != date(2026, 5, 2)
    october = datetime(2026, 10, 18, 10, 0, tzinfo=CEST)
    assert compute_deadline(october, "NI").due == date(2026, 11, 18)
    assert compute_deadline(october, "SN").due == date(2026, 11, 19)


# received, state, nominal one-month end, legal due
MONTH_ENDS = [
    ("2026-01-28", "NI", "2026-02-28", "2026-03-02"),  # exists in February, still a Saturday
    ("2026-01-29", "NI", "2026-02-28", "2026-03-02"),
    ("2026-01-30", "NI", "2026-02-28", "2026-03-02"),
    ("2026-03-31", "NI", "2026-04-30", "2026-04-30"),
    ("2026-05-31", "NI", "2026-06-30", "2026-06-30"),
    ("2026-10-31", "NI", "2026-11-30", "2026-11-30"),
    ("2026-12-31", "NI", "2027-01-31", "2027-02-01"),  # across the year end, Sunday
    ("2026-11-30", "NI", "2026-12-30", "2026-12-30"),
    ("2026-02-28", "NI", "2026-03-28", "2026-03-30"),  # 28 Feb -> 28 Mar (not month end) -> Sat
    # leap years
    ("2027-01-31", "NI", "2027-02-28", "2027-03-01"),  # 2027 is no leap year; Sunday
    ("2028-01-30", "SN", "2028-02-29", "2028-02-29"),
    ("2028-02-29", "SN", "2028-03-29", "2028-03-29"),
    ("2024-01-31", "NI", "2024-02-29", "2024-02-29"),
    ("2100-01-31", "NI", "2100-02-28", "2100-03-01"),  # 2100 is no leap year (Gregorian rule)
]


@pytest.mark.parametrize(("received", "state", "nominal", "due"), MONTH_ENDS)
def test_month_ends_and_leap_years(received: str, state: str, nominal: str, due: str) -> None:
    deadline = compute_deadline(at_noon(received), state)
    assert deadline.nominal_due == date.fromisoformat(nominal)
    assert deadline.due == date.fromisoformat(due)


def test_extension_into_a_leap_february() -> None:
    deadline = compute_deadline(at_noon("2027-11-30"), "NI")
    assert deadline.extended_nominal == date(2028, 2, 29)
    no_leap = compute_deadline(at_noon("2026-11-30"), "NI")
    assert no_leap.extended_nominal == date(2027, 2, 28)
    assert no_leap.extended_due == date(2027, 3, 1)  # 28 Feb 2027 is a Sunday


# Receipt instant -> receipt date in Berlin.  Winter time is UTC+1, summer time UTC+2.
TIME_ZONES = [
    (datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "2026-02-01"),  # 00:30 in Berlin
    (datetime(2026, 1, 31, 22, 59, 59, tzinfo=UTC), "2026-01-31"),  # 23:59:59 in Berlin
    (datetime(2026, 1, 31, 23, 0, tzinfo=UTC), "2026-02-01"),  # midnight exactly
    (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), "2026-07-01"),  # summer time: 00:30
    (datetime(2026, 6, 30, 21, 59, 59, tzinfo=UTC), "2026-06-30"),  # summer time: 23:59:59
    (datetime(2026, 6, 30, 22, 30, tzinfo=CET), "2026-06-30"),  # offset given: 23:30 in Berlin
    (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "2026-03-29"),  # spring change: 03:30 CEST
    (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), "2026-03-29"),  # 00:30 CET on the change day
    (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), "2026-10-25"),  # 00:30 CEST before fall back
    (datetime(2026, 10, 25, 22, 59, tzinfo=UTC), "2026-10-25"),  # 23:59 CET after fall back
    (datetime(2026, 3, 1, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo")), "2026-03-01"),  # 00:00 Berlin
    (datetime(2026, 3, 1, 7, 59, tzinfo=ZoneInfo("Asia/Tokyo")), "2026-02-28"),  # 23:59 Berlin
    (datetime(2026, 2, 28, 19, 0, tzinfo=ZoneInfo("America/New_York")), "2026-03-01"),  # 01:00
    (datetime(2026, 2, 28, 17, 59, tzinfo=ZoneInfo("America/New_York")), "2026-02-28"),
]


@pytest.mark.parametrize(("received_at", "local_date"), TIME_ZONES)
def test_receipt_date_is_the_berlin_calendar_date(received_at: datetime, local_date: str) -> None:
    assert compute_deadline(received_at, "NI").received_local_date == date.fromisoformat(local_date)


def test_midnight_in_berlin_changes_the_dates() -> None:
    """23:30 UTC on 31 Jan is 1 Feb in Berlin: 1 Mar (Sunday) -> 2 Mar; extension 1 May -> 4 May."""
    late = compute_deadline(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "NI")
    assert late.nominal_due == date(2026, 3, 1)
    assert late.due == date(2026, 3, 2)
    assert late.extended_nominal == date(2026, 5, 1)  # Tag der Arbeit, a Friday
    assert late.extended_due == date(2026, 5, 4)
    early = compute_deadline(datetime(2026, 1, 31, 22, 30, tzinfo=UTC), "NI")
    assert early.extended_due == date(2026, 4, 28)
