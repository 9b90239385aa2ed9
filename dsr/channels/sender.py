"""Deliver pending e-mail outbox items: to the SMTP relay (aiosmtplib), or into a local Maildir.

The pipeline only writes outbox rows; this task delivers them.  Guarantees:

* nothing is lost - an item stays PENDING until the relay accepted it (or it failed for good);
* nothing is sent twice in normal operation - each item is marked SENT in its own committed
  transaction immediately after the relay's 250; only a crash in the microseconds between the
  relay's acceptance and that commit can repeat a mail (the unavoidable at-least-once window);
* temporary failures (4xx, connection problems) are retried with exponential backoff
  (`dsr.store.outbox.mark_failed`); a permanent 5xx failure makes the item FAILED, writes the audit
  event "delivery_failed" and escalates the ticket: an answer the data subject never got does not
  stop the statutory clock, so a person must act.

Without a relay (`make run`) every message is written to `Settings.maildir` so a newcomer can
read the answers.  Telegram items are left for the Telegram adapter.  The envelope sender is the
controller's own address (not the null sender RFC 3834 allows) so that bounces come back and can
be attached to the ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mailbox
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.controllers.profile import ControllerProfile
from dsr.logs import mask_address
from dsr.replies.context import ReplyKind
from dsr.store.db import retry_if_disconnected
from dsr.store.models import OutboxItem, Ticket, TicketState
from dsr.store.outbox import Delivery, due_deliveries, mark_failed, mark_sent_by_id
from dsr.store.tickets.services import escalate

log = logging.getLogger(__name__)

BATCH = 50
LANES = 4  # parallel relay connections
_NO_ESCALATION_STATES = frozenset({TicketState.CLOSED.value, TicketState.PAUSED.value})


class OutboxSender:
    def __init__(self, *, sessions: sessionmaker[Session], profiles: Mapping[str, ControllerProfile],
                 settings: Settings, clock: Callable[[], datetime], poll_interval: float = 1.0,
                 timeout: float = 30.0, write_gate: AbstractContextManager[Any] | None = None) -> None:
        self._sessions = sessions
        self._gate = write_gate or nullcontext()
        self._clients: dict[int, aiosmtplib.SMTP] = {}  # relay connections per lane, kept open
        self._profiles = dict(profiles)
        self._settings = settings
        self._clock = clock
        self._poll_interval = poll_interval
        self._timeout = timeout
        self._wake: asyncio.Event | None = None
        self._wake_lock = threading.Lock()
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- service loop -----------------------------------------------------------------------

    def wake(self) -> None:
        """Deliver soon; safe to call from any thread (adapters call it after a commit).

        Wake-ups are coalesced: while one is on its way to the event loop, further calls add
        nothing (each would cost a write to the loop's self-pipe and a thread switch per
        message).  The pending one is handled after the commit of every call it stands for,
        so no wake-up is lost.
        """
        loop = self._loop
        if loop is None or self._wake is None:
            return
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        loop.call_soon_threadsafe(self._woken)

    def _woken(self) -> None:
        with self._wake_lock:
            self._wake_pending = False
        if self._wake is not None:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        target = self._settings.smtp_relay or f"Maildir {self._settings.maildir}"
        log.info("outbox sender delivering e-mail to %s", target)
        while not stop.is_set():
            self._wake.clear()
            try:
                delivered = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down and the like: try again next round
                log.error("outbox round failed (%s); retrying", type(exc).__name__)
                delivered = 0
            if delivered >= BATCH:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait({waiter, stopper}, timeout=self._poll_interval,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    stopper.cancel()
        await self.close()

    async def deliver_due(self) -> int:
        """One round: deliver every due e-mail item (up to BATCH); return how many were handled."""
        items = await asyncio.to_thread(self._load_due)
        if not items:
            return 0
        if self._settings.smtp_relay:
            await self._send_via_relay(items)
        else:
            for item in items:
                await asyncio.to_thread(self._write_maildir, item)
                await asyncio.to_thread(self._mark_sent, item.id)
        return len(items)

    # --- delivery ---------------------------------------------------------------------------

    async def _send_via_relay(self, items: list[Delivery]) -> None:
        """Deliver over up to LANES parallel relay connections; each lane is strictly sequential
        (send, then mark sent), so the mark still follows each acceptance immediately."""
        lanes = [items[i::LANES] for i in range(min(LANES, len(items)))]
        await asyncio.gather(*(self._lane(index, lane) for index, lane in enumerate(lanes)))

    async def _lane(self, index: int, items: list[Delivery]) -> None:
        try:
            client = await self._relay_client(index)
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning("relay %s unavailable (%s); %d items wait", self._settings.smtp_relay,
                        type(exc).__name__, len(items))
            for item in items:
                await asyncio.to_thread(self._mark_failed, item.id, f"relay unavailable: {exc}", False)
            return
        for item in items:
            if not client.is_connected:
                try:
                    client = await self._relay_client(index)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    await asyncio.to_thread(self._mark_failed, item.id, f"relay unavailable: {exc}", False)
                    continue
            await self._send_one(client, item)

    async def _relay_client(self, index: int) -> aiosmtplib.SMTP:
        """Lane `index`'s relay connection, (re)connected and logged in when needed."""
        client = self._clients.get(index)
        if client is not None and client.is_connected:
            try:
                await client.noop()
                return client
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        self._clients.pop(index, None)
        host, port = Settings.split_host_port(self._settings.smtp_relay or "")
        client = aiosmtplib.SMTP(hostname=host, port=port, timeout=self._timeout, start_tls=None)
        await client.connect()
        if self._settings.smtp_relay_user:
            await client.login(self._settings.smtp_relay_user, self._settings.smtp_relay_password or "")
        self._clients[index] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            if client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit()
        self._clients.clear()

    async def _send_one(self, client: aiosmtplib.SMTP, item: Delivery) -> None:
        profile = self._profiles.get(item.controller)
        envelope_from = profile.from_address if profile else ""
        try:
            await client.sendmail(envelope_from, [item.recipient], item.payload)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = bool(codes) and all(500 <= c < 600 for c in codes)
            await asyncio.to_thread(self._mark_failed, item.id, f"recipient refused: {codes}", permanent)
            return
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            await asyncio.to_thread(self._mark_failed, item.id, f"{exc.code} {exc.message}", permanent)
            return
        except (aiosmtplib.SMTPException, OSError) as exc:
            await asyncio.to_thread(self._mark_failed, item.id, f"{type(exc).__name__}: {exc}", False)
            return
        await asyncio.to_thread(self._mark_sent, item.id)
        log.info("outbox item=%s delivered to %s", item.id, mask_address(item.recipient))

    def _write_maildir(self, item: Delivery) -> None:
        path = Path(self._settings.maildir)
        path.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(str(path), create=True)
        box.add(item.payload)
        log.info("outbox item=%s written to Maildir for %s", item.id, mask_address(item.recipient))

    # --- database steps (worker threads, one short transaction each) -------------------------

    def _load_due(self) -> list[Delivery]:
        def transaction() -> list[Delivery]:
            with self._gate, self._sessions() as session:
                items = due_deliveries(session, now=self._clock(), channel="email", limit=BATCH)
                session.commit()
            return items

        return retry_if_disconnected(transaction)

    def _mark_sent(self, item_id: int) -> None:
        """Right after the relay's acceptance; repeated on a new connection if the pooled one
        turned out dead, since an item left pending would be sent a second time."""
        def transaction() -> None:
            with self._gate, self._sessions() as session:
                if mark_sent_by_id(session, item_id, now=self._clock()):
                    session.commit()

        retry_if_disconnected(transaction)

    def _mark_failed(self, item_id: int, error: str, permanent: bool) -> None:
        now = self._clock()

        def transaction() -> bool:
            with self._gate, self._sessions() as session:
                item = session.get(OutboxItem, item_id)
                if item is None:
                    return False
                mark_failed(session, item, error=error, permanent=permanent, now=now)
                if item.state == "failed":
                    self._escalate(session, item, now)
                session.commit()
                return True

        if not retry_if_disconnected(transaction):
            return
        # The relay's text may quote the address: the log gets only the outcome, the row the error.
        log.warning("outbox item=%s delivery failed (%s)", item_id,
                    "permanent" if permanent else "will retry")

    @staticmethod
    def _escalate(session: Session, item: OutboxItem, now: datetime) -> None:
        """An answer that cannot be delivered is a DPO task; alerts about alerts are not."""
        if item.ticket_id is None or item.kind == ReplyKind.DPO_ESCALATION_ALERT.value:
            return
        ticket = session.get(Ticket, item.ticket_id)
        if ticket is None or ticket.state in _NO_ESCALATION_STATES:
            return
        escalate(session, ticket, ["delivery_failed"], actor="system", now=now,
                 reason="Antwort an die betroffene Person nicht zustellbar; die Frist läuft weiter")
