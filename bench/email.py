"""E-mail channel benchmark: `dsr serve` as a real process between SMTP clients and an SMTP sink.

Figures (targets from issue 5):
- latency from the SMTP DATA of a request to its reply arriving at the relay, at a steady 20
  messages/s on SQLite (p95 < 300 ms);
- sustained throughput with 8 concurrent SMTP clients on SQLite and PostgreSQL (>= 100 msg/s on
  PostgreSQL), counted until the last reply reached the relay;
- a 1,000-message IMAP backlog in Dovecot, ingested (committed) per second (>= 150 msg/s);
- peak resident memory (VmHWM) of the `dsr serve` process (< 300 MB).

Every request comes from a different known data subject (level 1), so each one opens a ticket
with a deadline and gets a receipt confirmation: the main path, not a shortcut.

The machine has two cores shared by `dsr serve`, PostgreSQL or Dovecot, and this harness (SMTP
clients and the sink), so each line also shows the CPU time per message of `dsr serve` and of
the harness, and the load average at the start: figures from a busy machine are not comparable.
`BENCH_EMAIL_RUNS=latency,sqlite,postgres,imap,imap-postgres` runs a subset (default: all but
imap-postgres).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import create_engine, func, select, text

from dsr.store.db import make_engine, migrate, session_factory
from dsr.store.models import DataSubject, Message

KMB2 = "klaus.marwede@kmb2.de"
PG_ADMIN = os.environ.get("DSR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DSR = str(Path(sys.executable).with_name("dsr"))
LISTENING = re.compile(r"SMTP endpoint on ([\d.]+):(\d+)")
IN_REPLY_TO = re.compile(rb"^In-Reply-To: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)
MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)
BODY = ("Sehr geehrte Damen und Herren,\n\nhiermit bitte ich um Auskunft nach Art. 15 DSGVO, welche "
        "personenbezogenen Daten Sie über mich verarbeiten, und um eine Kopie.\n\nMit freundlichen Grüßen\n")


class Sink:
    """A relay that notes when each reply arrived, keyed by the request it answers (and the wall
    clock time of its acceptance, keyed by the reply's own Message-ID)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.accepted_at: dict[str, float] = {}
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()

        async def start() -> asyncio.Server:
            return await self._loop.create_server(lambda: SMTP(self, hostname="sink"), "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self.relay = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        now, wall = time.perf_counter(), time.time()
        match = IN_REPLY_TO.search(envelope.original_content or b"")
        own = MESSAGE_ID.search(envelope.original_content or b"")
        with self._cond:
            self.arrived[match.group(1).decode() if match else uuid.uuid4().hex] = now
            if own:
                self.accepted_at[own.group(1).decode()] = wall
            self._cond.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.arrived) >= count, timeout)

    def reset(self) -> None:
        with self._cond:
            self.arrived.clear()
            self.accepted_at.clear()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)


def _request(n: int, run: str) -> tuple[str, str, bytes]:
    sender = f"bench-{n}@example.org"
    message_id = f"<bench-{run}-{n}@example.org>"
    msg = EmailMessage()
    msg["From"] = f"Bench Person {n} <{sender}>"
    msg["To"] = KMB2
    msg["Subject"] = "Auskunft nach Art. 15 DSGVO"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id
    msg.set_content(BODY + f"Bench Person {n}")
    return sender, message_id, msg.as_bytes()


def _prepare_database(url: str, subjects: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    now = datetime.now(UTC)
    with session_factory(engine)() as session:
        session.add_all(DataSubject(controller="kmb2", name=f"Bench Person {n}",
                                    email=f"bench-{n}@example.org", customer_number=f"B-{n}",
                                    postal_code="38100", extra={}, created_at=now, updated_at=now)
                        for n in range(subjects))
        session.commit()
    engine.dispose()


@contextlib.contextmanager
def _database(kind: str, folder: Path, subjects: int) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{folder}/bench.sqlite3"
        _prepare_database(url, subjects)
        yield url
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"dsr_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        _prepare_database(url, subjects)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Service:
    """`dsr serve` in a subprocess, logging to a file; its SMTP port is read from the log."""

    def __init__(self, folder: Path, database_url: str, relay: str, **extra: str) -> None:
        # The harness's own DSR_* settings are dropped, except DSR_WORKERS (to compare counts).
        env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_") or k == "DSR_WORKERS"}
        env.update({"DSR_DATABASE_URL": database_url, "DSR_CONTROLLER": "kmb2",
                    "DSR_SMTP_LISTEN": "127.0.0.1:0", "DSR_WEB_LISTEN": "127.0.0.1:0",
                    "DSR_SMTP_RELAY": relay, "DSR_WEB_COOKIE_SECURE": "false", **extra})
        self.log_path = folder / f"serve-{uuid.uuid4().hex[:6]}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen([DSR, "serve"], env=env, cwd=folder, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self.port = self._wait_for_port()
        self.started = time.perf_counter()  # listeners are up: the IMAP poller starts now

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log_path.read_text())
            if match:
                return int(match.group(2))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("dsr serve did not start:\n" + self.log_path.read_text()[-3000:])

    def processes(self) -> list[int]:
        """The service process and its pipeline workers (children)."""
        pids = [self.proc.pid]
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
        return pids

    def cpu_seconds(self) -> tuple[float, float, float]:
        """(user, system, of which the service process itself) CPU seconds used so far by the
        service and its pipeline workers."""
        tick = os.sysconf("SC_CLK_TCK")
        user = system = own = 0.0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                used = int(fields[11]) / tick, int(fields[12]) / tick
                user, system = user + used[0], system + used[1]
                own += sum(used) if pid == self.proc.pid else 0.0
        return user, system, own

    def peak_rss_mb(self) -> float:
        """Peak resident memory (VmHWM) summed over the service and its workers: an upper bound,
        since pages the processes share (the interpreter, libraries) are counted once per process."""
        total = 0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        return total / 1024 if total else float("nan")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def _send_all(port: int, requests: list[tuple[str, str, bytes]], *, clients: int, rate: float | None,
              sent_at: dict[str, float]) -> None:
    """Send on `clients` persistent connections; at `rate` msg/s (open loop) or as fast as possible."""
    begin = time.perf_counter()

    def worker(index: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            for n in range(index, len(requests), clients):
                if rate is not None:
                    delay = begin + n / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                sender, message_id, raw = requests[n]
                sent_at[message_id] = time.perf_counter()
                client.sendmail(sender, [KMB2], raw)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))


def _own_cpu() -> float:
    usage = os.times()
    return usage.user + usage.system


def _machine_cpu() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine so far (all cores, from /proc/stat).
    Stolen time is what the hypervisor gave to other guests: a high figure means a noisy host."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _cpu_note(service_cpu: tuple[float, float, float], harness_cpu: float, count: int,
              machine: tuple[float, float] | None = None) -> str:
    """CPU per message; the system share is mostly socket round trips and thread hand-overs.
    `machine`: (busy, stolen) seconds of the whole machine over the same span."""
    user, system, own = service_cpu
    note = (f"CPU/msg: dsr serve {1000 * (user + system) / count:.1f} ms ({1000 * system / count:.1f} ms "
            f"in the kernel; {1000 * own / count:.1f} ms in the service process, the rest in its "
            f"workers), harness {1000 * harness_cpu / count:.1f} ms")
    if machine is not None:
        note += (f", whole machine {1000 * machine[0] / count:.1f} ms (PostgreSQL/Dovecot included; "
                 f"{1000 * machine[1] / count:.1f} ms stolen by the host)")
    return note


def _since(start: tuple[float, float]) -> tuple[float, float]:
    busy, stolen = _machine_cpu()
    return busy - start[0], stolen - start[1]


def _percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def smtp_run(kind: str, *, count: int, clients: int, rate: float | None, sink: Sink) -> tuple[str, float]:
    with tempfile.TemporaryDirectory() as tmp, _database(kind, Path(tmp), count) as url:
        service = Service(Path(tmp), url, sink.relay)
        try:
            sink.reset()
            run = uuid.uuid4().hex[:6]
            requests = [_request(n, run) for n in range(count)]
            sent_at: dict[str, float] = {}
            service_cpu, harness_cpu, machine = service.cpu_seconds(), _own_cpu(), _machine_cpu()
            began = time.perf_counter()
            _send_all(service.port, requests, clients=clients, rate=rate, sent_at=sent_at)
            accepted = time.perf_counter() - began  # every request committed (SMTP 250)
            complete = sink.wait_for(count, timeout=300)
            ended = max(sink.arrived.values()) if sink.arrived else time.perf_counter()
            used, harness_cpu = service.cpu_seconds(), _own_cpu() - harness_cpu
            machine = _since(machine)
            service_cpu = (used[0] - service_cpu[0], used[1] - service_cpu[1], used[2] - service_cpu[2])
            latencies = [(sink.arrived[m] - sent_at[m]) * 1000 for m in sent_at if m in sink.arrived]
            rss = service.peak_rss_mb()
        finally:
            service.stop()
    mode = f"{rate:.0f} msg/s offered" if rate else f"{clients} clients, as fast as possible"
    status = "" if complete else f" (only {len(latencies)} of {count} replies!)"
    line = (f"   SMTP {kind:<8} {mode:<34} {count / (ended - began):6.1f} msg/s answered "
            f"({count / accepted:.1f} msg/s accepted), "
            f"p50 {_percentile(latencies, 50):5.0f} ms, p95 {_percentile(latencies, 95):5.0f} ms{status}\n"
            f"        {_cpu_note(service_cpu, harness_cpu, count, machine)}")
    return line, rss


def imap_backlog(*, count: int, sink: Sink, kind: str = "sqlite") -> tuple[str, float]:
    from tests.servers.dovecot import DovecotServer, DovecotUnavailableError

    try:
        dovecot = DovecotServer()
    except DovecotUnavailableError as exc:
        return f"   IMAP backlog: skipped, Dovecot not available ({exc})", 0.0
    dovecot.start()
    try:
        account = dovecot.add_account()
        run = uuid.uuid4().hex[:6]
        client = account.client()
        try:
            for chunk in range(0, count, 100):
                batch = range(chunk, min(count, chunk + 100))
                client.multiappend("INBOX", [_request(n, run)[2] for n in batch])
        finally:
            client.logout()
        with tempfile.TemporaryDirectory() as tmp, _database(kind, Path(tmp), count) as url:
            sink.reset()
            harness_cpu, machine = _own_cpu(), _machine_cpu()
            service = Service(Path(tmp), url, sink.relay, DSR_IMAP_URL=account.url())
            try:
                ingested = _wait_for_inbound(url, count, service.started)
                service_cpu, machine = service.cpu_seconds(), _since(machine)
                sink.wait_for(count, timeout=300)
                answered = max(sink.arrived.values()) - service.started if sink.arrived else float("nan")
                harness_cpu = _own_cpu() - harness_cpu
                rss = service.peak_rss_mb()
            finally:
                service.stop()
    finally:
        dovecot.stop()
    name = "SQLite" if kind == "sqlite" else "PostgreSQL"
    line = (f"   IMAP backlog of {count} in Dovecot ({name}): ingested {count / ingested:6.1f} msg/s "
            f"({ingested:.1f} s), all replies at the relay after {answered:.1f} s\n"
            f"        {_cpu_note(service_cpu, harness_cpu, count, machine)} (until ingested, "
            f"start-up included)")
    return line, rss


def _wait_for_inbound(url: str, count: int, started: float) -> float:
    """Seconds from start-up until `count` inbound messages are committed, polled every 20 ms.

    A plain engine, not `dsr.store.db.make_engine`: that one opens every SQLite transaction with
    BEGIN IMMEDIATE, and a poll holding the write lock would stall the service's writers."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = select(func.count(Message.id)).where(Message.direction == "in")
            while (conn.execute(query).scalar() or 0) < count:
                conn.rollback()
                time.sleep(0.02)
                if time.perf_counter() - started > 300:
                    break
            return time.perf_counter() - started
    finally:
        engine.dispose()


RUNS = ("latency", "sqlite", "postgres", "imap")


def main() -> None:
    wanted = [r.strip() for r in os.environ.get("BENCH_EMAIL_RUNS", ",".join(RUNS)).split(",") if r.strip()]
    print(f"   load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"({os.cpu_count()} cores)", flush=True)
    sink = Sink()
    peaks: list[float] = []
    try:
        for run in wanted:
            if run == "latency":
                line, rss = smtp_run("sqlite", count=300, clients=4, rate=20.0, sink=sink)
            elif run in ("sqlite", "postgres"):
                line, rss = smtp_run(run, count=1000, clients=8, rate=None, sink=sink)
            elif run in ("imap", "imap-postgres"):
                line, rss = imap_backlog(count=1000, sink=sink,
                                         kind="postgres" if run == "imap-postgres" else "sqlite")
            else:
                raise SystemExit(f"unknown run {run!r}; choose from {', '.join(RUNS)}, imap-postgres")
            print(line, flush=True)
            peaks.append(rss)
    finally:
        sink.close()
    print(f"   peak resident memory of dsr serve: {max(peaks, default=float('nan')):.0f} MB", flush=True)
    print(f"   load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
