"""Logging configuration and the masking helper that keeps personal data out of logs.

GDPR data minimisation (Art. 5(1)(c)) applies to logs too: a log line may say *that* a message
from someone arrived and what was decided, never the body, a full address or a name.  Use
`mask_address` for every address that goes into a log line.
"""

from __future__ import annotations

import logging

_configured = False

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


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once per process (idempotent)."""
    global _configured
    if _configured:
        return
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True
