"""Delivery status notifications: which mail is a bounce, and what it says came back.

Both are decided on the one parse of the message (`dsr.mail.parse`): the loop guard asks
`bounce_reason`, and for a bounce the parser keeps `returned_mail` on the `InboundMessage`, so
the pipeline never parses the raw bytes again.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from dsr.inbound import ReturnedMail
from dsr.mail.text import decode_part_text, raw_header

_BOUNCE_LOCALPARTS = ("mailer-daemon", "postmaster", "bounce", "bounces", "mail-daemon")
_BOUNCE_PREFIXES = ("bounce-", "bounces-", "bounce+", "bounces+")
_ID_HEADERS = ("message-id", "in-reply-to", "references")


def bounce_reason(sender: str, headers: Mapping[str, str]) -> str:
    """Why a mail is a delivery report (a stable code), or "" when it is none.

    `sender` is the normalised From address, `headers` the kept headers (lower-case names).
    """
    local = sender.lower().partition("@")[0]
    if local in _BOUNCE_LOCALPARTS or local.startswith(_BOUNCE_PREFIXES):
        return "bounce_sender"
    if headers.get("return-path", "").strip() == "<>" or not sender:
        return "null_return_path"
    content_type = headers.get("content-type", "").lower()
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return "delivery_status_report"
    if "x-failed-recipients" in headers:
        return "failed_recipients_header"
    return ""


def returned_mail(msg: Message) -> ReturnedMail:
    """The headers, status fields and texts of a bounce that name the mail that came back.

    Reads the returned message (message/rfc822) or its headers (text/rfc822-headers), the status
    fields (message/delivery-status) and every text part, because many MTAs send plain-text
    bounces that only quote the original headers.
    """
    headers: list[str] = []
    texts: list[str] = []
    codes: list[str] = []
    status_texts: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                headers.extend(_id_values(inner[0]))
                texts.append(raw_header(inner[0], "subject") or "")
        elif ctype == "text/rfc822-headers":
            original = HeaderParser(policy=compat32).parsestr(decode_part_text(part, set()))
            headers.extend(_id_values(original))
            texts.append(str(original.get("Subject", "")))
        elif ctype == "message/delivery-status":
            payload = part.get_payload()
            blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
            for block in blocks:
                value = (raw_header(block, "status") or "").strip()
                if value:
                    codes.append(value.split()[0])
            text = "\n".join(str(b) for b in blocks) if blocks else decode_part_text(part, set())
            status_texts.append(text)
        elif ctype.startswith("text/"):
            texts.append(decode_part_text(part, set()))
    return ReturnedMail(id_headers=tuple(headers), texts=tuple(texts), status_codes=tuple(codes),
                        status_texts=tuple(status_texts))


def _id_values(headers: Message) -> list[str]:
    return [value for name in _ID_HEADERS for value in _all_raw(headers, name)]


def _all_raw(headers: Message, name: str) -> list[str]:
    return [str(v) for k, v in headers.raw_items() if k.lower() == name]
