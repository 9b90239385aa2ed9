"""Scheduled internal work inside `dsr serve`: deadline reminders, the weekly digest, retention.

One round every few minutes (`TICK_SECONDS`), each step in its own short transaction in a worker
thread (SQLAlchemy is synchronous):

1. **Deadline reminders** to the controller's notification recipients (the DPO or privacy
   contact unless the profile lists others) for open tickets that reached their internal target
   date, are due within three working days of the controller's Land, or are overdue: the
   statutory one month (Art. 12(3) GDPR) must not run out unnoticed.  Each ticket gets at most
   one reminder per stage and due date, and at most one a day.  Paused tickets get none (their
   clock stands still, docs/LEGAL-NOTES.md 2.4); tickets whose rights take effect at once (marketing
   objection, consent withdrawal) neither.
   A reported data breach (`Ticket.breach_due_at`, Art. 33(1) GDPR: 72 hours from the report) gets
   its own reminder, `breach_reminder_hours` before that moment and once more at it if the ticket
   is still open; each once (a mark per stage), paused tickets included (the 72 hours never stop).
2. **The weekly digest** (open requests by due date) to the same recipients, once per ISO week,
   at the first round from Monday 07:00 Europe/Berlin on; a service that was down on Monday sends
   it at its first round later that week.
3. **Processor follow-up**: a request forwarded to a client (processor mode, `dsr.pipeline.forwarding`)
   whose client has not confirmed it by the ticket's follow-up date gets one reminder to the same
   recipients, once per follow-up date; the DPO then records the confirmation (or takes the
   request back as the controller's own) in the console.
4. **Retention purge** (`dsr.store.retention`) once a day, only when `DSR_RETENTION_AUTO_PURGE` is on.

Internal mails carry metadata only (reference, rights, state, dates, reason codes), never bodies
or a data subject's contact details.  They are built by the console's functions
(`dsr.console.digest`, `dsr.pipeline.outbound.queue_internal_mail`), so a digest from the
board and one from the scheduler are the same mail.  What was done is recorded as a mark
(`dsr.store.marks`) in the same transaction as the outbox items, so restarts and repeated rounds
never send twice.  The clock is injected; nothing here reads the system time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.console.digest import compose_digest, digest_context
from dsr.controllers.profile import ControllerProfile
from dsr.deadlines import working_days_before
from dsr.intents.rights import RIGHTS, Right
from dsr.pipeline.forwarding import FORWARDED, ProcessorRecord
from dsr.pipeline.outbound import queue_internal_mail, reply_context, send
from dsr.replies.context import ReplyContext, ReplyKind
from dsr.store.audit import audit
from dsr.store.marks import add_mark, digest_key, has_mark, reminder_key, reminder_marks, retention_key
from dsr.store.models import ChannelState, Ticket, TicketState
from dsr.store.retention import PurgeReport, purge
from dsr.store.tickets.catalogue import OPEN_STATES

log = logging.getLogger(__name__)
BERLIN = ZoneInfo("Europe/Berlin")
ACTOR = "system:scheduler"
TICK_SECONDS = 300.0
# The first round waits until start-up has settled (listeners bound, an inbound backlog taken in
# first); the rounds are idempotent, so a restart never repeats what was sent.
FIRST_TICK_AFTER_SECONDS = 60.0
DUE_SOON_WORKING_DAYS = 3
DIGEST_HOUR = 7  # Monday, Europe/Berlin
FOLLOW_UP_STAGE = "processor_follow_up"  # the stage part of a follow-up reminder's mark


class ReminderStage(StrEnum):
    INTERNAL_TARGET = "internal_target"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


def reminder_stage(*, today: date, due: date, internal_target: date | None,
                   land: str) -> ReminderStage | None:
    """The most urgent stage that applies today, or None while no reminder is due."""
    if today > due:
        return ReminderStage.OVERDUE
    if today >= working_days_before(due, DUE_SOON_WORKING_DAYS, land):
        return ReminderStage.DUE_SOON
    if internal_target is not None and today >= internal_target:
        return ReminderStage.INTERNAL_TARGET
    return None


class BreachStage(StrEnum):
    DUE_SOON = "breach_due_soon"
    EXPIRED = "breach_expired"


def breach_stage(*, now: datetime, due: datetime, lead: timedelta) -> BreachStage | None:
    """The reminder stage of a breach notification deadline at `now`, or None before `due - lead`."""
    if now >= due:
        return BreachStage.EXPIRED
    if now >= due - lead:
        return BreachStage.DUE_SOON
    return None


def digest_due(local_now: datetime) -> bool:
    """True from Monday 07:00 (Europe/Berlin) to the end of that ISO week."""
    return local_now.weekday() > 0 or local_now.hour >= DIGEST_HOUR


@dataclass(frozen=True, slots=True)
class TicketDates:
    """What a reminder is decided from: a ticket's id, reference, rights and dates (no ORM object)."""

    id: int
    reference: str
    rights: list[str]
    due_date: date | None
    extended_due_date: date | None
    internal_target_date: date | None

    COLUMNS: ClassVar[tuple[Any, ...]] = (Ticket.id, Ticket.reference, Ticket.rights, Ticket.due_date,
                                          Ticket.extended_due_date, Ticket.internal_target_date)


@dataclass(frozen=True, slots=True)
class Reminder:
    ticket_id: int
    reference: str
    stage: ReminderStage
    due: date
    internal_target: date | None


@dataclass(frozen=True, slots=True)
class TickReport:
    reminders: int = 0
    digests: int = 0
    follow_ups: int = 0
    breach_reminders: int = 0
    purges: tuple[PurgeReport, ...] = ()


class Scheduler:
    """Runs the rounds; `tick()` is one round (sync, for tests and the loop), `run()` the loop."""

    def __init__(self, *, sessions: sessionmaker[Session], profiles: Mapping[str, ControllerProfile],
                 clock: Callable[[], datetime], settings: Settings,
                 write_gate: AbstractContextManager[Any] | None = None,
                 wake: Callable[[], None] | None = None, interval: float = TICK_SECONDS,
                 first_tick_after: float = FIRST_TICK_AFTER_SECONDS) -> None:
        self._sessions = sessions
        self._profiles = dict(profiles)
        self._clock = clock
        self._settings = settings
        self._gate = write_gate or nullcontext()
        self._wake = wake or (lambda: None)
        self._interval = interval
        self._first_tick_after = first_tick_after

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set; a failing round is logged and retried at the next one."""
        delay = self._first_tick_after
        log.info("scheduler: first round in %.0f s, then every %.0f s", delay, self._interval)
        while True:
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("scheduler round failed; next try in %.0f s", self._interval)
            delay = self._interval

    def tick(self) -> TickReport:
        """One round over every controller: reminders, digest, and the purge if enabled."""
        now = self._clock()
        reminders = digests = follow_ups = breaches = 0
        purges: list[PurgeReport] = []
        for profile in self._profiles.values():
            try:
                breaches += self.send_breach_reminders(profile, now)
                reminders += self.send_reminders(profile, now)
                digests += self.send_digest(profile, now)
                follow_ups += self.send_follow_ups(profile, now)
                if self._settings.retention_auto_purge:
                    report = self.auto_purge(profile, now)
                    if report is not None:
                        purges.append(report)
            except Exception:
                log.exception("scheduler round failed for controller %s", profile.key)
        if reminders or digests or follow_ups or breaches:
            self._wake()
        return TickReport(reminders=reminders, digests=digests, follow_ups=follow_ups,
                          breach_reminders=breaches, purges=tuple(purges))

    def _queue_internal(self, session: Session, profile: ControllerProfile, kind: ReplyKind,
                        context: ReplyContext, reference: str, now: datetime) -> list[int]:
        """One internal mail (metadata only) to each notification recipient; the outbox ids."""
        return [
            queue_internal_mail(session, profile, kind=kind, context=context, to=to, now=now,
                                reference=reference, overrides_dir=self._settings.templates_dir)
            for to in profile.notification_recipients
        ]

    # --- deadline reminders -------------------------------------------------------------------

    def pending_reminders(self, profile: ControllerProfile, today: date) -> list[Reminder]:
        """Open tickets in a reminder stage whose mark for that stage does not exist yet.

        The dates are read in one short transaction and the stages worked out after it: on SQLite
        every other writer waits while one holds the write gate (with 500 open tickets, loading
        them and computing each stage inside the transaction held it 0.14-0.30 s every round)."""
        open_states = [s.value for s in OPEN_STATES if s is not TicketState.PAUSED]
        with self._gate, self._sessions() as session:
            rows = session.execute(select(*TicketDates.COLUMNS).where(
                Ticket.controller == profile.key, Ticket.state.in_(open_states)).order_by(Ticket.id)).all()
            session.rollback()
        tickets = [TicketDates(*row) for row in rows]
        candidates = [r for r in (self._reminder_for(t, profile, today) for t in tickets) if r]
        keys = [reminder_key(r.ticket_id, r.stage, r.due) for r in candidates]
        done: set[str] = set()
        if keys:
            with self._gate, self._sessions() as session:
                done = set(session.scalars(select(ChannelState.key).where(ChannelState.key.in_(keys))))
                session.rollback()
        return [r for r, key in zip(candidates, keys, strict=True) if key not in done]

    @staticmethod
    def _reminder_for(ticket: Ticket | TicketDates, profile: ControllerProfile,
                      today: date) -> Reminder | None:
        due = ticket.extended_due_date or ticket.due_date
        rights = [Right(code) for code in ticket.rights]
        if due is None or (rights and not any(RIGHTS[r].statutory_deadline for r in rights)):
            return None  # e.g. a marketing objection: effective at once, no month to watch
        # After an extension the stored internal target still belongs to the original date.
        target = ticket.internal_target_date if ticket.extended_due_date is None else working_days_before(
            due, profile.internal_target_working_days, profile.state)
        stage = reminder_stage(today=today, due=due, internal_target=target, land=profile.state)
        if stage is None:
            return None
        return Reminder(ticket.id, ticket.reference, stage, due, target)

    def send_reminders(self, profile: ControllerProfile, now: datetime) -> int:
        today = now.astimezone(BERLIN).date()
        sent = 0
        for reminder in self.pending_reminders(profile, today):
            try:
                sent += self._send_reminder(profile, reminder, now, today)
            except Exception:
                log.exception("deadline reminder failed ticket=%s", reminder.reference)
        return sent

    def _send_reminder(self, profile: ControllerProfile, reminder: Reminder, now: datetime,
                       today: date) -> int:
        key = reminder_key(reminder.ticket_id, reminder.stage, reminder.due)
        with self._gate, self._sessions() as session:
            ticket = session.get(Ticket, reminder.ticket_id)
            if ticket is None or self._reminder_for(ticket, profile, today) != reminder:
                return 0  # changed since it was read: the next round decides again
            marks = reminder_marks(session, ticket.id)
            if any(m.key == key or m.value.get("sent_on") == today.isoformat() for m in marks):
                return 0  # once per stage, and at most once a day
            context = reply_context(
                ticket, as_of=today, due_date=reminder.due, internal_target=reminder.internal_target,
                verified=False, recipient_name=None, ticket_state=ticket.state,
            )
            item_ids = self._queue_internal(session, profile, ReplyKind.DEADLINE_REMINDER, context,
                                            ticket.reference, now)
            detail = {"stage": reminder.stage.value, "due": reminder.due.isoformat(), "outbox_ids": item_ids}
            try:
                add_mark(session, key, now=now, detail={**detail, "sent_on": today.isoformat()})
            except IntegrityError:
                session.rollback()
                return 0
            audit(session, actor=ACTOR, action="scheduler.reminder_queued", now=now, ticket_id=ticket.id,
                  reason=f"Fristerinnerung ({reminder.stage.value})", detail=detail)
            session.commit()
        log.info("deadline reminder queued ticket=%s stage=%s due=%s recipients=%d", reminder.reference,
                 reminder.stage.value, reminder.due.isoformat(), len(item_ids))
        return 1

    # --- processor follow-up -------------------------------------------------------------------

    def pending_follow_ups(self, profile: ControllerProfile, today: date) -> list[tuple[int, date]]:
        """(ticket id, follow-up date) of forwarded tickets past their follow-up, not confirmed."""
        if not profile.may_act_as_processor:
            return []
        with self._gate, self._sessions() as session:
            tickets = session.scalars(select(Ticket).where(
                Ticket.controller == profile.key, Ticket.state == TicketState.ANSWERED.value,
                Ticket.outcome == FORWARDED).order_by(Ticket.id))
            due = [(t.id, r.follow_up) for t in tickets
                   if (r := ProcessorRecord.of(t)).awaiting_confirmation
                   and r.follow_up is not None and r.follow_up <= today]
            keys = [reminder_key(ticket_id, FOLLOW_UP_STAGE, day) for ticket_id, day in due]
            done = set(session.scalars(select(ChannelState.key).where(ChannelState.key.in_(keys)))) \
                if keys else set()
            session.rollback()
        return [entry for entry, key in zip(due, keys, strict=True) if key not in done]

    def send_follow_ups(self, profile: ControllerProfile, now: datetime) -> int:
        today = now.astimezone(BERLIN).date()
        sent = 0
        for ticket_id, follow_up in self.pending_follow_ups(profile, today):
            try:
                sent += self._send_follow_up(profile, ticket_id, follow_up, now, today)
            except Exception:
                log.exception("processor follow-up failed ticket_id=%s", ticket_id)
        return sent

    def _send_follow_up(self, profile: ControllerProfile, ticket_id: int, follow_up: date, now: datetime,
                        today: date) -> int:
        key = reminder_key(ticket_id, FOLLOW_UP_STAGE, follow_up)
        with self._gate, self._sessions() as session:
            ticket = session.get(Ticket, ticket_id)
            record = ProcessorRecord.of(ticket) if ticket is not None else None
            if (ticket is None or record is None or ticket.state != TicketState.ANSWERED.value
                    or not record.awaiting_confirmation or record.follow_up != follow_up):
                return 0  # confirmed, taken back or moved since it was read
            client = profile.processor_client(record.client or "")
            name = client.name if client is not None else (record.client or "")
            context = reply_context(ticket, as_of=today, verified=False, recipient_name=None,
                                    client_name=name, forwarded_date=record.forwarded_on,
                                    follow_up_date=follow_up)
            item_ids = self._queue_internal(session, profile, ReplyKind.PROCESSOR_FOLLOW_UP, context,
                                            ticket.reference, now)
            detail = {"client": record.client, "follow_up": follow_up.isoformat(), "outbox_ids": item_ids}
            try:
                add_mark(session, key, now=now, detail={**detail, "sent_on": today.isoformat()})
            except IntegrityError:
                session.rollback()
                return 0
            audit(session, actor=ACTOR, action="scheduler.processor_follow_up_queued", now=now,
                  ticket_id=ticket.id, reason=f"Keine Bestätigung von {name} bis {follow_up:%d.%m.%Y}: "
                                              "beim Auftraggeber nachfassen", detail=detail)
            session.commit()
        log.info("processor follow-up queued ticket=%s follow_up=%s recipients=%d", ticket.reference,
                 follow_up.isoformat(), len(item_ids))
        return 1

    # --- data breach notification deadline (Art. 33) -------------------------------------------

    def send_breach_reminders(self, profile: ControllerProfile, now: datetime) -> int:
        """Remind the DPO of the 72 hours of every open ticket flagged as a breach; see the module doc."""
        lead = timedelta(hours=self._settings.breach_reminder_hours)
        with self._gate, self._sessions() as session:
            flagged = session.scalars(select(Ticket.id).where(
                Ticket.controller == profile.key, Ticket.breach_due_at.is_not(None),
                Ticket.state.in_([s.value for s in OPEN_STATES])).order_by(Ticket.id)).all()
            session.rollback()
        sent = 0
        for ticket_id in flagged:
            try:
                sent += self._send_breach_reminder(profile, ticket_id, now, lead)
            except Exception:
                log.exception("breach reminder failed ticket_id=%s", ticket_id)
        return sent

    def _send_breach_reminder(self, profile: ControllerProfile, ticket_id: int, now: datetime,
                              lead: timedelta) -> int:
        with self._gate, self._sessions() as session:
            ticket = session.get(Ticket, ticket_id)
            due = ticket.breach_due_at if ticket is not None else None
            if ticket is None or due is None or TicketState(ticket.state) not in OPEN_STATES:
                session.rollback()
                return 0
            stage = breach_stage(now=now, due=due, lead=lead)
            # The mark names the day of the deadline; "sent_on" is left out on purpose, so a
            # breach reminder never takes the place of the day's deadline reminder.
            key = reminder_key(ticket.id, stage.value, due.astimezone(BERLIN).date()) if stage else ""
            if stage is None or has_mark(session, key):
                session.rollback()
                return 0
            today = now.astimezone(BERLIN).date()
            context = reply_context(ticket, as_of=today, verified=False, recipient_name=None,
                                    ticket_state=ticket.state, breach_due_at=due, breach_stage=stage.value,
                                    escalation_reasons=tuple(ticket.escalation_reasons))
            item_ids = self._queue_internal(session, profile, ReplyKind.DEADLINE_REMINDER, context,
                                            ticket.reference, now)
            detail = {"stage": stage.value, "breach_due_at": due.isoformat(), "outbox_ids": item_ids}
            try:
                add_mark(session, key, now=now, detail=detail)
            except IntegrityError:
                session.rollback()
                return 0
            audit(session, actor=ACTOR, action="scheduler.breach_reminder_queued", now=now,
                  ticket_id=ticket.id, reason=f"Erinnerung Meldefrist Datenpanne ({stage.value})",
                  detail=detail)
            reference = ticket.reference
            session.commit()
        log.info("breach reminder queued ticket=%s stage=%s due=%s recipients=%d", reference,
                 stage.value, due.isoformat(), len(item_ids))
        return 1

    # --- weekly digest ------------------------------------------------------------------------

    def send_digest(self, profile: ControllerProfile, now: datetime) -> int:
        """This week's digest, unless a mark says it was queued (by this or another instance).

        Three steps, so that no writer of the service waits while the letter is rendered (with
        many open tickets 0.4-1.4 s, when it was all one transaction): a short read (the mark and
        the rows), the mails rendered outside any transaction, a short write that queues them with
        the mark.  The mark's unique key decides a race: whoever commits it second queues nothing.
        """
        local = now.astimezone(BERLIN)
        if not digest_due(local):
            return 0
        today = local.date()
        key = digest_key(profile.key, today)
        with self._gate, self._sessions() as session:
            if has_mark(session, key):
                session.rollback()
                return 0
            context = digest_context(session, profile, today=today)
            session.rollback()
        mails = [compose_digest(profile, context, to=to, now=now, overrides_dir=self._settings.templates_dir)
                 for to in profile.notification_recipients]
        rows = len(context.digest_rows)
        with self._gate, self._sessions() as session:
            if has_mark(session, key):  # another round or instance was quicker
                session.rollback()
                return 0
            items = [send(session, mail, now=now, profile=profile) for mail in mails]
            detail = {"controller": profile.key, "rows": rows, "outbox_ids": items}
            try:
                add_mark(session, key, now=now, detail=detail)
            except IntegrityError:
                session.rollback()
                return 0
            audit(session, actor=ACTOR, action="scheduler.digest_queued", now=now, detail=detail)
            session.commit()
        log.info("weekly digest queued controller=%s week=%s rows=%d recipients=%d", profile.key,
                 key.rsplit(":", 1)[1], rows, len(items))
        return 1

    # --- retention ------------------------------------------------------------------------------

    def auto_purge(self, profile: ControllerProfile, now: datetime) -> PurgeReport | None:
        """The daily purge of records past `dsr_record_retention_years` (once per day)."""
        key = retention_key(profile.key, now.astimezone(BERLIN).date())
        with self._gate, self._sessions() as session:
            if has_mark(session, key):
                session.rollback()
                return None
            report = purge(session, controller=profile.key, years=profile.dsr_record_retention_years,
                           now=now, actor=ACTOR, record_empty=False)
            try:
                add_mark(session, key, now=now, detail=report.counts.as_dict())
            except IntegrityError:
                session.rollback()
                return None
            session.commit()
        return report
