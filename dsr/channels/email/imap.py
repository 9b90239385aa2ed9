"""IMAP mailbox adapter (imapclient): for controllers whose requests arrive in an existing mailbox.

A message is acknowledged (keyword `$DsrProcessed` plus \\Seen, or moved to the processed folder)
only after the pipeline has committed it, so a crash or a database outage never loses a request:
the message simply stays unacknowledged and is picked up again (the pipeline's Message-ID
deduplication makes the second pass harmless).  Receipt time for the statutory deadline is the
server's INTERNALDATE, i.e. when the mail reached the controller's mailbox (Art. 12(3) GDPR).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient

from dsr.channels.email.imap_batch import BatchItem, BatchRunner
from dsr.controllers.profile import ControllerProfile
from dsr.inbound import MessageSink, Outcome
from dsr.logs import mask_address
from dsr.mail.address import normalize_address
from dsr.mail.parse import UnparseableMessage, parse_email, recipient_candidates

log = logging.getLogger(__name__)

PROCESSED_KEYWORD = "$DsrProcessed"
SEEN = b"\\Seen"
IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before the server's 29-minute timeout
FAILURES_BEFORE_QUARANTINE = 5  # a message the pipeline keeps failing on must not block the rest
CONSECUTIVE_FAILURES_TO_PAUSE = 3  # the store is probably down: stop the round and back off


@dataclass(slots=True)
class _Round:
    """Counters of one polling round (updated by the worker threads under `lock`)."""

    total: int
    done: int = 0
    acknowledged: int = 0
    committed: list[int] = field(default_factory=list)  # of the current batch, not yet acknowledged
    failed: list[tuple[int, int]] = field(default_factory=list)  # (uidvalidity, uid)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class ImapLocation:
    """`imap[s]://user:password@host:port/FOLDER` split up (user and password URL-decoded)."""

    host: str
    port: int
    user: str
    password: str
    folder: str
    implicit_tls: bool

    @classmethod
    def from_url(cls, url: str) -> ImapLocation:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or parts.username is None:
            raise ValueError("expected imap[s]://user:password@host[:port]/FOLDER")
        implicit_tls = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if implicit_tls else 143),
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            implicit_tls=implicit_tls,
        )


class ImapPoller:
    """Polls one folder; `poll_once` is synchronous, `run` drives it from the asyncio loop."""

    def __init__(
        self,
        *,
        sink: MessageSink,
        profiles: Mapping[str, ControllerProfile],
        url: str,
        processed_folder: str | None = None,
        clock: Callable[[], datetime] | None = None,
        batch_size: int = 100,
        progress_every: int = 100,
        poll_interval: float = 60.0,
        idle_check_interval: float = 1.0,
        max_backoff: float = 300.0,
        timeout: float = 60.0,
        tls_context: ssl.SSLContext | None = None,
        workers: int = 1,
    ) -> None:
        """`workers`: messages of a fetched batch processed side by side (see `dsr.channels.email.imap_batch`:
        related messages keep their order; each is acknowledged only after its commit)."""
        if not profiles:
            raise ValueError("at least one controller profile is needed")
        self.location = ImapLocation.from_url(url)
        self._sink = sink
        self._processed_folder = processed_folder
        self._clock = clock or (lambda: datetime.now(UTC))
        self._batch_size = batch_size
        self._progress_every = progress_every
        self._poll_interval = poll_interval
        self._idle_check_interval = idle_check_interval
        self._max_backoff = max_backoff
        self._timeout = timeout
        self._tls_context = tls_context or ssl.create_default_context()
        self._controller_of = {
            normalize_address(str(a)): key
            for key, profile in profiles.items()
            for a in profile.request_addresses
        }
        first_key, first = next(iter(profiles.items()))
        self._default_route = (first.from_address, first_key)
        self._client: IMAPClient | None = None
        self._lock = threading.Lock()  # one IMAP conversation at a time (worker threads)
        self._uidvalidity: int | None = None
        self._highest_uid = 0
        self._rescan = True
        self._use_keyword = True
        self._supports_idle = False
        self._uidnext: object = None  # UIDNEXT at the last poll: new mail since then skips IDLE
        self._failures: dict[tuple[int, int], int] = {}
        self._workers = workers
        self._round: _Round | None = None
        self._runner = BatchRunner(workers=workers, process=self._process_item,
                                   failures_to_stop=CONSECUTIVE_FAILURES_TO_PAUSE, on_done=self._done)
        self.round_failed = False  # the last round left messages behind because the sink failed

    # --- one round ---------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Process every unacknowledged message; return how many were committed and acknowledged.
        Connection problems raise (the caller reconnects); sink failures do not."""
        with self._lock:
            client = self._connection()
            uids = self._pending_uids(client)
            progress = _Round(total=len(uids))
            for start in range(0, len(uids), self._batch_size):
                if not self._process_batch(client, uids[start : start + self._batch_size], progress):
                    break
            self.round_failed = bool(progress.failed)
            for key in progress.failed:
                self._failures[key] = self._failures.get(key, 0) + 1
            if not progress.failed:
                self._rescan = False
                self._highest_uid = max([self._highest_uid, *uids])
            return progress.acknowledged

    def _process_batch(self, client: IMAPClient, batch: list[int], progress: _Round) -> bool:
        """Fetch, commit and acknowledge one batch; False when the round should pause because
        the sink keeps failing.  Acknowledging once per batch (one STORE, one MOVE), after every
        commit in it, is what makes a backlog fast; a crash in between only means the pipeline
        sees duplicates.  A message that was not committed is not acknowledged."""
        fetched = client.fetch(batch, [b"BODY.PEEK[]", b"INTERNALDATE"])
        items: list[BatchItem] = []
        for uid in batch:
            data = fetched.get(uid)
            if data is None or b"BODY[]" not in data:
                progress.done += 1  # expunged meanwhile
                continue
            items.append(BatchItem(uid, data[b"BODY[]"], data.get(b"INTERNALDATE")))
        self._round = progress
        try:
            return self._runner.run(items)
        finally:
            committed, progress.committed = sorted(progress.committed), []
            if committed:
                self._acknowledge(client, committed)
                progress.acknowledged += len(committed)

    def _process_item(self, item: BatchItem) -> bool:
        return self._process(item.uid, item.raw, item.internal_date)

    def _done(self, item: BatchItem, committed: bool) -> None:
        """A worker finished `item`: count it; committed ones are acknowledged with the batch."""
        progress = self._round
        if progress is None:
            return
        with progress.lock:
            progress.done += 1
            if committed:
                progress.committed.append(item.uid)
            else:
                progress.failed.append((self._uidvalidity or 0, item.uid))
            done = progress.done
        if progress.total > self._progress_every and done % self._progress_every == 0:
            log.info("IMAP backlog: %d/%d messages imported", done, progress.total)

    def _pending_uids(self, client: IMAPClient) -> list[int]:
        selected = client.select_folder(self.location.folder)
        self._uidnext = selected.get(b"UIDNEXT")
        uidvalidity = int(selected[b"UIDVALIDITY"])
        if uidvalidity != self._uidvalidity:
            if self._uidvalidity is not None:
                log.warning("IMAP UIDVALIDITY of the folder changed: rescanning all messages")
            self._uidvalidity, self._highest_uid, self._rescan = uidvalidity, 0, True
            self._failures.clear()
        self._use_keyword = b"\\*" in selected.get(b"PERMANENTFLAGS", ())
        criteria: list[str | bytes] = ["NOT", "DELETED"]
        criteria += ["UNKEYWORD", PROCESSED_KEYWORD] if self._use_keyword else ["UNSEEN"]
        if not self._rescan:
            criteria += ["UID", f"{self._highest_uid + 1}:*"]
        return sorted(uid for uid in client.search(criteria) if self._rescan or uid > self._highest_uid)

    def _process(self, uid: int, raw: bytes, internal_date: object) -> bool:
        # In UTC: imapclient's own tzinfo class cannot cross into a pipeline worker process.
        received_at = (
            internal_date.astimezone(UTC)
            if isinstance(internal_date, datetime) and internal_date.tzinfo
            else self._clock()
        )
        recipient, controller = self._route(raw)
        key = (self._uidvalidity or 0, uid)
        try:
            outcome = self._commit(raw, controller, recipient, received_at, self._failures.get(key, 0))
        except Exception as exc:  # the one boundary catch per message: leave it for the next round
            log.error("IMAP message uid=%d for %s not committed (%s); left unacknowledged", uid, controller,
                      type(exc).__name__)  # fmt: skip
            return False
        self._failures.pop(key, None)
        log.info("IMAP message uid=%d for %s committed: %s", uid, controller, outcome.status)
        return True

    def _commit(
        self, raw: bytes, controller: str, recipient: str, received_at: datetime, failures: int
    ) -> Outcome:
        try:
            msg = parse_email(raw, controller=controller, recipient=recipient, received_at=received_at)
        except UnparseableMessage as exc:
            return self._sink.quarantine(controller=controller, channel="email", raw=raw, reason=exc.reason)
        log.debug("IMAP message from %s parsed", mask_address(msg.sender))
        if failures < FAILURES_BEFORE_QUARANTINE:
            return self._sink.handle(msg)
        try:
            return self._sink.handle(msg)
        except Exception as exc:
            # It failed again although the store may be back: a message the pipeline cannot
            # process goes to the DPO instead of blocking the mailbox.  If the store is still
            # down, quarantining fails as well and the message simply stays for the next round.
            reason = f"processing failed {failures + 1} times ({type(exc).__name__})"
            return self._sink.quarantine(controller=controller, channel="email", raw=raw, reason=reason)

    def _route(self, raw: bytes) -> tuple[str, str]:
        """(recipient, controller key): the first delivery address that is a request address."""
        for address in recipient_candidates(raw):
            if address in self._controller_of:
                return address, self._controller_of[address]
        return self._default_route

    def _acknowledge(self, client: IMAPClient, uids: list[int]) -> None:
        flags = [PROCESSED_KEYWORD.encode(), SEEN] if self._use_keyword else [SEEN]
        client.add_flags(uids, flags, silent=True)
        if self._processed_folder:
            if client.has_capability("MOVE"):
                client.move(uids, self._processed_folder)
            else:
                client.copy(uids, self._processed_folder)
                client.delete_messages(uids, silent=True)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()

    # --- connection --------------------------------------------------------------------------

    def _connection(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        where = self.location
        client = IMAPClient(
            where.host,
            port=where.port,
            ssl=where.implicit_tls,
            ssl_context=self._tls_context,
            timeout=self._timeout,
        )
        client.normalise_times = False  # keep INTERNALDATE timezone-aware
        if not where.implicit_tls:
            if client.has_capability("STARTTLS"):
                client.starttls(self._tls_context)
            elif not _is_loopback(where.host):
                log.warning("IMAP server %s offers no TLS: the password travels in clear text", where.host)
        client.login(where.user, where.password)
        if self._processed_folder and not client.folder_exists(self._processed_folder):
            client.create_folder(self._processed_folder)
        self._client, self._rescan = client, True
        self._supports_idle = client.has_capability("IDLE")
        log.info("IMAP connected to %s:%d, folder %s", where.host, where.port, where.folder)
        return client

    def close(self) -> None:
        """Log out (waits for a running round or IDLE to finish)."""
        with self._lock:
            self._runner.close()
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(Exception):
                    client.logout()

    def _wait_for_mail(self, should_stop: Callable[[], bool]) -> None:
        """IDLE until the server reports new mail, `should_stop()` or it is time to renew."""
        with self._lock:
            client = self._connection()
            selected = client.select_folder(self.location.folder)
            if selected.get(b"UIDNEXT") != self._uidnext:
                return  # mail arrived between the last poll and now: no IDLE needed
            client.idle()
            try:
                deadline = time.monotonic() + IDLE_RENEW_SECONDS
                while not should_stop() and time.monotonic() < deadline:
                    responses = client.idle_check(timeout=self._idle_check_interval)
                    if any(r and r[0] == b"BYE" for r in responses):
                        raise ConnectionError("IMAP server ended the session during IDLE")
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        return
                    # imapclient hides EOF (idle_check returns [] as for a quiet server): the
                    # socket itself says whether the server closed it.  (The earlier test, "three
                    # returns in under a tenth of the interval", missed it on a loaded machine.)
                    if not responses and _closed_by_peer(client):
                        raise ConnectionError("IMAP connection closed during IDLE")
            finally:
                client.idle_done()

    # --- the service loop --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set: IDLE where supported, else every `poll_interval` seconds;
        reconnect with exponential backoff on connection errors and sink failures."""
        backoff = 1.0
        halted = threading.Event()  # also ends a running IDLE when this task is cancelled

        def should_stop() -> bool:
            return stop.is_set() or halted.is_set()

        try:
            while not stop.is_set():
                try:
                    await asyncio.to_thread(self.poll_once)
                    if self.round_failed:
                        await _sleep(stop, backoff)
                        backoff = min(backoff * 2, self._max_backoff)
                        continue
                    backoff = 1.0
                    if self._supports_idle:
                        await asyncio.to_thread(self._wait_for_mail, should_stop)
                    else:
                        await _sleep(stop, self._poll_interval)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # connection lost, login refused, server restarted …
                    log.warning(
                        "IMAP connection problem (%s); retrying in %.0f s", type(exc).__name__, backoff
                    )
                    await asyncio.to_thread(self.close)
                    await _sleep(stop, backoff)
                    backoff = min(backoff * 2, self._max_backoff)
        finally:
            halted.set()
            await asyncio.to_thread(self.close)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _closed_by_peer(client: IMAPClient) -> bool:
    """Whether the server closed the connection (or it broke): a peek at the TCP socket under any
    TLS layer, which never blocks and consumes nothing.  End of stream reads as b""; pending bytes
    (a response, or TLS's close_notify not yet read) as not closed, until they are read."""
    raw = socket.socket(fileno=client.socket().fileno())
    try:
        return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # nothing to read: the connection is open and quiet
    except OSError:
        return True  # reset, or the socket is gone
    finally:
        raw.detach()  # the descriptor stays the client's


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
