"""Retention purge of DSR records (dsr.store.retention) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from dsr.console.metrics import BoardFigures, answered_dates, compute
from dsr.console.queries import ControllerScope, load_rows
from dsr.intents.rights import Right
from dsr.store.audit import AuditImmutableError
from dsr.store.db import make_engine, migrate, session_factory
from dsr.store.marks import add_mark, digest_key, reminder_key
from dsr.store.models import (
    AuditEvent,
    ChannelState,
    DataSubject,
    ExecutionStep,
    FulfilmentCase,
    Message,
    OutboxItem,
    OutboxState,
    QuarantinedMessage,
    Suppression,
    Ticket,
    TicketNote,
    TicketState,
    VerificationChallenge,
)
from dsr.store.outbox import enqueue
from dsr.store.retention import PurgeCounts, purge, retention_horizon
from dsr.store.suppression import is_suppressed, suppress
from dsr.store.tickets.facts import add_note
from dsr.store.tickets.services import open_ticket, transition
from tests.store.cli_helpers import run_dsr

BERLIN = ZoneInfo("Europe/Berlin")
TABLES = {
    "tickets": Ticket, "messages": Message, "notes": TicketNote, "challenges": VerificationChallenge,
    "outbox_items": OutboxItem, "quarantine": QuarantinedMessage, "audit_events": AuditEvent,
}
SUBJECT_ADDRESS = "erika.alt@example.org"


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Europe/Berlin wall-clock time, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def closed_case(s: Session, *, closed: datetime, controller: str = "komsa", tag: str = "a",
                rights: tuple[Right, ...] = (Right.ACCESS,), close: bool = True) -> Ticket:
    """A handled request with everything that hangs on a ticket: mails both ways, an outbox item,
    a note, a verification code, audit events; answered a week before `closed`."""
    received = closed - timedelta(days=20)
    ticket = open_ticket(s, controller=controller, land="SN", channel="email", received_at=received,
                         rights=rights, now=received, reply_to=SUBJECT_ADDRESS)
    ticket.state = TicketState.IN_PROGRESS.value  # set-up shortcut
    inbound = Message(controller=controller, channel="email", direction="in", dedupe_key=f"<in-{tag}@x>",
                      sender=SUBJECT_ADDRESS, body_text="Bitte Auskunft.", received_at=received,
                      ticket_id=ticket.id)
    outbound = Message(controller=controller, channel="email", direction="out", dedupe_key=f"<out-{tag}@x>",
                       sender="info@komsa.com", recipient=SUBJECT_ADDRESS, body_text="Eingang bestätigt",
                       received_at=received, ticket_id=ticket.id)
    s.add_all([inbound, outbound])
    s.flush()
    enqueue(s, controller=controller, channel="email", kind="receipt_confirmation", recipient=SUBJECT_ADDRESS,
            payload=b"mail", now=received, ticket_id=ticket.id, message_id=outbound.id)
    add_note(s, ticket, author="dpo", text="Daten im ERP geprüft", now=received)
    s.add(VerificationChallenge(ticket_id=ticket.id, purpose="ticket", code_hash="h", sent_to=SUBJECT_ADDRESS,
                                expires_at=received, created_at=received, state="verified"))
    transition(s, ticket, TicketState.ANSWERED, actor="dpo", reason="beantwortet",
               now=closed - timedelta(days=7), outcome="granted")
    if close:
        transition(s, ticket, TicketState.CLOSED, actor="dpo", reason="erledigt", now=closed)
    s.flush()
    return ticket


def count(s: Session, model: type[Any], where: ColumnElement[bool] | None = None) -> int:
    query = select(func.count()).select_from(model)
    return s.scalar(query if where is None else query.where(where)) or 0


def table_counts(s: Session) -> dict[str, int]:
    return {name: count(s, model) for name, model in TABLES.items()}


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> dict[str, int]:
    """KOMSA (3 years): one old case with a suppression entry, one at the edge of the horizon, one
    recent; loose old and new records; a kmb2 case as old as the oldest."""
    ids: dict[str, int] = {}
    with sessions.begin() as s:
        old = closed_case(s, closed=berlin(2021, 6, 1, 12), tag="old", rights=(Right.MARKETING_OBJECTION,))
        suppress(s, controller="komsa", address=SUBJECT_ADDRESS, now=old.received_at, ticket_id=old.id)
        edge = closed_case(s, closed=berlin(2022, 12, 31, 23, 30), tag="edge")
        kept = closed_case(s, closed=berlin(2023, 1, 1, 0, 30), tag="kept")
        unclosed = closed_case(s, closed=berlin(2021, 3, 1, 12), tag="unclosed", close=False)
        other = closed_case(s, closed=berlin(2021, 6, 1, 12), tag="other", controller="kmb2")
        ids.update(old=old.id, edge=edge.id, kept=kept.id, unclosed=unclosed.id, other=other.id)
        # Loose records: an old noise message, an old delivered digest, an old pending item (kept),
        # quarantine old and new, an old chat binding code.
        s.add(Message(controller="komsa", channel="email", direction="in", dedupe_key="<noise@x>",
                      sender="spam@example.net", body_text="Newsletter", received_at=berlin(2020, 5, 1)))
        digest = enqueue(s, controller="komsa", channel="email", kind="weekly_digest",
                         recipient="dpo@komsa.com", payload=b"digest", now=berlin(2021, 5, 3, 7))
        digest.state = OutboxState.SENT.value
        enqueue(s, controller="komsa", channel="email", kind="weekly_digest", recipient="dpo@komsa.com",
                payload=b"stuck", now=berlin(2021, 5, 10, 7))
        for received in (berlin(2020, 1, 1, 12), berlin(2025, 1, 1, 12)):
            s.add(QuarantinedMessage(controller="komsa", channel="email", reason="kaputt", raw=b"x",
                                     received_at=received))
        person = DataSubject(controller="komsa", name="Erika Alt", email=SUBJECT_ADDRESS,
                             created_at=berlin(2020, 1, 1), updated_at=berlin(2020, 1, 1))
        s.add(person)
        s.flush()
        s.add(VerificationChallenge(subject_id=person.id, purpose="telegram_binding", code_hash="h",
                                    sent_to=SUBJECT_ADDRESS, expires_at=berlin(2021, 1, 1),
                                    created_at=berlin(2021, 1, 1), state="expired"))
        add_mark(s, reminder_key(old.id, "overdue", date(2021, 5, 1)), now=berlin(2021, 5, 2),
                 detail={"sent_on": "2021-05-02"})
        add_mark(s, digest_key("komsa", date(2021, 5, 3)), now=berlin(2021, 5, 3, 7), detail={})
    return ids


PURGE_DAY = berlin(2026, 1, 1, 0, 5)  # first minutes of 2026: cases closed in 2022 expire


def test_horizon_is_the_end_of_the_year_of_closing() -> None:
    assert retention_horizon(date(2026, 1, 1), 3) == date(2023, 1, 1)
    assert retention_horizon(date(2025, 12, 31), 3) == date(2022, 1, 1)
    with pytest.raises(ValueError, match="at least 1"):
        retention_horizon(date(2026, 1, 1), 0)


def test_nothing_of_2022_goes_before_new_year(sessions: sessionmaker[Session], world: dict[str, int]) -> None:
    with sessions.begin() as s:
        report = purge(s, controller="komsa", years=3, now=berlin(2025, 12, 31, 23, 55))
    with sessions() as s:
        assert s.get(Ticket, world["edge"]) is not None
        assert s.get(Ticket, world["old"]) is None  # closed in 2021: gone since 1 January 2025
    assert report.counts.tickets == 1


def test_dry_run_counts_what_the_purge_then_deletes(
    sessions: sessionmaker[Session], world: dict[str, int]
) -> None:
    with sessions() as s:
        before = table_counts(s)
        dry = purge(s, controller="komsa", years=3, now=PURGE_DAY, dry_run=True)
        s.rollback()
    with sessions() as s:
        assert table_counts(s) == before, "a dry run changed the database"
    with sessions.begin() as s:
        real = purge(s, controller="komsa", years=3, now=PURGE_DAY)
    assert dry.dry_run and not real.dry_run
    assert dry.counts == real.counts
    counts = real.counts
    # old + edge; their 2 mails each plus the noise message; 2 outbox items of the tickets and the sent
    # digest (the pending one stays); 2 notes; 2 ticket codes and the binding code; the old quarantine.
    assert (counts.tickets, counts.messages, counts.outbox_items, counts.notes, counts.challenges,
            counts.quarantine, counts.marks) == (2, 5, 3, 2, 3, 1, 2)
    assert counts.suppressions_kept == 1 and counts.unclosed_past_horizon == 1
    with sessions() as s:
        after = table_counts(s)
        # The purge adds its own audit event.
        expected = {name: before[name] - getattr(counts, name) for name in TABLES}
        expected["audit_events"] += 1
        assert after == expected
        remaining = set(s.scalars(select(Ticket.id)))
        assert remaining == {world["kept"], world["unclosed"], world["other"]}
        assert count(s, Message, Message.ticket_id == world["kept"]) == 2
        assert count(s, OutboxItem, OutboxItem.payload == b"stuck") == 1  # still pending: kept
        assert count(s, QuarantinedMessage) == 1
        assert count(s, ChannelState) == 0


def test_suppression_entry_survives_its_ticket(
    sessions: sessionmaker[Session], world: dict[str, int]
) -> None:
    with sessions.begin() as s:
        purge(s, controller="komsa", years=3, now=PURGE_DAY)
    with sessions() as s:
        assert s.get(Ticket, world["old"]) is None
        entry = s.scalars(select(Suppression)).one()
        assert entry.source_ticket_id is None
        assert is_suppressed(s, controller="komsa", address=SUBJECT_ADDRESS.upper())


def test_audit_events_leave_through_the_gate_and_the_purge_is_audited(
    sessions: sessionmaker[Session], world: dict[str, int]
) -> None:
    purged = [world["old"], world["edge"]]
    with sessions() as s:
        assert count(s, AuditEvent, AuditEvent.ticket_id.in_(purged)) > 0
        kept_events = count(s, AuditEvent, AuditEvent.ticket_id == world["kept"])
    with sessions.begin() as s:
        report = purge(s, controller="komsa", years=3, now=PURGE_DAY, actor="cli:retention")
    with sessions() as s:
        assert count(s, AuditEvent, AuditEvent.ticket_id.in_(purged)) == 0
        assert count(s, AuditEvent, AuditEvent.ticket_id == world["kept"]) == kept_events
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention_purged")).one()
        assert event.actor == "cli:retention" and event.ticket_id is None
        assert event.detail["tickets"] == 2 and event.detail["audit_events"] == report.counts.audit_events
        assert set(event.detail) == {"controller", "years", "horizon", *PurgeCounts().as_dict()}
        assert SUBJECT_ADDRESS not in str(event.detail) and "DSR-" not in str(event.detail)
    # The gate closed with the purge's transaction: the audit log is append-only again.
    with sessions() as s, pytest.raises(AuditImmutableError):
        s.execute(delete(AuditEvent).where(AuditEvent.id == event.id))


def test_other_controllers_and_open_work_are_untouched(
    sessions: sessionmaker[Session], world: dict[str, int]
) -> None:
    with sessions.begin() as s:
        purge(s, controller="komsa", years=3, now=PURGE_DAY)
    with sessions() as s:
        assert s.get(Ticket, world["other"]) is not None
        assert s.get(Ticket, world["unclosed"]) is not None
        assert count(s, Message, Message.controller == "kmb2") == 2
    with sessions.begin() as s:
        assert purge(s, controller="kmb2", years=3, now=PURGE_DAY).counts.tickets == 1


def test_a_second_purge_finds_nothing(sessions: sessionmaker[Session], world: dict[str, int]) -> None:
    with sessions.begin() as s:
        purge(s, controller="komsa", years=3, now=PURGE_DAY)
    with sessions.begin() as s:
        again = purge(s, controller="komsa", years=3, now=PURGE_DAY + timedelta(days=1), record_empty=False)
    assert again.counts.deleted == 0
    with sessions() as s:
        assert count(s, AuditEvent, AuditEvent.action == "retention_purged") == 1


def test_board_figures_survive_a_purge_at_the_earliest_date(sessions: sessionmaker[Session]) -> None:
    """One year's retention, closed on New Year's Eve: deleted on 1 January two years later, when the
    board's twelve-month window no longer reaches back to it."""
    today = date(2026, 1, 1)
    with sessions.begin() as s:
        gone = closed_case(s, closed=berlin(2024, 12, 31, 22), tag="gone").id
        closed_case(s, closed=berlin(2025, 3, 10, 12), tag="in-window")
        closed_case(s, closed=berlin(2025, 12, 30, 12), tag="recent")

    def figures() -> BoardFigures:
        with sessions() as s:
            rows = load_rows(s, scope=ControllerScope.only("komsa"), today=today)
            return compute(rows, answered_dates(s, [r.id for r in rows if not r.is_open]), today=today)

    before = figures()
    assert sum(month.answered for month in before.months) == 2  # the window is not empty
    with sessions.begin() as s:
        report = purge(s, controller="komsa", years=1, now=berlin(2026, 1, 1, 0, 1))
    assert report.counts.tickets == 1
    with sessions() as s:
        assert s.get(Ticket, gone) is None
    assert figures() == before


def test_cli_dry_run_then_purge(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/dsr.sqlite3"
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:  # closed in 2020: past any horizon the real clock gives today
        komsa = closed_case(s, closed=berlin(2020, 6, 1, 12), tag="komsa").id
        kmb2 = closed_case(s, closed=berlin(2020, 6, 1, 12), tag="kmb2", controller="kmb2").id
    dry = run_dsr("retention", "purge", "--controller", "komsa", "--dry-run", db_url=url, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would delete: 1 tickets, 2 messages, 1 notes, 1 verification codes, 1 outbox items" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout
    with sessions() as s:
        assert s.get(Ticket, komsa) is not None
    real = run_dsr("retention", "purge", "--controller", "komsa", db_url=url, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    assert "komsa: records closed before 01.01." in real.stdout and "deleted: 1 tickets" in real.stdout
    with sessions() as s:
        assert s.get(Ticket, komsa) is None and s.get(Ticket, kmb2) is not None
    unknown = run_dsr("retention", "purge", "--controller", "nobody", db_url=url, cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown controller profile" in unknown.stderr
    engine.dispose()


def _case(s: Session, ticket_id: int, *, controller: str = "komsa", state: str = "executed") -> int:
    case = FulfilmentCase(ticket_id=ticket_id, controller=controller, state=state,
                          created_at=berlin(2021, 1, 1), updated_at=berlin(2021, 1, 1))
    s.add(case)
    s.flush()
    return case.id


def _run(s: Session, case_id: int, run_key: str, *, ended: datetime | None, states: tuple[str, ...]) -> None:
    """A plan execution journal: one step per state, keys and a rectified value (personal data)."""
    for n, state in enumerate(states):
        s.add(ExecutionStep(
            case_id=case_id, run_key=run_key, idempotency_key=f"{run_key}-{n}", position=n, system="crm",
            category="customers", action="update", keys=["K-1001"], values={"street": "Neue Straße 1"},
            approved_by="console:dana", state=state, rows=1, lease_until=None,
            created_at=(ended or PURGE_DAY) - timedelta(hours=1), finished_at=ended))


def test_the_execution_journal_is_purged_30_days_after_its_run_ended(
    sessions: sessionmaker[Session], world: dict[str, int]
) -> None:
    """Issue 16 leftover: `ExecutionStep` rows (record keys, rectified values) were never purged by
    the job: those of a finished run stayed as long as the ticket, and a ticket's purge removed
    them only by the database's cascade, uncounted.  The old code leaves "finished-long-ago"."""
    with sessions.begin() as s:
        kept_case = _case(s, world["kept"])
        long_ago = PURGE_DAY - timedelta(days=31)
        _run(s, kept_case, "finished-long-ago", ended=long_ago, states=("done", "failed"))
        _run(s, kept_case, "finished-lately", ended=PURGE_DAY - timedelta(days=29), states=("done",))
        # One step ended long ago, the other lately: the run is kept whole.
        _run(s, kept_case, "mixed", ended=PURGE_DAY - timedelta(days=90), states=("done",))
        _run(s, kept_case, "mixed-late", ended=PURGE_DAY - timedelta(days=5), states=("manual_open",))
        s.execute(ExecutionStep.__table__.update().where(ExecutionStep.run_key == "mixed-late")
                  .values(run_key="mixed"))
        # Interrupted by a crash: the worker still needs it, however old.
        running_case = _case(s, world["unclosed"], state="executing")
        _run(s, running_case, "interrupted", ended=None, states=("executing",))
        _run(s, running_case, "all-done-not-finished", ended=PURGE_DAY - timedelta(days=60), states=("done",))
        # Of a ticket the purge deletes: gone with it, counted.
        _run(s, _case(s, world["old"]), "of-old-ticket", ended=berlin(2021, 5, 1), states=("done", "done"))
        # Another controller's journal is not this purge's business.
        kmb2_case = _case(s, world["other"], controller="kmb2")
        _run(s, kmb2_case, "kmb2", ended=berlin(2021, 5, 1), states=("done",))
    with sessions() as s:
        dry = purge(s, controller="komsa", years=3, now=PURGE_DAY, dry_run=True)
        s.rollback()
    with sessions.begin() as s:
        real = purge(s, controller="komsa", years=3, now=PURGE_DAY)
    assert dry.counts.execution_steps == real.counts.execution_steps == 4
    with sessions() as s:
        left = sorted(set(s.scalars(select(ExecutionStep.run_key))))
        assert left == ["all-done-not-finished", "finished-lately", "interrupted", "kmb2", "mixed"]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention_purged")).one()
        assert event.detail["execution_steps"] == 4
    # Later, the same journal past its 30 days goes too; the interrupted run still stays.
    with sessions.begin() as s:
        later = purge(s, controller="komsa", years=3, now=PURGE_DAY + timedelta(days=40))
    assert later.counts.execution_steps == 3  # finished-lately and both steps of mixed
    with sessions() as s:
        assert sorted(set(s.scalars(select(ExecutionStep.run_key)))) == [
            "all-done-not-finished", "interrupted", "kmb2"]
