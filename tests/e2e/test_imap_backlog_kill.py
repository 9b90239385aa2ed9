"""A SIGKILL of `dsr serve` in the middle of an IMAP backlog (issue 18).

300 requests wait in a real Dovecot mailbox; `dsr serve` on PostgreSQL imports them and is
killed with SIGKILL at a random moment of the import (seeded; `DSR_TEST_KILL_SEED` replays a
run), then started again.  Afterwards every message is flagged in the mailbox (or moved to the
processed folder), stored exactly once with a ticket of its own, and every answer went out,
none composed twice.  `python -m bench imap_kill` runs a larger backlog with several kills.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dsr.channels.email.imap import PROCESSED_KEYWORD
from dsr.store.db import make_engine, session_factory
from dsr.store.models import Message, OutboxItem, Ticket
from tests.servers.dovecot import ImapAccount
from tests.servers.serve_process import ServeProcess, kill_seed, wait_for
from tests.servers.smtp_sink import SmtpSink
from tests.support.imap import flags_by_subject
from tests.support.pipeline import KMB2, make_mail

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.dovecot]

BACKLOG = 300
PROCESSED = "Erledigt"


@pytest.mark.parametrize("processed_folder", [None, PROCESSED], ids=["flag", "move"])
def test_a_kill_during_an_imap_backlog_loses_nothing_and_stores_each_message_once(
        tmp_path: Path, pg_url: str, smtp_sink: SmtpSink, dovecot: ImapAccount,
        processed_folder: str | None) -> None:
    seed = kill_seed()
    rng = random.Random(seed)
    with dovecot.client() as client:
        for chunk in range(0, BACKLOG, 100):
            client.multiappend("INBOX", [
                make_mail(sender=f"backlog{n}@example.org", to=KMB2, subject=f"Auskunft {n}",
                          message_id=f"<backlog-{n}@example.org>")
                for n in range(chunk, min(BACKLOG, chunk + 100))])
    env = {"DSR_DATABASE_URL": pg_url, "DSR_SMTP_RELAY": smtp_sink.relay, "DSR_IMAP_URL": dovecot.url()}
    if processed_folder:
        env["DSR_IMAP_PROCESSED_FOLDER"] = processed_folder
    engine = make_engine(pg_url)
    sessions = session_factory(engine)

    def stored() -> int:
        with sessions() as s:
            return s.scalar(select(func.count(Message.id)).where(
                Message.direction == "in", Message.message_id.like("<backlog-%"))) or 0

    def all_answered() -> bool:
        with sessions() as s:
            return not s.scalar(select(func.count(OutboxItem.id)).where(
                OutboxItem.channel == "email", OutboxItem.state == "pending"))

    replay = f"seed {seed}"
    kill_at = rng.randrange(20, BACKLOG - 60)
    first = ServeProcess(tmp_path / "first", env, name="first")
    second: ServeProcess | None = None
    try:
        first.wait_listening()
        wait_for(lambda: stored() >= kill_at, 120, f"the import to reach {kill_at} messages ({replay})")
        time.sleep(rng.uniform(0.0, 0.2))
        first.kill()
        killed_at = stored()
        print(f"killed after {killed_at} of {BACKLOG} messages were stored")
        assert killed_at < BACKLOG, f"the kill came after the backlog ({replay})"
        second = ServeProcess(tmp_path / "second", env, name="second")
        second.wait_listening()
        wait_for(lambda: stored() >= BACKLOG, 120, f"the rest of the backlog ({replay})")
        wait_for(all_answered, 120, f"every answer to be delivered ({replay})")
        with sessions() as s:
            inbound = s.execute(select(Message.message_id, Message.ticket_id).where(
                Message.direction == "in", Message.message_id.like("<backlog-%"))).all()
            tickets = s.scalar(select(func.count(Ticket.id))) or 0
            answers = s.execute(select(OutboxItem.ticket_id, OutboxItem.kind)
                                .where(OutboxItem.channel == "email")).all()
    finally:
        first.stop()
        if second is not None:
            second.stop()
        engine.dispose()
    # Stored exactly once each, with a ticket of its own: 0 lost, 0 duplicate tickets.
    expected = sorted(f"<backlog-{n}@example.org>" for n in range(BACKLOG))
    assert sorted(str(mid) for mid, _ in inbound) == expected, replay
    assert len({ticket for _, ticket in inbound if ticket is not None}) == BACKLOG == tickets, replay
    assert len(answers) == len(set(answers)) and len(smtp_sink.messages) >= len(answers), replay
    # Every message acknowledged in the mailbox: flagged in INBOX, or moved to the processed folder.
    inbox = flags_by_subject(dovecot)
    moved = flags_by_subject(dovecot, PROCESSED) if processed_folder else {}
    subjects = {f"Auskunft {n}" for n in range(BACKLOG)}
    flagged = {subject for subject, flags in inbox.items() if PROCESSED_KEYWORD.encode() in flags}
    missing = sorted(subjects - flagged - set(moved))
    assert not missing, f"unacknowledged: {missing[:5]} ({replay})"
