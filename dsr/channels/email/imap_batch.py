"""Run one fetched IMAP batch through the pipeline on a few worker threads, safely.

A backlog is a queue of independent requests, so several can be committed side by side (on
PostgreSQL each in its own transaction; on SQLite the shared write gate still lets one writer in
at a time, but parsing and classification overlap).  Some messages are not independent, though:
a person's second mail may answer the first one (threading by In-Reply-To/References) or
withdraw what it asked for.  Such messages form a *chain* that is processed in UID
order on one worker, exactly as a single-threaded poller would; only unrelated chains run in
parallel.  Acknowledging stays with the caller, after every commit of the batch.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

_MSGID_RE = re.compile(r"<[^<>\s]+>")
_HEADERS = BytesHeaderParser(policy=compat32)


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One fetched message: UID, raw bytes and the server's INTERNALDATE (may be missing)."""

    uid: int
    raw: bytes
    internal_date: object


def chains(items: Sequence[BatchItem]) -> list[list[BatchItem]]:
    """Split `items` (in UID order) into chains that must keep their order: messages from the
    same sender, and messages referring to (the Message-ID of) another message of the batch.
    Each chain keeps UID order; the chains are ordered by their first UID."""
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_sender: dict[str, int] = {}
    by_message_id: dict[str, int] = {}
    for index, item in enumerate(items):
        sender, message_id, refers_to = _thread_keys(item.raw)
        linked = [by_message_id[r] for r in refers_to if r in by_message_id]
        if sender in by_sender:
            linked.append(by_sender[sender])
        for other in linked:
            parent[root(other)] = root(index)
        if sender:
            by_sender[sender] = index
        if message_id:
            by_message_id.setdefault(message_id, index)
    grouped: dict[int, list[BatchItem]] = {}
    for index, item in enumerate(items):
        grouped.setdefault(root(index), []).append(item)
    return sorted(grouped.values(), key=lambda chain: chain[0].uid)


def _thread_keys(raw: bytes) -> tuple[str, str, list[str]]:
    """(sender address, Message-ID, Message-IDs referred to) from the header, leniently: a
    header that cannot be read only means the message gets a chain of its own."""
    try:
        headers = _HEADERS.parsebytes(raw)
        senders = [addr.lower() for _name, addr in getaddresses([str(v) for v in headers.get_all("from", [])])
                   if addr]
        own = _MSGID_RE.findall(str(headers.get("message-id", "")))
        refers = _MSGID_RE.findall(f"{headers.get('in-reply-to', '')} {headers.get('references', '')}")
    except Exception:  # any malformed header: no ordering key; the pipeline quarantines if needed
        return "", "", []
    return (senders[0] if senders else ""), (own[0] if own else ""), refers


class BatchRunner:
    """Processes batches with `workers` threads (1: inline, in UID order, no thread at all).

    `process(item)` returns True when the message was committed.  After `failures_to_stop`
    failures in a row (the store is probably down) no further message of the batch is started.
    """

    def __init__(self, *, workers: int, process: Callable[[BatchItem], bool], failures_to_stop: int,
                 on_done: Callable[[BatchItem, bool], None]) -> None:
        if workers < 1:
            raise ValueError("at least one worker is needed")
        self._workers = workers
        self._process = process
        self._failures_to_stop = failures_to_stop
        self._on_done = on_done
        self._pool: ThreadPoolExecutor | None = None

    def run(self, items: Sequence[BatchItem]) -> bool:
        """Process `items`; False when the batch was stopped because messages kept failing."""
        state = _BatchState(self._failures_to_stop)
        groups = chains(items) if self._workers > 1 else [list(items)]
        if self._workers == 1 or len(groups) == 1:
            for group in groups:
                self._run_chain(group, state)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="imap-pipeline")
            wait([self._pool.submit(self._run_chain, group, state) for group in groups])
        return not state.stopped

    def _run_chain(self, chain: list[BatchItem], state: _BatchState) -> None:
        for item in chain:
            if state.stopped:
                return
            committed = self._process(item)
            state.record(committed)
            self._on_done(item, committed)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class _BatchState:
    """Failures in a row across the workers of one batch (a lock: several threads report)."""

    def __init__(self, failures_to_stop: int) -> None:
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._limit = failures_to_stop
        self.stopped = False

    def record(self, committed: bool) -> None:
        with self._lock:
            self._in_a_row = 0 if committed else self._in_a_row + 1
            if self._in_a_row >= self._limit:
                self.stopped = True
