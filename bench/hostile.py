"""Hostile mail at volume (issue 18): 10,000 seeded messages of 17 hostile kinds, parsed and run
through the pipeline on SQLite, one after the other as the SMTP adapter does; then a 200 KB run of
letters processed while small requests keep arriving.  First, the address check on hostile text at
1x and 4x the length (linear or not).

Figures: outcomes (ticket / ignored / quarantined, none lost), the slowest message and p99, the
memory of the process before, at the peak and after; and how long the small requests waited
while the 200 KB letter was processed (target: none more than 100 ms).

`BENCH_HOSTILE_COUNT` changes the number of messages (default 10,000).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from dsr.config import Settings
from dsr.controllers.profile import load_profile
from dsr.inbound import Outcome
from dsr.mail.address import is_address
from dsr.mail.parse import UnparseableMessage, parse_email
from dsr.pipeline.core import Pipeline
from dsr.store.db import make_engine, migrate, session_factory
from dsr.store.write_gate import gate_for
from tests.servers.hostile_mime import KMB2, REQUEST, hostile_messages

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _receive(pipeline: Pipeline, raw: bytes) -> Outcome:
    """What the SMTP adapter does with one message."""
    try:
        msg = parse_email(raw, controller="kmb2", recipient=KMB2, received_at=NOW)
    except UnparseableMessage as exc:
        return pipeline.quarantine(controller="kmb2", channel="email", raw=raw, reason=exc.reason)
    return pipeline.handle(msg)


def _pipeline(folder: Path) -> Pipeline:
    url = f"sqlite:///{folder}/hostile.sqlite3"
    engine = make_engine(url)
    migrate(engine)
    profiles = {"kmb2": load_profile("kmb2")}
    return Pipeline(sessions=session_factory(engine), profiles=profiles, clock=lambda: NOW,
                    settings=Settings(database_url=url), write_gate=gate_for(url))


def volume(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = _pipeline(Path(tmp))
        before = peak = _rss_mb()
        outcomes: Counter[str] = Counter()
        times: list[tuple[float, str]] = []
        for _token, kind, raw in hostile_messages(count, seed=18):
            started = time.perf_counter()
            outcome = _receive(pipeline, raw)
            times.append((time.perf_counter() - started, kind))
            outcomes[outcome.status.value] += 1
            peak = max(peak, _rss_mb())
            del raw
        after = _rss_mb()
    ordered = sorted(times)
    slowest, slowest_kind = ordered[-1]
    p99 = ordered[int(len(ordered) * 0.99) - 1][0]
    print(f"   {count} hostile messages: {dict(outcomes)}; slowest {slowest:.2f} s ({slowest_kind}), "
          f"p99 {p99 * 1000:.0f} ms; memory {before:.0f} MB before, {peak:.0f} MB peak, {after:.0f} MB after",
          flush=True)


def letter_run_blocking() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = _pipeline(Path(tmp))
        letter = (f"From: unknown@example.org\r\nTo: {KMB2}\r\nSubject: Auskunft\r\n"
                  f"Message-ID: <big@example.org>\r\n\r\n{REQUEST}\r\n\r\n{'abcdefghij' * 20_000}").encode()
        waits: list[float] = []
        done = threading.Event()

        def small_requests() -> None:
            n = 0
            while not done.is_set():
                raw = (f"From: p{n}@example.org\r\nTo: {KMB2}\r\nSubject: Auskunft {n}\r\n"
                       f"Message-ID: <small-{n}@example.org>\r\n\r\n{REQUEST}\r\n").encode()
                started = time.perf_counter()
                _receive(pipeline, raw)
                waits.append(time.perf_counter() - started)
                n += 1

        worker = threading.Thread(target=small_requests)
        worker.start()
        time.sleep(0.2)
        started = time.perf_counter()
        _receive(pipeline, letter)
        took = time.perf_counter() - started
        time.sleep(0.2)
        done.set()
        worker.join()
    print(f"   200 KB letter run: processed in {took * 1000:.0f} ms; {len(waits)} small requests meanwhile, "
          f"longest {max(waits) * 1000:.0f} ms", flush=True)


def _address_shapes(n: int) -> tuple[str, ...]:
    """The longest hostile shapes for the address check, `n` characters each."""
    return ("a@" + "." * (n - 3) + "@", "a@" + "a." * ((n - 4) // 2) + "a@",
            "a@" + "ab." * ((n - 4) // 3) + "12", "a" * (n - 1) + "@")


def address_check_linear() -> None:
    """CPU time of the address check (Telegram's identity step, From headers) at 4,096 characters
    (a chat message's maximum) and at 4x that: linear means a ratio near 4 (quadratic: 16)."""
    cpu = {}
    for n in (4096, 4 * 4096):
        shapes = _address_shapes(n)
        started = time.process_time()
        for _ in range(20):
            for text in shapes:
                is_address(text)
        cpu[n] = (time.process_time() - started) / (20 * len(shapes))
    print(f"   address check on hostile text: {cpu[4096] * 1000:.2f} ms CPU at 4,096 characters, "
          f"{cpu[4 * 4096] * 1000:.2f} ms at 16,384 (ratio {cpu[4 * 4096] / cpu[4096]:.1f}; linear: ~4)",
          flush=True)


def main() -> None:
    address_check_linear()
    volume(int(os.environ.get("BENCH_HOSTILE_COUNT", "10000")))
    letter_run_blocking()


if __name__ == "__main__":
    main()
