"""Deadline reminders: stages, once per stage, at most once a day, metadata only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from dsr.intents.rights import Right
from dsr.service.scheduler import ReminderStage, reminder_stage
from dsr.store.models import Ticket, TicketState
from dsr.store.tickets.services import extend
from tests.support.scheduler import PERSON, PERSON_NAME, SECRET_BODY, Desk, berlin, mail_text

REMINDER = "deadline_reminder"


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 3, 18), None),
        (date(2026, 3, 19), ReminderStage.INTERNAL_TARGET),
        (date(2026, 3, 27), ReminderStage.INTERNAL_TARGET),  # Friday: 4 working days left
        (date(2026, 3, 30), ReminderStage.DUE_SOON),  # Monday: 31.3., 1.4., 2.4. left
        (date(2026, 4, 2), ReminderStage.DUE_SOON),
        (date(2026, 4, 3), ReminderStage.OVERDUE),  # Good Friday: overdue all the same
    ],
)
def test_stage_of_the_day(today: date, expected: ReminderStage | None) -> None:
    assert reminder_stage(today=today, due=date(2026, 4, 2), internal_target=date(2026, 3, 19),
                          land="NI") is expected


def test_due_soon_counts_working_days_of_the_land() -> None:
    # Due Tuesday 7 April 2026; Good Friday (3.4.) and Easter Monday (6.4.) are holidays.  On
    # Tuesday 31 March three working days remain (1.4., 2.4., 7.4.): due soon.  On Monday
    # 30 March four remain: not yet, although the due date is only eight calendar days away.
    assert reminder_stage(today=date(2026, 3, 31), due=date(2026, 4, 7), internal_target=None,
                          land="NI") is ReminderStage.DUE_SOON
    assert reminder_stage(today=date(2026, 3, 30), due=date(2026, 4, 7), internal_target=None,
                          land="NI") is None


def test_each_stage_is_reminded_once(desk: Desk) -> None:
    ticket_id = desk.open()
    timeline = [
        (berlin(2026, 3, 18, 9), 0),
        (berlin(2026, 3, 19, 8), 1),  # internal target reached
        (berlin(2026, 3, 19, 8, 5), 0),
        (berlin(2026, 3, 20, 8), 0),
        (berlin(2026, 3, 30, 8), 1),  # due within 3 working days
        (berlin(2026, 4, 2, 8), 0),
        (berlin(2026, 4, 3, 0, 10), 1),  # overdue
        (berlin(2026, 4, 4, 8), 0),
        (berlin(2026, 4, 20, 8), 0),
    ]
    for moment, expected in timeline:
        assert desk.tick_at(moment).reminders == expected, moment
    items = desk.items(REMINDER)
    subjects = [mail_text(item)[0] for item in items]
    assert [s.split("] ", 1)[1] for s in subjects] == [
        "Fristerinnerung: Antwort fällig am 2. April 2026",
        "Fristerinnerung: Antwort fällig am 2. April 2026",
        "Frist überschritten seit 2. April 2026",
    ]
    events = desk.actions("scheduler.reminder_queued")
    assert [e.detail["stage"] for e in events] == ["internal_target", "due_soon", "overdue"]
    assert {e.ticket_id for e in events} == {ticket_id}


def test_reminder_is_metadata_for_the_notification_recipient(desk: Desk) -> None:
    ticket_id = desk.open()
    desk.tick_at(berlin(2026, 3, 30, 8))
    [item] = desk.items(REMINDER)
    assert item.recipient == "klaus.marwede@kmb2.de"  # kmb2 names no DPO: the privacy contact
    assert item.ticket_id is None  # a failed internal mail must not escalate the ticket
    subject, text = mail_text(item)
    with desk.sessions() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        assert subject.startswith(f"[{ticket.reference}]")
    assert "Stand: neu" in text and "Auskunft" in text and "in 3 Tagen" in text
    for personal in (PERSON, PERSON_NAME, SECRET_BODY, "Erika"):
        assert personal not in text + subject


def test_notification_addresses_of_the_profile_all_get_it(desk: Desk) -> None:
    desk.profiles["kmb2"] = desk.profiles["kmb2"].model_copy(
        update={"notification_addresses": ["fristen@kmb2.de", "Fristen@KMB2.de", "dsb@kmb2.de"]})
    desk.open()
    desk.tick_at(berlin(2026, 3, 19, 8))
    assert sorted(i.recipient for i in desk.items(REMINDER)) == ["dsb@kmb2.de", "fristen@kmb2.de"]
    assert len(desk.actions("scheduler.reminder_queued")) == 1


def test_at_most_one_reminder_a_day(desk: Desk) -> None:
    ticket_id = desk.open()
    assert desk.tick_at(berlin(2026, 3, 19, 8)).reminders == 1

    def earlier_due(_s: Session, ticket: Ticket) -> None:
        # E.g. a pause ended and the dates were recomputed: due soon on the same day.
        ticket.due_date = date(2026, 3, 23)

    desk.edit(ticket_id, earlier_due)
    assert desk.tick_at(berlin(2026, 3, 19, 15)).reminders == 0
    assert desk.tick_at(berlin(2026, 3, 20, 8)).reminders == 1
    assert [e.detail["stage"] for e in desk.actions("scheduler.reminder_queued")] == [
        "internal_target", "due_soon"]


def test_extension_starts_the_stages_again_for_the_new_date(desk: Desk) -> None:
    ticket_id = desk.open()
    desk.tick_at(berlin(2026, 3, 19, 8))

    def extended(s: Session, ticket: Ticket) -> None:
        ticket.state = TicketState.IN_PROGRESS.value
        extend(s, ticket, land="NI", actor="dpo", reason="viele Systeme", now=berlin(2026, 3, 25, 10))

    desk.edit(ticket_id, extended)
    # The stored internal target (19 March) belongs to the original date: no reminder now.
    assert desk.tick_at(berlin(2026, 3, 31, 8)).reminders == 0
    assert desk.tick_at(berlin(2026, 5, 15, 8)).reminders == 0
    assert desk.tick_at(berlin(2026, 5, 18, 8)).reminders == 1  # 10 working days before 2 June
    last = desk.items(REMINDER)[-1]
    assert "2. Juni 2026" in mail_text(last)[0]
    assert "Verlängert bis: 2. Juni 2026" in mail_text(last)[1]


def test_paused_closed_and_undated_tickets_get_none(desk: Desk) -> None:
    paused = desk.open()
    answered = desk.open()

    def pause(_s: Session, ticket: Ticket) -> None:
        ticket.state = TicketState.PAUSED.value
        ticket.paused_since = berlin(2026, 3, 10, 9)

    def answer(_s: Session, ticket: Ticket) -> None:
        ticket.state = TicketState.ANSWERED.value

    desk.edit(paused, pause)
    desk.edit(answered, answer)
    desk.open(rights=(Right.MARKETING_OBJECTION,))  # effective at once: no legal due date
    assert desk.tick_at(berlin(2026, 4, 10, 8)).reminders == 0
    assert desk.items(REMINDER) == []
