"""A file the DPO made by hand (reply editor), delivered like the package: encrypted at rest, by a
download link with a one-time code.

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy.orm import Session

from dsr.fulfilment.delivery import DeliveryConfig, token_hash
from dsr.fulfilment.vault import EncryptingWriter
from dsr.store.audit import audit
from dsr.store.models import DeliveryPackage, Ticket

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
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


def store_upload(session: Session, ticket: Ticket, *, filename: str, source: BinaryIO, config: DeliveryConfig,
                 actor: str, now: datetime) -> Upload | str:
    """Check, encrypt and record the DPO's file; returns the upload or a German problem."""
    name = safe_name(filename)
    if not name or name.startswith("."):
        return "Bitte eine Datei mit Namen und Endung wählen."
    head = source.read(16)
    problem = check_upload(name, head)
    if problem is not None:
        return problem
    media_type, magic = ALLOWED[os.path.splitext(name)[1].lower()]
    decoder = codecs.getincrementaldecoder("utf-8")() if magic is None else None
    config.directory.mkdir(parents=True, exist_ok=True)
    stored = f"{ticket.reference}-{secrets.token_hex(8)}.upload.enc"
    temporary = config.directory / f".{stored}.tmp"
    try:
        with temporary.open("wb") as handle:
            writer = EncryptingWriter(handle, config.key)
            chunk = head
            while chunk:
                if decoder is not None:
                    try:
                        if "\x00" in decoder.decode(chunk):
                            return "Eine Textdatei darf keine Null-Bytes enthalten."
                    except UnicodeDecodeError:
                        return "Eine Textdatei muss UTF-8-kodiert sein."
                writer.write(chunk)
                if writer.size > MAX_UPLOAD_BYTES:
                    return f"Die Datei ist größer als {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
                chunk = source.read(64 * 1024)
            if writer.size == 0:
                return "Die Datei ist leer."
            writer.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, config.directory / stored)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
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
