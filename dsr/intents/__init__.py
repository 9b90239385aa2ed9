"""Classification of inbound messages into data-subject rights (pure: no network, no database).

`classify(subject, body, channel)` is the one entry point; the lexicon is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dsr.intents.model import Classification

__all__ = ["classify"]


def classify(subject: str, body: str, channel: str) -> Classification:
    """Rights invoked by a message, with confidence, escalation reasons and evidence."""
    from dsr.intents.classifier import classify as _classify

    return _classify(subject, body, channel)
