"""An IMAP mailbox (e.g. the support inbox): messages from, to or copied to the person's addresses.

Each category is one folder.  A record is one message, keyed `UIDVALIDITY:UID`, exported as date,
sender, recipients, subject and plain text.  Erasure flags the messages `\\Deleted` and expunges
exactly those UIDs (UID EXPUNGE where the server has UIDPLUS); a changed UIDVALIDITY refuses the
step instead of deleting other messages.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import ssl
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from dsr.datamap import Category, Identifier, Person, System
from dsr.fulfilment.connectors.base import ConnectorError, Key, Record, Step, StepAction, chunks

COLUMNS = ("date", "from", "to", "cc", "subject", "text")
TIMEOUT = 30.0
MAX_TEXT = 100_000  # characters of the body kept per message in the copy


class ImapConnector:
    def __init__(self, system: System, url: str) -> None:
        self.system = system
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or parts.username is None:
            raise ConnectorError(system, f"{system.url_env} is not imap[s]://user:password@host:port")
        self._tls = parts.scheme == "imaps"
        self._host = parts.hostname
        self._port = parts.port or (993 if self._tls else 143)
        self._user = unquote(parts.username)
        self._password = unquote(parts.password or "")
        self._client: IMAPClient | None = None

    def _connect(self) -> IMAPClient:
        if self._client is None:
            try:
                client = IMAPClient(self._host, port=self._port, ssl=self._tls, timeout=TIMEOUT,
                                    ssl_context=ssl.create_default_context() if self._tls else None)
                client.login(self._user, self._password)
            except (OSError, IMAPClientError) as exc:
                raise ConnectorError(self.system, f"IMAP server not reachable or login refused "
                                     f"({type(exc).__name__})") from exc
            self._client = client
        return self._client

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, IMAPClientError):
                self._client.logout()
            self._client = None

    def _select(self, category: Category, *, readonly: bool) -> int:
        client = self._connect()
        try:
            info = client.select_folder(category.table, readonly=readonly)
        except IMAPClientError as exc:
            raise ConnectorError(self.system, f"no folder {category.table!r} (category {category.key!r})"
                                 ) from exc
        return int(info[b"UIDVALIDITY"])

    def check(self) -> None:
        for category in self.system.categories:
            self._select(category, readonly=True)

    def find(self, category: Category, person: Person, parent_keys: Sequence[Key]) -> Iterator[Record]:
        addresses = person.values(Identifier.EMAIL)
        if not addresses:
            return
        validity = self._select(category, readonly=True)
        uids: set[int] = set()
        try:
            for address in addresses:
                for header in ("FROM", "TO", "CC"):
                    uids.update(self._connect().search([header, address]))
        except IMAPClientError as exc:
            raise ConnectorError(self.system, f"search failed ({type(exc).__name__})") from exc
        # IMAP SEARCH matches substrings: keep only messages whose addresses are exactly the person's.
        for record in self._fetch(category, validity, sorted(uids)):
            found = " ".join(str(record.values[h] or "") for h in ("from", "to", "cc")).lower()
            if any(_exact(address, found) for address in addresses):
                yield record

    def read(self, category: Category, keys: Sequence[Key]) -> Iterator[Record]:
        validity = self._select(category, readonly=True)
        uids = _uids(self.system, keys, validity)
        yield from self._fetch(category, validity, uids)

    def _fetch(self, category: Category, validity: int, uids: list[int]) -> Iterator[Record]:
        for part in chunks(uids, 100):
            try:
                data = self._connect().fetch(part, ["BODY.PEEK[]"])
            except IMAPClientError as exc:
                raise ConnectorError(self.system, f"fetch failed ({type(exc).__name__})") from exc
            for uid in sorted(data):
                raw = data[uid].get(b"BODY[]", b"")
                yield Record(key=f"{validity}:{uid}", values=_values(bytes(raw)))

    def execute(self, steps: Sequence[Step]) -> list[int]:
        counts: list[int] = []
        for step in steps:
            if step.action is not StepAction.ERASE:
                raise ConnectorError(self.system, f"a mailbox can only erase, not {step.action.value}")
            validity = self._select(step.category, readonly=False)
            uids = _uids(self.system, step.keys, validity)
            client = self._connect()
            try:
                if uids:
                    client.delete_messages(uids)
                    if client.has_capability("UIDPLUS"):
                        client.uid_expunge(uids)
                    else:
                        client.expunge()
            except IMAPClientError as exc:
                raise ConnectorError(self.system, f"delete failed ({type(exc).__name__})") from exc
            counts.append(len(uids))
        return counts


def _uids(system: System, keys: Sequence[Key], validity: int) -> list[int]:
    uids: list[int] = []
    for key in keys:
        stated, _, uid = str(key).partition(":")
        if stated != str(validity):
            raise ConnectorError(system, "the folder was rebuilt since discovery (UIDVALIDITY changed); "
                                 "run discovery again")
        uids.append(int(uid))
    return uids


def _exact(address: str, text: str) -> bool:
    start = text.find(address)
    while start >= 0:
        before = text[start - 1] if start > 0 else " "
        end = start + len(address)
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before in "._%+-") and not (after.isalnum() or after in "-_"):
            return True
        start = text.find(address, start + 1)
    return False


def _values(raw: bytes) -> dict[str, str | int | float | bool | None]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = ""
    if isinstance(message, EmailMessage):
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None:
            try:
                text = body.get_content()
            except (LookupError, ValueError):
                text = ""
    return {
        "date": str(message.get("Date", "")),
        "from": str(message.get("From", "")),
        "to": str(message.get("To", "")),
        "cc": str(message.get("Cc", "")),
        "subject": str(message.get("Subject", "")),
        "text": text[:MAX_TEXT],
    }
