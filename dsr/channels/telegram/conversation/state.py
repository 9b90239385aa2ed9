"""Durable per-chat conversation state and the getUpdates offset, in `channel_state`.

Kept in the database (not in memory, not in PTB persistence files) so that a restart, a second
process or a crash in the middle of a conversation continues exactly where the person left
off, and so that the state changes in the same transaction as the answers it causes.  Only
what the dialogue needs is kept: the pending text until it is handed to the pipeline (which
stores it as the inbound message), never names or addresses typed in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dsr.store.models import ChannelState


@dataclass
class ChatState:
    step: str = "idle"  # idle / choose (nothing recognised, menu shown) / describe / await_identity
    language: str = "de"
    language_set: bool = False  # True once the person wrote text (language from the text)
    pending: dict[str, Any] | None = None  # {"key", "text", "at", "rights"} not yet submitted
    chosen_right: str | None = None  # chosen by button, waiting for a description
    ticket_reference: str | None = None  # ticket whose identity check is running
    challenge_id: int | None = None
    code_expected: bool = False  # an address was given: a six-digit answer is a code attempt
    code_misses: int = 0  # attempts when no challenge exists (address not on file)
    email_attempts: int = 0
    email_window_start: float = 0.0
    prompt: int = 0  # nonce in button data: buttons of an older prompt are stale
    last_update_id: int = 0  # every update up to this one is fully handled
    rate_window_start: float = 0.0
    rate_count: int = 0
    # A ticket opened at once whose question is still open: the one-sentence confirmation of a
    # clear reading ("mode": "confirm") or the choice between several or weak readings ("mode":
    # "choose", with the "readings" offered): {"reference", "rights", "correcting", "mode",
    # "readings"}; "correcting" means typed text answers it.  Survives `reset()`: the ticket
    # exists, and the person may still answer after the identity step.
    confirm: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        """Back to idle: forget what was pending (identity attempts, counters and `confirm` stay)."""
        self.step, self.pending, self.chosen_right = "idle", None, None
        self.ticket_reference, self.challenge_id = None, None
        self.code_expected, self.code_misses = False, 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def chat_key(controller: str, chat_id: int) -> str:
    return f"telegram:{controller}:chat:{chat_id}"


def offset_key(controller: str) -> str:
    return f"telegram:{controller}:offset"


def load_state(session: Session, controller: str, chat_id: int) -> ChatState:
    """The chat's state, row-locked on PostgreSQL (SQLite's BEGIN IMMEDIATE serialises anyway)."""
    row = session.get(ChannelState, chat_key(controller, chat_id), with_for_update=True)
    return ChatState.from_json(dict(row.value)) if row else ChatState()


def save_state(session: Session, controller: str, chat_id: int, state: ChatState, *, now: datetime) -> None:
    _put(session, chat_key(controller, chat_id), state.to_json(), now)


def load_offset(session: Session, controller: str) -> int:
    row = session.get(ChannelState, offset_key(controller))
    return int(row.value.get("offset", 0)) if row else 0


def save_offset(session: Session, controller: str, offset: int, *, now: datetime) -> None:
    _put(session, offset_key(controller), {"offset": offset}, now)


def _put(session: Session, key: str, value: dict[str, Any], now: datetime) -> None:
    row = session.get(ChannelState, key)
    if row is None:
        session.add(ChannelState(key=key, value=value, updated_at=now))
    else:
        # A new dict, so that SQLAlchemy sees the JSON column change.
        row.value = dict(value)
        row.updated_at = now
