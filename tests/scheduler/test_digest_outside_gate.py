"""The weekly digest is rendered outside the write gate and queued once per week and controller.

Rendering it (0.4-1.4 s with many open tickets) inside its transaction held SQLite's write gate
that long, so every other writer of the service waited.  Now: a short read, the letter rendered
outside, a short write with the week's mark; two instances racing queue it once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from dsr.pipeline import outbound
from dsr.replies.context import ReplyKind
from dsr.service.scheduler import Scheduler
from tests.support.scheduler import Desk, berlin, mail_text

MONDAY = berlin(2026, 3, 2, 7, 5)


class RecordingGate:
    """A write gate (a real lock) that tells whether it is held right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held = False

    def __enter__(self) -> RecordingGate:
        self._lock.acquire()
        self.held = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.held = False
        self._lock.release()


@contextmanager
def digest_renders(monkeypatch: pytest.MonkeyPatch, during: Any) -> Iterator[None]:
    """Calls `during()` each time a weekly digest is rendered (the real renderer still renders)."""
    real = outbound.render_reply  # type: ignore[attr-defined]

    def spying(kind: ReplyKind, *args: Any, **kwargs: Any) -> Any:
        if kind is ReplyKind.WEEKLY_DIGEST:
            during()
        return real(kind, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(outbound, "render_reply", spying)
        yield


def test_digest_is_rendered_outside_the_write_gate(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(3):
        desk.open()
    gate = RecordingGate()
    held_while_rendering: list[bool] = []
    desk.clock.now = MONDAY
    with digest_renders(monkeypatch, lambda: held_while_rendering.append(gate.held)):
        report = desk.scheduler(write_gate=gate).tick()
    assert report.digests == 2
    assert held_while_rendering == [False, False]  # kmb2 and komsa, one recipient each
    [kmb2, _komsa] = desk.items("weekly_digest")
    assert "Offene Vorgänge: 3" in mail_text(kmb2)[1]  # the rows read before rendering are in it


def test_two_instances_racing_queue_the_digest_once(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both read 'not yet queued' and render; only the first write counts, for each controller."""
    desk.open()
    desk.clock.now = MONDAY
    both_rendered = threading.Barrier(2, timeout=60)
    instances = [desk.scheduler(write_gate=RecordingGate()) for _ in range(2)]  # two processes
    counts: list[int] = []
    errors: list[BaseException] = []

    def round_of(scheduler: Scheduler) -> None:
        try:
            counts.append(sum(scheduler.send_digest(p, MONDAY) for p in desk.profiles.values()))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with digest_renders(monkeypatch, both_rendered.wait):
        threads = [threading.Thread(target=round_of, args=(s,)) for s in instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert errors == []
    assert sorted(counts) == [0, 2] or sorted(counts) == [1, 1]  # each controller won by one instance
    assert sum(counts) == 2
    assert [i.controller for i in desk.items("weekly_digest")] == ["kmb2", "komsa"]
    assert len(desk.actions("scheduler.digest_queued")) == 2
    # Later rounds of either instance in the same week queue nothing; the next week's do.
    for scheduler in instances:
        desk.clock.now = berlin(2026, 3, 4, 10)
        assert scheduler.tick().digests == 0
    desk.clock.now = berlin(2026, 3, 9, 7, 1)
    assert [s.tick().digests for s in instances] == [2, 0]
    assert [i.controller for i in desk.items("weekly_digest")] == ["kmb2", "komsa"] * 2
