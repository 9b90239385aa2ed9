"""The legal deadline engine: GDPR Art. 12(3) periods computed under Regulation 1182/71.

Pure functions of a timezone-aware receipt timestamp and the controller's Land; no I/O.

The law (docs/LEGAL-NOTES.md, section 2):

* The clock starts on the calendar day of receipt in Europe/Berlin (EDPB 01/2022 § 159), whatever
  the channel's own time zone; a mail that arrives at 23:30 UTC on 31 January was received on
  1 February in Germany.
* "One month" ends on the same date of the following month; where that date does not exist it ends
  on the last day of that month (Reg. 1182/71 Art. 3(2)(c); EDPB Examples 32 and 33).
* Saturdays, Sundays and public holidays count inside the period, but a period that would end on
  one moves to the next working day (Art. 3(3), 3(4)).  Public holidays are those of the Land where
  the controller must act, i.e. its seat (Art. 2(1), § 193 BGB).  They come from the `holidays`
  package; 24 and 31 December are ordinary working days, and Germany has no substitute holidays.
* The extension by "two further months" (Art. 12(3) s. 2) is a further period that runs from the
  end of the first one: the nominal (unmoved) end of the first month + 2 months, clamped, then
  rolled forward (Reg. 1182/71 Art. 3(2)(c); § 190 BGB).  Never two months added to the already
  rolled one-month date.  The other reading found in guidance, receipt + 3 months, is one to three
  days later at month ends (31.01.2026: 28.04. against 30.04.2026); a controller-side tool takes the
  earlier date and the trail shows both.  The extension must be notified within the first month,
  so it is refused after the original due date.
* A DPO-approved pause while identity is genuinely in doubt (EDPB § 159) shifts the nominal dates
  by the paused days before the roll-forward.  The default is no pause (docs/LEGAL-NOTES.md 6.3).

Every computed date carries a German trail a DPO can check by hand, e.g.
"Eingang 31.01.2026 → 28.02.2026 (kein 31.02.) → Samstag → 02.03.2026".
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import holidays

BERLIN = ZoneInfo("Europe/Berlin")

# The sixteen Länder by their ISO 3166-2:DE codes, as the `holidays` package names them.
LAENDER: Mapping[str, str] = MappingProxyType(
    {
        "BB": "Brandenburg",
        "BE": "Berlin",
        "BW": "Baden-Württemberg",
        "BY": "Bayern",
        "HB": "Bremen",
        "HE": "Hessen",
        "HH": "Hamburg",
        "MV": "Mecklenburg-Vorpommern",
        "NI": "Niedersachsen",
        "NW": "Nordrhein-Westfalen",
        "RP": "Rheinland-Pfalz",
        "SH": "Schleswig-Holstein",
        "SL": "Saarland",
        "SN": "Sachsen",
        "ST": "Sachsen-Anhalt",
        "TH": "Thüringen",
    }
)

WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")

# Days after Easter Sunday on which Fronleichnam (Corpus Christi) falls.
_CORPUS_CHRISTI_AFTER_EASTER = 60

DEFAULT_INTERNAL_TARGET_WORKING_DAYS = 10

# Receipts are accepted in these years: the Länder holiday laws of reunified Germany on one side,
# a bound that keeps every computed date (receipt + 3 months + a pause) valid on the other.
FIRST_YEAR = 1991
LAST_YEAR = 2199
# An identity pause longer than a year is not a pause any more; the DPO must decide the case.
MAX_PAUSED_DAYS = 366


class DeadlineError(ValueError):
    """The input cannot give a legal date: a naive timestamp, an unknown Land, a negative count."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """The statutory dates of one request, each with the reasoning that produced it."""

    received_local_date: date  # Europe/Berlin date of receipt
    nominal_due: date  # same date next month, clamped to month end (+ paused days)
    due: date  # rolled to the next working day of the Land
    extended_nominal: date  # nominal first-month end + 2 months, clamped (+ paused days)
    extended_due: date  # rolled forward
    internal_target: date  # N working days before `due`
    trail: str  # German, e.g. "Eingang 31.01.2026 → 28.02.2026 (kein 31.02.) → Samstag → 02.03.2026"
    extended_trail: str
    state: str = ""
    paused_days: int = 0
    internal_target_working_days: int = DEFAULT_INTERNAL_TARGET_WORKING_DAYS
    internal_target_trail: str = ""
    # The later reading "receipt + 3 months" (clamped, + paused days), shown in the trail only.
    extended_nominal_from_receipt: date | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (ISO dates), as shown by `dsr deadline` and the console."""
        return {
            "state": self.state,
            "received_local_date": self.received_local_date.isoformat(),
            "nominal_due": self.nominal_due.isoformat(),
            "due": self.due.isoformat(),
            "extended_nominal": self.extended_nominal.isoformat(),
            "extended_due": self.extended_due.isoformat(),
            "extended_nominal_from_receipt": (
                self.extended_nominal_from_receipt.isoformat()
                if self.extended_nominal_from_receipt is not None
                else None
            ),
            "internal_target": self.internal_target.isoformat(),
            "internal_target_working_days": self.internal_target_working_days,
            "paused_days": self.paused_days,
            "trail": self.trail,
            "extended_trail": self.extended_trail,
            "internal_target_trail": self.internal_target_trail,
        }


def normalize_state(state: str) -> str:
    """The canonical two-letter code of a Land ("ni" -> "NI"); DeadlineError when unknown."""
    code = state.strip().upper() if isinstance(state, str) else ""
    if code not in LAENDER:
        raise DeadlineError(
            f"unknown Land {state!r}: expected one of {', '.join(LAENDER)} (ISO 3166-2:DE code)"
        )
    return code


def easter_sunday(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous Gregorian computus, Meeus 1991).

    The movable holidays (Karfreitag, Ostermontag, Christi Himmelfahrt, Pfingstmontag,
    Fronleichnam) are counted from it.
    """
    golden = year % 19  # position in the 19-year Metonic cycle
    century, in_century = divmod(year, 100)
    leap_skips, century_rest = divmod(century, 4)
    moon_correction = (century + 8) // 25
    lunar_correction = (century - moon_correction + 1) // 3
    epact = (19 * golden + century - leap_skips - lunar_correction + 15) % 30
    quarter, year_rest = divmod(in_century, 4)
    weekday_offset = (32 + 2 * century_rest + 2 * quarter - epact - year_rest) % 7
    late_march = (golden + 11 * epact + 22 * weekday_offset) // 451
    month, day = divmod(epact + weekday_offset - 7 * late_march + 114, 31)
    return date(year, month, day + 1)


@functools.lru_cache(maxsize=4096)  # 16 Länder x many years, bounded for a long-lived service
def _holidays_of_year(state: str, year: int) -> Mapping[date, str]:
    """Land-wide public holidays of one year, German names, from the `holidays` package.

    Only the package's default "public" category is used: church holidays that are not public
    holidays (Allerheiligen in NI, Mariä Himmelfahrt in most of Bavaria's municipalities) do not
    stop a period.  Fronleichnam is a public holiday in Sachsen only in the Sorbian-Catholic
    municipalities listed in the FronleichnamsVO (docs/LEGAL-NOTES.md 2.6), never Land-wide; the package
    (0.109) files it under its "catholic" category for SN, and we drop it defensively should a
    release ever list it as a Land-wide public holiday, because a deadline engine for a controller
    in Hartmannsdorf must not postpone its dates for a holiday that does not apply there.
    """
    found = holidays.country_holidays("DE", subdiv=state, years=year, language="de")
    days: dict[date, str] = {day: str(name) for day, name in found.items()}
    if state == "SN":
        days.pop(easter_sunday(year) + timedelta(days=_CORPUS_CHRISTI_AFTER_EASTER), None)
    return MappingProxyType(days)


def public_holidays(state: str, year: int) -> Mapping[date, str]:
    """The Land-wide public holidays of `state` in `year` (date -> German name)."""
    return _holidays_of_year(normalize_state(state), year)


def holiday_name(day: date, state: str) -> str | None:
    """German name of the public holiday on `day` in `state`, or None."""
    return _holidays_of_year(normalize_state(state), day.year).get(day)


def is_working_day(day: date, state: str) -> bool:
    """Reg. 1182/71 Art. 2(2): every day except Saturdays, Sundays and the Land's public holidays."""
    return _is_working(day, normalize_state(state))


def _is_working(day: date, code: str) -> bool:
    return day.weekday() < 5 and day not in _holidays_of_year(code, day.year)


def add_months(day: date, months: int) -> tuple[date, bool]:
    """Same date `months` later; the month's last day where it has no such date (Art. 3(2)(c)).

    Returns the date and whether it was clamped to the month end.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last)), day.day > last


def _fmt(day: date) -> str:
    return f"{day.day:02d}.{day.month:02d}.{day.year:04d}"


def _why_not_working(day: date, state: str) -> str:
    name = _holidays_of_year(state, day.year).get(day)
    if name is not None:
        return f"{name} (Feiertag in {state})"
    return WEEKDAYS_DE[day.weekday()]


def roll_forward(day: date, state: str) -> tuple[date, list[str]]:
    """The first working day on or after `day` (Art. 3(4)), with the German reasons for moving.

    The reasons name why `day` itself is not a working day and every public holiday passed on the
    way; further Saturdays and Sundays are implied by "next working day".
    """
    code = normalize_state(state)
    steps: list[str] = []
    current = day
    while not _is_working(current, code):
        holiday = _holidays_of_year(code, current.year).get(current)
        if current == day or holiday is not None:
            steps.append(_why_not_working(current, code))
        current += timedelta(days=1)
    return current, steps


def _roll_into_trail(nominal: date, state: str, parts: list[str]) -> date:
    """Roll `nominal` to the next working day, appending the reasons and the result to `parts`."""
    legal, reasons = roll_forward(nominal, state)
    if legal != nominal:
        parts.extend(reasons)
        parts.append(_fmt(legal))
    return legal


def _pause_note(nominal: date, paused_days: int) -> str:
    unit = "Tag" if paused_days == 1 else "Tage"
    return f" + {paused_days} {unit} Pause (Identitätsprüfung) = {_fmt(nominal)}"


def _first_month(received: date, state: str, paused_days: int) -> tuple[date, date, date, str]:
    """Unpaused nominal end, nominal end, legal end and trail of the first month from `received`."""
    unpaused, clamped = add_months(received, 1)
    parts = [f"Eingang {_fmt(received)} → {_fmt(unpaused)}"]
    if clamped:
        parts[0] += f" (kein {received.day:02d}.{unpaused.month:02d}.)"
    nominal = unpaused + timedelta(days=paused_days)
    if paused_days:
        parts[-1] += _pause_note(nominal, paused_days)
    legal = _roll_into_trail(nominal, state, parts)
    return unpaused, nominal, legal, " → ".join(parts)


def _extension(
    received: date, first_month_end: date, state: str, paused_days: int
) -> tuple[date, date, date, str]:
    """Nominal end, legal end, the receipt + 3 months reading and the trail of the extension.

    The two further months run from the nominal, unmoved end of the first month; the receipt +
    3 months reading is never earlier, so the earlier (safe) date is always the one used.
    """
    unpaused, clamped = add_months(first_month_end, 2)
    from_receipt = add_months(received, 3)[0] + timedelta(days=paused_days)
    parts = [f"Ende des ersten Monats {_fmt(first_month_end)} + 2 Monate → {_fmt(unpaused)}"]
    if clamped:
        parts[0] += f" (kein {first_month_end.day:02d}.{unpaused.month:02d}.)"
    nominal = unpaused + timedelta(days=paused_days)
    if paused_days:
        parts[-1] += _pause_note(nominal, paused_days)
    legal = _roll_into_trail(nominal, state, parts)
    trail = " → ".join(parts)
    if from_receipt != nominal:
        trail = (
            f"Eingang {_fmt(received)} + 3 Monate = {_fmt(from_receipt)} (spätere Lesart, nicht verwendet); "
            f"{trail}"
        )
    else:
        trail += " (gleich Eingang + 3 Monate)"
    return nominal, legal, from_receipt, trail


def _count_back(day: date, count: int, state: str, floor: date) -> tuple[date, bool]:
    """`count` working days before `day`, stopping at `floor`; also whether it stopped there."""
    current = day
    remaining = count
    while remaining and current > floor:
        current -= timedelta(days=1)
        if _is_working(current, state):
            remaining -= 1
    return current, remaining > 0


def working_days_before(day: date, count: int, state: str, *, not_before: date | None = None) -> date:
    """The date `count` working days before `day` in `state` (`day` itself when count is 0).

    With `not_before`, counting stops there: the result is never earlier than that date.
    """
    if count < 0:
        raise DeadlineError(f"working day count must not be negative, got {count}")
    floor = not_before if not_before is not None else date(FIRST_YEAR, 1, 1)
    return _count_back(day, count, normalize_state(state), floor)[0]


def local_receipt_date(received_at: datetime) -> date:
    """Calendar date of receipt in Europe/Berlin; DeadlineError for a naive timestamp."""
    if not isinstance(received_at, datetime):
        raise DeadlineError(f"receipt must be a datetime, got {type(received_at).__name__}")
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise DeadlineError(
            f"receipt time {received_at.isoformat()} has no time zone: give an offset "
            "(e.g. 2026-01-31T10:00:00+01:00) so the Europe/Berlin receipt date is unambiguous"
        )
    try:
        local = received_at.astimezone(BERLIN).date()
    except (OverflowError, ValueError):
        local = date.min
    if not FIRST_YEAR <= local.year <= LAST_YEAR:
        raise DeadlineError(
            f"receipt time {received_at.isoformat()} is outside the supported years {FIRST_YEAR}-{LAST_YEAR}"
        )
    return local


def compute_deadline(
    received_at: datetime,
    state: str,
    *,
    internal_target_working_days: int = DEFAULT_INTERNAL_TARGET_WORKING_DAYS,
    paused_days: int = 0,
) -> Deadline:
    """All statutory dates of a request received at `received_at` by a controller seated in `state`.

    `paused_days` is the length of a DPO-approved identity pause (EDPB § 159); it moves both
    nominal dates before the roll-forward.  The internal target is `internal_target_working_days`
    working days before the legal due date, but never before the day of receipt.
    """
    code = normalize_state(state)
    if not 0 <= paused_days <= MAX_PAUSED_DAYS:
        raise DeadlineError(f"paused days must be between 0 and {MAX_PAUSED_DAYS}, got {paused_days}")
    if internal_target_working_days < 0:
        raise DeadlineError(
            f"internal target working days must not be negative, got {internal_target_working_days}"
        )
    received = local_receipt_date(received_at)
    first_month_end, nominal, due, trail = _first_month(received, code, paused_days)
    ext_nominal, ext_due, from_receipt, ext_trail = _extension(
        received, first_month_end, code, paused_days
    )
    target, stopped = _count_back(due, internal_target_working_days, code, received)
    target_trail = f"{_fmt(due)} − {internal_target_working_days} Arbeitstage in {code} → "
    if stopped:
        target_trail += f"vor dem Eingang, daher Eingangstag {_fmt(received)}"
    else:
        target_trail += _fmt(target)
    return Deadline(
        received_local_date=received,
        nominal_due=nominal,
        due=due,
        extended_nominal=ext_nominal,
        extended_due=ext_due,
        internal_target=target,
        trail=trail,
        extended_trail=ext_trail,
        state=code,
        paused_days=paused_days,
        internal_target_working_days=internal_target_working_days,
        internal_target_trail=target_trail,
        extended_nominal_from_receipt=from_receipt,
    )


def may_extend(deadline: Deadline, today: date) -> bool:
    """Whether an extension may still be decided and notified: only up to and including `due`.

    Art. 12(3) s. 3 requires the extension notice within one month of receipt; after the original
    due date has passed, the extension can no longer be used (EDPB § 164, docs/LEGAL-NOTES.md 2.5).
    """
    return today <= deadline.due


# Art. 33(1) GDPR: a personal data breach is notified to the supervisory authority "without undue
# delay and, where feasible, not later than 72 hours after having become aware of it".
BREACH_NOTIFICATION_HOURS = 72


def breach_notification_due(aware_at: datetime) -> datetime:
    """When the Art. 33 notification is due if the controller became aware at `aware_at`.

    A report from outside (a customer who received another customer's invoice) makes the
    controller aware when it arrives, so the pipeline passes the receipt time: the clock is 72
    hours, not days, and it does not stop on weekends or public holidays.
    """
    if aware_at.tzinfo is None:
        raise DeadlineError("the time of awareness must be timezone-aware")
    return aware_at + timedelta(hours=BREACH_NOTIFICATION_HOURS)
