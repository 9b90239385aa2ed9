"""The hostile .eml corpus through both real adapters: each message is committed (parsed or
quarantined, never dropped) and the adapter keeps serving afterwards."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import pytest
from imapclient.exceptions import IMAPClientError

from dsr.channels.email.imap import PROCESSED_KEYWORD, ImapPoller
from dsr.controllers.profile import ControllerProfile
from tests.email.sinks import RecordingSink
from tests.servers.dovecot import ImapAccount
from tests.servers.fixtures import SmtpEndpointFactory
from tests.support.mail import PARSED, QUARANTINED

EML = Path(__file__).parent / "eml"
CORPUS = sorted(EML.glob("*.eml"))
FOLLOW_UP = (
    b"From: erika.mustermann@example.org\r\nTo: klaus.marwede@kmb2.de\r\nSubject: Danach\r\n"
    b"Message-ID: <after-corpus@example.org>\r\n\r\nIch bitte um Auskunft.\r\n"
)


def check_committed(sink: RecordingSink, *, not_stored: tuple[str, ...] = ()) -> None:
    handled = {m.subject for m in sink.handled}
    for name, (_sender, subject, _body) in PARSED.items():
        assert any(subject in s for s in handled), f"{name} was not handed to the pipeline"
    expected = sorted(reason for name, reason in QUARANTINED.items() if name not in not_stored)
    assert sorted(q.reason for q in sink.quarantined) == expected
    assert len(sink.handled) == len(PARSED)


async def test_corpus_over_smtp(smtp_endpoint: SmtpEndpointFactory) -> None:
    sink = RecordingSink()
    host, port = await smtp_endpoint(sink)

    def deliver_all() -> dict[str, tuple[int, bytes]]:
        replies = {}
        with smtplib.SMTP(host, port, timeout=30) as client:
            client.ehlo("client.test")
            for path in [*CORPUS, None]:
                raw = FOLLOW_UP if path is None else path.read_bytes()
                client.mail("sender@example.org")
                client.rcpt("klaus.marwede@kmb2.de")
                replies[path.name if path else "follow-up"] = client.data(raw)
        return replies

    replies = await asyncio.to_thread(deliver_all)
    assert {name: code for name, (code, _text) in replies.items()} == dict.fromkeys(replies, 250)
    assert sink.handled[-1].message_id == "<after-corpus@example.org>"  # still serving
    sink.handled.pop()
    check_committed(sink)


@pytest.mark.dovecot
def test_corpus_over_imap(dovecot: ImapAccount, reference_profiles: dict[str, ControllerProfile]) -> None:
    client = dovecot.client()
    refused = []
    for path in CORPUS:
        try:
            client.append("INBOX", path.read_bytes())
        except IMAPClientError:  # the server may refuse to store e.g. an empty message
            refused.append(path.name)
    client.append("INBOX", FOLLOW_UP)
    client.logout()
    sink = RecordingSink()
    poller = ImapPoller(sink=sink, profiles=reference_profiles, url=dovecot.url())
    try:
        assert poller.poll_once() == len(CORPUS) - len(refused) + 1
        assert not poller.round_failed
    finally:
        poller.close()
    assert refused == ["empty.eml"]  # Dovecot refuses to store an empty message; SMTP delivers it
    assert sink.handled[-1].message_id == "<after-corpus@example.org>"
    sink.handled.pop()
    check_committed(sink, not_stored=("empty.eml",))
    client = dovecot.client()
    client.select_folder("INBOX", readonly=True)
    assert client.search(["UNKEYWORD", PROCESSED_KEYWORD]) == []
    client.logout()
