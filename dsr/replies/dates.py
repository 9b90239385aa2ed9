"""Dates as people read them: "2. März 2026" in German letters, "2 March 2026" in English ones.

Deadlines are calendar dates in the controller's Land (Europe/Berlin); a date written out in full
leaves no doubt about day and month, unlike "02.03.2026" vs. "03/02/2026" (Art. 12(1): clear and
plain language).  Times (code expiry) are shown in German local time.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

BERLIN = ZoneInfo("Europe/Berlin")


def format_date_de(day: date) -> str:
    """German long date without weekday: `date(2026, 3, 2)` -> "2. März 2026"."""
    return format_date(day, "d. MMMM y", locale="de_DE")


def format_date_en(day: date) -> str:
    """English long date: `date(2026, 3, 2)` -> "2 March 2026"."""
    return format_date(day, "d MMMM y", locale="en_GB")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} (a reply must state German local time)")
    return moment


def format_datetime_de(moment: datetime) -> str:
    """German date and time in Europe/Berlin: "1. Februar 2026, 11:15 Uhr"."""
    return format_datetime(_aware(moment), "d. MMMM y, HH:mm 'Uhr'", tzinfo=BERLIN, locale="de_DE")


def format_datetime_en(moment: datetime) -> str:
    """English date and time in Europe/Berlin: "1 February 2026, 11:15 (German time)"."""
    text = format_datetime(_aware(moment), "d MMMM y, HH:mm", tzinfo=BERLIN, locale="en_GB")
    return f"{text} (German time)"
