"""Extension, may_extend, identity pause, internal target, trails and input errors."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dsr.deadlines import (
    Deadline,
    DeadlineError,
    add_months,
    compute_deadline,
    is_working_day,
    may_extend,
    working_days_before,
)

CET = timezone(timedelta(hours=1))


def received(day: str, state: str = "NI", **kwargs: int) -> Deadline:
    at = datetime.fromisoformat(day).replace(hour=12, tzinfo=ZoneInfo("Europe/Berlin"))
    return compute_deadline(at, state, **kwargs)


# --- trails ---------------------------------------------------------------------------------

TRAILS = [
    ("2026-01-31", "NI", "Eingang 31.01.2026 → 28.02.2026 (kein 31.02.) → Samstag → 02.03.2026"),
    (
        "2026-03-05",
        "NI",
        "Eingang 05.03.2026 → 05.04.2026 → Sonntag → Ostermontag (Feiertag in NI) → 07.04.2026",
    ),
    (
        "2026-03-03",
        "SN",
        "Eingang 03.03.2026 → 03.04.2026 → Karfreitag (Feiertag in SN) → Ostermontag (Feiertag in SN)"
        " → 07.04.2026",
    ),
    ("2026-10-18", "NI", "Eingang 18.10.2026 → 18.11.2026"),
    ("2026-10-18", "SN", "Eingang 18.10.2026 → 18.11.2026 → Buß- und Bettag (Feiertag in SN) → 19.11.2026"),
    (
        "2026-11-25",
        "NI",
        "Eingang 25.11.2026 → 25.12.2026 → Erster Weihnachtstag (Feiertag in NI)"
        " → Zweiter Weihnachtstag (Feiertag in NI) → 28.12.2026",
    ),
    ("2028-01-31", "NI", "Eingang 31.01.2028 → 29.02.2028 (kein 31.02.)"),
]


@pytest.mark.parametrize(("day", "state", "trail"), TRAILS)
def test_trail(day: str, state: str, trail: str) -> None:
    assert received(day, state).trail == trail


EXTENDED_TRAILS = [
    (
        "2026-01-31",
        "NI",
        "Eingang 31.01.2026 + 3 Monate = 30.04.2026 (spätere Lesart, nicht verwendet); "
        "Ende des ersten Monats 28.02.2026 + 2 Monate → 28.04.2026",
    ),
    (
        "2028-01-31",
        "NI",
        "Eingang 31.01.2028 + 3 Monate = 30.04.2028 (spätere Lesart, nicht verwendet); "
        "Ende des ersten Monats 29.02.2028 + 2 Monate → 29.04.2028 → Samstag → Erster Mai (Feiertag in NI)"
        " → 02.05.2028",
    ),
    (
        "2025-07-31",
        "SN",
        "Ende des ersten Monats 31.08.2025 + 2 Monate → 31.10.2025 → Reformationstag (Feiertag in SN)"
        " → 03.11.2025 (gleich Eingang + 3 Monate)",
    ),
    (
        "2026-01-30",
        "NI",
        "Eingang 30.01.2026 + 3 Monate = 30.04.2026 (spätere Lesart, nicht verwendet); "
        "Ende des ersten Monats 28.02.2026 + 2 Monate → 28.04.2026",
    ),
]


@pytest.mark.parametrize(("day", "state", "trail"), EXTENDED_TRAILS)
def test_extended_trail(day: str, state: str, trail: str) -> None:
    assert received(day, state).extended_trail == trail


# --- extension ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "state", "extended_due"),
    [
        ("2026-01-31", "NI", "2026-04-28"),
        ("2026-03-05", "NI", "2026-06-05"),  # due rolled to 7 Apr; extension from the nominal 5 Apr
        ("2026-11-25", "NI", "2027-02-25"),  # due rolled to 28 Dec; 28 Dec + 2 months would be 28 Feb
        ("2028-01-31", "SN", "2028-05-02"),
    ],
)
def test_extension_runs_from_the_nominal_first_month_end_not_from_the_rolled_due_date(
    day: str, state: str, extended_due: str
) -> None:
    deadline = received(day, state)
    assert deadline.extended_due == date.fromisoformat(extended_due)
    assert deadline.extended_nominal == add_months(deadline.nominal_due, 2)[0]
    assert deadline.extended_nominal_from_receipt == add_months(deadline.received_local_date, 3)[0]


@pytest.mark.parametrize(
    ("today", "allowed"),
    [
        (date(2026, 1, 31), True),  # the day of receipt
        (date(2026, 2, 28), True),  # the nominal end (a Saturday)
        (date(2026, 3, 2), True),  # the legal due date itself
        (date(2026, 3, 3), False),  # the day after: too late (Art. 12(3) s. 3)
        (date(2026, 4, 30), False),
    ],
)
def test_may_extend_only_up_to_and_including_due(today: date, allowed: bool) -> None:
    assert may_extend(received("2026-01-31"), today) is allowed


def test_may_extend_follows_a_paused_due_date() -> None:
    paused = received("2026-01-31", paused_days=5)
    assert paused.due == date(2026, 3, 5)
    assert may_extend(paused, date(2026, 3, 4))
    assert not may_extend(paused, date(2026, 3, 6))


# --- identity pause -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "state", "paused", "nominal", "due", "extended_nominal", "extended_due"),
    [
        ("2026-01-31", "NI", 0, "2026-02-28", "2026-03-02", "2026-04-28", "2026-04-28"),
        ("2026-01-31", "NI", 5, "2026-03-05", "2026-03-05", "2026-05-03", "2026-05-04"),  # Sunday
        ("2026-01-31", "NI", 1, "2026-03-01", "2026-03-02", "2026-04-29", "2026-04-29"),
        ("2026-10-18", "SN", 3, "2026-11-21", "2026-11-23", "2027-01-21", "2027-01-21"),  # Saturday
        ("2026-11-30", "NI", 1, "2026-12-31", "2026-12-31", "2027-03-01", "2027-03-01"),  # 31 Dec: work
    ],
)
def test_paused_days_shift_the_nominal_dates_before_rolling(
    day: str, state: str, paused: int, nominal: str, due: str, extended_nominal: str, extended_due: str
) -> None:
    deadline = received(day, state, paused_days=paused)
    assert deadline.paused_days == paused
    assert deadline.nominal_due == date.fromisoformat(nominal)
    assert deadline.due == date.fromisoformat(due)
    assert deadline.extended_nominal == date.fromisoformat(extended_nominal)
    assert deadline.extended_due == date.fromisoformat(extended_due)


def test_pause_is_in_the_trail() -> None:
    assert received("2026-01-31", paused_days=1).trail == (
        "Eingang 31.01.2026 → 28.02.2026 (kein 31.02.) + 1 Tag Pause (Identitätsprüfung) = 01.03.2026"
        " → Sonntag → 02.03.2026"
    )
    assert "+ 5 Tage Pause" in received("2026-01-31", paused_days=5).extended_trail


# --- internal target ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "state", "working_days", "target"),
    [
        ("2026-01-31", "NI", 10, "2026-02-16"),  # due Mon 2 Mar: two full weeks back
        ("2026-01-31", "NI", 0, "2026-03-02"),  # zero: the due date itself
        ("2026-01-31", "NI", 1, "2026-02-27"),  # the Friday before
        ("2026-03-05", "NI", 10, "2026-03-20"),  # due 7 Apr; Ostermontag and Karfreitag do not count
        ("2026-03-05", "NI", 2, "2026-04-01"),
        ("2026-10-18", "SN", 1, "2026-11-17"),  # due Thu 19 Nov; Buß- und Bettag does not count
        ("2026-10-18", "NI", 1, "2026-11-17"),  # due Wed 18 Nov in NI
        ("2026-01-31", "NI", 30, "2026-01-31"),  # would be before receipt: the receipt day
    ],
)
def test_internal_target(day: str, state: str, working_days: int, target: str) -> None:
    deadline = received(day, state, internal_target_working_days=working_days)
    assert deadline.internal_target == date.fromisoformat(target)
    assert deadline.internal_target_working_days == working_days


def test_internal_target_default_is_ten_working_days() -> None:
    deadline = received("2026-10-18", "SN")
    assert deadline.internal_target == date(2026, 11, 4)
    assert deadline.internal_target_trail == "19.11.2026 − 10 Arbeitstage in SN → 04.11.2026"


def test_internal_target_clamped_to_receipt_says_so() -> None:
    deadline = received("2026-01-31", internal_target_working_days=30)
    assert deadline.internal_target_trail.endswith("vor dem Eingang, daher Eingangstag 31.01.2026")


def test_working_days_before_counts_only_working_days() -> None:
    assert working_days_before(date(2026, 4, 7), 1, "NI") == date(2026, 4, 2)
    assert working_days_before(date(2026, 4, 7), 1, "NI", not_before=date(2026, 4, 5)) == date(2026, 4, 5)
    with pytest.raises(DeadlineError):
        working_days_before(date(2026, 4, 7), -1, "NI")


# --- input errors ---------------------------------------------------------------------------


def test_naive_timestamp_is_refused_with_a_clear_message() -> None:
    with pytest.raises(DeadlineError, match="no time zone"):
        compute_deadline(datetime(2026, 1, 31, 10, 0), "NI")


def test_a_plain_date_is_refused() -> None:
    with pytest.raises(DeadlineError, match="must be a datetime"):
        compute_deadline(date(2026, 1, 31), "NI")  # type: ignore[arg-type]


@pytest.mark.parametrize("state", ["XX", "", "DE", "BYP", "Augsburg", "Niedersachsen", "N I"])
def test_unknown_land_is_refused_naming_the_valid_codes(state: str) -> None:
    with pytest.raises(DeadlineError, match=r"unknown Land .*NI, NW") as info:
        compute_deadline(datetime(2026, 1, 31, 10, tzinfo=CET), state)
    assert "\n" not in str(info.value)
    with pytest.raises(DeadlineError):
        is_working_day(date(2026, 1, 31), state)


def test_land_code_is_case_insensitive() -> None:
    deadline = compute_deadline(datetime(2026, 10, 18, 10, tzinfo=CET), " sn ")
    assert (deadline.state, deadline.due) == ("SN", date(2026, 11, 19))


@pytest.mark.parametrize(
    "kwargs", [{"paused_days": -1}, {"paused_days": 367}, {"internal_target_working_days": -1}]
)
def test_out_of_range_counts_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(DeadlineError, match="must"):
        compute_deadline(datetime(2026, 1, 31, 10, tzinfo=CET), "NI", **kwargs)


@pytest.mark.parametrize(
    "received_at",
    [
        datetime(1990, 12, 31, 12, tzinfo=CET),
        datetime(2200, 1, 1, 12, tzinfo=CET),
        datetime.max.replace(tzinfo=CET),
    ],
)
def test_receipts_outside_the_supported_years_are_refused(received_at: datetime) -> None:
    with pytest.raises(DeadlineError, match="supported years"):
        compute_deadline(received_at, "NI")


def test_deadline_error_is_a_value_error() -> None:
    assert issubclass(DeadlineError, ValueError)


def test_as_dict_uses_iso_dates() -> None:
    data = received("2026-01-31").as_dict()
    assert data["received_local_date"] == "2026-01-31"
    assert data["due"] == "2026-03-02"
    assert data["extended_due"] == "2026-04-28"
    assert data["state"] == "NI"
