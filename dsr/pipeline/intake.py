"""Special intake facts read from a message for the DPO: the reply deadline an authority names.

A letter from a supervisory authority, court, police or other public body sets its own deadline
("Wir bitten um Stellungnahme bis zum 30.03.2026"); it is not the one-month period of Art. 12(3)
GDPR.  The pipeline records the date the letter names so the DPO sees it on the ticket, in the
queue and in the alert; a person checks it, nothing is answered automatically.

Linear in the length of the text: one regular expression without nested repetition, and only the
first `MAX_SCANNED` characters are read (a deadline stands near the top of a letter).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

MAX_SCANNED = 20_000
_LOOKBACK = 60  # characters before a date in which a deadline word must stand
_LATEST = timedelta(days=366)  # a named date further out than this is not a reply deadline
_MONTHS = {
    "januar": 1, "jan": 1, "january": 1, "februar": 2, "feb": 2, "february": 2, "märz": 3, "maerz": 3,
    "mär": 3, "march": 3, "mar": 3, "april": 4, "apr": 4, "mai": 5, "may": 5, "juni": 6, "june": 6,
    "jun": 6, "juli": 7, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "october": 10, "okt": 10, "oct": 10, "november": 11, "nov": 11, "dezember": 12,
    "december": 12, "dez": 12, "dec": 12,
}
_DATE_RE = re.compile(
    r"(?<![\d.])(?P<d>\d{1,2})(?:\.\s?(?P<m>\d{1,2})\.\s?(?P<y>\d{4}|\d{2})(?!\d)"
    r"|\.?\s(?P<mname>[a-zä]{3,9})\.?\s(?P<y2>\d{4})(?!\d))",
    re.IGNORECASE,
)
_DEADLINE_WORDS_RE = re.compile(
    r"\b(?:bis|frist|fristsetzung|spätestens|spaetestens|innerhalb|stellungnahme bis|by|deadline|until|"
    r"no later than)\b",
    re.IGNORECASE,
)


def stated_deadline(text: str, received_on: date) -> date | None:
    """The earliest date in `text` that a deadline word introduces and that lies after receipt.

    Dates before receipt (the date of the letter, of the complaint) or more than a year out are
    not reply deadlines; `None` when the text names none.
    """
    scanned = text[:MAX_SCANNED]
    found: list[date] = []
    for match in _DATE_RE.finditer(scanned):
        day = _to_date(match)
        if day is None or not received_on < day <= received_on + _LATEST:
            continue
        before = scanned[max(0, match.start() - _LOOKBACK):match.start()]
        if _DEADLINE_WORDS_RE.search(before):
            found.append(day)
    return min(found) if found else None


def _to_date(match: re.Match[str]) -> date | None:
    try:
        day = int(match["d"])
        if match["m"] is not None:
            month, year = int(match["m"]), int(match["y"])
        else:
            month_number = _MONTHS.get(match["mname"].lower())
            if month_number is None:
                return None
            month, year = month_number, int(match["y2"])
        if year < 100:
            year += 2000
        return date(year, month, day)
    except ValueError:
        return None
