"""Properties that hold for every receipt, Land, pause and internal target (hypothesis)."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from dsr.deadlines import LAENDER, compute_deadline, is_working_day, may_extend

BERLIN_OFFSETS = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
RECEIPTS = st.datetimes(
    min_value=datetime(1991, 1, 2), max_value=datetime(2199, 9, 30), timezones=BERLIN_OFFSETS
)
STATES = st.sampled_from(sorted(LAENDER))
PAUSES = st.integers(min_value=0, max_value=60)

FULL_DATE = re.compile(r"\b\d{2}\.\d{2}\.\d{4}\b")
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


def months_later(day: date, months: int) -> date:
    """Oracle: the last date in the target month that is not after the receipt's day of month."""
    first_of_target = date(day.year + (day.month - 1 + months) // 12, (day.month - 1 + months) % 12 + 1, 1)
    candidates = [
        first_of_target + timedelta(days=offset)
        for offset in range(calendar.monthrange(first_of_target.year, first_of_target.month)[1])
    ]
    return max(c for c in candidates if c.day <= day.day)


@PROPERTY_SETTINGS
@given(received_at=RECEIPTS, state=STATES)
def test_due_dates_are_the_first_working_day_on_or_after_the_nominal_end(
    received_at: datetime, state: str
) -> None:
    deadline = compute_deadline(received_at, state)
    for nominal, legal in (
        (deadline.nominal_due, deadline.due),
        (deadline.extended_nominal, deadline.extended_due),
    ):
        assert is_working_day(legal, state)
        assert nominal <= legal < nominal + timedelta(days=7)
        day = nominal
        while day < legal:
            assert not is_working_day(day, state)
            day += timedelta(days=1)


@PROPERTY_SETTINGS
@given(received_at=RECEIPTS, state=STATES)
def test_nominal_ends_are_calendar_months_clamped(received_at: datetime, state: str) -> None:
    deadline = compute_deadline(received_at, state)
    received = deadline.received_local_date
    assert deadline.nominal_due == months_later(received, 1)
    # Two further months from the nominal end of the first month (never later than receipt + 3).
    assert deadline.extended_nominal == months_later(deadline.nominal_due, 2)
    assert deadline.extended_nominal_from_receipt == months_later(received, 3)
    assert deadline.extended_nominal <= months_later(received, 3)
    assert 0 <= (months_later(received, 3) - deadline.extended_nominal).days <= 3
    assert 28 <= (deadline.nominal_due - received).days <= 31
    assert deadline.extended_due >= deadline.due


@PROPERTY_SETTINGS
@given(received_at=RECEIPTS, state=STATES, other=BERLIN_OFFSETS)
def test_the_same_instant_in_any_time_zone_gives_the_same_deadline(
    received_at: datetime, state: str, other: timezone
) -> None:
    assert compute_deadline(received_at, state) == compute_deadline(received_at.astimezone(other), state)
    assert compute_deadline(received_at, state) == compute_deadline(received_at.astimezone(UTC), state)


@PROPERTY_SETTINGS
@given(received_at=RECEIPTS, state=STATES, paused=PAUSES)
def test_a_pause_shifts_nominal_dates_and_never_shortens(
    received_at: datetime, state: str, paused: int
) -> None:
    plain = compute_deadline(received_at, state)
    paused_deadline = compute_deadline(received_at, state, paused_days=paused)
    assert paused_deadline.nominal_due == plain.nominal_due + timedelta(days=paused)
    assert paused_deadline.extended_nominal == plain.extended_nominal + timedelta(days=paused)
    assert paused_deadline.due >= plain.due
    assert paused_deadline.extended_due >= plain.extended_due
    assert is_working_day(paused_deadline.due, state)


@PROPERTY_SETTINGS
@given(received_at=RECEIPTS, state=STATES, working_days=st.integers(min_value=0, max_value=40))
def test_internal_target_lies_between_receipt_and_due(
    received_at: datetime, state: str, working_days: int
) -> None:
    deadline = compute_deadline(received_at, state, internal_target_working_days=working_days)
    assert deadline.received_local_date <= deadline.internal_target <= deadline.due
    if working_days == 0:
        assert deadline.internal_target == deadline.due
    elif deadline.internal_target > deadline.received_local_date:
        assert is_working_day(deadline.internal_target, state)
        between = [
            deadline.internal_target + timedelta(days=n)
            for n in range(1, (deadline.due - deadline.internal_target).days)
        ]
        assert sum(is_working_day(day, state) for day in between) == working_days - 1


@PROPERTY_SETTINGS
@given(received_at=RECEIPTS, state=STATES)
def test_extension_allowed_exactly_until_due(received_at: datetime, state: str) -> None:
    deadline = compute_deadline(received_at, state)
    assert may_extend(deadline, deadline.received_local_date)
    assert may_extend(deadline, deadline.due)
    assert not may_extend(deadline, deadline.due + timedelta(days=1))


@PROPERTY_SETTINGS
@given(received_at=RECEIPTS, state=STATES, paused=st.sampled_from([0, 0, 1, 9]))
def test_trail_starts_with_receipt_and_ends_with_due(received_at: datetime, state: str, paused: int) -> None:
    deadline = compute_deadline(received_at, state, paused_days=paused)
    assert deadline.trail.startswith(f"Eingang {deadline.received_local_date:%d.%m.%Y} → ")
    # The last full date the trail mentions is the legal date it explains.
    assert FULL_DATE.findall(deadline.trail)[-1] == f"{deadline.due:%d.%m.%Y}"
    assert FULL_DATE.findall(deadline.extended_trail)[-1] == f"{deadline.extended_due:%d.%m.%Y}"
