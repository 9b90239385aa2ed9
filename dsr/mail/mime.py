"""The MIME walk behind `mail_parse`: structure repair, body choice, forwards, attachments, DSNs.

Every function tolerates broken structures: a multipart whose boundary never occurs is re-read
with the boundary it actually uses, a body is found even when the structure makes no sense, and
nothing here raises on hostile input.  Content types are read through `mail_text.content_type`
(raw header access) because the modern policy re-parses a header object on every access.
"""

from __future__ import annotations

import email
import email.parser
import hashlib
import re
from collections.abc import Iterator
from email import policy
from email.message import Message

from dsr.inbound import Attachment
from dsr.mail.text import (
    MAX_HTML_CHARS,
    content_type,
    decode_header_text,
    decode_part_text,
    html_to_text,
    parse_policy,
    raw_header,
    subparts,
)

MAX_FORWARD_DEPTH = 3
FORWARD_SEPARATOR = "---------- Forwarded message ----------"
_MSG_ID = re.compile(r"<[^<>\s]+>")
_ID_WORDS = re.compile(
    r"ausweis|reisepass|passport|identit(?:y|ät|aet)|führerschein|fuehrerschein|driving.?licen[cs]e"
    r"|(?:^|[^a-z])(?:id|perso|pass|idcard|id-card)(?:[^a-z]|$)",
    re.IGNORECASE,
)
_ID_DOCUMENT_EXTENSIONS = (
    ".pdf", ".jpg", ".jpeg", ".png", ".gif", ".heic", ".heif", ".tif", ".tiff", ".webp",
)  # fmt: skip
_NOT_PARTS = ("message/delivery-status",)  # its "subparts" are per-recipient header blocks


def first_msg_id(value: str) -> str | None:
    match = _MSG_ID.search(value)
    if match:
        return match.group(0)
    value = value.strip()
    # A bare id without brackets: only if it is printable ASCII without space or brackets.
    return f"<{value}>" if value and re.fullmatch(r"[!-;=?-~]+", value) else None


def one_line(text: str) -> str:
    return " ".join(text.split())


def walk(part: Message) -> Iterator[Message]:
    """Every part, descending into multiparts and forwarded messages (not into DSN blocks)."""
    yield part
    if content_type(part) in _NOT_PARTS:
        return
    for sub in subparts(part):
        yield from walk(sub)


def is_attachment(part: Message) -> bool:
    disposition = raw_header(part, "content-disposition") or ""
    return disposition.split(";", 1)[0].strip().lower() == "attachment"


def repair_structure(msg: Message, defects: set[str]) -> Message:
    """A multipart whose declared boundary never occurs is re-read with the boundary it uses."""
    if not content_type(msg).startswith("multipart/") or msg.is_multipart():
        return msg
    payload = msg.get_payload(decode=True)  # the undecoded body bytes (no boundary was found)
    data = payload if isinstance(payload, bytes) else b""
    match = re.search(rb"^--([^\s-][^\r\n]{0,68}?)\s*$", data, re.MULTILINE)
    if not match:
        return msg
    boundary = match.group(1).decode("ascii", "replace").replace('"', "")
    rebuilt = f'Content-Type: {content_type(msg)}; boundary="{boundary}"\r\n\r\n'.encode() + data
    recovered = email.message_from_bytes(rebuilt, policy=parse_policy())
    if recovered.is_multipart():
        defects.add("BoundaryRecovered")
        return recovered
    return msg


def find_body(part: Message, subtype: str) -> Message | None:
    """The first inline text/<subtype> part, depth first, not inside a forwarded message
    (what `EmailMessage.get_body` does, without its per-access header parsing)."""
    ctype = content_type(part)
    if ctype == f"text/{subtype}":
        return None if is_attachment(part) else part
    if not ctype.startswith("multipart/"):
        return None
    for sub in subparts(part):
        found = find_body(sub, subtype)
        if found is not None:
            return found
    return None


def body_text(msg: Message, defects: set[str], *, depth: int = 0) -> tuple[str, set[int]]:
    """Text of `msg` (plain preferred, HTML converted) followed by the text of forwarded
    messages; and the ids of the parts used, so they are not also listed as attachments."""
    msg = repair_structure(msg, defects)
    used: set[int] = set()
    text = ""
    plain, html = find_body(msg, "plain"), find_body(msg, "html")
    if plain is not None:
        text = decode_part_text(plain, defects).strip()
        used.add(id(plain))
    if not text and html is not None:
        text = _html_text(decode_part_text(html, defects), defects).strip()
        used.add(id(html))
    if not text:
        text, fallback_used = _fallback_text(msg, defects)
        used |= fallback_used
    if depth >= MAX_FORWARD_DEPTH or content_type(msg) == "multipart/report":
        return text, used  # a bounce quotes our own reply: not the sender's words
    for forward in _top_forwards(msg):
        inner = subparts(forward)
        if not inner:
            continue
        forwarded, _ = body_text(inner[0], defects, depth=depth + 1)
        header_lines = [
            f"{label}: {one_line(decode_header_text(value, 'utf-8'))}"
            for label, name in (("From", "from"), ("Date", "date"), ("Subject", "subject"))
            if (value := raw_header(inner[0], name))
        ]
        text = "\n\n".join(t for t in (text, FORWARD_SEPARATOR, "\n".join(header_lines), forwarded) if t)
    return text, used


def _html_text(html: str, defects: set[str]) -> str:
    if len(html) > MAX_HTML_CHARS:
        defects.add("HtmlTruncated")
    return html_to_text(html)


def _top_forwards(msg: Message) -> Iterator[Message]:
    """message/rfc822 parts of `msg` that are not themselves inside a forwarded message."""
    for sub in subparts(msg):
        if content_type(sub) == "message/rfc822":
            yield sub
        elif content_type(sub).startswith("multipart/"):
            yield from _top_forwards(sub)


def _fallback_text(msg: Message, defects: set[str]) -> tuple[str, set[int]]:
    for part in walk(msg):
        ctype = content_type(part)
        if part.is_multipart() or not ctype.startswith("text/") or ctype == "text/rfc822-headers":
            continue
        decoded = decode_part_text(part, defects)
        text = _html_text(decoded, defects) if ctype == "text/html" else decoded
        if text.strip():
            return text.strip(), {id(part)}
    if content_type(msg).startswith("multipart/") and not msg.is_multipart():
        defects.add("UnstructuredMultipart")  # no boundary found at all: keep the text as it is
        return decode_part_text(msg, defects).strip(), set()
    return "", set()


def attachments(msg: Message, body_parts: set[int], defects: set[str]) -> Iterator[Attachment]:
    """Name, type, size and SHA-256 of every file part; the content itself is not kept."""
    for part in walk(repair_structure(msg, set())):
        ctype = content_type(part)
        if part.is_multipart() and ctype != "message/rfc822":
            continue
        if id(part) in body_parts or ctype in ("message/delivery-status", "text/rfc822-headers"):
            continue
        try:
            filename = part.get_filename() or ""
        except Exception:
            filename = ""
            defects.add("BadFilename")
        if ctype in ("text/plain", "text/html") and not filename and not is_attachment(part):
            continue  # an alternative body or an inline text part, not a file
        if ctype == "message/rfc822":
            inner = subparts(part)
            data = inner[0].as_bytes(policy=policy.compat32) if inner else b""
            filename = filename or "forwarded.eml"
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        name = safe_filename(decode_header_text(filename, "utf-8")) or "unnamed"
        yield Attachment(
            name=name,
            content_type=ctype,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            looks_like_id_document=looks_like_id_document(name, ctype),
        )


def safe_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name.strip()[:255]


def looks_like_id_document(name: str, content_type: str) -> bool:
    """An image or PDF whose name suggests an identity document (Ausweis, Reisepass, ID …)."""
    lowered = name.lower()
    is_image_or_pdf = content_type.startswith("image/") or content_type == "application/pdf"
    if not (is_image_or_pdf or lowered.endswith(_ID_DOCUMENT_EXTENSIONS)):
        return False
    # Split camel case so that "MeinAusweisVorne.jpg" and "scanID.pdf" are seen as words.
    spaced = re.sub(r"(?<=[a-zäöü])(?=[A-ZÄÖÜ])", " ", name.rsplit(".", 1)[0])
    return bool(_ID_WORDS.search(spaced))


def dsn_details(msg: Message) -> tuple[dict[str, str], str | None]:
    """(action/status/final-recipient of the first recipient block of a delivery status
    notification (RFC 3464), Message-ID of the bounced message if the report includes it)."""
    fields: dict[str, str] = {}
    original_id: str | None = None
    for part in walk(msg):
        ctype = content_type(part)
        if ctype == "message/delivery-status" and not fields:
            for block in subparts(part):
                if raw_header(block, "action"):
                    fields = {
                        "action": (raw_header(block, "action") or "").strip().lower(),
                        "status": (raw_header(block, "status") or "").strip(),
                        "final-recipient": (raw_header(block, "final-recipient") or "")
                        .split(";", 1)[-1]
                        .strip(),
                    }
                    break
        elif ctype == "message/rfc822" and subparts(part):
            bounced = subparts(part)[0]
            original_id = original_id or first_msg_id(raw_header(bounced, "message-id") or "")
        elif ctype == "text/rfc822-headers":
            original = email.parser.HeaderParser(policy=policy.compat32).parsestr(
                decode_part_text(part, set())
            )
            original_id = original_id or first_msg_id(str(original.get("message-id", "")))
    return fields, original_id
