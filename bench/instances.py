"""Several `dsr serve` on one PostgreSQL (issue 18): throughput of one vs two, and singleton fail-over.

Throughput: 1,000 requests from 8 SMTP clients as fast as they go, to one instance, then to two
instances on one database (4 clients each); counted until the last reply reached the relay.
Target: two instances at least 1.6x one.  Both instances, PostgreSQL, the clients and the sink
share the machine's cores, so each line also shows where the CPU went, per message: each
instance's service process and its pipeline workers, PostgreSQL (all its processes), this
harness (SMTP clients and relay), every other process on the machine (on a shared machine: other
people's work) and the whole machine (/proc/stat, kernel included).

Fail-over: two instances with the IMAP poller (Dovecot); the leader of the IMAP poller is
SIGKILLed and the time is taken until the other instance leads it (its log line) and until a
mail appended to the mailbox right after the kill is stored.  Target: <= 30 s.

`BENCH_INSTANCES_COUNT` changes the number of requests (default 1,000); `BENCH_INSTANCES_WORKERS`
sets DSR_WORKERS of each instance (default: the service's own default).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench.email import Service, Sink, _database, _machine_cpu, _request, _send_all, _since
from dsr.store.models import Message


def _cpu_by_process() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) so far of every process on the machine, with its name."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            head, _, rest = (entry / "stat").read_text().rpartition(")")
            fields = rest.split()
            found[int(entry.name)] = (head.partition("(")[2], (int(fields[11]) + int(fields[12])) / tick)
    return found


def _cpu_shares(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
                services: list[Service], busy: float, count: int) -> str:
    """Milliseconds of CPU per message by process group, between the two snapshots."""
    groups: dict[str, float] = {}

    def used(pid: int) -> float:
        return after[pid][1] - before.get(pid, ("", 0.0))[1] if pid in after else 0.0

    seen: set[int] = set()
    for n, service in enumerate(services, 1):
        main_pid = service.proc.pid
        workers = [pid for pid in service.processes() if pid != main_pid]
        groups[f"instance {n}: service process"] = used(main_pid)
        # Its children: the pipeline workers and multiprocessing's resource tracker.
        groups[f"instance {n}: worker processes"] = sum(used(pid) for pid in workers)
        seen.update([main_pid, *workers])
    seen.add(os.getpid())
    groups["PostgreSQL"] = sum(used(pid) for pid, (name, _) in after.items()
                               if pid not in seen and name.startswith("postgres"))
    groups["benchmark clients and relay"] = used(os.getpid())
    groups["other processes"] = sum(used(pid) for pid, (name, _) in after.items()
                                    if pid not in seen and not name.startswith("postgres"))
    parts = ", ".join(f"{name} {1000 * seconds / count:.1f}" for name, seconds in groups.items())
    return f"CPU ms/msg: {parts}; whole machine {1000 * busy / count:.1f}"


def throughput(*, instances: int, count: int, sink: Sink) -> float:
    """Replies per second with `instances` instances sharing the 8 clients."""
    workers = os.environ.get("BENCH_INSTANCES_WORKERS")
    extra = {"DSR_WORKERS": workers} if workers else {}
    with tempfile.TemporaryDirectory() as tmp, _database("postgres", Path(tmp), count) as url:
        services = [Service(Path(tmp), url, sink.relay, **extra) for _ in range(instances)]
        try:
            sink.reset()
            run = uuid.uuid4().hex[:6]
            requests = [_request(n, run) for n in range(count)]
            shares = [requests[i::instances] for i in range(instances)]
            machine, processes = _machine_cpu(), _cpu_by_process()
            began = time.perf_counter()
            senders = [threading.Thread(target=_send_all, args=(service.port, share),
                                        kwargs={"clients": 8 // instances, "rate": None, "sent_at": {}})
                       for service, share in zip(services, shares, strict=True)]
            for thread in senders:
                thread.start()
            for thread in senders:
                thread.join()
            accepted = time.perf_counter() - began
            complete = sink.wait_for(count, timeout=300)
            ended = max(sink.arrived.values()) if sink.arrived else time.perf_counter()
            busy, _stolen = _since(machine)
            cpu = _cpu_shares(processes, _cpu_by_process(), services, busy, count)
        finally:
            for service in services:
                service.stop()
    rate = count / (ended - began)
    status = "" if complete else " (not every reply arrived!)"
    print(f"   {instances} instance(s), PostgreSQL, 8 clients: {rate:6.1f} msg/s answered "
          f"({count / accepted:.1f} msg/s accepted), load average {os.getloadavg()[0]:.1f} at the end"
          f"{status}\n     {cpu}",
          flush=True)
    return rate


def _leader_since(service: Service, singleton: str) -> bool:
    return f"leader for {singleton}" in service.log_path.read_text()


def _stored(url: str, message_id: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(select(func.count(Message.id))
                                     .where(Message.message_id == message_id)).scalar())
    finally:
        engine.dispose()


def fail_over(sink: Sink) -> None:
    from tests.servers.dovecot import DovecotServer

    dovecot = DovecotServer()
    dovecot.start()
    try:
        account = dovecot.add_account()
        with tempfile.TemporaryDirectory() as tmp, _database("postgres", Path(tmp), 10) as url:
            services = [Service(Path(tmp), url, sink.relay, DSR_IMAP_URL=account.url()) for _ in range(2)]
            try:
                deadline = time.monotonic() + 60
                while not any(_leader_since(s, "imap:") for s in services) and time.monotonic() < deadline:
                    time.sleep(0.05)
                leader = next(s for s in services if _leader_since(s, "imap:"))
                other = next(s for s in services if s is not leader)
                leader.proc.send_signal(signal.SIGKILL)
                killed = time.perf_counter()
                leader.proc.wait(30)
                probe = f"<failover-{uuid.uuid4().hex[:8]}@example.org>"
                with account.client() as client:
                    client.append("INBOX", _request(0, "failover")[2].replace(
                        b"<bench-failover-0@example.org>", probe.encode()))
                led = stored = None
                while (led is None or stored is None) and time.perf_counter() - killed < 120:
                    now = time.perf_counter() - killed
                    if led is None and _leader_since(other, "imap:"):
                        led = now
                    if stored is None and _stored(url, probe):
                        stored = now
                    time.sleep(0.05)
            finally:
                for service in services:
                    if service.proc.poll() is None:
                        service.stop()
    finally:
        dovecot.stop()
    print(f"   fail-over after SIGKILL of the IMAP leader: the other instance leads after "
          f"{led if led is not None else float('nan'):.1f} s, a mail appended after the kill is stored after "
          f"{stored if stored is not None else float('nan'):.1f} s (target <= 30 s)", flush=True)


def main() -> None:
    count = int(os.environ.get("BENCH_INSTANCES_COUNT", "1000"))
    print(f"   load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"({os.cpu_count()} cores)", flush=True)
    sink = Sink()
    try:
        one = throughput(instances=1, count=count, sink=sink)
        two = throughput(instances=2, count=count, sink=sink)
        print(f"   two instances / one: {two / one:.2f}x (target >= 1.6x)", flush=True)
        fail_over(sink)
    finally:
        sink.close()


if __name__ == "__main__":
    main()
