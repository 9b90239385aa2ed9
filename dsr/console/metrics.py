"""Deadline figures for managers, computed from ticket metadata only.

* overdue / due within 7 days / due by the end of the month: open tickets by their binding date;
* on-time rate per month: of the statutory requests answered (or refused) in that month, how many
  before the end of their binding due date (Art. 12(3): the extended date once extended); the
  automatic confirmations of marketing objections and consent withdrawals, which take effect on
  receipt, would only flatter the rate and are left out (also of the median);
* open requests by state (escalated, awaiting identity, ...) and the full list of open deadlines;
* median days to answer: calendar days from receipt to the answer;
* extension rate: share of requests received in the period that were extended (EDPB § 162 calls
  extensions an exception; a high rate points to weak procedures).

The answer date is the first audit event moving the ticket to ANSWERED or REFUSED; for tickets
closed without such an event, the closing date.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.console.labels import BERLIN
from dsr.console.queries import TicketRow
from dsr.store.models import AuditEvent

DONE_STATES = ("answered", "refused")


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: date  # first day of the month
    answered: int
    on_time: int
    received: int
    extended: int

    @property
    def late(self) -> int:
        return self.answered - self.on_time

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.answered if self.answered else None

    @property
    def label(self) -> str:
        return self.month.strftime("%m/%Y")


@dataclass
class BoardFigures:
    overdue: list[TicketRow] = field(default_factory=list)
    due_7: list[TicketRow] = field(default_factory=list)
    due_month: list[TicketRow] = field(default_factory=list)
    matrix: dict[str, Counter[str]] = field(default_factory=dict)  # controller -> right -> open count
    matrix_overdue: dict[str, Counter[str]] = field(default_factory=dict)
    months: list[MonthFigures] = field(default_factory=list)
    median_days: float | None = None
    extension_rate: float | None = None
    on_time_rate: float | None = None
    open_rows: list[TicketRow] = field(default_factory=list)  # every open request, by due date
    by_state: Counter[str] = field(default_factory=Counter)
    escalated_open: int = 0


def answered_dates(session: Session, ticket_ids: Sequence[int]) -> dict[int, date]:
    """Berlin date of the first transition into ANSWERED/REFUSED per ticket (from the audit log)."""
    if not ticket_ids:
        return {}
    result: dict[int, date] = {}
    query = (
        select(AuditEvent.ticket_id, AuditEvent.at, AuditEvent.detail)
        .where(AuditEvent.ticket_id.in_(list(ticket_ids)), AuditEvent.action == "state_changed")
        .order_by(AuditEvent.at)
    )
    for ticket_id, at, detail in session.execute(query):
        if ticket_id is not None and ticket_id not in result and (detail or {}).get("to") in DONE_STATES:
            result[ticket_id] = at.astimezone(BERLIN).date()
    return result


def month_start(day: date) -> date:
    return day.replace(day=1)


def previous_months(today: date, count: int) -> list[date]:
    months = [month_start(today)]
    while len(months) < count:
        months.append(month_start(months[-1] - timedelta(days=1)))
    return list(reversed(months))


def compute(
    rows: Iterable[TicketRow], answered: Mapping[int, date], *, today: date, months: int = 12
) -> BoardFigures:
    rows = list(rows)
    figures = BoardFigures()
    month_end = (month_start(today) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    matrix: dict[str, Counter[str]] = defaultdict(Counter)
    matrix_overdue: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        if not row.is_open:
            continue
        for right in row.rights:
            matrix[row.controller][right] += 1
            if row.overdue:
                matrix_overdue[row.controller][right] += 1
        if row.due is None:
            continue
        if row.due < today:
            figures.overdue.append(row)
        else:
            if row.due <= today + timedelta(days=7):
                figures.due_7.append(row)
            if row.due <= month_end:
                figures.due_month.append(row)
    figures.matrix, figures.matrix_overdue = dict(matrix), dict(matrix_overdue)
    open_rows = [r for r in rows if r.is_open]
    figures.open_rows = sorted(open_rows, key=lambda r: (r.due or date.max, r.received, r.reference))
    figures.by_state = Counter(r.state for r in open_rows)
    figures.escalated_open = sum(1 for r in open_rows if r.escalated)

    window = previous_months(today, months)
    first = window[0]
    answered_n: Counter[date] = Counter()
    on_time_n: Counter[date] = Counter()
    received_n: Counter[date] = Counter()
    extended_n: Counter[date] = Counter()
    durations: list[int] = []
    for row in rows:
        if row.received >= first:
            received_n[month_start(row.received)] += 1
            if row.extended:
                extended_n[month_start(row.received)] += 1
        done = answered.get(row.id) or (row.closed if not row.is_open else None)
        if done is None or done < first or not row.statutory:
            continue
        answered_n[month_start(done)] += 1
        if row.due is None or done <= row.due:
            on_time_n[month_start(done)] += 1
        durations.append((done - row.received).days)
    figures.months = [
        MonthFigures(m, answered_n[m], on_time_n[m], received_n[m], extended_n[m]) for m in window
    ]
    total_answered = sum(answered_n.values())
    total_received = sum(received_n.values())
    figures.on_time_rate = sum(on_time_n.values()) / total_answered if total_answered else None
    figures.extension_rate = sum(extended_n.values()) / total_received if total_received else None
    figures.median_days = float(statistics.median(durations)) if durations else None
    return figures
