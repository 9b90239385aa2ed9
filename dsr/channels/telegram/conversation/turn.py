"""The types every step of the Telegram conversation works with: a chat event and one turn.

Step modules (`choice`, `confirm`, `verify`, `submit`) import these types, never the flow;
`conversation.flow` holds the table that decides which step handles an event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from dsr.channels.telegram.conversation import texts as t
from dsr.channels.telegram.conversation.state import ChatState
from dsr.controllers import ControllerProfile
from dsr.inbound import InboundMessage, Outcome
from dsr.intents.rights import Right
from dsr.pipeline.outbound import send_chat
from dsr.store.models import Direction, Message

EventKind = Literal["command", "text", "button", "non_text"]
Buttons = list[list[tuple[str, str]]]
IMMEDIATE = frozenset({Right.MARKETING_OBJECTION, Right.CONSENT_WITHDRAWAL})


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """Abuse limits and identity parameters (per chat)."""

    max_text_chars: int = 2000
    messages_per_minute: int = 12
    code_ttl: timedelta = timedelta(hours=24)  # the code travels by e-mail
    code_attempts: int = 5
    email_attempts: int = 3
    # How long the answers to a clear request wait for "Stimmt das?" to be answered: the question
    # comes first, the identity step after it; unanswered, they go out anyway.
    confirm_hold: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """What a person did in the chat, reduced to what the conversation needs."""

    update_id: int
    chat_id: int
    user_id: int
    at: datetime  # when the update reached us (receipt)
    kind: EventKind
    text: str = ""  # message text, command name without "/", or button data
    message_id: int | None = None  # the person's message, or the bot message carrying the button
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class ChatSetup:
    """What every turn of one controller's conversation shares."""

    profile: ControllerProfile
    clock: Callable[[], datetime]
    limits: ChatLimits


class Turn:
    """One event applied to one chat's state inside one transaction."""

    def __init__(self, setup: ChatSetup, session: Session, state: ChatState, event: ChatEvent,
                 outcomes: Mapping[str, Outcome]) -> None:
        self.setup = setup
        self.outcomes = outcomes
        self.pipeline_request: InboundMessage | None = None
        self.session = session
        self.state = state
        self.event = event
        self.profile = setup.profile
        self.outbox_ids: list[int] = []
        if not state.language_set and event.language_code:
            state.language = "en" if event.language_code.lower().startswith("en") else "de"

    @property
    def controller(self) -> str:
        return self.profile.key

    @property
    def limits(self) -> ChatLimits:
        return self.setup.limits

    @property
    def form(self) -> t.Form:
        return t.form_for(self.state.language, self.profile.address_form)

    def now(self) -> datetime:
        return self.setup.clock()

    def say(self, text: str, buttons: Buttons | None = None, *, edit: int | None = None,
            ticket_id: int | None = None, not_before: datetime | None = None) -> int:
        """Queue a chat message (filed under `ticket_id` when it is about a ticket); returns its id."""
        item = send_chat(
            self.session, controller=self.controller, chat_id=self.event.chat_id, text=text,
            buttons=buttons or (), edit_message_id=edit, now=self.now(), ticket_id=ticket_id,
            not_before=not_before)
        self.outbox_ids.append(item)
        return item

    def keep_answer(self, text: str, ticket_id: int | None) -> None:
        """File what the person typed or pressed (not handed to the pipeline) under the ticket, so
        the DPO sees the whole chat.  Never pass a code in clear: see `masked_code`."""
        key = f"tg:{self.event.chat_id}:{self.event.kind}:{self.event.update_id}"
        self.session.add(Message(
            controller=self.controller, channel="telegram", direction=Direction.INBOUND.value,
            dedupe_key=key, sender=f"telegram:{self.event.user_id}", recipient="", subject_line="",
            body_text=text, headers={}, attachments=[], received_at=self.event.at, ticket_id=ticket_id))
        self.session.flush()

    def pipeline_outcome(
        self, *, text: str, rights: tuple[Right, ...], confirmed: bool, subject: str = "",
        key: str | None = None, at: datetime | None = None, hold: bool = False,
    ) -> tuple[InboundMessage, Outcome | None]:
        """The pipeline's outcome for this message, or None: then ChatFlow.handle calls it and reruns us.

        `hold`: the chat asks a question first; the pipeline's chat replies wait for its answer.
        """
        msg = inbound_message(
            controller=self.controller, event=self.event,
            key=key or f"tg:{self.event.chat_id}:{self.event.message_id}", text=text,
            received_at=at or self.event.at, rights=rights, confirmed=confirmed, subject=subject,
            hold_until=self.now() + self.limits.confirm_hold if hold else None)
        outcome = self.outcomes.get(msg.dedupe_key)
        if outcome is None:
            self.pipeline_request = msg
        return msg, outcome


def inbound_message(*, controller: str, event: ChatEvent, key: str, text: str, received_at: datetime,
                    rights: tuple[Right, ...], confirmed: bool, subject: str = "",
                    hold_until: datetime | None = None) -> InboundMessage:
    """The chat message as the pipeline takes it; rights picked or confirmed by button are used
    as given instead of classifying the text again."""
    return InboundMessage(
        controller=controller, channel="telegram", dedupe_key=key, sender=f"telegram:{event.user_id}",
        received_at=received_at, subject=subject, body=text, message_id=key,
        chat_id=event.chat_id, telegram_user_id=event.user_id,
        confirmed_rights=tuple(rights) if confirmed else (), hold_chat_replies_until=hold_until)
