"""Opening tickets, recorded facts and the due list."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.intents.rights import Right
from dsr.store.models import AuditEvent, IdentityLevel, TicketNote, TicketState
from dsr.store.tickets.services import (
    add_note,
    assign,
    correct_rights,
    due_tickets,
    escalate,
    open_ticket,
    record_identity,
)
from tests.support.store import RECEIVED, new_ticket

NOW = RECEIVED + timedelta(hours=1)


def _actions(session: Session, ticket_id: int) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.ticket_id == ticket_id)
                                .order_by(AuditEvent.id)))


def test_open_ticket_records_everything(session: Session) -> None:
    ticket = open_ticket(
        session, controller="komsa", land="SN", channel="telegram", received_at=RECEIVED,
        rights=[Right.ERASURE, Right.ACCESS, Right.ACCESS], now=NOW, reply_to="telegram:42",
        classification={"labels": ["access", "erasure"]}, escalation_reasons=["minor", "complaint"],
        identity_level=IdentityLevel.CONTACT_ON_FILE, identity_method="chat bound",
    )
    assert ticket.id is not None and ticket.state == "new"
    assert ticket.rights == ["access", "erasure"]  # legal order, no duplicates
    assert ticket.escalated and ticket.escalation_reasons == ["complaint", "minor"]
    assert (ticket.identity_level, ticket.identity_method) == ("contact_on_file", "chat bound")
    assert ticket.received_at == RECEIVED and ticket.created_at == NOW
    event = session.scalars(select(AuditEvent).where(AuditEvent.ticket_id == ticket.id)).one()
    assert (event.action, event.actor, event.detail["due"]) == ("ticket_opened", "system", "2026-03-02")


def test_marketing_only_takes_effect_on_receipt(session: Session) -> None:
    ticket = new_ticket(session, rights=(Right.MARKETING_OBJECTION, Right.CONSENT_WITHDRAWAL))
    assert ticket.due_trail.startswith("Wirksam mit Eingang am 31.01.2026")
    assert "Art. 21 Abs. 2 und 3 DSGVO" in ticket.due_trail and "Art. 7 Abs. 3 DSGVO" in ticket.due_trail
    assert ticket.due_date == date(2026, 3, 2)  # the confirmation still has the month
    assert ticket.identity_level == IdentityLevel.NOT_REQUIRED.value


def test_mixed_rights_keep_the_normal_trail(session: Session) -> None:
    ticket = new_ticket(session, rights=(Right.MARKETING_OBJECTION, Right.ACCESS))
    assert ticket.due_trail.startswith("Eingang 31.01.2026")
    assert ticket.identity_level == IdentityLevel.NONE.value


def test_facts_are_audited(session: Session) -> None:
    ticket = new_ticket(session)
    record_identity(session, ticket, IdentityLevel.CODE_CONFIRMED, method="Code an E-Mail auf Datei",
                    actor="system", now=NOW)
    correct_rights(session, ticket, [Right.PORTABILITY, Right.ACCESS], actor="dpo",
                   reason="Export gewünscht", now=NOW)
    assign(session, ticket, "anna", actor="dpo", now=NOW)
    note = add_note(session, ticket, author="anna", text="Rückruf vereinbart", now=NOW)
    assert ticket.identity_level == "code_confirmed"
    assert ticket.rights == ["access", "portability"] and ticket.assignee == "anna"
    assert session.get(TicketNote, note.id) is not None
    assert _actions(session, ticket.id) == [
        "ticket_opened", "identity_recorded", "rights_corrected", "assigned", "note_added"]
    last = session.scalars(select(AuditEvent).where(AuditEvent.action == "note_added")).one()
    assert "Rückruf" not in str(last.detail)  # the note text stays out of the log


def test_escalate_merges_reasons(session: Session) -> None:
    ticket = new_ticket(session, state=TicketState.IN_PROGRESS)
    escalate(session, ticket, ["legal_threat"], actor="system", reason="Anwalt angekündigt", now=NOW)
    escalate(session, ticket, ["complaint", "legal_threat"], actor="system", reason="Beschwerde", now=NOW)
    assert ticket.state == "escalated" and ticket.escalation_reasons == ["complaint", "legal_threat"]
    assert _actions(session, ticket.id)[-2:] == ["state_changed", "escalation_reasons_added"]


def test_due_list(session: Session) -> None:
    def received(day: str) -> datetime:
        return datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)

    overdue = new_ticket(session, received_at=received("2026-01-05"), state=TicketState.IN_PROGRESS)
    soon = new_ticket(session, received_at=received("2026-02-10"))
    later = new_ticket(session, received_at=received("2026-03-01"))
    other = new_ticket(session, received_at=received("2026-02-09"), controller="komsa")
    new_ticket(session, received_at=received("2026-01-02"), state=TicketState.ANSWERED)
    new_ticket(session, received_at=received("2026-01-03"), state=TicketState.CLOSED)
    today = date(2026, 3, 6)
    refs = [t.reference for t in due_tickets(session, today=today)]
    assert refs == [overdue.reference, other.reference, soon.reference, later.reference]
    assert [t.reference for t in due_tickets(session, today=today, overdue_only=True)] == [overdue.reference]
    assert [t.reference for t in due_tickets(session, today=today, within_days=7)] == [
        overdue.reference, other.reference, soon.reference]
    assert [t.reference for t in due_tickets(session, today=today, controller="komsa")] == [other.reference]
