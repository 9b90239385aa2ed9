"""Run every benchmark in turn: `python -m bench [name ...]`."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = ("classify", "deadlines", "email", "fulfilment", "hostile", "search", "sent_mark",
              "imap_kill", "instances")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        module.main()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
