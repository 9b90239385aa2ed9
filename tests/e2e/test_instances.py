"""Several `dsr serve` on one database (issue 18): PostgreSQL shares, SQLite refuses a second one.

Two real `dsr serve` processes on one PostgreSQL take 1,000 requests over SMTP from "MTAs" that
retry at the other instance when one does not answer 250, while either instance is SIGKILLed at
random moments and restarted: the moments (after how many stored requests, plus a random delay,
so a kill falls anywhere in a transaction) and the victims come from a seed that the test prints;
`DSR_TEST_KILL_SEED=<seed>` replays a run.  Afterwards: every request stored once with one ticket, every reply
delivered, and a reply delivered twice only with the same Message-ID (a kill inside the SMTP
transaction).  The IMAP poller and the Telegram bot run on one instance at a time and move to the
other within 30 s when their leader dies; the survivor then really serves both.
"""

from __future__ import annotations

import asyncio
import collections
import random
import threading
import time
from email import message_from_bytes
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dsr.store.db import make_engine, session_factory
from dsr.store.models import Message, OutboxItem, Ticket
from tests.servers.dovecot import ImapAccount
from tests.servers.fake_telegram import running_fake_telegram
from tests.servers.serve_process import ServeProcess, kill_seed, wait_for
from tests.servers.smtp_sink import SmtpSink
from tests.support.pipeline import KMB2, make_mail

pytestmark = pytest.mark.slow

REQUESTS = 1000
MTAS = 6
KILLS = 4
FAIL_OVER_LIMIT = 30.0
BODY = ("Sehr geehrte Damen und Herren,\n\nbitte teilen Sie mir nach Art. 15 DSGVO mit, welche Daten "
        "Sie über mich speichern.\n\nMit freundlichen Grüßen")


class Cluster:
    """Two instances by slot; a killed slot is restarted in the same folder."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self._tmp = tmp_path
        self._env = env
        self._lock = threading.Lock()
        self.slots: list[ServeProcess] = []
        self.retired: list[ServeProcess] = []
        self.kills = 0

    def start(self, slot: int) -> ServeProcess:
        proc = ServeProcess(self._tmp / f"instance{slot}", self._env, name=f"instance{slot}")
        proc.wait_listening()
        with self._lock:
            if slot < len(self.slots):
                self.retired.append(self.slots[slot])
                self.slots[slot] = proc
            else:
                self.slots.append(proc)
        return proc

    def alive(self) -> list[ServeProcess]:
        with self._lock:
            return [p for p in self.slots if p.alive and p.port]

    def kill(self, slot: int) -> ServeProcess:
        with self._lock:
            proc = self.slots[slot]
        proc.kill()
        self.kills += 1
        return proc

    def leader(self, singleton: str) -> int | None:
        """The slot whose current process became leader for `singleton` (by its log)."""
        with self._lock:
            slots = list(enumerate(self.slots))
        for slot, proc in slots:
            if proc.alive and proc.first(f"leader for {singleton}") is not None:
                return slot
        return None

    def stop(self) -> None:
        for proc in [*self.slots, *self.retired]:
            proc.stop()


def _mta(cluster: Cluster, todo: collections.deque[int], stored: set[int], lock: threading.Lock) -> None:
    """Deliver like an MTA: retry a message at another instance until one answers 250."""
    rng = random.Random()
    while True:
        with lock:
            if not todo:
                return
            n = todo.popleft()
        raw = make_mail(sender=f"person{n}@example.org", subject=f"Auskunft {n}", body=BODY,
                        message_id=f"<load-{n}@example.org>")
        while True:
            targets = cluster.alive()
            if targets and rng.choice(targets).send(f"person{n}@example.org", KMB2, raw):
                break
            time.sleep(0.2)
        with lock:
            stored.add(n)


@pytest.mark.postgres
async def test_two_instances_on_postgresql_with_kills(tmp_path: Path, pg_url: str, smtp_sink: SmtpSink,
                                                      dovecot: ImapAccount) -> None:
    async with running_fake_telegram() as telegram:
        env = {"DSR_DATABASE_URL": pg_url, "DSR_SMTP_RELAY": smtp_sink.relay, "DSR_IMAP_URL": dovecot.url(),
               "DSR_TELEGRAM_TOKEN": telegram.token, "DSR_TELEGRAM_API_URL": telegram.api_url,
               "DSR_OUTBOX_LEASE_SECONDS": "30"}
        cluster = Cluster(tmp_path, env)
        seed = kill_seed()
        try:
            await asyncio.to_thread(_run_load_with_kills, cluster, seed)
            # The survivor of the last leader kill really serves the singletons: a chat is answered,
            # a mail appended to the mailbox becomes a ticket.
            update = await telegram.inject_message(4242, "/start")
            await telegram.wait_confirmed(update["update_id"], timeout=30)
            await asyncio.to_thread(_imap_mail_is_ticketed, dovecot, pg_url)
            await asyncio.to_thread(_check_counts, pg_url, smtp_sink, cluster.kills, seed)
        finally:
            await asyncio.to_thread(cluster.stop)


def _reached(stored: set[int], count: int) -> bool:
    return len(stored) >= count


def _leads_singletons(proc: ServeProcess) -> bool:
    return proc.first("leader for imap:") is not None and proc.first("leader for telegram:") is not None


def _run_load_with_kills(cluster: Cluster, seed: int) -> None:
    cluster.start(0)
    cluster.start(1)
    wait_for(lambda: cluster.leader("imap:") is not None and cluster.leader("telegram:") is not None,
              30, "leaders for the IMAP poller and the Telegram bot")
    todo = collections.deque(range(REQUESTS))
    stored: set[int] = set()
    lock = threading.Lock()
    mtas = [threading.Thread(target=_mta, args=(cluster, todo, stored, lock), daemon=True)
            for _ in range(MTAS)]
    for thread in mtas:
        thread.start()
    rng = random.Random(seed)
    # KILLS random moments under load: the first kills the singletons' leader (its move to the
    # survivor is timed), the others a random instance; each is restarted at once.
    for round_, at in enumerate(sorted(rng.sample(range(50, REQUESTS - 150), KILLS))):
        wait_for(partial(_reached, stored, at), 120, f"load (seed {seed})")
        time.sleep(rng.uniform(0.0, 0.3))
        leader = cluster.leader("imap:")
        slot = leader if round_ == 0 and leader is not None else rng.randrange(2)
        killed_at = time.monotonic()
        cluster.kill(slot)
        if round_ == 0:
            survivor = cluster.slots[1 - slot]
            wait_for(partial(_leads_singletons, survivor), FAIL_OVER_LIMIT,
                     f"the IMAP and Telegram singletons to move to the survivor (seed {seed})")
            moved = max(survivor.first("leader for imap:") or 0, survivor.first("leader for telegram:") or 0)
            assert moved - killed_at < FAIL_OVER_LIMIT, f"seed {seed}"
        cluster.start(slot)
    for thread in mtas:
        thread.join(300)
    assert len(stored) == REQUESTS, f"seed {seed}"


def _imap_mail_is_ticketed(dovecot: ImapAccount, pg_url: str) -> None:
    with dovecot.client() as client:
        client.append("INBOX", make_mail(sender="imap.person@example.org", subject="Auskunft per IMAP",
                                         body=BODY, message_id="<imap-after-failover@example.org>"))
    engine = make_engine(pg_url)
    try:
        sessions = session_factory(engine)

        def ticketed() -> bool:
            with sessions() as s:
                row = s.scalar(select(Message).where(
                    Message.message_id == "<imap-after-failover@example.org>"))
                return row is not None and row.ticket_id is not None

        wait_for(ticketed, 60, "the IMAP mail to be processed by the surviving poller")
    finally:
        engine.dispose()


def _message_id(payload: bytes) -> str:
    return str(message_from_bytes(payload)["Message-ID"])


def _check_counts(pg_url: str, sink: SmtpSink, kills: int, seed: int) -> None:
    engine = make_engine(pg_url)
    try:
        sessions = session_factory(engine)

        def all_sent() -> bool:
            with sessions() as s:
                return not s.scalar(select(func.count(OutboxItem.id)).where(
                    OutboxItem.channel == "email", OutboxItem.state == "pending"))

        try:
            wait_for(all_sent, 120, "every reply to be delivered (leases of killed senders end after 30 s)")
        except AssertionError:
            with sessions() as s:
                stuck = s.execute(select(OutboxItem.id, OutboxItem.attempts, OutboxItem.last_error,
                                         OutboxItem.claimed_by, OutboxItem.claimed_until,
                                         OutboxItem.next_attempt_at).where(
                    OutboxItem.channel == "email", OutboxItem.state == "pending").limit(5)).all()
            raise AssertionError(f"replies still pending (seed {seed}): {stuck}") from None
        with sessions() as s:
            inbound = s.execute(select(Message.message_id, Message.ticket_id).where(
                Message.direction == "in", Message.message_id.like("<load-%"))).all()
            tickets = s.scalar(select(func.count(Ticket.id))) or 0
            # Every e-mail item, the scheduler's internal mails included (the weekly digest goes out
            # whenever the leading instance's scheduler has run for a minute, except on Monday
            # before 07:00): its Message-ID is read from the payload it was sent with.
            items = [(item_id, state, _message_id(payload)) for item_id, state, payload in s.execute(
                select(OutboxItem.id, OutboxItem.state, OutboxItem.payload)
                .where(OutboxItem.channel == "email")).all()]
            answers = s.execute(select(OutboxItem.ticket_id, OutboxItem.kind)
                                .where(OutboxItem.channel == "email")).all()
    finally:
        engine.dispose()
    replay = f"seed {seed}"
    # 0 lost, 0 duplicate tickets: each request stored once (the unique key) with its own ticket.
    assert len(inbound) == REQUESTS, replay
    assert len({mid for mid, _ in inbound}) == REQUESTS, replay
    assert all(ticket is not None for _, ticket in inbound), replay
    assert len({ticket for _, ticket in inbound}) == REQUESTS and tickets >= REQUESTS, replay
    # Every reply went out; a repeat only with the same Message-ID, at most one per lane per kill.
    assert {state for _, state, _ in items} == {"sent"}, replay
    # No answer composed twice (that would be a repeat under a new Message-ID).
    assert len(answers) == len(set(answers)), replay
    at_sink = collections.Counter(str(m.message["Message-ID"]) for m in sink.messages)
    expected = {mid for _, _, mid in items}
    assert expected <= set(at_sink), replay
    assert set(at_sink) <= expected | {None}, replay
    repeats = sum(count - 1 for count in at_sink.values())
    print(f"{kills} kills, {repeats} repeated deliveries (each with the same Message-ID)")
    assert repeats <= 4 * kills, f"{repeats} repeated deliveries after {kills} kills ({replay})"


def test_sqlite_refuses_a_second_instance_with_a_clear_error(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    env = {"DSR_DATABASE_URL": f"sqlite:///{tmp_path}/one.sqlite3", "DSR_SMTP_RELAY": smtp_sink.relay}
    first = ServeProcess(tmp_path / "first", env, name="first")
    try:
        first.wait_listening()
        second = ServeProcess(tmp_path / "second", env, name="second")
        assert second.proc.wait(30) == 2
        wait_for(lambda: "already runs on the SQLite database" in second.text(), 5, "the error line")
        assert "use PostgreSQL" in second.text()
        assert first.alive
    finally:
        first.stop()
    # Once the first instance is gone, the database is free again.
    third = ServeProcess(tmp_path / "third", env, name="third")
    try:
        third.wait_listening()
    finally:
        third.stop()
