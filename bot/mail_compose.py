"""Build the complete RFC 5322 bytes of an outgoing automatic mail.

Every automatic mail carries what the other side needs to avoid loops and to thread correctly
(RFC 3834, ANCHORS.md "loops" and "threading"): `Auto-Submitted: auto-replied`,
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
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
TAG_RE = re.compile(r"\[(DSR-\d{4}-\d{6})\]")
# Prefix of the local part of every Message-ID we generate; the loop guard recognises our own
# mail coming back by it (together with the controller's domain).
MESSAGE_ID_PREFIX = "dsr."
# Keep References from growing without bound on long threads (RFC 5322 3.6.4 allows trimming).
MAX_REFERENCES = 20
# RFC 5322 line endings; no re-folding: the few long headers are folded here already.
_WIRE = compat32.clone(linesep="\r\n", max_line_length=0)
# RFC 2047: an encoded word is at most 75 characters; 42 bytes of UTF-8 make 56 in base64, so
# even the first line ("Subject: " + word) stays within 78 characters.
_WORD_BYTES = 42


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
) -> ComposedMail:
    """Compose a multipart/alternative (text + HTML) automatic mail.

    `auto_submitted` is "auto-replied" for answers to a message and "auto-generated" for mail we
    start ourselves (DPO alerts), as RFC 3834 distinguishes them.
    """
    domain = domain_of(from_address)
    message_id = make_message_id(domain, now)
    full_subject = tagged_subject(subject, reference)
    # compat32 MIME classes: about three times faster than EmailMessage with the SMTP policy, which
    # re-parses every header; the output is the same standard message.
    msg = MIMEMultipart("alternative", boundary=f"=_dsr_{secrets.token_hex(12)}")  # keeps the line < 78
    msg["From"] = formataddr((from_name, from_address))
    msg["To"] = to
    msg["Subject"] = full_subject if full_subject.isascii() else encoded_words(full_subject)
    msg["Date"] = format_datetime(now.astimezone(BERLIN))
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        chain = [r for r in references if r and r != in_reply_to][-(MAX_REFERENCES - 1):]
        msg["References"] = "\r\n ".join([*chain, in_reply_to])  # folded: one id per line
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    if reference:
        msg["X-DSR-Reference"] = reference
    msg["Content-Language"] = language
    # base64 rather than quoted-printable: identical for every mail client, and encoded in C.
    msg.attach(MIMEText(text if text.endswith("\n") else text + "\n", "plain", "utf-8"))
    msg.attach(MIMEText(html, "html", "utf-8"))
    return ComposedMail(message_id=message_id, subject=full_subject, payload=msg.as_bytes(policy=_WIRE))

