"""Logging configuration and the masking helper that keeps personal data out of logs.

GDPR data minimisation (Art. 5(1)(c)) applies to logs too: a log line may say *that* a message
from someone arrived and what was decided, never the body, a full address or a name.  Use
`mask_address` for every address that goes into a log line.
"""

from __future__ import annotations

import logging
import re

_configured = False
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CHAT_KEY = re.compile(r"^(tg:)(-?\d+)(.*)$")

# Loggers of libraries that would log personal data or secrets at INFO: httpx logs every request
# URL, and Telegram Bot API URLs contain the bot token.
_QUIET_LOGGERS = ("httpx", "httpcore", "telegram.ext.Updater", "aiosmtpd.mail.log", "mail.log")


def mask_address(address: str | None) -> str:
    """Mask an e-mail address or chat id for logs: "max.muster@example.org" -> "m***@example.org".

    The domain is kept because it matters for operations (which provider bounced, which relay
    refused); the local part, which identifies the person, is reduced to its first character.
    """
    if not address:
        return "<none>"
    if address.startswith("telegram:"):
        ident = address.removeprefix("telegram:")
        return f"telegram:***{ident[-2:]}" if len(ident) > 2 else "telegram:***"
    local, sep, domain = address.rpartition("@")
    if not sep:
        return f"{address[:1]}***"
    return f"{local[:1]}***@{domain}"


def mask_key(key: str) -> str:
    """A message key for logs: a chat key "tg:<chat id>:<message id>" keeps only the chat id's last
    two digits (in a private chat the chat id is the person's Telegram user id)."""
    match = _CHAT_KEY.match(key)
    if match is None:
        return key
    ident = match.group(2)
    return f"{match.group(1)}***{ident[-2:]}{match.group(3)}"


def escape_controls(text: str) -> str:
    """Control characters as visible escapes ("\\n", "\\x1b"): one log record stays one line."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


class EscapingFormatter(logging.Formatter):
    """Escapes control characters in the message (not in the traceback), so a value taken from a
    received message (a Message-ID, a subject) cannot forge further log lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once per process (idempotent)."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True
