"""The console's template filters over the one label table (`dsr.replies.labels`).

Every code a DPO or manager could see (states, identity levels, channels, reason codes, audit
actions, message kinds, quarantine reasons) is shown through these filters, so a page never
shows snake_case (tests/console/test_browser_workday.py crawls every page for it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dsr.intents.rights import RIGHTS, Right
from dsr.replies.labels import (
    ACTIONS,
    CHANNELS,
    IDENTITY,
    MESSAGE_KINDS,
    REASONS,
    STATES,
    action_label,
    actor_label,
    channel_label,
    counted,
    disposition_label,
    identity_label,
    kind_label,
    outbox_state_label,
    quarantine_reason_label,
    reason_label,
    state_label,
)

BERLIN = ZoneInfo("Europe/Berlin")

OPEN_STATES: tuple[str, ...] = ("new", "awaiting_identity", "in_progress", "escalated", "extended", "paused")

# Lawful grounds for stopping the clock (docs/LEGAL-NOTES.md 2.4, EDPB 01/2022 § 159): only while the
# controller waits for information it asked for without undue delay.
PAUSE_REASONS: dict[str, str] = {
    "identity": "Begründete Zweifel an der Identität: Nachweis angefordert (Art. 12 Abs. 6, EDPB § 159)",
    "clarification": "Umfang unklar: Präzisierung angefordert (ErwG 63, EDPB § 159)",
}


def right_label(code: str) -> str:
    try:
        info = RIGHTS[Right(code)]
    except ValueError:
        return code
    return f"{info.name_de} ({info.article})" if info.article else info.name_de


def right_name(code: str) -> str:
    try:
        return RIGHTS[Right(code)].name_de
    except ValueError:
        return code


def rights_names(codes: Iterable[str]) -> str:
    return ", ".join(right_name(c) for c in codes)


def date_de(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        value = value.astimezone(BERLIN).date()
    return value.strftime("%d.%m.%Y")


def datetime_de(value: datetime | None) -> str:
    if value is None:
        return "–"
    return value.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


def days_word(n: int) -> str:
    return counted(n, "Tag", "Tage")


__all__ = [
    "ACTIONS", "BERLIN", "CHANNELS", "FILTERS", "IDENTITY", "MESSAGE_KINDS", "OPEN_STATES", "PAUSE_REASONS",
    "REASONS", "STATES", "action_label", "actor_label", "channel_label", "counted", "date_de", "datetime_de",
    "days_word", "disposition_label", "identity_label", "kind_label", "outbox_state_label",
    "quarantine_reason_label", "reason_label", "right_label", "right_name", "rights_names", "state_label",
]

FILTERS = {
    "action": action_label,
    "actor": actor_label,
    "kind": kind_label,
    "outbox_state": outbox_state_label,
    "disposition": disposition_label,
    "quarantine_reason": quarantine_reason_label,
    "reason": reason_label,
    "state": state_label,
    "identity": identity_label,
    "channel": channel_label,
    "right": right_label,
    "right_name": right_name,
    "rights": rights_names,
    "date_de": date_de,
    "datetime_de": datetime_de,
    "days": days_word,
    "counted": counted,
}
