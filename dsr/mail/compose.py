"""Build the complete RFC 5322 bytes of an outgoing automatic mail.

Every automatic mail carries what the other side needs to avoid loops and to thread correctly
(RFC 3834; RFC 5322 threading): `Auto-Submitted: auto-replied`,
`X-Auto-Response-Suppress: All`, our own `Message-ID` under the controller's domain, and
`In-Reply-To`/`References` pointing at the message we answer.  The subject carries the ticket tag
`[DSR-YYYY-NNNNNN]` so that a reply finds its ticket even when a mail client drops the headers.
Pure: no network, no database.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.encoders import encode_base64
from email.mime.base import MIMEBase
from email.policy import compat32
from email.utils import format_datetime, formataddr
from zoneinfo import ZoneInfo

from dsr.mail.hygiene import outgoing_msg_ids, safe_msg_id, strip_controls

BERLIN = ZoneInfo("Europe/Berlin")
TAG_RE = re.compile(r"\[(DSR-\d{4}-\d{6})\]")
# Prefix of the local part of every Message-ID we generate; the loop guard recognises our own
# mail coming back by it (together with the controller's domain).
MESSAGE_ID_PREFIX = "dsr."
# Keep References from growing without bound on long threads (RFC 5322 3.6.4 allows trimming).
MAX_REFERENCES = 20
# RFC 5322 line endings; no re-folding: the few long headers are folded here already.  The
# message is written directly as bytes, exactly as `email.generator` writes the compat32 MIME
# classes with this policy (tests/pipeline/test_mail_wire.py compares the two), at a fraction of
# the cost; the policy itself still folds any header value that is not plain ASCII.
_WIRE = compat32.clone(linesep="\r\n", max_line_length=0)
# A header line (or a line of one we folded) that the policy would write unchanged: printable
# ASCII, single spaces between words, no leading or trailing whitespace.
_VERBATIM = re.compile(r"[!-~]+(?: [!-~]+)*")
# RFC 2047: an encoded word is at most 75 characters; 42 bytes of UTF-8 make 56 in base64, so
# even the first line ("Subject: " + word) stays within 78 characters.
_WORD_BYTES = 42
# A Message-ID we repeat in In-Reply-To/References: printable ASCII in angle brackets, short enough
# that a header line stays far below RFC 5322's 998 octets.  A longer or stranger one (a hostile
# sender's) is left out: the subject tag still threads the reply, and the reply stays deliverable.
_USABLE_ID = re.compile(r"<[!-;=?-~]{1,250}>")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a mail: always `Content-Disposition: attachment`, never inline, base64."""

    filename: str  # already made safe by the caller (no path, no quotes or control characters)
    media_type: str  # "application/pdf"
    data: bytes


@dataclass(frozen=True, slots=True)
class ComposedMail:
    message_id: str  # with angle brackets, e.g. "<dsr.20260302093000.ab12cd@kmb2.de>"
    subject: str
    payload: bytes  # complete RFC 5322 message, CRLF line endings


def encoded_words(text: str) -> str:
    """RFC 2047 encoded words (UTF-8, base64) for a non-ASCII header, folded one word per line.

    Characters are never split across words, so every word decodes on its own.
    """
    words: list[bytes] = []
    chunk = b""
    for char in text:
        encoded = char.encode()
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    if chunk:
        words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words)


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def make_message_id(domain: str, now: datetime) -> str:
    """A globally unique Message-ID under our domain, recognisable as ours."""
    stamp = now.astimezone(BERLIN).strftime("%Y%m%d%H%M%S")
    return f"<{MESSAGE_ID_PREFIX}{stamp}.{secrets.token_hex(8)}@{domain}>"


def is_our_message_id(message_id: str | None, domains: frozenset[str]) -> bool:
    if not message_id:
        return False
    inner = message_id.strip().strip("<>").lower()
    local, _, domain = inner.rpartition("@")
    return local.startswith(MESSAGE_ID_PREFIX) and domain in domains


def tagged_subject(subject: str, reference: str | None) -> str:
    """Make sure the subject carries exactly one `[DSR-…]` tag for `reference`."""
    subject = " ".join(subject.split())
    if not reference or f"[{reference}]" in subject:
        return subject
    return f"{subject} [{reference}]" if subject else f"[{reference}]"


def find_reference_tag(text: str) -> str | None:
    match = TAG_RE.search(text or "")
    return match.group(1) if match else None


def compose_mail(
    *,
    from_address: str,
    from_name: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    now: datetime,
    reference: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    auto_submitted: str = "auto-replied",
    language: str = "de",
    attachments: Sequence[Attachment] = (),
) -> ComposedMail:
    """Compose a multipart/alternative (text + HTML) automatic mail.

    `auto_submitted` is "auto-replied" for answers to a message and "auto-generated" for mail we
    start ourselves (DPO alerts), as RFC 3834 distinguishes them.  With `attachments` the mail is
    multipart/mixed: the text/HTML alternative first, then each file as an attachment.
    """
    domain = domain_of(from_address)
    message_id = make_message_id(domain, now)
    full_subject = tagged_subject(strip_controls(subject), reference)
    to = strip_controls(to, "")
    # Stored ids of any age: only those that fit into a header unchanged (never a 500 on a reply).
    in_reply_to = safe_msg_id(in_reply_to)
    references = outgoing_msg_ids(references)
    boundary = f"=_dsr_{secrets.token_hex(12)}"  # keeps the Content-Type line under 78 characters
    outer = f"=_dsr_{secrets.token_hex(12)}"
    headers = [
        ("Content-Type", f'multipart/mixed; boundary="{outer}"' if attachments
         else f'multipart/alternative; boundary="{boundary}"'),
        ("MIME-Version", "1.0"),
        ("From", formataddr((from_name, from_address))),
        ("To", to),
        ("Subject", full_subject if full_subject.isascii() else encoded_words(full_subject)),
        ("Date", format_datetime(now.astimezone(BERLIN))),
        ("Message-ID", message_id),
    ]
    in_reply_to = in_reply_to if usable_id(in_reply_to) else None
    if in_reply_to:
        chain = [r for r in references if r != in_reply_to and usable_id(r)]
        chain = chain[-(MAX_REFERENCES - 1):]
        headers += [("In-Reply-To", in_reply_to),
                    ("References", "\r\n ".join([*chain, in_reply_to]))]  # folded: one id per line
    headers += [("Auto-Submitted", auto_submitted), ("X-Auto-Response-Suppress", "All")]
    if reference:
        headers.append(("X-DSR-Reference", reference))
    headers.append(("Content-Language", language))
    delimiter = b"--" + boundary.encode("ascii")
    body = b"".join([
        b"\r\n", delimiter, b"\r\n",
        _base64_part("plain", text if text.endswith("\n") else text + "\n"),
        b"\r\n", delimiter, b"\r\n",
        _base64_part("html", html),
        b"\r\n", delimiter, b"--\r\n",
    ])
    if attachments:
        mixed = b"--" + outer.encode("ascii")
        body = b"".join([
            b"\r\n", mixed, b"\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\nMIME-Version: 1.0\r\n'.encode(),
            body,
            *(b"\r\n" + mixed + b"\r\n" + _attachment_part(a) for a in attachments),
            b"\r\n", mixed, b"--\r\n",
        ])
    payload = b"".join([*(_header_line(name, value) for name, value in headers), body])
    return ComposedMail(message_id=message_id, subject=full_subject, payload=payload)


def _attachment_part(attachment: Attachment) -> bytes:
    """One file part: its type, `attachment` with the file name (RFC 2231 when not ASCII), base64."""
    maintype, _, subtype = attachment.media_type.partition("/")
    part = MIMEBase(maintype or "application", subtype or "octet-stream")
    part.set_payload(attachment.data)
    encode_base64(part)
    name = attachment.filename
    part.add_header("Content-Disposition", "attachment",
                    filename=name if name.isascii() else ("utf-8", "", name))
    return part.as_bytes(policy=_WIRE)


def is_utf8_address(value: str) -> bool:
    """An internationalised address (RFC 6531) as a whole header value: written as UTF-8."""
    return (not value.isascii() and "@" in value and value.isprintable()
            and not any(c.isspace() for c in value))


def usable_id(value: str | None) -> bool:
    """Whether a received Message-ID may be repeated in In-Reply-To/References (`_USABLE_ID`)."""
    return bool(value) and _USABLE_ID.fullmatch(value or "") is not None


def _header_line(name: str, value: str) -> bytes:
    """One header field as the compat32 generator writes it with `_WIRE` (no re-folding).

    Plain printable ASCII, folded by us at most, comes out unchanged; anything else (non-ASCII,
    control characters, odd whitespace) goes through the stdlib policy itself, so the bytes are
    the same as `email.generator.BytesGenerator` would produce.
    """
    if all(_VERBATIM.fullmatch(line) for line in value.split("\r\n ")):
        return f"{name}: {value}\r\n".encode("ascii")
    if name == "To" and is_utf8_address(value):
        # An internationalised address (RFC 6531/6532) is written as UTF-8: an encoded word is not
        # allowed in an address, and the sender uses SMTPUTF8 for it (or fails the item clearly).
        return f"{name}: {value}\r\n".encode()
    return _WIRE.fold_binary(name, value)


def _base64_part(subtype: str, text: str) -> bytes:
    """A text/<subtype> UTF-8 body part, base64 in lines of 76 (as `MIMEText(..., "utf-8")`)."""
    encoded = base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n").encode("ascii") + encoded
