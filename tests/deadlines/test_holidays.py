"""Land holidays: what the `holidays` package gives, and where the Länder differ (LEGAL.md 2.6)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from dsr.deadlines import (
    LAENDER,
    _holidays_of_year,
    compute_deadline,
    easter_sunday,
    holiday_name,
    is_working_day,
    public_holidays,
)

ALL = frozenset(LAENDER)


def test_all_sixteen_laender_are_accepted() -> None:
    assert len(ALL) == 16
    for state in ALL:
        assert is_working_day(date(2026, 3, 2), state)  # an ordinary Monday
        assert compute_deadline(datetime(2026, 3, 2, 12, tzinfo=ZoneInfo("UTC")), state).due


# (day, Länder where it is a Land-wide public holiday, German name from the package)
DIFFERING_HOLIDAYS = [
    (date(2026, 11, 18), {"SN"}, "Buß- und Bettag"),
    (date(2027, 11, 17), {"SN"}, "Buß- und Bettag"),
    (date(2028, 11, 22), {"SN"}, "Buß- und Bettag"),  # LEGAL.md 2.6 check value for 2028
    (date(2026, 6, 4), {"BW", "BY", "HE", "NW", "RP", "SL"}, "Fronleichnam"),
    (date(2027, 5, 27), {"BW", "BY", "HE", "NW", "RP", "SL"}, "Fronleichnam"),
    (
        date(2028, 10, 31),
        {"BB", "HB", "HH", "MV", "NI", "SH", "SN", "ST", "TH"},
        "Reformationstag",
    ),
    (date(2026, 1, 6), {"BW", "BY", "ST"}, "Heilige Drei Könige"),
    (date(2027, 9, 20), {"TH"}, "Weltkindertag"),
    (date(2027, 3, 8), {"BE", "MV"}, "Frauentag"),
    (date(2027, 11, 1), {"BW", "BY", "NW", "RP", "SL"}, "Allerheiligen"),
    (date(2028, 8, 15), {"SL"}, "Mariä Himmelfahrt"),  # in BY only by municipality, not Land-wide
]


@pytest.mark.parametrize(("day", "where", "name"), DIFFERING_HOLIDAYS)
def test_holidays_that_differ_between_laender(day: date, where: set[str], name: str) -> None:
    assert day.weekday() < 5, "pick a weekday so that only the holiday decides"
    for state in sorted(ALL):
        assert is_working_day(day, state) is (state not in where), state
        assert holiday_name(day, state) == (name if state in where else None), state


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "Neujahr"),
        (date(2026, 4, 3), "Karfreitag"),
        (date(2026, 4, 6), "Ostermontag"),
        (date(2026, 5, 1), "Erster Mai"),
        (date(2026, 5, 14), "Christi Himmelfahrt"),
        (date(2026, 5, 25), "Pfingstmontag"),
        (date(2026, 12, 25), "Erster Weihnachtstag"),
        (date(2028, 4, 14), "Karfreitag"),  # LEGAL.md 2.6 check values for 2028
        (date(2028, 4, 17), "Ostermontag"),
        (date(2028, 5, 25), "Christi Himmelfahrt"),
        (date(2028, 6, 5), "Pfingstmontag"),
    ],
)
def test_nationwide_holidays(day: date, name: str) -> None:
    for state in ALL:
        assert holiday_name(day, state) == name
        assert not is_working_day(day, state)


@pytest.mark.parametrize(
    "day", [date(2026, 12, 24), date(2026, 12, 31), date(2027, 12, 24), date(2027, 12, 31)]
)
def test_christmas_eve_and_new_years_eve_are_working_days(day: date) -> None:
    for state in ALL:
        assert is_working_day(day, state) is (day.weekday() < 5), state


def test_rosenmontag_and_allerheiligen_in_ni_are_working_days() -> None:
    assert is_working_day(date(2026, 2, 16), "NI")  # Rosenmontag
    assert is_working_day(date(2027, 11, 1), "NI")  # Allerheiligen: church holiday only in NI
    assert is_working_day(date(2027, 11, 1), "SN")


def test_no_substitute_holiday_when_a_holiday_falls_on_a_weekend() -> None:
    # 3 Oct 2026 and 31 Oct 2026 are Saturdays; the following Mondays are normal working days.
    for state in ("NI", "SN"):
        assert is_working_day(date(2026, 10, 5), state)
        assert is_working_day(date(2026, 11, 2), state)


def test_package_puts_sn_fronleichnam_outside_the_public_category() -> None:
    """Documents what the package does: Fronleichnam in SN is not a Land-wide public holiday.

    In Sachsen it is a holiday only in the Sorbian-Catholic municipalities of the
    FronleichnamsVO (LEGAL.md 2.6).  The package files it under "catholic"; the engine uses only
    "public", and would drop it even if a release moved it there.
    """
    corpus_christi = date(2026, 6, 4)
    public = holidays.country_holidays("DE", subdiv="SN", years=2026, language="de")
    catholic = holidays.country_holidays(
        "DE", subdiv="SN", years=2026, categories=("catholic",), language="de"
    )
    assert corpus_christi not in public
    assert catholic.get(corpus_christi) == "Fronleichnam"
    assert corpus_christi not in public_holidays("SN", 2026)
    assert is_working_day(corpus_christi, "SN")


def test_engine_holidays_match_the_package_except_sn_fronleichnam() -> None:
    for state in ALL:
        for year in (2025, 2026, 2027, 2028):
            package = holidays.country_holidays("DE", subdiv=state, years=year, language="de")
            expected = {day: name for day, name in package.items() if name != "Fronleichnam" or state != "SN"}
            assert dict(public_holidays(state, year)) == expected, (state, year)


def test_reformationstag_in_ni_only_since_2018() -> None:
    assert is_working_day(date(2016, 10, 31), "NI")  # a Monday, before NFeiertagsG was amended
    assert not is_working_day(date(2018, 10, 31), "NI")
    assert not is_working_day(date(2016, 10, 31), "SN")


# A receipt whose nominal one-month end falls on a holiday of some Länder only:
# received, state, legal due.
DEADLINES_ACROSS_LAENDER = [
    ("2026-10-18", "NI", "2026-11-18"),
    ("2026-10-18", "SN", "2026-11-19"),  # Buß- und Bettag
    ("2026-10-18", "BY", "2026-11-18"),
    ("2026-05-04", "BY", "2026-06-05"),  # Fronleichnam 4 Jun
    ("2026-05-04", "BW", "2026-06-05"),
    ("2026-05-04", "NW", "2026-06-05"),
    ("2026-05-04", "NI", "2026-06-04"),
    ("2026-05-04", "SN", "2026-06-04"),  # not Land-wide in Sachsen
    ("2026-12-06", "BY", "2027-01-07"),  # Heilige Drei Könige, Wed 6 Jan 2027
    ("2026-12-06", "ST", "2027-01-07"),
    ("2026-12-06", "NI", "2027-01-06"),
    ("2027-08-20", "TH", "2027-09-21"),  # Weltkindertag
    ("2027-08-20", "NI", "2027-09-20"),
    ("2027-02-08", "BE", "2027-03-09"),  # Frauentag
    ("2027-02-08", "MV", "2027-03-09"),
    ("2027-02-08", "NI", "2027-03-08"),
    ("2026-11-24", "NI", "2026-12-24"),  # 24 Dec is a working day
]


@pytest.mark.parametrize(("received", "state", "due"), DEADLINES_ACROSS_LAENDER)
def test_due_dates_follow_the_land(received: str, state: str, due: str) -> None:
    received_at = datetime.fromisoformat(received).replace(hour=12, tzinfo=ZoneInfo("Europe/Berlin"))
    assert compute_deadline(received_at, state).due == date.fromisoformat(due)


# 31 October can only end a period that runs from a 31st: the extension from 31 July.
@pytest.mark.parametrize(
    ("state", "extended_due"),
    [
        ("NI", "2028-11-01"),  # Reformationstag, Tue 31 Oct 2028
        ("SN", "2028-11-01"),
        ("TH", "2028-11-01"),
        ("BW", "2028-10-31"),  # a working day there (1 Nov Allerheiligen does not matter)
        ("BY", "2028-10-31"),
        ("BE", "2028-10-31"),
    ],
)
def test_reformationstag_moves_the_extension_only_where_it_is_a_holiday(
    state: str, extended_due: str
) -> None:
    received_at = datetime(2028, 7, 31, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    deadline = compute_deadline(received_at, state)
    assert deadline.extended_nominal == date(2028, 10, 31)
    assert deadline.extended_due == date.fromisoformat(extended_due)


def test_sn_fronleichnam_is_dropped_even_if_the_package_lists_it_as_public(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Guard for a future `holidays` release that makes Fronleichnam Land-wide public in SN."""
    real = holidays.country_holidays

    def with_sn_corpus_christi(*args: object, **kwargs: object) -> holidays.HolidayBase:
        found = real(*args, **kwargs)  # type: ignore[arg-type]
        found[date(2026, 6, 4)] = "Fronleichnam"
        return found

    monkeypatch.setattr(holidays, "country_holidays", with_sn_corpus_christi)
    _holidays_of_year.cache_clear()
    try:
        assert is_working_day(date(2026, 6, 4), "SN")
        assert not is_working_day(date(2026, 6, 4), "NI")  # the injected entry is seen elsewhere
    finally:
        _holidays_of_year.cache_clear()


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (1818, date(1818, 3, 22)),  # the earliest possible date
        (1943, date(1943, 4, 25)),  # the latest possible date
        (1954, date(1954, 4, 18)),
        (2000, date(2000, 4, 23)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2026, date(2026, 4, 5)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
)
def test_easter_sunday_on_known_dates(year: int, expected: date) -> None:
    assert easter_sunday(year) == expected


def test_easter_sunday_is_a_sunday_between_22_march_and_25_april() -> None:
    for year in range(1583, 4100):
        day = easter_sunday(year)
        assert day.weekday() == 6 and date(year, 3, 22) <= day <= date(year, 4, 25), year


def test_easter_sunday_agrees_with_the_holiday_package() -> None:
    # The package lists German holidays up to 2100.
    for year in range(1991, 2101):
        found = holidays.country_holidays("DE", years=year, language="de")
        monday = next(day for day, name in found.items() if name == "Ostermontag")
        assert easter_sunday(year) == monday - timedelta(days=1), year
