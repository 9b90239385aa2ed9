"""The weekly digest: Monday from 07:00 Europe/Berlin, once per ISO week, metadata only."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from dsr.console.views.board import digest_targets
from dsr.intents.rights import Right
from dsr.service.scheduler import digest_due
from dsr.store.models import Ticket
from tests.support.scheduler import BERLIN, PERSON, PERSON_NAME, SECRET_BODY, Desk, berlin, mail_text

DIGEST = "weekly_digest"


@pytest.mark.parametrize(
    ("local", "due"),
    [
        (datetime(2026, 3, 2, 6, 59), False),
        (datetime(2026, 3, 2, 7, 0), True),
        (datetime(2026, 3, 4, 3, 0), True),  # later in the week: catch up after an outage
        (datetime(2026, 3, 8, 23, 59), True),  # Sunday still belongs to that week
    ],
)
def test_digest_is_due_from_monday_seven(local: datetime, due: bool) -> None:
    assert digest_due(local.replace(tzinfo=BERLIN)) is due


def test_digest_goes_out_once_per_week_per_controller(desk: Desk) -> None:
    desk.open()
    timeline = [
        (berlin(2026, 3, 2, 6, 55), 0),
        (berlin(2026, 3, 2, 7, 0), 2),  # kmb2 and komsa
        (berlin(2026, 3, 2, 7, 5), 0),
        (berlin(2026, 3, 3, 9), 0),
        (berlin(2026, 3, 8, 23, 59), 0),
        (berlin(2026, 3, 9, 7, 1), 2),  # the next Monday
        (berlin(2026, 3, 9, 18), 0),
    ]
    for moment, expected in timeline:
        assert desk.tick_at(moment).digests == expected, moment
    items = desk.items(DIGEST)
    assert [(i.controller, i.recipient) for i in items] == [
        ("kmb2", "klaus.marwede@kmb2.de"), ("komsa", "office@datenschutz-nord.de")] * 2
    weeks = [mail_text(i)[0] for i in items if i.controller == "kmb2"]
    assert ["KW 10/2026" in weeks[0], "KW 11/2026" in weeks[1]] == [True, True]
    events = desk.actions("scheduler.digest_queued")
    assert [(e.actor, e.detail["controller"]) for e in events] == [
        ("system:scheduler", "kmb2"), ("system:scheduler", "komsa")] * 2


def test_digest_lists_metadata_and_never_the_person(desk: Desk) -> None:
    first = desk.open()
    desk.open(rights=(Right.ERASURE, Right.OBJECTION), controller="kmb2")
    desk.open(controller="komsa")

    def named(s: Session, ticket: Ticket) -> None:
        ticket.escalation_reasons = ["legal_threat"]
        ticket.assignee = PERSON_NAME  # even a stray name in a free field must not leak

    desk.edit(first, named)
    desk.tick_at(berlin(2026, 3, 16, 7, 30))
    [kmb2] = [i for i in desk.items(DIGEST) if i.controller == "kmb2"]
    subject, text = mail_text(kmb2)
    assert "Offene Vorgänge: 2" in text and "Eskaliert: 1" in text
    with desk.sessions() as s:
        references = [t.reference for t in s.query(Ticket).filter(Ticket.controller == "kmb2")]
    assert all(reference in text for reference in references)
    assert not re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", subject + text)  # German labels, no codes
    payload = kmb2.payload.decode("ascii")
    for personal in (PERSON, PERSON_NAME, SECRET_BODY, "Erika", "Mustermann"):
        assert personal not in text + subject
        assert personal not in payload
    assert kmb2.ticket_id is None


def test_an_empty_week_still_gets_its_digest(desk: Desk) -> None:
    desk.tick_at(berlin(2026, 3, 2, 8))
    [kmb2] = [i for i in desk.items(DIGEST) if i.controller == "kmb2"]
    assert "Es gibt keine offenen Vorgänge." in mail_text(kmb2)[1]


def test_a_week_that_began_while_the_service_was_down_gets_its_digest_late(desk: Desk) -> None:
    assert desk.tick_at(berlin(2026, 3, 4, 10)).digests == 2  # Wednesday, first round this week
    assert desk.tick_at(berlin(2026, 3, 6, 10)).digests == 0
    assert all("KW 10/2026" in mail_text(i)[0] for i in desk.items(DIGEST))


def test_board_offers_the_notification_addresses_after_the_existing_targets(desk: Desk) -> None:
    before = {t.key: t.address for t in digest_targets(desk.profiles)}
    desk.profiles["komsa"] = desk.profiles["komsa"].model_copy(
        update={"notification_addresses": ["fristen@komsa.com", "info@komsa.com"]})
    after = {t.key: t.address for t in digest_targets(desk.profiles)}
    assert {k: after[k] for k in before} == before  # existing choices keep their keys
    assert set(after.values()) - set(before.values()) == {"fristen@komsa.com"}
    assert desk.profiles["komsa"].notification_recipients == ["fristen@komsa.com", "info@komsa.com"]
    assert desk.profiles["kmb2"].notification_recipients == ["klaus.marwede@kmb2.de"]
