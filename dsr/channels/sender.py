"""Deliver pending e-mail outbox items: to the SMTP relay (aiosmtplib), or into a local Maildir.

The pipeline only writes outbox rows; this task delivers them.  Delivery is at-least-once:

* nothing is lost - an item stays PENDING until the relay accepted it (or it failed for good);
* every round first claims its items (`dsr.store.outbox.claim_deliveries`: a lease committed
  before any SMTP transaction starts, `FOR UPDATE SKIP LOCKED` on PostgreSQL), so several
  `dsr serve` on one database never deliver the same item, and an item whose sender died is
  taken over once its lease ends;
* each item is marked SENT in its own short transaction right after the relay's 250; a mail goes
  out twice only when the sender dies (or loses the database) between that 250 and the mark -
  and then with the same Message-ID, because the payload is composed once, when it is queued.
  The mark waits for nothing else: the sender's database steps run on threads of its own (not
  the executor the SMTP sessions' pipeline calls queue on) and, on SQLite, the mark passes the
  write gate ahead of the pipeline's waiting writes (`WriteGate.first`);
* one bad item fails alone: an address the relay cannot take (a non-ASCII local part without
  SMTPUTF8, a control character) fails that item with a clear reason, any unexpected error in
  one transaction closes that lane's connection, and the round carries on with the other items;
* temporary failures (4xx, connection problems) are retried with exponential backoff for
  `Settings.outbox_retry_days`; the DPO is warned (ticket escalated "delivery_delayed") once an
  answer has failed for `Settings.outbox_warn_after_hours`; a permanent 5xx failure or the end of
  the period makes the item FAILED, writes "delivery_failed" and escalates the ticket: an answer
  the data subject never got does not stop the statutory clock, so a person must act.

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
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import aiosmtplib
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.controllers.profile import ControllerProfile
from dsr.fulfilment.vault import parse_key
from dsr.logs import mask_address
from dsr.replies.context import ReplyKind
from dsr.store.db import retry_if_disconnected
from dsr.store.models import OutboxItem, Ticket, TicketState
from dsr.store.outbox import (
    Delivery,
    claim_deliveries,
    mark_failed,
    mark_sent_by_id,
    release_claims,
    release_dead_claims,
)
from dsr.store.sealed import SealedPayloadError, drop_payload, is_sealed, unseal
from dsr.store.tickets.services import escalate
from dsr.store.write_gate import WriteGate

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

BATCH = 50
LANES = 4  # parallel relay connections
_NO_ESCALATION_STATES = frozenset({TicketState.CLOSED.value, TicketState.PAUSED.value})
# Reply kinds addressed to the DPO or managers: their failure is no unreachable data subject.
_INTERNAL_KINDS = frozenset({ReplyKind.DPO_ESCALATION_ALERT.value, ReplyKind.DEADLINE_REMINDER.value,
                             ReplyKind.WEEKLY_DIGEST.value})


def sender_identity() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is someone else)."""
    return f"{_host()}:{os.getpid()}:{secrets.token_hex(4)}"


def _host() -> str:
    return socket.gethostname()[:60]


def sender_alive(owner: str) -> bool:
    """Whether the sender `owner` (of this host) still runs: its process exists."""
    pid = owner.split(":")[1] if owner.count(":") >= 2 else ""
    if not pid.isdigit():
        return True  # not ours to judge: its lease decides
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def address_problem(address: str) -> str | None:
    """Why `address` cannot be an SMTP envelope recipient at all, in German for the DPO; None if it can.

    A non-ASCII address is fine here (RFC 6531); whether the relay takes it is decided per
    connection (SMTPUTF8)."""
    if not address or "@" not in address:
        return "Empfängeradresse unvollständig"
    if any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in address):
        return "Empfängeradresse enthält Steuer- oder Leerzeichen"
    if len(address) > 320 or any(c in address for c in "<>"):
        return "Empfängeradresse ungültig"
    return None


class OutboxSender:
    def __init__(self, *, sessions: sessionmaker[Session], profiles: Mapping[str, ControllerProfile],
                 settings: Settings, clock: Callable[[], datetime], poll_interval: float = 1.0,
                 timeout: float = 30.0, write_gate: WriteGate | None = None) -> None:
        self._sessions = sessions
        self._write_gate = write_gate
        self._gate: AbstractContextManager[Any] = write_gate or nullcontext()
        # The sender's own threads for its database steps: the default executor is where every
        # SMTP session's pipeline call waits, and a sent mark queued there is a long crash window.
        self._db_threads: ThreadPoolExecutor | None = None
        self._local_hostname: str | None = None
        self._clients: dict[int, aiosmtplib.SMTP] = {}  # relay connections per lane, kept open
        self._profiles = dict(profiles)
        self._settings = settings
        # Opens the payloads sealed at rest (a DPO attachment, dsr.store.sealed).
        self._key = parse_key(settings.package_key) if settings.package_key else None
        self._clock = clock
        self._poll_interval = poll_interval
        self._timeout = timeout
        self._wake: asyncio.Event | None = None
        self._wake_lock = threading.Lock()
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._owner = sender_identity()
        self._lease = timedelta(seconds=settings.outbox_lease_seconds)
        self._retry_for = timedelta(days=settings.outbox_retry_days)
        self._warn_after = timedelta(hours=settings.outbox_warn_after_hours)

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
        try:
            await self._in_db(self._release_dead_claims)
        except Exception as exc:  # the database may still be starting: the leases end anyway
            log.warning("outbox: could not check for claims of stopped senders (%s)", type(exc).__name__)
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
        """One round: claim up to BATCH due e-mail items, deliver them; return how many were handled."""
        items = await self._in_db(self._claim_due)
        if not items:
            return 0
        # Items a lane has not reached before its lease runs short are handed back, not sent late
        # (another sender may hold them by then).
        lease = self._lease.total_seconds()
        deadline = time.monotonic() + max(lease - 2 * self._timeout - 5, lease / 2)
        if self._settings.smtp_relay:
            await self._send_via_relay(items, deadline)
        else:
            for item in items:
                try:
                    await self._in_db(self._write_maildir, item)
                except OSError as exc:
                    await self._in_db(self._mark_failed, item.id,
                                            f"Maildir: {type(exc).__name__}", False)
                    continue
                except SealedPayloadError as exc:
                    await self._in_db(self._mark_failed, item.id, str(exc), True)
                    continue
                await self._in_db(self._mark_sent, item.id, is_sealed(item.payload))
        return len(items)

    # --- delivery ---------------------------------------------------------------------------

    async def _send_via_relay(self, items: list[Delivery], deadline: float) -> None:
        """Deliver over up to LANES parallel relay connections; each lane is strictly sequential
        (send, then mark sent), so the mark still follows each acceptance immediately."""
        lanes = [items[i::LANES] for i in range(min(LANES, len(items)))]
        results = await asyncio.gather(
            *(self._lane(index, lane, deadline) for index, lane in enumerate(lanes)), return_exceptions=True)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                # Its items keep their lease and are retried when it ends; the other lanes' are done.
                log.error("outbox lane failed (%s); its unfinished items wait for their lease to end",
                          type(result).__name__)

    async def _lane(self, index: int, items: list[Delivery], deadline: float) -> None:
        client: aiosmtplib.SMTP | None = None
        for position, item in enumerate(items):
            if time.monotonic() > deadline:
                await self._in_db(self._release, [i.id for i in items[position:]])
                return
            if client is None or not client.is_connected:
                try:
                    client = await self._relay_client(index)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    log.warning("relay %s unavailable (%s); %d items wait", self._settings.smtp_relay,
                                type(exc).__name__, len(items) - position)
                    for waiting in items[position:]:
                        await self._in_db(self._mark_failed, waiting.id,
                                                f"Relay nicht erreichbar: {exc}", False)
                    return
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
        if self._local_hostname is None:  # aiosmtplib would look it up on the default executor
            self._local_hostname = await self._in_db(socket.getfqdn)
        client = aiosmtplib.SMTP(hostname=host, port=port, timeout=self._timeout, start_tls=None,
                                 local_hostname=self._local_hostname)
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
        if self._db_threads is not None:
            self._db_threads.shutdown(wait=False)
            self._db_threads = None

    async def _in_db(self, step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking (database or file) step on the sender's own threads."""
        if self._db_threads is None:
            self._db_threads = ThreadPoolExecutor(LANES + 1, thread_name_prefix="outbox-db")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_threads, lambda: step(*args, **kwargs))

    async def _send_one(self, client: aiosmtplib.SMTP, item: Delivery) -> None:
        """One SMTP transaction for one item; whatever happens, only this item is marked."""
        profile = self._profiles.get(item.controller)
        envelope_from = profile.from_address if profile else ""
        problem = address_problem(item.recipient)
        options: list[str] = []
        if problem is None and not (item.recipient.isascii() and envelope_from.isascii()):
            if client.supports_extension("smtputf8"):
                options.append("SMTPUTF8")
            else:
                problem = ("Empfängeradresse mit Nicht-ASCII-Zeichen; das Relay bietet kein SMTPUTF8 "
                           "(RFC 6531) an")
        try:
            payload = unseal(item.payload, self._key, item_id=item.id)
        except SealedPayloadError as exc:
            problem = str(exc)
        if problem is not None:
            await self._in_db(self._mark_failed, item.id, problem, True)
            return
        try:
            await client.sendmail(envelope_from, [item.recipient], payload, mail_options=options)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = bool(codes) and all(500 <= c < 600 for c in codes)
            await self._in_db(self._mark_failed, item.id, f"recipient refused: {codes}", permanent)
            return
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            await self._in_db(self._mark_failed, item.id, f"{exc.code} {exc.message}", permanent)
            return
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            await self._in_db(self._mark_failed, item.id, f"{type(exc).__name__}: {exc}", False)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The transaction broke half-way (e.g. the library could not encode a value after
            # MAIL FROM): its state on the relay is unknown, so this lane starts a new connection.
            # Retrying the same bytes would fail the same way: the item fails with the reason.
            client.close()
            await self._in_db(self._mark_failed, item.id,
                                    f"nicht versendbar ({type(exc).__name__}: {exc})", True)
            return
        await self._in_db(self._mark_sent, item.id, is_sealed(item.payload))
        log.info("outbox item=%s delivered to %s", item.id, mask_address(item.recipient))

    def _write_maildir(self, item: Delivery) -> None:
        path = Path(self._settings.maildir)
        path.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(str(path), create=True)
        box.add(unseal(item.payload, self._key, item_id=item.id))
        log.info("outbox item=%s written to Maildir for %s", item.id, mask_address(item.recipient))

    # --- database steps (worker threads, one short transaction each) -------------------------

    def _claim_due(self) -> list[Delivery]:
        def transaction() -> list[Delivery]:
            with self._gate, self._sessions() as session:
                items = claim_deliveries(session, now=self._clock(), channel="email", owner=self._owner,
                                         lease=self._lease, limit=BATCH)
                session.commit()
            return items

        return retry_if_disconnected(transaction)

    def _release_dead_claims(self) -> None:
        def transaction() -> None:
            with self._gate, self._sessions() as session:
                if release_dead_claims(session, owner_prefix=f"{_host()}:", alive=sender_alive):
                    session.commit()

        retry_if_disconnected(transaction)

    def _release(self, item_ids: list[int]) -> None:
        def transaction() -> None:
            with self._gate, self._sessions() as session:
                release_claims(session, item_ids, owner=self._owner)
                session.commit()

        retry_if_disconnected(transaction)

    def _mark_sent(self, item_id: int, sealed: bool = False) -> None:
        """Right after the relay's acceptance, ahead of waiting pipeline writes; repeated on a new
        connection if the pooled one turned out dead, since an item left pending would be sent a
        second time.  A sealed item's payload (the DPO's file) is dropped with the mark."""
        def transaction() -> None:
            with self._first(), self._sessions() as session:
                if mark_sent_by_id(session, item_id, now=self._clock()):
                    if sealed:
                        drop_payload(session, item_id)
                    session.commit()

        retry_if_disconnected(transaction)

    def _first(self) -> AbstractContextManager[Any]:
        return self._write_gate.first() if self._write_gate is not None else nullcontext()

    def _mark_failed(self, item_id: int, error: str, permanent: bool) -> None:
        now = self._clock()

        def transaction() -> bool:
            with self._gate, self._sessions() as session:
                item = session.get(OutboxItem, item_id)
                if item is None:
                    return False
                warn = mark_failed(session, item, error=error, permanent=permanent, now=now,
                                   retry_for=self._retry_for, warn_after=self._warn_after)
                if item.state == "failed":
                    self._escalate(session, item, now)
                elif warn:
                    self._warn_delayed(session, item, now)
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
        ticket = _answered_ticket(session, item)
        if ticket is None:
            return
        escalate(session, ticket, ["delivery_failed"], actor="system", now=now,
                 reason="Antwort an die betroffene Person nicht zustellbar; die Frist läuft weiter")

    @staticmethod
    def _warn_delayed(session: Session, item: OutboxItem, now: datetime) -> None:
        """Early warning while retries go on: the DPO can look at the relay before the answer is due.

        The warning is the ticket on the DPO's board (an alert mail would wait for the same relay)."""
        ticket = _answered_ticket(session, item)
        if ticket is None:
            return
        escalate(session, ticket, ["delivery_delayed"], actor="system", now=now,
                 reason="Antwort an die betroffene Person bisher nicht zustellbar (weitere Versuche laufen); "
                        "die Frist läuft weiter")


def _answered_ticket(session: Session, item: OutboxItem) -> Ticket | None:
    """The ticket whose data subject `item` answers, if it is one a person must now look at."""
    if item.ticket_id is None or item.kind in _INTERNAL_KINDS:
        return None
    ticket = session.get(Ticket, item.ticket_id)
    if ticket is None or ticket.state in _NO_ESCALATION_STATES:
        return None
    return ticket
