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

from store.db import make_engine, migrate, session_factory
from store.models import DataSubject, Message

KMB2 = "klaus.marwede@kmb2.de"
PG_ADMIN = os.environ.get("DSR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DSR = str(Path(sys.executable).with_name("dsr"))
LISTENING = re.compile(r"SMTP endpoint on ([\d.]+):(\d+)")
IN_REPLY_TO = re.compile(rb"^In-Reply-To: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)
BODY = ("Sehr geehrte Damen und Herren,\n\nhiermit bitte ich um Auskunft nach Art. 15 DSGVO, welche "
        "personenbezogenen Daten Sie über mich verarbeiten, und um eine Kopie.\n\nMit freundlichen Grüßen\n")


class Sink:
    """A relay that notes when each reply arrived, keyed by the request it answers."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()

        async def start() -> asyncio.Server:
            return await self._loop.create_server(lambda: SMTP(self, hostname="sink"), "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self.relay = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        now = time.perf_counter()
        match = IN_REPLY_TO.search(envelope.original_content or b"")
        with self._cond:
            self.arrived[match.group(1).decode() if match else uuid.uuid4().hex] = now
            self._cond.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.arrived) >= count, timeout)

    def reset(self) -> None:
        with self._cond:
            self.arrived.clear()

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
        env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
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

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

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
            began = time.perf_counter()
            _send_all(service.port, requests, clients=clients, rate=rate, sent_at=sent_at)
            accepted = time.perf_counter() - began  # every request committed (SMTP 250)
            complete = sink.wait_for(count, timeout=300)
            ended = max(sink.arrived.values()) if sink.arrived else time.perf_counter()
            latencies = [(sink.arrived[m] - sent_at[m]) * 1000 for m in sent_at if m in sink.arrived]
            rss = service.peak_rss_mb()
        finally:
            service.stop()
    mode = f"{rate:.0f} msg/s offered" if rate else f"{clients} clients, as fast as possible"
    status = "" if complete else f" (only {len(latencies)} of {count} replies!)"
    line = (f"   SMTP {kind:<8} {mode:<34} {count / (ended - began):6.1f} msg/s answered "
            f"({count / accepted:.1f} msg/s accepted), "
            f"p50 {_percentile(latencies, 50):5.0f} ms, p95 {_percentile(latencies, 95):5.0f} ms{status}")
    return line, rss


def imap_backlog(*, count: int, sink: Sink) -> tuple[str, float]:
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
        with tempfile.TemporaryDirectory() as tmp, _database("sqlite", Path(tmp), count) as url:
            sink.reset()
            service = Service(Path(tmp), url, sink.relay, DSR_IMAP_URL=account.url())
            try:
                engine = make_engine(url)
                with session_factory(engine)() as session:
                    while (session.scalar(select(func.count(Message.id)).where(Message.direction == "in"))
                           or 0) < count:
                        session.rollback()
                        time.sleep(0.05)
                        if time.perf_counter() - service.started > 300:
                            break
                ingested = time.perf_counter() - service.started
                engine.dispose()
                sink.wait_for(count, timeout=300)
                answered = max(sink.arrived.values()) - service.started if sink.arrived else float("nan")
                rss = service.peak_rss_mb()
            finally:
                service.stop()
    finally:
        dovecot.stop()
    line = (f"   IMAP backlog of {count} in Dovecot (SQLite): ingested {count / ingested:6.1f} msg/s "
            f"({ingested:.1f} s), all replies at the relay after {answered:.1f} s")
    return line, rss


def main() -> None:
    sink = Sink()
    peaks: list[float] = []
    try:
        for kind, count, clients, rate in (("sqlite", 300, 4, 20.0), ("sqlite", 1000, 8, None),
                                           ("postgres", 1000, 8, None)):
            line, rss = smtp_run(kind, count=count, clients=clients, rate=rate, sink=sink)
            print(line, flush=True)
            peaks.append(rss)
        line, rss = imap_backlog(count=1000, sink=sink)
        print(line, flush=True)
        peaks.append(rss)
    finally:
        sink.close()
    print(f"   peak resident memory of dsr serve: {max(peaks):.0f} MB", flush=True)


if __name__ == "__main__":
    main()
