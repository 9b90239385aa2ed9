"""A file the DPO made by hand (reply editor), delivered like the package: encrypted at rest, by a
download link with a one-time code; or attached to the message itself (`read_attachment`, at most
`MAX_ATTACHMENT_BYTES`: a mail attachment, a document in the chat).

Only a few document types are accepted, by extension *and* content (magic bytes; text must be
UTF-8 without NUL bytes), up to `MAX_UPLOAD_BYTES`.  Uploads are never executed, parsed or
rendered: the download page serves them as `application/octet-stream` with
`Content-Disposition: attachment` and `nosniff`.  The original name is kept only for the download
(it may contain personal data, so it is not logged or audited).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy.orm import Session

from dsr.fulfilment.delivery import DeliveryConfig, token_hash
from dsr.fulfilment.vault import EncryptingWriter
from dsr.mail.compose import Attachment
from dsr.store.audit import audit
from dsr.store.models import DeliveryPackage, Ticket

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Attached to a mail: base64 makes it a third larger, and many mail servers refuse more than 20 MB.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ZIP = (b"PK\x03\x04",)
# extension -> (media type, accepted leading bytes; None: UTF-8 text)
ALLOWED: dict[str, tuple[str, tuple[bytes, ...] | None]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".zip": ("application/zip", ZIP),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    ".odt": ("application/vnd.oasis.opendocument.text", ZIP),
    ".ods": ("application/vnd.oasis.opendocument.spreadsheet", ZIP),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".csv": ("text/csv", None),
    ".txt": ("text/plain", None),
    ".json": ("application/json", None),
}
_UNSAFE = re.compile(r"[^\w.() -]+")


@dataclass(frozen=True, slots=True)
class Upload:
    package: DeliveryPackage
    token: str


def safe_name(filename: str) -> str:
    """The last path component, without control characters or shell/HTML specials, at most 100 chars."""
    name = unicodedata.normalize("NFC", filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE.sub("_", "".join(c for c in name if unicodedata.category(c)[0] != "C")).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        return name[:100]
    return f"{stem[: 99 - len(extension)]}.{extension}"


def check_upload(name: str, head: bytes) -> str | None:
    """Why a file of this name starting with `head` is refused (German), or None."""
    extension = os.path.splitext(name)[1].lower()
    if extension not in ALLOWED:
        allowed = ", ".join(sorted(ALLOWED))
        return f"Dateityp nicht erlaubt (erlaubt: {allowed})."
    _, magic = ALLOWED[extension]
    if magic is not None and not head.startswith(magic):
        return "Der Inhalt der Datei passt nicht zu ihrer Endung."
    return None


@dataclass(slots=True)
class _Checked:
    """A file read in chunks and checked on the way (type by extension and content, UTF-8 text
    without NUL bytes, size); `problem` (German) is set when it stopped early."""

    name: str
    limit: int
    media_type: str = ""
    size: int = 0
    problem: str | None = None

    def chunks(self, source: BinaryIO) -> Iterator[bytes]:
        if not self.name or self.name.startswith("."):
            self.problem = "Bitte eine Datei mit Namen und Endung wählen."
            return
        head = source.read(16)
        self.problem = check_upload(self.name, head)
        if self.problem is not None:
            return
        self.media_type, magic = ALLOWED[os.path.splitext(self.name)[1].lower()]
        decoder = codecs.getincrementaldecoder("utf-8")() if magic is None else None
        chunk = head
        while chunk:
            if decoder is not None:
                try:
                    if "\x00" in decoder.decode(chunk):
                        self.problem = "Eine Textdatei darf keine Null-Bytes enthalten."
                        return
                except UnicodeDecodeError:
                    self.problem = "Eine Textdatei muss UTF-8-kodiert sein."
                    return
            self.size += len(chunk)
            if self.size > self.limit:
                self.problem = f"Die Datei ist größer als {self.limit // (1024 * 1024)} MB."
                return
            yield chunk
            chunk = source.read(64 * 1024)
        if self.size == 0:
            self.problem = "Die Datei ist leer."


def read_attachment(filename: str, source: BinaryIO, *,
                    limit: int = MAX_ATTACHMENT_BYTES) -> Attachment | str:
    """The DPO's file as a mail attachment (checked as `store_upload` does), or a German problem."""
    checked = _Checked(safe_name(filename), limit)
    data = b"".join(checked.chunks(source))
    if checked.problem is not None:
        if checked.size > limit:
            return (f"Die Datei ist für einen Anhang zu groß (höchstens {limit // (1024 * 1024)} MB); "
                    "bitte als Download-Link senden.")
        return checked.problem
    return Attachment(checked.name, checked.media_type, data)


def store_upload(session: Session, ticket: Ticket, *, filename: str, source: BinaryIO, config: DeliveryConfig,
                 actor: str, now: datetime) -> Upload | str:
    """Check, encrypt and record the DPO's file; returns the upload or a German problem."""
    checked = _Checked(safe_name(filename), MAX_UPLOAD_BYTES)
    config.directory.mkdir(parents=True, exist_ok=True)
    stored = f"{ticket.reference}-{secrets.token_hex(8)}.upload.enc"
    temporary = config.directory / f".{stored}.tmp"
    try:
        with temporary.open("wb") as handle:
            writer = EncryptingWriter(handle, config.key)
            for chunk in checked.chunks(source):
                writer.write(chunk)
            if checked.problem is not None:
                return checked.problem
            writer.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, config.directory / stored)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    name, media_type = checked.name, checked.media_type
    token = secrets.token_urlsafe(32)
    package = DeliveryPackage(
        ticket_id=ticket.id, reference=ticket.reference, token_hash=token_hash(token), file_name=stored,
        download_name=name, media_type=media_type, size=writer.size, sha256=writer.sha256.hexdigest(),
        contact=ticket.reply_to or "", channel=ticket.channel, max_uses=config.max_uses, uses=0,
        created_at=now, expires_at=now + timedelta(days=config.days))
    session.add(package)
    session.flush()
    audit(session, actor=actor, action="fulfilment.file_uploaded", now=now, ticket_id=ticket.id,
          detail={"package_id": package.id, "type": media_type, "size": writer.size,
                  "sha256": package.sha256, "expires_at": package.expires_at.isoformat()})
    return Upload(package, token)
