"""A recording `MessageSink` test double: our own seam, as in aiosmtpd's own tests.

It stands in for the Pipeline so the adapters can be tested against real protocol clients and
servers without a database.  It deduplicates by `dedupe_key` like the pipeline does, can be told
to fail (to prove that nothing is acknowledged then), and lets a test wait for the next call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from dsr.inbound import InboundMessage, Outcome, OutcomeStatus


class StoreDownError(RuntimeError):
    """What a failing sink raises: stands for a database outage."""


@dataclass(frozen=True, slots=True)
class Quarantined:
    controller: str
    channel: str
    raw: bytes
    reason: str


class RecordingSink:
    def __init__(self, *, fail_when: Callable[[InboundMessage], bool] | None = None) -> None:
        self.handled: list[InboundMessage] = []
        self.quarantined: list[Quarantined] = []
        self.calls = 0
        self.failures = 0
        self.fail_when = fail_when
        self.fail_everything = False
        self._seen: set[str] = set()
        self._cond = threading.Condition()

    def handle(self, msg: InboundMessage) -> Outcome:
        with self._cond:
            self.calls += 1
            if self.fail_everything or (self.fail_when is not None and self.fail_when(msg)):
                self.failures += 1
                self._cond.notify_all()
                raise StoreDownError("database is down")
            self.handled.append(msg)
            duplicate = msg.dedupe_key in self._seen
            self._seen.add(msg.dedupe_key)
            self._cond.notify_all()
        return Outcome(OutcomeStatus.DUPLICATE if duplicate else OutcomeStatus.ACCEPTED)

    def quarantine(self, *, controller: str, channel: str, raw: bytes, reason: str) -> Outcome:
        with self._cond:
            self.calls += 1
            if self.fail_everything:
                self.failures += 1
                self._cond.notify_all()
                raise StoreDownError("database is down")
            self.quarantined.append(Quarantined(controller, channel, raw, reason))
            self._cond.notify_all()
        return Outcome(OutcomeStatus.QUARANTINED, reason=reason)

    @property
    def committed(self) -> int:
        return len(self.handled) + len(self.quarantined)

    def wait_for_committed(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` messages were handled or quarantined (AssertionError on timeout)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.committed >= count, timeout):
                raise AssertionError(f"only {self.committed} of {count} messages committed in {timeout} s")

    def wait_for_failures(self, count: int, timeout: float = 10.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.failures >= count, timeout):
                raise AssertionError(f"only {self.failures} of {count} failures in {timeout} s")

    def unique_handled(self) -> list[InboundMessage]:
        seen: set[str] = set()
        unique = []
        for msg in self.handled:
            if msg.dedupe_key not in seen:
                seen.add(msg.dedupe_key)
                unique.append(msg)
        return unique
