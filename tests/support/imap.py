"""An IMAP mailbox on the real Dovecot: seeding, reading flags, a poller on it."""

from __future__ import annotations

from datetime import datetime

from dsr.channels.email.imap import ImapPoller
from dsr.controllers.profile import ControllerProfile
from tests.email.sinks import RecordingSink
from tests.servers.dovecot import ImapAccount


def seed(account: ImapAccount, *messages: bytes, folder: str = "INBOX", when: datetime | None = None) -> None:
    client = account.client()
    try:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in messages:
            client.append(folder, raw, msg_time=when)
    finally:
        client.logout()


def flags_by_subject(account: ImapAccount, folder: str = "INBOX") -> dict[str, set[bytes]]:
    client = account.client()
    try:
        client.select_folder(folder, readonly=True)
        fetched = client.fetch(client.search("ALL"), [b"FLAGS", b"BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        return {
            data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip(): set(data[b"FLAGS"])
            for data in fetched.values()
        }
    finally:
        client.logout()


def make_poller(
    account: ImapAccount,
    sink: RecordingSink,
    profiles: dict[str, ControllerProfile],
    folder: str = "INBOX",
    **kwargs: object,
) -> ImapPoller:
    return ImapPoller(sink=sink, profiles=profiles, url=account.url(folder), **kwargs)  # type: ignore[arg-type]
