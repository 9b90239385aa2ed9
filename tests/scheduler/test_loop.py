"""Restarts, crashes and races never send twice; the loop ticks and stops on shutdown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dsr.config import Settings
from dsr.store.marks import add_mark, digest_key
from dsr.store.models import AuditEvent, ChannelState, OutboxItem, Ticket, TicketState
from dsr.store.tickets.services import transition
from tests.support.scheduler import Desk, berlin

MONDAY = berlin(2026, 3, 30, 8)  # the kmb2 ticket is due soon; the weekly digest is due


def test_a_restarted_scheduler_sends_nothing_twice(desk: Desk) -> None:
    desk.open()
    desk.clock.now = MONDAY
    first = desk.scheduler().tick()
    assert (first.reminders, first.digests) == (1, 2)
    again = desk.scheduler().tick()  # a new process over the same database
    assert (again.reminders, again.digests) == (0, 0)
    assert len(desk.items("deadline_reminder")) == 1 and len(desk.items("weekly_digest")) == 2


def test_a_crash_before_commit_leaves_nothing_and_the_next_round_sends_once(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.open()
    def failing_audit(*args: object, **kwargs: object) -> AuditEvent:
        raise RuntimeError("database went away")

    # The audit event is the last write before the commit: failing there is a crash mid-transaction.
    monkeypatch.setattr("dsr.service.scheduler.audit", failing_audit)
    failed = desk.tick_at(MONDAY)
    assert (failed.reminders, failed.digests) == (0, 0)
    with desk.sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 0
        assert s.scalar(select(func.count()).select_from(ChannelState)) == 0
    monkeypatch.undo()
    retried = desk.tick_at(berlin(2026, 3, 30, 8, 5))
    assert (retried.reminders, retried.digests) == (1, 2)


def test_a_mark_written_by_a_concurrent_round_wins(desk: Desk) -> None:
    with desk.sessions.begin() as s:
        add_mark(s, digest_key("kmb2", MONDAY.date()), now=MONDAY, detail={})
    assert desk.tick_at(MONDAY).digests == 1  # komsa only
    assert [i.controller for i in desk.items("weekly_digest")] == ["komsa"]


async def test_run_ticks_and_returns_when_stopped(desk: Desk) -> None:
    desk.open()
    desk.clock.now = MONDAY
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()
    scheduler = desk.scheduler(first_tick_after=0.0, interval=3600.0,
                               wake=lambda: loop.call_soon_threadsafe(woken.set))
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await asyncio.wait_for(woken.wait(), 20)
    stop.set()
    await asyncio.wait_for(task, 5)  # far less than the hour to the next round
    assert len(desk.items("weekly_digest")) == 2


async def test_run_is_cancelled_cleanly(desk: Desk) -> None:
    scheduler = desk.scheduler(first_tick_after=3600.0)
    task = asyncio.create_task(scheduler.run(asyncio.Event()))
    await asyncio.sleep(0)  # let it reach its wait
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_automatic_purge_only_when_enabled_and_once_a_day(desk: Desk) -> None:
    old = desk.open(received=datetime(2021, 3, 1, 9, tzinfo=UTC))

    def close(s: Session, ticket: Ticket) -> None:
        ticket.state = TicketState.ANSWERED.value
        transition(s, ticket, TicketState.CLOSED, actor="dpo", reason="erledigt",
                   now=datetime(2021, 4, 1, 9, tzinfo=UTC))

    desk.edit(old, close)
    assert desk.tick_at(MONDAY).purges == ()
    with desk.sessions() as s:
        assert s.get(Ticket, old) is not None
    desk.settings = Settings(retention_auto_purge=True)
    [kmb2, komsa] = desk.tick_at(berlin(2026, 3, 30, 9)).purges
    assert (kmb2.controller, kmb2.counts.tickets, komsa.counts.tickets) == ("kmb2", 1, 0)
    assert desk.tick_at(berlin(2026, 3, 30, 15)).purges == ()  # once a day
    assert len(desk.tick_at(berlin(2026, 3, 31, 9)).purges) == 2
    with desk.sessions() as s:
        assert s.get(Ticket, old) is None
        purges = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention_purged")).all()
    # Only the run that deleted something is in the audit log; the empty ones leave a mark only.
    assert [(e.actor, e.detail["controller"], e.detail["tickets"]) for e in purges] == [
        ("system:scheduler", "kmb2", 1)]
