"""Build the complete RFC 5322 bytes of an outgoing automatic mail.

Every automatic mail carries what the other side needs to avoid loops and to thread correctly
(RFC 3834, ANCHORS.md "loops" and "threading"): `Auto-Submitted: auto-replied`,
`X-Auto-Response-Suppress: All`, our own `Message-ID` under the controller's domain, and
`In-Reply-To`/`References` pointing at the message we answer.  The subject carries the ticket tag
`[DSR-YYYY-NNNNNN]` so that a reply finds its ticket even when a mail client drops the headers.
Pure: no network, no database.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
TAG_RE = re.compile(r"\[(DSR-\d{4}-\d{6})\]")
# Prefix of the local part of every Message-ID we generate; the loop guard recognises our own
# mail coming back by it (together with the controller's domain).
MESSAGE_ID_PREFIX = "dsr."
# Keep References from growing without bound on long threads (RFC 5322 3.6.4 allows trimming).
MAX_REFERENCES = 20


@dataclass(frozen=True, slots=True)
class ComposedMail:
    message_id: str  # with angle brackets, e.g. "<dsr.20260302093000.ab12cd@kmb2.de>"
    subject: str
    payload: bytes  # complete RFC 5322 message, CRLF line endings


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
    msg = EmailMessage(policy=SMTP)
    local, _, dom = from_address.rpartition("@")
    msg["From"] = Address(display_name=from_name, username=local, domain=dom)
    msg["To"] = to
    msg["Subject"] = full_subject
    msg["Date"] = format_datetime(now.astimezone(BERLIN))
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        chain = [r for r in references if r and r != in_reply_to][-(MAX_REFERENCES - 1):]
        msg["References"] = " ".join([*chain, in_reply_to])
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    if reference:
        msg["X-DSR-Reference"] = reference
    msg.set_content(text if text.endswith("\n") else text + "\n", subtype="plain", charset="utf-8",
                    cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    msg["Content-Language"] = language  # after the body: set_content clears Content-* headers
    return ComposedMail(message_id=message_id, subject=full_subject, payload=msg.as_bytes())

