"""Deadline engine throughput: deadlines computed per second over 100k random receipts."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from dsr.deadlines import LAENDER, compute_deadline

RECEIPTS = 100_000


def main() -> None:
    rng = random.Random(20260131)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    span = int(timedelta(days=5 * 365).total_seconds())
    states = sorted(LAENDER)
    receipts = [(start + timedelta(seconds=rng.randrange(span)), rng.choice(states)) for _ in range(RECEIPTS)]
    compute_deadline(receipts[0][0], receipts[0][1])  # import-time work out of the measurement
    began = time.perf_counter()
    for received_at, state in receipts:
        compute_deadline(received_at, state)
    elapsed = time.perf_counter() - began
    print(
        f"   deadlines: {RECEIPTS / elapsed:,.0f} per second "
        f"({RECEIPTS:,} random receipts 2024-2028, 16 Länder, {elapsed:.2f} s, holiday tables cached)"
    )


if __name__ == "__main__":
    main()
