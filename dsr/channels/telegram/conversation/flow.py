"""The Telegram conversation: one chat event in, durable state and outbox messages out.

The flow is synchronous and channel-neutral apart from its vocabulary (commands, texts,
button presses); `dsr.channels.telegram.adapter` turns updates into `ChatEvent`s and delivers what this
module puts into the outbox.  Per-chat state lives in `channel_state` and every answer is an
outbox row written in the same transaction as the state change and the "last update handled"
mark, so a crash at any point neither loses an answer nor sends it twice, and a restart
continues the conversation where it stood.  The identity step (address, code, binding) is in
`conversation.verify`, the hand-over to the pipeline in `conversation.submit`.

Legal shape of the dialogue (LEGAL.md 1.12, 3.5):
- a clear reading opens the ticket at once, with the receipt time of the person's message
  (Art. 12(3) runs from receipt; a request must never exist only in the chat), and is then
  confirmed in one sentence; "Nein, etwas anderes" corrects the ticket (`conversation.confirm`);
- several or weak readings: the ticket is opened at once as well (the pipeline asks its
  clarification question where it models one), then the readings are offered as buttons; the
  choice makes the open ticket precise (`conversation.choice`);
- marketing objection and consent withdrawal take effect at once, without verification;
- anything else that needs identity asks for a one-time code to the address on file, once per
  chat; a bound chat is verified at the level its binding reached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from dsr.channels.telegram.conversation import binding
from dsr.channels.telegram.conversation import choice as chat_choice
from dsr.channels.telegram.conversation import confirm as chat_confirm
from dsr.channels.telegram.conversation import submit as chat_submit
from dsr.channels.telegram.conversation import texts as t
from dsr.channels.telegram.conversation import verify as chat_verify
from dsr.channels.telegram.conversation.state import ChatState, load_state, save_state
from dsr.controllers import ControllerProfile
from dsr.inbound import InboundMessage, Outcome
from dsr.intents import classify
from dsr.intents.rights import RIGHTS, Right, legal_sort
from dsr.pipeline import codes
from dsr.pipeline.outbound import send_chat

log = logging.getLogger(__name__)

EventKind = Literal["command", "text", "button", "non_text"]
Buttons = list[list[tuple[str, str]]]
IMMEDIATE = frozenset({Right.MARKETING_OBJECTION, Right.CONSENT_WITHDRAWAL})
# Reasons the chat can settle by asking the person; every other reason goes to a human.
ASKABLE_REASONS = frozenset({"ambiguous", "low_confidence"})


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """Abuse limits and identity parameters (per chat)."""

    max_text_chars: int = 2000
    messages_per_minute: int = 12
    code_ttl: timedelta = timedelta(hours=24)  # the code travels by e-mail
    code_attempts: int = 5
    email_attempts: int = 3


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


class ChatFlow:
    """The conversation for one controller; `handle` is synchronous and commits once."""

    def __init__(
        self, *, sessions: sessionmaker[Session], profile: ControllerProfile, pipeline: Any,
        clock: Callable[[], datetime], limits: ChatLimits | None = None,
    ) -> None:
        self._sessions = sessions
        self._profile = profile
        self._pipeline = pipeline
        self._clock = clock
        self.limits = limits or ChatLimits()

    @property
    def controller(self) -> str:
        return self._profile.key

    def handle(self, event: ChatEvent) -> list[int]:
        """Apply `event`; return the ids of the outbox rows to deliver.  Replays are no-ops.

        A turn that hands a request to the pipeline runs twice: first to find the request (its
        transaction is rolled back, so no lock is held while the pipeline commits its own),
        then again with the pipeline's outcome, committing state and answers together.  The
        turn is deterministic given state, event and outcome, and the pipeline deduplicates by
        message key, so the second run and any replay after a crash agree with the first.
        """
        outcomes: dict[str, Outcome] = {}
        while True:
            with self._sessions() as session:
                state = load_state(session, self.controller, event.chat_id)
                if event.update_id <= state.last_update_id:
                    log.info("chat update already handled update=%s", event.update_id)
                    return []
                turn = Turn(self, session, state, event, outcomes)
                turn.run()
                request = turn.pipeline_request
                if request is None:
                    state.last_update_id = event.update_id
                    save_state(session, self.controller, event.chat_id, state, now=self._clock())
                    session.commit()
                    return turn.outbox_ids
            if request.dedupe_key in outcomes:
                raise RuntimeError("chat turn asked twice for the same pipeline request")
            outcomes[request.dedupe_key] = self._pipeline.handle(request)


class Turn:
    """One event applied to one chat's state inside one transaction."""

    def __init__(self, flow: ChatFlow, session: Session, state: ChatState, event: ChatEvent,
                 outcomes: Mapping[str, Outcome]) -> None:
        self.flow = flow
        self.outcomes = outcomes
        self.pipeline_request: InboundMessage | None = None
        self.session = session
        self.state = state
        self.event = event
        self.profile = flow._profile
        self.outbox_ids: list[int] = []
        if not state.language_set and event.language_code:
            state.language = "en" if event.language_code.lower().startswith("en") else "de"

    @property
    def form(self) -> t.Form:
        return t.form_for(self.state.language, self.profile.address_form)

    def say(self, text: str, buttons: Buttons | None = None, *, edit: int | None = None) -> None:
        self.outbox_ids.append(send_chat(
            self.session, controller=self.flow.controller, chat_id=self.event.chat_id, text=text,
            buttons=buttons or (), edit_message_id=edit, now=self.flow._clock()))

    def run(self) -> None:
        if not self._within_rate_limit():
            return
        kind = self.event.kind
        if kind == "non_text":
            self.say(t.text("non_text", self.form))
        elif kind == "command":
            self._command(self.event.text)
        elif kind == "button":
            self._button(self.event.text)
        elif len(self.event.text) > self.flow.limits.max_text_chars:
            self.say(t.text("too_long", self.form, limit=self.flow.limits.max_text_chars,
                            email=self.profile.contact_email))
        else:
            self._text(self.event.text.strip())

    def _within_rate_limit(self) -> bool:
        """At most N messages per minute; one polite notice, then silence until the window ends."""
        now = self.event.at.timestamp()
        if now - self.state.rate_window_start >= 60:
            self.state.rate_window_start, self.state.rate_count = now, 0
        self.state.rate_count += 1
        limit = self.flow.limits.messages_per_minute
        if self.state.rate_count == limit + 1:
            self.say(t.text("slow_down", self.form))
        return self.state.rate_count <= limit

    # -- commands ------------------------------------------------------------------------------

    def _command(self, name: str) -> None:
        if name == "start":
            self.state.reset()
            self._stop_correcting()
            notice = (t.text("notice", self.form, url=self.profile.privacy_notice_url)
                      if self.profile.privacy_notice_url else "")
            self.say(t.text("welcome", self.form, controller=self.profile.legal_name, notice=notice),
                     self._rights_keyboard(t.MENU_RIGHTS))
        elif name in ("hilfe", "help"):
            self.say(t.text("help", self.form, email=self.profile.contact_email))
        elif name == "status":
            self._status()
        elif name in ("abbrechen", "cancel"):
            had = self.state.step != "idle" or chat_confirm.correcting(self)
            self.state.reset()
            self._stop_correcting()
            self.say(t.text("cancelled" if had else "nothing_to_cancel", self.form))
        elif name == "abmelden":
            removed = binding.unbind_chat(self.session, controller=self.flow.controller,
                                          telegram_user_id=self.event.user_id, now=self.flow._clock())
            self.state.reset()
            self.say(t.text("unbound" if removed else "not_bound", self.form))
        else:
            self.say(t.text("help", self.form, email=self.profile.contact_email))

    def _stop_correcting(self) -> None:
        """Typed text is a new request again (the confirmation's buttons stay usable)."""
        if self.state.confirm:
            self.state.confirm = {**self.state.confirm, "correcting": False}

    def _status(self) -> None:
        subject = binding.bound_subject(self.session, self.flow.controller, self.event.user_id)
        tickets = binding.open_tickets(self.session, controller=self.flow.controller,
                                       chat_id=self.event.chat_id,
                                       subject_id=subject.id if subject else None)
        if not tickets:
            self.say(t.text("status_none", self.form))
            return
        lines = [t.text("status_head", self.form)]
        for ticket in tickets:
            rights = ", ".join(t.button_label(Right(r), self.form) if Right(r) in t.MENU_RIGHTS
                               else RIGHTS[Right(r)].name_de for r in ticket.rights)
            due = (chat_submit.format_day(ticket.extended_due_date or ticket.due_date, self.form)
                   if ticket.due_date else t.text("status_no_due", self.form))
            lines.append(t.text("status_line", self.form, reference=ticket.reference, rights=rights, due=due))
        self.say("\n".join(lines))

    # -- buttons -------------------------------------------------------------------------------

    def _button(self, data: str) -> None:
        action, _, rest = data.partition(":")
        if action in chat_choice.ACTIONS or (action == "cr" and chat_choice.choosing(self)):
            chat_choice.on_button(self, action, rest)
            return
        if action in chat_confirm.ACTIONS:
            chat_confirm.on_button(self, action, rest)
            return
        value, _, nonce = rest.rpartition(":") if ":" in rest else ("", "", rest)
        if nonce != str(self.state.prompt):
            self.say(t.text("stale_button", self.form))
            return
        self.state.prompt += 1  # every button set answers once
        message_id = self.event.message_id
        if action == "r":
            right = Right(value)
            self._edit_chosen(message_id, [right])
            if self.state.pending:
                self._submit([right])
            elif right in IMMEDIATE:
                self._pend_button(right)
                self._submit([right])
            else:
                self.state.step, self.state.chosen_right = "describe", right.value
                self.say(t.text("describe", self.form, right=t.button_label(right, self.form)),
                         [[(t.text("button_send", self.form), self._data("send"))]])
        elif action == "send" and self.state.chosen_right:
            right = Right(self.state.chosen_right)
            self._pend_button(right)
            self._submit([right])
        else:
            self.say(t.text("stale_button", self.form))

    def _edit_chosen(self, message_id: int | None, rights: list[Right]) -> None:
        if message_id is not None:
            label = ", ".join(t.button_label(r, self.form) for r in rights)
            self.say(t.text("chosen", self.form, right=label), edit=message_id)

    def _pend_button(self, right: Right) -> None:
        """A request made by button alone: its text says so, for the record."""
        info = RIGHTS[right]
        self.state.pending = {
            "key": f"tg:{self.event.chat_id}:btn:{self.event.update_id}",
            "text": f"Im Telegram-Chat über die Schaltfläche gewählt: {info.name_de} ({info.article})",
            "at": self.event.at.isoformat(), "rights": [right.value]}

    # -- free text -----------------------------------------------------------------------------

    def _text(self, text: str) -> None:
        identity_open = self.state.step == "await_identity" and bool(self.state.ticket_reference)
        if identity_open and chat_verify.EMAIL_RE.match(text):
            chat_verify.email_step(self, text)
        elif identity_open and self.state.code_expected and codes.candidates(text):
            chat_verify.code_step(self, text)
        elif chat_confirm.correcting(self) and chat_choice.choosing(self):
            chat_choice.answer_by_text(self, text)
        elif chat_confirm.correcting(self):
            chat_confirm.correct_by_text(self, text)
        elif identity_open:
            chat_verify.forward_step(self, text)
        else:
            self._new_request(text)

    def _new_request(self, text: str) -> None:
        step = self.state.step
        pending = {"key": f"tg:{self.event.chat_id}:{self.event.message_id}", "text": text,
                   "at": self.event.at.isoformat(), "rights": []}
        if step == "describe" and self.state.chosen_right:
            pending["rights"] = [self.state.chosen_right]
            self.state.pending = pending
            self._submit([Right(self.state.chosen_right)])
            return
        self.state.reset()
        self.state.pending = pending
        result = classify("", text, "telegram")
        self.state.language, self.state.language_set = result.language, True
        labels: list[Right] = [r for r in result.labels if r is not Right.OTHER]
        choosable = [r for r in labels if r not in IMMEDIATE]
        hard = set(result.reasons) - ASKABLE_REASONS
        pending["rights"] = [r.value for r in labels]
        if result.escalate and hard:
            self._submit(labels or [Right.OTHER], escalate=True)
        elif labels and set(labels) <= IMMEDIATE and not result.escalate:
            self._submit(labels)
        elif len(choosable) == 1 and not result.escalate:
            # Clear (a marketing objection beside it takes effect anyway): the ticket is opened now
            # (receipt = this message), the reading confirmed after.
            self._submit(labels, ask_confirmation=True)
        elif labels or result.escalate:
            # Several rights, or a weak reading: opened now like an e-mail, then the person chooses.
            self._submit(labels, offer_choice=True)
        else:
            # Nothing recognised (an e-mail would open no ticket either): offer the rights; a choice
            # opens the ticket with this message's text and receipt time.
            self.state.step = "choose"
            self.say(t.text("no_right", self.form), self._rights_keyboard(t.MENU_RIGHTS))

    def pipeline_outcome(
        self, *, text: str, rights: tuple[Right, ...], confirmed: bool, subject: str = "",
        key: str | None = None, at: datetime | None = None,
    ) -> tuple[InboundMessage, Outcome | None]:
        """The pipeline's outcome for this message, or None: then ChatFlow.handle calls it and reruns us."""
        msg = chat_submit.inbound_message(
            controller=self.flow.controller, event=self.event,
            key=key or f"tg:{self.event.chat_id}:{self.event.message_id}", text=text,
            received_at=at or self.event.at, rights=rights, confirmed=confirmed, subject=subject)
        outcome = self.outcomes.get(msg.dedupe_key)
        if outcome is None:
            self.pipeline_request = msg
        return msg, outcome

    def _submit(self, rights: list[Right], *, escalate: bool = False, ask_confirmation: bool = False,
                offer_choice: bool = False) -> None:
        """Hand the pending request to the pipeline and tell the person what happens next.

        `rights` count as chosen by the person (the pipeline takes them as given) unless the
        request escalates or is a classifier reading still to be confirmed or chosen
        (`ask_confirmation`, `offer_choice`: the pipeline classifies the text itself, and the
        question follows the receipt).
        """
        pending = self.state.pending or {}
        ordered = legal_sort(rights)
        confirmed = not escalate and not ask_confirmation and not offer_choice
        msg, outcome = self.pipeline_outcome(text=pending["text"], rights=ordered, confirmed=confirmed,
                                             key=pending["key"], at=datetime.fromisoformat(pending["at"]))
        if outcome is None:
            return
        result = chat_submit.after_pipeline(
            self.session, outcome=outcome, msg=msg, profile=self.profile, rights=ordered,
            confirmed=confirmed, form=self.form, now=self.flow._clock())
        self.outbox_ids.extend(result.outbox_ids)
        self.state.reset()
        if result.needs_identity:
            self.state.step, self.state.ticket_reference = "await_identity", result.reference
            if result.offer_email:
                self.say(t.text("ask_email", self.form))
        if ask_confirmation and result.reference:
            chat_confirm.ask(self, result.reference, ordered)  # last: the message with the buttons
        elif offer_choice and result.reference:
            chat_choice.offer(self, result.reference, ordered)

    # -- keyboards -----------------------------------------------------------------------------

    def _data(self, action: str, value: str = "") -> str:
        return f"{action}:{value}:{self.state.prompt}" if value else f"{action}:{self.state.prompt}"

    def _rights_keyboard(self, rights: tuple[Right, ...] | list[Right]) -> Buttons:
        buttons = [(t.button_label(r, self.form), self._data("r", r.value)) for r in rights]
        return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]

