"""Reminders of a reported data breach's Art. 33 deadline (72 hours from the report)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dsr.config import Settings
from dsr.service.scheduler import BreachStage, breach_stage
from dsr.store.models import TicketState
from dsr.store.tickets.services import flag_breach, transition
from tests.support.scheduler import PERSON, PERSON_NAME, RECEIVED, SECRET_BODY, Desk, mail_text

REMINDER = "deadline_reminder"
DUE = RECEIVED + timedelta(hours=72)  # Thursday 5 March 2026, 09:30 UTC = 10:30 in Berlin


def _flag(desk: Desk, ticket_id: int) -> None:
    desk.edit(ticket_id, lambda s, t: flag_breach(s, t, actor="dpo@kmb2.de", reason="Rechnung eines "
                                                  "anderen Kunden erhalten", now=RECEIVED))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (DUE - timedelta(hours=12, seconds=1), None),
        (DUE - timedelta(hours=12), BreachStage.DUE_SOON),
        (DUE - timedelta(seconds=1), BreachStage.DUE_SOON),
        (DUE, BreachStage.EXPIRED),
        (DUE + timedelta(days=3), BreachStage.EXPIRED),
    ],
)
def test_stage_of_the_moment(now: datetime, expected: BreachStage | None) -> None:
    assert breach_stage(now=now, due=DUE, lead=timedelta(hours=12)) is expected


def test_the_dpo_is_reminded_once_before_the_end_and_once_at_it(desk: Desk) -> None:
    ticket_id = desk.open()
    _flag(desk, ticket_id)
    timeline = [
        (RECEIVED + timedelta(hours=1), 0),
        (DUE - timedelta(hours=12, minutes=5), 0),
        (DUE - timedelta(hours=11, minutes=58), 1),  # 12 hours before the end
        (DUE - timedelta(hours=11, minutes=53), 0),
        (DUE - timedelta(minutes=3), 0),
        (DUE + timedelta(minutes=2), 1),  # the end, the ticket still open
        (DUE + timedelta(hours=5), 0),
        (DUE + timedelta(days=2), 0),
    ]
    for moment, expected in timeline:
        assert desk.tick_at(moment).breach_reminders == expected, moment
    items = desk.items(REMINDER)
    assert [item.recipient for item in items] == ["klaus.marwede@kmb2.de"] * 2
    subjects = [mail_text(item)[0].split("] ", 1)[1] for item in items]
    assert subjects == [
        "DATENPANNE: Meldefrist (Art. 33 DSGVO) endet am 5. März 2026, 10:30 Uhr",
        "DATENPANNE: Meldefrist (Art. 33 DSGVO) abgelaufen am 5. März 2026, 10:30 Uhr",
    ]
    soon, expired = (" ".join(mail_text(item)[1].split()) for item in items)
    assert "Aufsichtsbehörde" in soon and "72 Stunden" in soon and "Art. 33 Abs. 5" in soon
    assert "abgelaufen" in expired and "Gründe für die Verzögerung" in expired
    for text in (soon, expired):  # metadata only
        assert PERSON not in text and PERSON_NAME not in text and SECRET_BODY not in text
    events = desk.actions("scheduler.breach_reminder_queued")
    assert [e.detail["stage"] for e in events] == ["breach_due_soon", "breach_expired"]
    assert {e.ticket_id for e in events} == {ticket_id}


def test_the_lead_time_is_configurable(desk: Desk) -> None:
    desk.settings = Settings(breach_reminder_hours=24)
    _flag(desk, desk.open())
    assert desk.tick_at(DUE - timedelta(hours=24, minutes=5)).breach_reminders == 0
    assert desk.tick_at(DUE - timedelta(hours=23, minutes=55)).breach_reminders == 1


def test_no_reminder_at_the_end_once_the_ticket_is_closed_and_none_without_a_breach(desk: Desk) -> None:
    plain = desk.open()
    flagged = desk.open()
    _flag(desk, flagged)
    assert desk.tick_at(DUE - timedelta(hours=6)).breach_reminders == 1  # only the flagged one
    desk.edit(flagged, lambda s, t: transition(s, t, TicketState.ANSWERED, actor="dpo@kmb2.de",
                                               reason="Meldung erstattet, Betroffene informiert",
                                               now=DUE - timedelta(hours=2), outcome="granted"))
    desk.edit(flagged, lambda s, t: transition(s, t, TicketState.CLOSED, actor="dpo@kmb2.de",
                                               reason="erledigt", now=DUE - timedelta(hours=2)))
    assert desk.tick_at(DUE + timedelta(minutes=5)).breach_reminders == 0
    events = desk.actions("scheduler.breach_reminder_queued")
    assert [e.ticket_id for e in events] == [flagged] and plain != flagged


def test_a_service_down_until_after_the_end_sends_only_the_late_reminder(desk: Desk) -> None:
    _flag(desk, desk.open())
    assert desk.tick_at(DUE + timedelta(hours=1)).breach_reminders == 1
    assert desk.tick_at(DUE + timedelta(hours=2)).breach_reminders == 0
    [event] = desk.actions("scheduler.breach_reminder_queued")
    assert event.detail["stage"] == "breach_expired"


def test_a_breach_reminder_does_not_take_the_place_of_the_days_deadline_reminder(desk: Desk) -> None:
    # Received so that the statutory month is due soon on the day the 72 hours end.
    received = datetime(2026, 3, 27, 9, 30, tzinfo=UTC)
    ticket_id = desk.open(received=received)
    desk.edit(ticket_id, lambda s, t: flag_breach(s, t, actor="dpo@kmb2.de", reason="Datenleck gemeldet",
                                                  now=received))
    desk.edit(ticket_id, lambda s, t: setattr(t, "due_date", (received + timedelta(days=4)).date()))
    report = desk.tick_at(received + timedelta(hours=72, minutes=1))
    assert report.breach_reminders == 1 and report.reminders == 1
