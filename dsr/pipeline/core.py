"""The one pipeline every channel uses: from a received message to a ticket and a queued answer.

    classify (pure, before the transaction) -> de-duplicate and store -> STEPS:
    loop-guard -> follow-up -> new-request (triage, identity, ticket with deadline, escalation,
    reply) -> disposition -> commit

The order of the steps is the tuple `STEPS` below (Mailman's pipelines/builtin.py is the model);
each step (`dsr.pipeline.steps`) returns an `Outcome`, which ends the handling, or `CONTINUE`.

Everything happens in ONE database transaction that is committed exactly once, at the end: a
ticket, its audit trail and the reply announcing it exist together or not at all, and an adapter
acknowledges the sender (SMTP 250, IMAP flag, Telegram offset) only after `handle` returned.  The
pipeline is synchronous and does no network I/O; the outbox sender delivers later (Mailman's
"persist, then act").  Normal outcomes are return values (`Outcome`), never exceptions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.controllers.processor import named_clients
from dsr.controllers.profile import ControllerProfile, ProcessorClient
from dsr.deadlines import is_working_day
from dsr.inbound import InboundMessage, Outcome, OutcomeStatus
from dsr.intents import classify
from dsr.intents.classifier import default_classifier
from dsr.intents.model import Classification
from dsr.intents.rights import legal_sort
from dsr.intents.routing import UNCLEAR_REASONS
from dsr.logs import mask_address, mask_key
from dsr.mail.compose import domain_of
from dsr.pipeline import codes, steps
from dsr.pipeline.outbound import INSERT_MESSAGE, ReplyQueue
from dsr.pipeline.run import Run, Site, StoredInbound
from dsr.pipeline.steps import CONTINUE, Step
from dsr.pipeline.storable import storable, unstorable_reason
from dsr.replies import warm_templates
from dsr.store.audit import audit
from dsr.store.db import retry_if_disconnected
from dsr.store.models import (
    Direction,
    Message,
    QuarantinedMessage,
)
from dsr.store.search import DISPLAY_NAME_KEY

log = logging.getLogger(__name__)
decisions = logging.getLogger("dsr.decisions")

# The order in which a stored message is handled; the first step that returns an Outcome ends it.
STEPS: tuple[Step, ...] = (
    # Bounces are attached to the ticket whose mail came back; machine mail is recorded, never
    # answered (RFC 3834); "no automatic answer please" only withholds our reply.
    Step("loop-guard", steps.loop_guard),
    # A reply to one of our tickets (headers, reference tag) belongs to it: identity answers,
    # clarifications, immediate objections; a stranger's message to it is held.
    Step("follow-up", steps.follow_up),
    # Anything else opens a ticket (triage when nothing could be read); only a confident
    # non-privacy reading is ignored, with its reason, and listed for the DPO.
    Step("new-request", steps.new_request),
)

# What the stored message row keeps besides the kept headers: the typed fields the adapters
# parsed, under names no sender can set (the parser never copies x-dsr-* headers).
CONFIRMED_RIGHTS_KEY = "x-dsr-chat-confirmed-rights"
SYSTEM = steps.SYSTEM
# The database is down or unreachable: the message is not acknowledged and comes again.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, TimeoutError, ConnectionError)
_SET_DISPOSITION = update(Message).where(Message.id == bindparam("message")).values(
    ticket_id=bindparam("ticket_id"), disposition=bindparam("disposition"),
    disposition_reason=bindparam("disposition_reason"))


class Pipeline:
    """The only orchestrator; adapters call `handle` via `asyncio.to_thread`."""

    def __init__(self, *, sessions: sessionmaker[Session], profiles: Mapping[str, ControllerProfile],
                 clock: Callable[[], datetime], settings: Settings,
                 fault_hook: Callable[[str], None] | None = None, overrides_dir: Path | None = None,
                 write_gate: AbstractContextManager[Any] | None = None) -> None:
        """`write_gate`: a lock shared by every writer in the process when the database is SQLite
        (one writer at a time anyway); waiting on it wakes at once, unlike SQLite's busy handler."""
        self._sessions = sessions
        self._gate = write_gate or nullcontext()
        self._profiles = dict(profiles)
        self._clock = clock
        self._settings = settings
        self._fault = fault_hook or (lambda _point: None)
        self._overrides_dir = overrides_dir
        own_addresses = frozenset(
            str(address).lower() for p in profiles.values() for address in p.request_addresses)
        self._site = Site(own_addresses=own_addresses,
                          own_domains=frozenset(domain_of(a) for a in own_addresses),
                          trusted_authserv_id=settings.trusted_authserv_id)
        # The lexicon and the learned second signal (trained once per process, ~0.7 s CPU) are
        # loaded here, at start-up, not inside the first message's time budget.
        default_classifier()
        # Likewise each Land's public holidays for this year and the next (the `holidays` package
        # loads them lazily, ~0.2 s): the deadline is computed inside the transaction, where the
        # first message of every process would otherwise hold SQLite's write gate that long.
        today = clock().date()
        for profile in self._profiles.values():
            for year in (today.year, today.year + 1):
                is_working_day(today.replace(year=year, month=1, day=1), profile.state)
        # And every reply template (jinja2 compiles on first use, ~0.4 s for a process's first
        # letters, which are rendered inside the transaction).
        warm_templates(tuple(self._profiles), overrides_dir)

    # --- entry points -------------------------------------------------------------------------

    def handle(self, msg: InboundMessage) -> Outcome:
        """Process one received message; commits exactly once (nothing at all for a duplicate)."""
        profile = self._profiles.get(msg.controller)
        if profile is None:
            return self.quarantine(controller=msg.controller, channel=msg.channel, raw=msg.raw or b"",
                                   reason=f"unbekannter Verantwortlicher {msg.controller!r}")
        unstorable = unstorable_reason(msg)
        if unstorable is not None:
            return self._quarantine_message(msg, unstorable)
        msg = storable(msg)  # within the schema's limits on SQLite and PostgreSQL alike
        now = self._clock()
        started = time.monotonic()
        result = _classify(msg)  # pure: done before the transaction takes the write lock
        clients = tuple(named_clients(profile, f"{msg.subject}\n{msg.body}"))  # pure, as well
        spent = time.monotonic() - started
        if spent > self._settings.message_time_budget_seconds:
            # The per-message time budget: too costly to go on with; the DPO decides.
            return self._quarantine_message(msg, f"zu aufwendig (Einordnung dauerte {spent:.0f} s)")
        try:
            outcome = retry_if_disconnected(lambda: self._transaction(msg, profile, now, result, clients))
        except DATABASE_UNAVAILABLE:
            raise  # the adapter does not acknowledge (SMTP 451, no IMAP flag): delivered again later
        except Exception as exc:
            # Anything else would fail the same way on every redelivery (a value the database
            # refuses, a defect of ours): kept for the DPO instead of refused forever.
            log.exception("message not processable (%s); quarantined", type(exc).__name__)
            return self._quarantine_message(msg, f"Nachricht nicht verarbeitbar ({type(exc).__name__})")
        if outcome.status is OutcomeStatus.DUPLICATE:
            return outcome
        self._fault("crash_after_commit")
        decisions.info("msg=%s from=%s outcome=%s reason=%s ticket=%s replies=%d",
                       mask_key(msg.dedupe_key[:80]), mask_address(msg.sender), outcome.status.value,
                       outcome.reason, outcome.ticket_reference, len(outcome.outbox_ids))
        return outcome

    def _quarantine_message(self, msg: InboundMessage, reason: str) -> Outcome:
        raw = msg.raw if msg.raw is not None else f"{msg.subject}\n\n{msg.body}".encode("utf-8", "replace")
        return self.quarantine(controller=msg.controller, channel=msg.channel, raw=raw, reason=reason)

    def quarantine(self, *, controller: str, channel: str, raw: bytes, reason: str) -> Outcome:
        """Keep input we cannot process, with the reason, for the DPO; never drop it."""
        now = self._clock()

        def transaction() -> int:
            with self._gate, self._sessions() as session:
                item = QuarantinedMessage(controller=controller, channel=channel, reason=reason, raw=raw,
                                          received_at=now, state="open")
                session.add(item)
                session.flush()
                audit(session, actor=SYSTEM, action="message_quarantined", now=now, reason=reason,
                      detail={"quarantine_id": item.id, "channel": channel, "size": len(raw)})
                session.commit()
                return item.id

        item_id = retry_if_disconnected(transaction)
        log.warning("message quarantined id=%s channel=%s reason=%s", item_id, channel, reason)
        return Outcome(OutcomeStatus.QUARANTINED, reason=reason)

    def _transaction(self, msg: InboundMessage, profile: ControllerProfile, now: datetime,
                     result: Classification, clients: tuple[ProcessorClient, ...]) -> Outcome:
        """Every step for `msg` in one transaction, committed once (not at all for a duplicate)."""
        with self._gate, self._sessions() as session:
            try:
                stored = self._store_inbound(session, msg)
            except IntegrityError:  # (controller, channel, direction, dedupe_key) seen before
                session.rollback()
                return self._duplicate(msg)
            queue = ReplyQueue(session, profile, msg, now, self._overrides_dir)
            run = Run(session, profile, msg, stored, now, queue, result, self._site, clients)
            outcome = self._run_steps(run)
            self._record_disposition(session, stored)
            self._fault("crash_before_commit")
            session.commit()
        return replace(outcome, outbox_ids=tuple(queue.queued))

    # --- steps ----------------------------------------------------------------------------------

    def _duplicate(self, msg: InboundMessage) -> Outcome:
        decisions.info("msg=%s outcome=duplicate", mask_key(msg.dedupe_key[:80]))
        return Outcome(OutcomeStatus.DUPLICATE, reason="already_received")

    def _store_inbound(self, session: Session, msg: InboundMessage) -> StoredInbound:
        """Insert the message; the unique key refuses a redelivery (IntegrityError) before any
        work is done.  A plain INSERT: nothing in the transaction reads the row back."""
        attachments: list[Any] = [
            {"name": a.name, "type": a.content_type, "size": a.size, "sha256": a.sha256,
             "id_document": a.looks_like_id_document} for a in msg.attachments]
        message_id = session.connection().execute(INSERT_MESSAGE, {
            "controller": msg.controller, "channel": msg.channel, "direction": Direction.INBOUND.value,
            "dedupe_key": msg.dedupe_key, "message_id": msg.message_id, "in_reply_to": msg.in_reply_to,
            "references": " ".join(msg.references) or None, "sender": msg.sender, "recipient": msg.recipient,
            "subject_line": msg.subject, "body_text": codes.mask(msg.body), "headers": _stored_headers(msg),
            "attachments": attachments, "received_at": msg.received_at, "ticket_id": None, "disposition": "",
        }).scalar_one()
        return StoredInbound(id=message_id)

    @staticmethod
    def _record_disposition(session: Session, stored: StoredInbound) -> None:
        """Write the ticket and disposition the steps chose for the inbound message."""
        if stored.ticket_id is not None or stored.disposition:
            session.connection().execute(_SET_DISPOSITION, {
                "message": stored.id, "ticket_id": stored.ticket_id, "disposition": stored.disposition,
                "disposition_reason": stored.disposition_reason})

    @staticmethod
    def _run_steps(run: Run) -> Outcome:
        for step in STEPS:
            result = step.run(run)
            if result is not CONTINUE:
                log.debug("msg=%s ended at step %s", mask_key(run.msg.dedupe_key[:80]), step.name)
                return result
        raise AssertionError("the last step always decides")  # new-request never continues


def _classify(msg: InboundMessage) -> Classification:
    """`intents.classify`, overridden by rights the person confirmed by button in the chat.

    Only the Telegram adapter sets them (from a button press, never from typed text), and only
    for chat messages are they read: an e-mail sender cannot choose his own classification.
    """
    result = classify(msg.subject, msg.body, msg.channel)
    if msg.channel != "telegram":
        return result
    confirmed = list(msg.confirmed_rights)
    if not confirmed:
        return result
    reasons = tuple(r for r in result.reasons if r not in UNCLEAR_REASONS)
    return replace(result, labels=legal_sort(confirmed), reasons=reasons,
                   escalate=result.escalate and bool(reasons))


def _stored_headers(msg: InboundMessage) -> dict[str, str]:
    """The headers column of the stored message: kept headers plus what the adapter parsed."""
    headers = dict(msg.headers)
    headers.update({f"x-dsr-dsn-{key}": value for key, value in msg.delivery_status})
    if msg.defects:
        headers["x-dsr-defects"] = ", ".join(msg.defects)
    if msg.confirmed_rights:
        headers[CONFIRMED_RIGHTS_KEY] = ",".join(r.value for r in msg.confirmed_rights)
    if msg.display_name:
        headers[DISPLAY_NAME_KEY] = msg.display_name  # searchable: the name an unknown sender gave
    return headers
