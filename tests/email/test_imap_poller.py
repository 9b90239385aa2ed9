"""The IMAP poller against a real Dovecot server (tests/servers/dovecot.py), seeded with APPEND."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dsr.channels.email.imap import FAILURES_BEFORE_QUARANTINE, PROCESSED_KEYWORD, ImapLocation, ImapPoller
from dsr.controllers.profile import ControllerProfile
from tests.email.sinks import RecordingSink
from tests.servers.dovecot import DovecotServer, ImapAccount
from tests.support.imap import flags_by_subject, make_poller, seed

pytestmark = pytest.mark.dovecot

EML = Path(__file__).parent / "eml"
KEYWORD = PROCESSED_KEYWORD.encode()
SEEN = b"\\Seen"


# How long a test waits for something that takes a second on a quiet machine: generous, since the
# suite runs on a shared machine; the waits end as soon as the condition holds.
WAIT_BOUND = 60.0


@contextlib.asynccontextmanager
async def running(poller: ImapPoller) -> AsyncIterator[None]:
    """The poller's service loop, stopped (and waited for) on the way out."""
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_BOUND)


def request(n: int, to: str = "klaus.marwede@kmb2.de", subject: str = "Auskunft", extra: str = "") -> bytes:
    return (
        f"From: Person {n} <person{n}@example.org>\r\nTo: {to}\r\n{extra}Subject: {subject} {n}\r\n"
        f"Message-ID: <req-{n}@example.org>\r\n\r\nIch bitte um Auskunft ({n}).\r\n"
    ).encode()






@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()




def test_new_mail_is_processed_and_flagged(
    dovecot: ImapAccount, sink: RecordingSink, reference_profiles: dict[str, ControllerProfile]
) -> None:
    arrived = datetime(2026, 3, 2, 9, 15, tzinfo=timezone(timedelta(hours=1)))
    seed(
        dovecot,
        request(1),
        request(2, to="Jemand <x@example.com>, Info@KOMSA.com"),
        request(3, to="unbekannt@example.com", extra="Delivered-To: business-controlling@komsa.de\r\n"),
        request(4, to="nobody@example.com"),
        when=arrived,
    )
    poller = make_poller(dovecot, sink, reference_profiles)
    try:
        assert poller.poll_once() == 4
        assert poller.poll_once() == 0  # acknowledged messages are not fetched again
    finally:
        poller.close()
    routed = [(m.controller, m.recipient) for m in sink.handled]
    assert routed == [
        ("kmb2", "klaus.marwede@kmb2.de"),
        ("komsa", "info@komsa.com"),
        ("komsa", "business-controlling@komsa.de"),
        ("kmb2", "klaus.marwede@kmb2.de"),  # no request address in the headers: the first profile
    ]
    assert {m.received_at for m in sink.handled} == {arrived}  # INTERNALDATE, timezone-aware
    assert all(flags >= {KEYWORD, SEEN} for flags in flags_by_subject(dovecot).values())


def test_failing_sink_leaves_mail_unflagged_and_it_is_retried(
    dovecot: ImapAccount, sink: RecordingSink, reference_profiles: dict[str, ControllerProfile]
) -> None:
    seed(dovecot, request(1), request(2))
    poller = make_poller(dovecot, sink, reference_profiles)
    try:
        sink.fail_everything = True
        assert poller.poll_once() == 0
        assert poller.round_failed
        assert all(not flags & {KEYWORD, SEEN} for flags in flags_by_subject(dovecot).values())

        sink.fail_everything = False  # the database is back
        assert poller.poll_once() == 2
        assert not poller.round_failed
    finally:
        poller.close()
    assert [m.message_id for m in sink.handled] == ["<req-1@example.org>", "<req-2@example.org>"]
    assert all(KEYWORD in flags for flags in flags_by_subject(dovecot).values())


def test_a_message_that_keeps_failing_goes_to_quarantine(
    dovecot: ImapAccount, reference_profiles: dict[str, ControllerProfile]
) -> None:
    sink = RecordingSink(fail_when=lambda msg: msg.subject.startswith("Gift"))
    seed(dovecot, request(1, subject="Gift"), request(2))
    poller = make_poller(dovecot, sink, reference_profiles)
    try:
        assert poller.poll_once() == 1  # the healthy message is not blocked
        for _ in range(FAILURES_BEFORE_QUARANTINE - 1):
            assert poller.poll_once() == 0
        assert sink.quarantined == []
        assert poller.poll_once() == 1
    finally:
        poller.close()
    (held,) = sink.quarantined
    assert held.reason == f"processing failed {FAILURES_BEFORE_QUARANTINE + 1} times (StoreDownError)"
    assert held.raw.startswith(b"From: Person 1")
    assert KEYWORD in flags_by_subject(dovecot)["Gift 1"]


def test_outage_longer_than_the_retry_limit_does_not_quarantine(
    dovecot: ImapAccount, sink: RecordingSink, reference_profiles: dict[str, ControllerProfile]
) -> None:
    seed(dovecot, request(1))
    poller = make_poller(dovecot, sink, reference_profiles)
    try:
        sink.fail_everything = True
        for _ in range(FAILURES_BEFORE_QUARANTINE + 2):
            assert poller.poll_once() == 0
        sink.fail_everything = False
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert sink.quarantined == [] and [m.message_id for m in sink.handled] == ["<req-1@example.org>"]


def test_unparseable_mail_is_quarantined_and_acknowledged(
    dovecot: ImapAccount, sink: RecordingSink, reference_profiles: dict[str, ControllerProfile]
) -> None:
    seed(dovecot, (EML / "missing_from.eml").read_bytes())
    poller = make_poller(dovecot, sink, reference_profiles)
    try:
        assert poller.poll_once() == 1
    finally:
        poller.close()
    (held,) = sink.quarantined
    assert (held.controller, held.channel, held.reason) == ("kmb2", "email", "no From header")
    assert KEYWORD in flags_by_subject(dovecot)["Wer bin ich"]


def test_processed_mail_is_moved_to_the_configured_folder(
    dovecot: ImapAccount, sink: RecordingSink, reference_profiles: dict[str, ControllerProfile]
) -> None:
    seed(dovecot, request(1), request(2))
    poller = make_poller(dovecot, sink, reference_profiles, processed_folder="DSR-Erledigt")
    try:
        assert poller.poll_once() == 2
    finally:
        poller.close()
    assert flags_by_subject(dovecot) == {}
    moved = flags_by_subject(dovecot, "DSR-Erledigt")
    assert sorted(moved) == ["Auskunft 1", "Auskunft 2"]
    assert all(flags >= {KEYWORD, SEEN} for flags in moved.values())


def test_recreated_folder_with_new_uidvalidity_is_rescanned(
    dovecot: ImapAccount, sink: RecordingSink, reference_profiles: dict[str, ControllerProfile]
) -> None:
    seed(dovecot, request(1), request(2), request(3), folder="Anfragen")
    poller = make_poller(dovecot, sink, reference_profiles, folder="Anfragen")
    try:
        assert poller.poll_once() == 3
        client = dovecot.client()
        client.delete_folder("Anfragen")  # e.g. a mailbox migration: UIDs start again at 1
        client.logout()
        seed(dovecot, request(4), folder="Anfragen")
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert [m.message_id for m in sink.handled][-1] == "<req-4@example.org>"


def test_uidvalidity_change_rescans_and_dedupe_keeps_it_harmless(
    dovecot_server: DovecotServer,
    dovecot: ImapAccount,
    sink: RecordingSink,
    reference_profiles: dict[str, ControllerProfile],
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed(dovecot, request(1), request(2))
    poller = make_poller(dovecot, sink, reference_profiles)
    try:
        assert poller.poll_once() == 2
        poller.close()
        # The server rebuilt its index: new UIDVALIDITY, and our keyword on message 1 got lost.
        dovecot_server.set_uidvalidity(dovecot, "INBOX", 4242)
        client = dovecot.client()
        client.select_folder("INBOX")
        client.remove_flags([1], [KEYWORD])
        client.logout()
        with caplog.at_level(logging.WARNING, logger="dsr.channels.email.imap"):
            assert poller.poll_once() == 1
    finally:
        poller.close()
    assert "UIDVALIDITY" in caplog.text
    assert [m.message_id for m in sink.handled] == [
        "<req-1@example.org>",
        "<req-2@example.org>",
        "<req-1@example.org>",
    ]
    assert len(sink.unique_handled()) == 2  # the pipeline's dedupe answers DUPLICATE: no second ticket


def test_backlog_of_200_messages(
    dovecot: ImapAccount,
    sink: RecordingSink,
    reference_profiles: dict[str, ControllerProfile],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = dovecot.client()
    client.multiappend("INBOX", [request(n) for n in range(200)])
    client.logout()
    poller = make_poller(dovecot, sink, reference_profiles, batch_size=64, progress_every=50)
    try:
        with caplog.at_level(logging.INFO, logger="dsr.channels.email.imap"):
            assert poller.poll_once() == 200
        assert poller.poll_once() == 0
    finally:
        poller.close()
    assert [m.message_id for m in sink.handled] == [f"<req-{n}@example.org>" for n in range(200)]
    progress = [r.getMessage() for r in caplog.records if "backlog" in r.getMessage()]
    assert progress == [f"IMAP backlog: {n}/200 messages imported" for n in (50, 100, 150, 200)]
    assert all(KEYWORD in flags for flags in flags_by_subject(dovecot).values())


async def test_run_idles_reconnects_and_stops(
    dovecot_server: DovecotServer,
    dovecot: ImapAccount,
    sink: RecordingSink,
    reference_profiles: dict[str, ControllerProfile],
) -> None:
    poller = make_poller(dovecot, sink, reference_profiles, idle_check_interval=0.1, max_backoff=0.5)
    async with running(poller):
        await asyncio.to_thread(seed, dovecot, request(1))
        # Delivered via IDLE (or the first poll).
        await asyncio.to_thread(sink.wait_for_committed, 1, WAIT_BOUND)

        await asyncio.to_thread(dovecot_server.doveadm, "kick", dovecot.user)  # connection lost
        await asyncio.to_thread(seed, dovecot, request(2))
        # Reconnected and caught up: waits for the commit itself, bounded generously for a loaded
        # machine (the poller's first back-off alone is 1 s).
        await asyncio.to_thread(sink.wait_for_committed, 2, WAIT_BOUND)
    assert [m.message_id for m in sink.handled] == ["<req-1@example.org>", "<req-2@example.org>"]
    assert poller._client is None  # logged out on stop


async def test_idle_notices_a_connection_that_died_without_bye(
    dovecot_server: DovecotServer,
    dovecot: ImapAccount,
    sink: RecordingSink,
    reference_profiles: dict[str, ControllerProfile],
) -> None:
    """The server's IMAP process dies (or a NAT drops the connection): no BYE, only end of stream.
    The poller must see it whatever the machine's load (the old check timed idle_check's returns,
    and with a short interval, or on a busy machine, never fired: the poller sat in a dead IDLE)."""
    poller = make_poller(dovecot, sink, reference_profiles, idle_check_interval=0.001, max_backoff=0.5)
    async with running(poller):
        await asyncio.to_thread(seed, dovecot, request(1))
        await asyncio.to_thread(sink.wait_for_committed, 1, WAIT_BOUND)
        who = await asyncio.to_thread(dovecot_server.doveadm, "who", "-1", dovecot.user)
        pids = [int(line.split()[2]) for line in who.splitlines()[1:] if line.split()[1:2] == ["imap"]]
        assert len(pids) == 1, who
        os.kill(pids[0], signal.SIGKILL)  # Dovecot's process for our session: the kernel closes it
        await asyncio.to_thread(seed, dovecot, request(2))
        await asyncio.to_thread(sink.wait_for_committed, 2, WAIT_BOUND)
    assert [m.message_id for m in sink.handled] == ["<req-1@example.org>", "<req-2@example.org>"]


async def test_run_backs_off_while_the_store_is_down(
    dovecot: ImapAccount, sink: RecordingSink, reference_profiles: dict[str, ControllerProfile]
) -> None:
    sink.fail_everything = True
    seed(dovecot, request(1))
    poller = make_poller(dovecot, sink, reference_profiles, max_backoff=0.2)
    async with running(poller):
        # Retried with backoff, not acknowledged.
        await asyncio.to_thread(sink.wait_for_failures, 2, WAIT_BOUND)
        sink.fail_everything = False
        await asyncio.to_thread(sink.wait_for_committed, 1, WAIT_BOUND)
    assert [m.message_id for m in sink.handled] == ["<req-1@example.org>"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "imap://dsr:p%40ss%2Fw@mail.example.org/INBOX",
            ("mail.example.org", 143, "dsr", "p@ss/w", "INBOX", False),
        ),
        (
            "imaps://u%40kmb2.de:x@mail.example.org",
            ("mail.example.org", 993, "u@kmb2.de", "x", "INBOX", True),
        ),
        ("imaps://u:x@127.0.0.1:1993/Anfragen%20DSR", ("127.0.0.1", 1993, "u", "x", "Anfragen DSR", True)),
    ],
)
def test_imap_url(url: str, expected: tuple[str, int, str, str, str, bool]) -> None:
    where = ImapLocation.from_url(url)
    assert (where.host, where.port, where.user, where.password, where.folder, where.implicit_tls) == expected


@pytest.mark.parametrize("url", ["pop3://u:p@h/INBOX", "imap://host/INBOX", "imap:///INBOX"])
def test_imap_url_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="imap"):
        ImapLocation.from_url(url)
