"""iCalendar (RFC 5545) feed of legal due dates, to subscribe from Outlook or Thunderbird.

Calendar clients cannot log in, so the feed URL itself carries a random token of the narrow role
`calendar` (it opens nothing but this feed; revoke it with the admin page or a new token).  The
feed holds metadata only: reference, rights, state and dates, never names or addresses, because
calendars are synchronised to phones and cloud services.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from starlette.responses import Response

from dsr.console.guard import Ctx
from dsr.console.labels import rights_names, state_label
from dsr.console.queries import TicketRow, open_rows

PRODID = "-//dsr-assistant//Fristenkalender//DE"


# Reminder choices for the feed URL (?erinnerung=N): days before the deadline.
REMINDER_CHOICES = {"0": "am Tag der Frist", "1": "1 Tag vorher", "3": "3 Tage vorher", "7": "7 Tage vorher"}


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 sequence (RFC 5545 3.1)."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _alarm(days: int, summary: str) -> list[str]:
    """A display reminder `days` before the all-day event (at 09:00 of that day: -P{days}DT-9H)."""
    return [
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"TRIGGER:-P{days - 1}DT15H" if days > 0 else "TRIGGER:PT9H",
        f"DESCRIPTION:{escape_text(summary)}",
        "END:VALARM",
    ]


def _event(
    uid: str, day: date, summary: str, description: str, stamp: str, reminder_days: int | None = None
) -> list[str]:
    start = day.strftime("%Y%m%d")
    end = (day + timedelta(days=1)).strftime("%Y%m%d")
    alarm = _alarm(reminder_days, summary) if reminder_days is not None else []
    return [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{start}",
        f"DTEND;VALUE=DATE:{end}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
        "TRANSP:TRANSPARENT",
        "CATEGORIES:Datenschutz",
        *alarm,
        "END:VEVENT",
    ]


def render_calendar(
    rows: Iterable[TicketRow], *, now: datetime, host: str, reminder_days: int | None = None
) -> str:
    """The feed; with `reminder_days`, every deadline carries a VALARM that many days before."""
    stamp = _stamp(now)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Fristen Betroffenenanfragen",
        "X-WR-TIMEZONE:Europe/Berlin",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ]
    for row in rows:
        if row.due is None:
            continue
        what = rights_names(row.rights) or "Anfrage"
        kind = "verlängerte Frist" if row.extended else "Frist"
        description = (
            f"{row.reference} ({row.controller}): {what}. Status: {state_label(row.state)}. "
            f"Eingang {row.received:%d.%m.%Y}, {kind} {row.due:%d.%m.%Y}"
            + (f", interne Zielmarke {row.internal_target:%d.%m.%Y}." if row.internal_target else ".")
        )
        lines += _event(
            f"{row.reference}-due@{host}",
            row.due,
            f"{kind.capitalize()} {row.reference}: {what}",
            description,
            stamp,
            reminder_days,
        )
        if row.internal_target and row.internal_target < row.due and not row.extended:
            lines += _event(
                f"{row.reference}-target@{host}",
                row.internal_target,
                f"Zielmarke {row.reference}: {what}",
                description,
                stamp,
            )
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def calendar_feed(ctx: Ctx) -> Response:
    with ctx.services.sessions() as session:
        rows = open_rows(session, scope=ctx.scope, today=ctx.today)
    reminder = ctx.request.query_params.get("erinnerung", "")
    days = int(reminder) if reminder in REMINDER_CHOICES else None
    body = render_calendar(
        rows, now=ctx.now, host=ctx.request.url.hostname or "dsr-assistant", reminder_days=days
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "no-store", "Content-Disposition": 'inline; filename="fristen.ics"'},
    )
