"""Processor mode: one German reminder to the DPO when a forwarded request's client has not
confirmed it by the follow-up date (issue 15 no. 9), on the scheduler's test clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from dsr.controllers.profile import ControllerProfile
from dsr.pipeline.forwarding import ProcessorRecord, plan_forwarding, queue_forward, record_forwarding
from dsr.store.models import Ticket, TicketState
from dsr.store.tickets.services import transition
from tests.support.scheduler import PERSON, PERSON_NAME, SECRET_BODY, Desk, berlin, mail_text

FOLLOW_UP = "processor_follow_up"


def _forward(desk: Desk, ticket_id: int, at: datetime) -> None:
    profile: ControllerProfile = desk.profiles["kmb2"]
    client = profile.processor_client("elektro-heinemann")
    assert client is not None

    def forward(session: Session, ticket: Ticket) -> None:
        plan = plan_forwarding(ticket, profile, client, text=SECRET_BODY, now=at)
        item = queue_forward(session, profile, ticket, plan, now=at)
        record_forwarding(session, ticket, plan, actor="system", now=at, forward_item=item)

    desk.edit(ticket_id, forward)


def test_an_unconfirmed_forwarding_is_reminded_once_on_its_follow_up_date(desk: Desk) -> None:
    ticket_id = desk.open()  # received Monday 2 March 2026, due 2 April
    _forward(desk, ticket_id, berlin(2026, 3, 3, 10))
    with desk.sessions() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        assert ProcessorRecord.of(ticket).follow_up == date(2026, 3, 17)  # 14 days (profile default)
    timeline = [
        (berlin(2026, 3, 16, 23, 50), 0),
        (berlin(2026, 3, 17, 0, 5), 1),
        (berlin(2026, 3, 17, 9), 0),  # once
        (berlin(2026, 3, 30, 8), 0),  # and never again; no deadline reminder for a forwarded request
        (berlin(2026, 4, 3, 8), 0),
    ]
    for moment, expected in timeline:
        report = desk.tick_at(moment)
        assert (report.follow_ups, report.reminders) == (expected, 0), moment
    [item] = desk.items(FOLLOW_UP)
    assert item.recipient == "klaus.marwede@kmb2.de" and item.ticket_id is None
    subject, text = mail_text(item)
    assert "Nachfassen beim Auftraggeber: Weiterleitung vom 3. März 2026" in subject
    flat = " ".join(text.split())
    assert "im Auftrag von Heinemann Elektrotechnik GmbH, Braunschweig" in flat
    assert "Nachfasstermin am 17. März 2026" in flat and "2. April 2026" in flat
    for secret in (PERSON, PERSON_NAME, SECRET_BODY):
        assert secret not in text  # metadata only
    [event] = desk.actions("scheduler.processor_follow_up_queued")
    assert event.ticket_id == ticket_id and "Heinemann" in (event.reason or "")


def test_the_follow_up_never_lies_after_the_clients_statutory_date(desk: Desk) -> None:
    ticket_id = desk.open()  # due 2 April
    _forward(desk, ticket_id, berlin(2026, 3, 25, 10))
    with desk.sessions() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        assert ProcessorRecord.of(ticket).follow_up == date(2026, 4, 2)


def test_confirmed_or_taken_back_forwardings_get_no_reminder(desk: Desk) -> None:
    confirmed, taken_back = desk.open(), desk.open()
    for ticket_id in (confirmed, taken_back):
        _forward(desk, ticket_id, berlin(2026, 3, 3, 10))

    def settle(to: TicketState, **done: date) -> Callable[[Session, Ticket], None]:
        def change(session: Session, ticket: Ticket) -> None:
            record = ProcessorRecord.of(ticket)
            replace(record, **done).store(ticket)
            transition(session, ticket, to, actor="console:dana", reason="vom DSB entschieden",
                       now=berlin(2026, 3, 10, 9))
        return change

    desk.edit(confirmed, settle(TicketState.CLOSED, confirmed_on=date(2026, 3, 10)))
    desk.edit(taken_back, settle(TicketState.IN_PROGRESS, reverted_on=date(2026, 3, 10)))
    assert desk.tick_at(berlin(2026, 3, 17, 9)).follow_ups == 0
    assert desk.items(FOLLOW_UP) == []
