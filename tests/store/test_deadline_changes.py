"""Extension (Art. 12(3) s. 2-3) and DPO-approved pause (EDPB 01/2022 § 159) on stored tickets."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.store.models import AuditEvent, TicketState
from dsr.store.tickets.queries import effective_due
from dsr.store.tickets.services import TicketError, extend, pause, resume, transition
from tests.support.store import new_ticket


def at(day: str, hour: int = 10) -> datetime:
    """A UTC moment on a Berlin calendar day (10:00 UTC is 11:00/12:00 in Berlin)."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _last_event(session: Session, ticket_id: int) -> AuditEvent:
    event = session.scalars(select(AuditEvent).where(AuditEvent.ticket_id == ticket_id)
                            .order_by(AuditEvent.id.desc())).first()
    assert event is not None
    return event


def test_open_stores_deadline_and_trail(session: Session) -> None:
    ticket = new_ticket(session)
    assert ticket.due_date == date(2026, 3, 2)
    assert ticket.internal_target_date is not None and ticket.internal_target_date < ticket.due_date
    assert "kein 31.02." in ticket.due_trail and ticket.due_trail.endswith("02.03.2026")
    assert ticket.extended_due_date is None


@pytest.mark.parametrize(
    ("today", "allowed"),
    [("2026-02-15", True), ("2026-03-02", True), ("2026-03-03", False)],
    ids=["within month", "on the due date", "day after"],
)
def test_extension_only_within_the_first_month(session: Session, today: str, allowed: bool) -> None:
    ticket = new_ticket(session, state=TicketState.IN_PROGRESS)
    if allowed:
        new_due = extend(session, ticket, land="NI", actor="dpo", reason="Daten in fünf Systemen",
                         now=at(today))
        assert new_due == ticket.extended_due_date == date(2026, 4, 28)
        assert ticket.state == "extended" and ticket.extension_reason == "Daten in fünf Systemen"
        assert ticket.due_date == date(2026, 3, 2)  # the original stays on record
        assert "Verlängert am" in ticket.due_trail and "28.04.2026" in ticket.due_trail
        event = _last_event(session, ticket.id)
        assert (event.action, event.detail["extended_due"]) == ("deadline_extended", "2026-04-28")
    else:
        with pytest.raises(TicketError, match="has passed"):
            extend(session, ticket, land="NI", actor="dpo", reason="zu spät", now=at(today))
        assert ticket.extended_due_date is None and ticket.state == "in_progress"


def test_extension_needs_reason_and_happens_once(session: Session) -> None:
    ticket = new_ticket(session, state=TicketState.IN_PROGRESS)
    with pytest.raises(TicketError, match="reason"):
        extend(session, ticket, land="NI", actor="dpo", reason="", now=at("2026-02-10"))
    extend(session, ticket, land="NI", actor="dpo", reason="komplex", now=at("2026-02-10"))
    transition(session, ticket, TicketState.IN_PROGRESS, actor="dpo", reason="weiter", now=at("2026-02-11"))
    with pytest.raises(TicketError, match="already extended"):
        extend(session, ticket, land="NI", actor="dpo", reason="noch mehr", now=at("2026-02-12"))


def test_extension_detects_wrong_land(session: Session) -> None:
    # Received 18.10.2026: due 18.11. in NI but 19.11. in SN (Buß- und Bettag).
    ticket = new_ticket(session, received_at=at("2026-10-18"), state=TicketState.IN_PROGRESS)
    assert ticket.due_date == date(2026, 11, 18)
    with pytest.raises(TicketError, match="wrong Land"):
        extend(session, ticket, land="SN", actor="dpo", reason="komplex", now=at("2026-10-20"))


def test_pause_needs_an_active_dpo(session: Session, dpo: str) -> None:
    ticket = new_ticket(session, state=TicketState.AWAITING_IDENTITY)
    for approver in ("manager", "nobody", ""):
        with pytest.raises(TicketError):
            pause(session, ticket, approved_by=approver, actor="anna", reason="Zweifel", now=at("2026-02-05"))
    assert ticket.state == "awaiting_identity"


def test_pause_and_resume_shift_the_due_date(session: Session, dpo: str) -> None:
    ticket = new_ticket(session, state=TicketState.AWAITING_IDENTITY)
    pause(session, ticket, approved_by=dpo, actor="anna", reason="Name passt nicht zur Adresse",
          now=at("2026-02-10"))
    assert ticket.state == "paused" and ticket.paused_since == at("2026-02-10")
    event = _last_event(session, ticket.id)
    assert (event.action, event.detail["approved_by"]) == ("deadline_paused", "dpo")
    # While paused the list shows a provisional date pushed by the days paused so far.
    assert effective_due(ticket, date(2026, 2, 12)) == date(2026, 3, 4)
    new_due = resume(session, ticket, land="NI", actor="anna", reason="Kundennummer bestätigt",
                     now=at("2026-02-13"))
    # 28.02.2026 + 3 paused days = Tuesday 03.03.2026, a working day in Niedersachsen.
    assert new_due == ticket.due_date == date(2026, 3, 3)
    assert (ticket.state, ticket.paused_days) == ("in_progress", 3)
    assert ticket.paused_since is None
    assert ticket.due_trail.splitlines()[0].endswith("02.03.2026")  # unpaused date stays first
    assert "nach 3 Tag(en) Pause" in ticket.due_trail
    event = _last_event(session, ticket.id)
    assert event.action == "deadline_resumed"
    assert (event.detail["from_due"], event.detail["to_due"]) == ("2026-03-02", "2026-03-03")


def test_pause_after_extension_moves_the_extended_date(session: Session, dpo: str) -> None:
    ticket = new_ticket(session, state=TicketState.IN_PROGRESS)
    extend(session, ticket, land="NI", actor="dpo", reason="komplex", now=at("2026-02-02"))
    pause(session, ticket, approved_by=dpo, actor="dpo", reason="Rückfrage", now=at("2026-03-10"))
    resume(session, ticket, land="NI", actor="dpo", reason="Antwort", now=at("2026-03-15"))
    # 28.04.2026 + 5 days = Sunday 03.05.2026 -> Monday 04.05.2026.
    assert ticket.extended_due_date == date(2026, 5, 4)
    assert ticket.paused_days == 5


def test_no_pause_once_the_deadline_has_passed(session: Session, dpo: str) -> None:
    ticket = new_ticket(session, state=TicketState.AWAITING_IDENTITY)
    with pytest.raises(TicketError, match="has passed"):
        pause(session, ticket, approved_by=dpo, actor="dpo", reason="zu spät", now=at("2026-03-03"))


def test_same_day_resume_adds_nothing(session: Session, dpo: str) -> None:
    ticket = new_ticket(session, state=TicketState.IN_PROGRESS)
    pause(session, ticket, approved_by=dpo, actor="dpo", reason="Rückfrage", now=at("2026-02-10", 8))
    resume(session, ticket, land="NI", actor="dpo", reason="sofort beantwortet", now=at("2026-02-10", 15),
           to=TicketState.ESCALATED)
    assert (ticket.due_date, ticket.paused_days, ticket.state) == (date(2026, 3, 2), 0, "escalated")


def test_resume_only_when_paused(session: Session) -> None:
    ticket = new_ticket(session, state=TicketState.IN_PROGRESS)
    with pytest.raises(TicketError, match="not paused"):
        resume(session, ticket, land="NI", actor="dpo", reason="x", now=at("2026-02-10"))
