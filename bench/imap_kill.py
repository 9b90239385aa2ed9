"""An IMAP backlog with SIGKILLs of `dsr serve` (issue 18, the harness's "IMAP backlog, 5 x SIGKILL").

`BENCH_IMAP_KILL_COUNT` requests (default 3,000) wait in Dovecot; `dsr serve` on PostgreSQL imports
them and is SIGKILLed `BENCH_IMAP_KILL_KILLS` times (default 5) at seeded moments of the import
(`BENCH_IMAP_KILL_SEED`), each time started again; once per mode: flag in INBOX, move to a folder.
Figures: stored once each, lost, duplicate tickets, messages left unacknowledged in the mailbox,
replies delivered more than once (and whether each repeat kept its Message-ID).
"""

from __future__ import annotations

import collections
import os
import random
import re
import signal
import tempfile
import time
import uuid
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import create_engine, func, select

from bench.email import Service, Sink, _database, _request
from dsr.channels.email.imap import PROCESSED_KEYWORD
from dsr.store.models import Message, OutboxItem, Ticket

MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)
PROCESSED = "Erledigt"


class _CountingSink(Sink):
    """The bench sink, also counting deliveries per reply Message-ID."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: collections.Counter[str] = collections.Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        own = MESSAGE_ID.search(envelope.original_content or b"")
        self.deliveries[own.group(1).decode() if own else "?"] += 1
        return await super().handle_DATA(server, session, envelope)


def _stored(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count(Message.id)).where(Message.direction == "in")).scalar() or 0
    finally:
        engine.dispose()


def run(*, count: int, kills: int, seed: int, processed_folder: str | None) -> None:
    from tests.servers.dovecot import DovecotServer

    rng = random.Random(seed)
    sink = _CountingSink()
    dovecot = DovecotServer()
    dovecot.start()
    try:
        account = dovecot.add_account()
        run_id = uuid.uuid4().hex[:6]
        with account.client() as client:
            for chunk in range(0, count, 100):
                batch = range(chunk, min(count, chunk + 100))
                client.multiappend("INBOX", [_request(n, run_id)[2] for n in batch])
        env = {"DSR_IMAP_URL": account.url()}
        if processed_folder:
            env["DSR_IMAP_PROCESSED_FOLDER"] = processed_folder
        with tempfile.TemporaryDirectory() as tmp, _database("postgres", Path(tmp), count) as url:
            moments = sorted(rng.sample(range(count // 20, count - count // 10), kills))
            done = 0
            started = time.perf_counter()
            for at in [*moments, None]:
                service = Service(Path(tmp), url, sink.relay, **env)
                if at is None:
                    while _stored(url) < count and time.perf_counter() - started < 600:
                        time.sleep(0.2)
                    sink.wait_for(count, timeout=300)
                    time.sleep(2)  # a late repeat would arrive now
                    service.stop()
                    break
                while _stored(url) < at and service.proc.poll() is None:
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.0, 0.2))
                service.proc.send_signal(signal.SIGKILL)
                service.proc.wait(30)
                done += 1
            took = time.perf_counter() - started
            engine = create_engine(url)
            with engine.connect() as conn:
                inbound = conn.execute(select(Message.message_id, Message.ticket_id)
                                       .where(Message.direction == "in")).all()
                tickets = conn.execute(select(func.count(Ticket.id))).scalar() or 0
                answers = conn.execute(select(OutboxItem.ticket_id, OutboxItem.kind, OutboxItem.state)
                                       .where(OutboxItem.channel == "email")).all()
            engine.dispose()
        with account.client() as client:
            client.select_folder("INBOX", readonly=True)
            flags = client.fetch(client.search("ALL"), ["FLAGS"])
            flagged = sum(PROCESSED_KEYWORD.encode() in data[b"FLAGS"] for data in flags.values())
            moved = 0
            if processed_folder and client.folder_exists(processed_folder):
                moved = client.select_folder(processed_folder, readonly=True)[b"EXISTS"]
    finally:
        dovecot.stop()
        sink.close()
    ids = [mid for mid, _ in inbound]
    repeats = sum(n - 1 for n in sink.deliveries.values())
    composed_twice = len(answers) - len({(t, k) for t, k, _ in answers})
    mode = f"move to {processed_folder}" if processed_folder else "flag"
    print(f"   IMAP backlog of {count}, {done} x SIGKILL, PostgreSQL, {mode} (seed {seed}): "
          f"{len(set(ids))} stored ({len(ids) - len(set(ids))} twice), {count - len(set(ids))} lost, "
          f"{len({t for _, t in inbound if t is not None})} tickets of {tickets}; "
          f"{flagged + moved} acknowledged in the mailbox ({flagged} flagged, {moved} moved); "
          f"{sum(s == 'sent' for _, _, s in answers)} replies sent, {repeats} delivered twice "
          f"(same Message-ID), {composed_twice} composed twice; {took:.0f} s", flush=True)


def main() -> None:
    count = int(os.environ.get("BENCH_IMAP_KILL_COUNT", "3000"))
    kills = int(os.environ.get("BENCH_IMAP_KILL_KILLS", "5"))
    seed = int(os.environ.get("BENCH_IMAP_KILL_SEED", "18"))
    for folder in (None, PROCESSED):
        run(count=count, kills=kills, seed=seed, processed_folder=folder)


if __name__ == "__main__":
    main()
