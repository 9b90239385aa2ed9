"""The SQLite write gate: one writer at a time across threads and processes, woken at once."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

from dsr.store.write_gate import WriteGate, gate_for, lock_path_for


def _hold(lock_path: str, held: object, release: object) -> None:
    gate = WriteGate(lock_path)
    with gate:
        held.set()  # type: ignore[attr-defined]
        release.wait(30)  # type: ignore[attr-defined]


def test_a_second_process_waits_until_the_first_releases(tmp_path: Path) -> None:
    lock_path = str(tmp_path / "dsr.sqlite3.write-lock")
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(lock_path, held, release))
    holder.start()
    try:
        assert held.wait(30)
        gate = WriteGate(lock_path)
        entered = threading.Event()

        def enter() -> None:
            with gate:
                entered.set()

        waiter = threading.Thread(target=enter)
        waiter.start()
        assert not entered.wait(0.5), "the gate let a second writer in while another process held it"
        released_at = time.monotonic()
        release.set()
        assert entered.wait(10)
        assert time.monotonic() - released_at < 2.0  # woken by the release, not by polling
        waiter.join()
    finally:
        release.set()
        holder.join(30)
    assert holder.exitcode == 0


def test_threads_of_one_process_exclude_each_other(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "x.write-lock"))
    inside = 0
    overlaps = []

    def write() -> None:
        nonlocal inside
        for _ in range(200):
            with gate:
                inside += 1
                overlaps.append(inside)
                inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(overlaps) == 1 and len(overlaps) == 800


def test_lock_files_only_for_sqlite_files(tmp_path: Path) -> None:
    assert lock_path_for(f"sqlite:///{tmp_path}/dsr.sqlite3") == f"{tmp_path}/dsr.sqlite3.write-lock"
    assert lock_path_for("sqlite://") is None
    assert lock_path_for("sqlite:///:memory:") is None
    assert lock_path_for("postgresql+psycopg://u@127.0.0.1/test") is None
    assert gate_for("postgresql+psycopg://u@127.0.0.1/test") is None
    in_memory = gate_for("sqlite://")
    assert in_memory is not None and in_memory.lock_path is None  # threads only


def test_first_goes_ahead_of_the_writers_already_waiting(tmp_path: Path) -> None:
    """The outbox's sent mark waits for the transaction in progress only, not for the queue."""
    gate = WriteGate(str(tmp_path / "x.write-lock"))
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate:
            holding.set()
            release.wait(30)

    def write(name: str) -> None:
        with gate:
            order.append(name)

    def mark() -> None:
        with gate.first():
            order.append("mark")

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    writers = [threading.Thread(target=write, args=(f"pipeline-{n}",)) for n in range(5)]
    for thread in writers:
        thread.start()
    time.sleep(0.3)  # the pipeline writers queue up first
    marker = threading.Thread(target=mark)
    marker.start()
    time.sleep(0.3)
    release.set()
    for thread in (holder, marker, *writers):
        thread.join(10)
    assert order[0] == "mark" and sorted(order[1:]) == [f"pipeline-{n}" for n in range(5)]


def test_a_loop_of_short_writes_does_not_starve_a_waiting_writer(tmp_path: Path) -> None:
    """First come, first served: a thread that releases and asks again at once queues behind the
    writer already waiting (the fulfilment worker's batches once starved the pipeline for seconds)."""
    gate = WriteGate(str(tmp_path / "x.write-lock"))
    rounds = 0
    started, stop = threading.Event(), threading.Event()
    asked_at: list[int] = []
    entered_after: list[int] = []

    def loop() -> None:
        nonlocal rounds
        while not stop.is_set() and rounds < 2000:
            with gate:
                rounds += 1
                started.set()
                time.sleep(0.002)

    def write() -> None:
        asked_at.append(rounds)
        with gate:
            entered_after.append(rounds)

    looper = threading.Thread(target=loop)
    looper.start()
    try:
        assert started.wait(10)
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(30)
    finally:
        stop.set()
        looper.join(30)
    assert entered_after, "the waiting writer never got the gate"
    # It waits for the transaction in progress, not for the loop: a round or two, a few more if this
    # thread is descheduled between reading the count and queueing (the unfair gate: 1,999 of 2,000).
    waited = entered_after[0] - asked_at[0]
    assert waited <= 10, f"waited {waited} rounds of the loop"
