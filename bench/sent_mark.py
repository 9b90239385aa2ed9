"""The window between the relay's acceptance of a reply and its sent mark (issue 18, item 5).

A reply goes out twice only when `dsr serve` dies inside this window, so its length is the
duplicate risk of every kill.  `dsr serve` on SQLite (in-process pipeline, the SQLite default)
takes 1,000 requests from 8 SMTP clients as fast as they go, so pipeline transactions queue for
the write gate while the sender marks its replies.  The sink notes the wall clock time of each
250; the outbox row's `sent_at` is the sender's clock when its UPDATE runs (the commit follows
in the same short transaction).  Figures: median, p95 and worst window, the longest gap between
two replies arriving at the relay (a pause of the whole service shows there), and the service's
own "write gate held N s by F" lines (`dsr.store.write_gate`): which transaction held SQLite's
single write slot, and how long, while everything else waited.

`BENCH_SENT_MARK_COUNT` changes the number of requests (default 1,000); `BENCH_SENT_MARK_DB=postgres`
measures PostgreSQL instead.
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
import uuid
from datetime import UTC
from pathlib import Path

from sqlalchemy import create_engine, select

from bench.email import Service, Sink, _database, _percentile, _request, _send_all
from dsr.store.models import OutboxItem

MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)
SLOW_HOLD = re.compile(r"write gate held ([\d.]+) s by (\S+)")


def slow_holds(log_text: str) -> str:
    """The service's slow write-gate holds, per holder: count, longest, total seconds."""
    holds: dict[str, list[float]] = {}
    for seconds, holder in SLOW_HOLD.findall(log_text):
        holds.setdefault(holder, []).append(float(seconds))
    if not holds:
        return "   no write-gate hold over 0.5 s"
    return "\n".join(f"   write gate held > 0.5 s by {holder}: {len(held)}x, longest {max(held):.2f} s, "
                     f"total {sum(held):.1f} s"
                     for holder, held in sorted(holds.items(), key=lambda item: -sum(item[1])))


def longest_gap(accepted_at: dict[str, float]) -> float:
    """Seconds of the longest pause between two replies arriving at the relay."""
    times = sorted(accepted_at.values())
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def windows(url: str, accepted_at: dict[str, float]) -> list[float]:
    """Milliseconds from the relay's 250 to the sent mark, per delivered item."""
    engine = create_engine(url)
    found: list[float] = []
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(OutboxItem.payload, OutboxItem.sent_at)
                                .where(OutboxItem.sent_at.is_not(None), OutboxItem.channel == "email"))
            for payload, sent_at in rows:
                match = MESSAGE_ID.search(payload)
                accepted = accepted_at.get(match.group(1).decode()) if match else None
                if accepted is None:
                    continue
                if sent_at is None:
                    continue
                when = sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=UTC)
                found.append((when.timestamp() - accepted) * 1000)
    finally:
        engine.dispose()
    return found


def run(kind: str, count: int) -> None:
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory() as tmp, _database(kind, Path(tmp), count) as url:
            service = Service(Path(tmp), url, sink.relay)
            load = os.getloadavg()[0]
            try:
                run_id = uuid.uuid4().hex[:6]
                _send_all(service.port, [_request(n, run_id) for n in range(count)], clients=8, rate=None,
                          sent_at={})
                complete = sink.wait_for(count, timeout=300)
            finally:
                service.stop()
            holds = slow_holds(service.log_path.read_text())
            found = windows(url, dict(sink.accepted_at))
    finally:
        sink.close()
    status = "" if complete else " (not every reply arrived!)"
    print(f"   {kind}: 250 -> sent mark over {len(found)} replies under load (8 clients, {count} requests): "
          f"median {_percentile(found, 50):.1f} ms, p95 {_percentile(found, 95):.1f} ms, "
          f"worst {max(found, default=float('nan')):.1f} ms; longest pause between replies "
          f"{longest_gap(dict(sink.accepted_at)):.2f} s (load average {load:.1f} at the start){status}",
          flush=True)
    print(holds, flush=True)


def main() -> None:
    run(os.environ.get("BENCH_SENT_MARK_DB", "sqlite"), int(os.environ.get("BENCH_SENT_MARK_COUNT", "1000")))


if __name__ == "__main__":
    main()
