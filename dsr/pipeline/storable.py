"""Make a parsed message fit the database, the same way on SQLite and PostgreSQL.

PostgreSQL refuses what SQLite stores without complaint: a NUL character in any text, and values
longer than their column (a 400-character From, a 1,200-character Message-ID).  Refused, the
message could never be stored and the sending MTA would be answered 451 until it gives up.  So
before the pipeline's transaction every value is brought within the schema's limits:

* NUL (and the other C0 controls except tab and newline in texts) are removed, undecodable
  characters (lone surrogates) become "?";
* a Message-ID, In-Reply-To or reference longer than the column is replaced by a stable stand-in
  (`<sha256…@long-id.dsr.invalid>`), so a redelivery still deduplicates and nothing of the
  oversized value is kept; over-long references are dropped from the chain;
* a sender address longer than an address can be (RFC 5321: 320), or one with a control
  character in it (NUL), is not an address anyone can be answered at: `unstorable_reason` names
  it, and the pipeline quarantines the raw message.

Pure: no database access (the limits are the schema's, `dsr.store.models`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from dsr.inbound import Attachment, InboundMessage

ADDRESS_MAX = 320  # messages.sender / recipient, tickets.reply_to
ID_MAX = 998  # messages.dedupe_key / message_id / in_reply_to
HEADER_VALUE_MAX = 4000  # kept headers are read by the loop guard and identity checks only
LONG_ID_DOMAIN = "long-id.dsr.invalid"
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def unstorable_reason(msg: InboundMessage) -> str | None:
    """Why `msg` cannot become a ticket at all (German, for the quarantine), or None."""
    if len(_line(msg.sender)) > ADDRESS_MAX:
        return (f"Absenderadresse länger als {ADDRESS_MAX} Zeichen: keine Adresse, an die geantwortet "
                "werden kann")
    if _LINE_CONTROLS.search(msg.sender):
        # Removing the character would make another address (`jana\x00x@` -> `janax@`): the
        # answer would go to someone who did not write.
        return "Absenderadresse enthält Steuerzeichen: keine Adresse, an die geantwortet werden kann"
    return None


def storable(msg: InboundMessage) -> InboundMessage:
    """`msg` with every value within the database's limits (unchanged when already so)."""
    return replace(
        msg,
        dedupe_key=_identifier(msg.dedupe_key) or msg.dedupe_key,
        sender=_line(msg.sender),
        recipient=_line(msg.recipient)[:ADDRESS_MAX],
        subject=_text(msg.subject),
        body=_text(msg.body),
        message_id=_identifier(msg.message_id),
        in_reply_to=_identifier(msg.in_reply_to),
        references=tuple(r for r in (_line(r) for r in msg.references) if r and len(r) <= ID_MAX),
        headers={_line(k): _line(v)[:HEADER_VALUE_MAX] for k, v in msg.headers.items()},
        attachments=_attachments(msg.attachments),
        display_name=_line(msg.display_name)[:200],
    )


def _identifier(value: str | None) -> str | None:
    if value is None:
        return None
    clean = _line(value)
    if len(clean) <= ID_MAX and clean == value:
        return value
    if len(clean) <= ID_MAX and clean:
        return clean
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"<{digest}@{LONG_ID_DOMAIN}>"


def _attachments(attachments: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    return tuple(replace(a, name=_line(a.name)[:255], content_type=_line(a.content_type)[:255])
                 for a in attachments)


def _line(value: str) -> str:
    value = _utf8(value)
    return _LINE_CONTROLS.sub("", value) if _LINE_CONTROLS.search(value) else value


def _text(value: str) -> str:
    value = _utf8(value)
    return _CONTROLS.sub("", value) if _CONTROLS.search(value) else value


def _utf8(value: str) -> str:
    """Lone surrogates (undecodable bytes kept by the parser) cannot be stored as UTF-8: "?"."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value
