"""The Telegram conversation: one chat event in, durable state and outbox messages out.

The flow is synchronous and channel-neutral apart from its vocabulary (commands, texts,
button presses); `dsr.channels.telegram.adapter` turns updates into `ChatEvent`s and delivers what this
module puts into the outbox.  Per-chat state lives in `channel_state` and every answer is an
outbox row written in the same transaction as the state change and the "last update handled"
mark, so a crash at any point neither loses an answer nor sends it twice, and a restart
continues the conversation where it stood.  The identity step (address, code, binding) is in
`conversation.verify`, the hand-over to the pipeline in `conversation.submit`.

Which step handles an event is data: `COMMANDS`, `BUTTON_HANDLERS` and `TEXT_HANDLERS` below list
the handlers with the chat state they apply in, first match wins (as python-telegram-bot's
`ConversationHandler` maps states to handlers).  Step modules work on a `Turn`
(`conversation.turn`) and never import this module.

Legal shape of the dialogue (docs/LEGAL-NOTES.md 1.12, 3.5):
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
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from dsr.channels.telegram.conversation import binding
from dsr.channels.telegram.conversation import choice as chat_choice
from dsr.channels.telegram.conversation import confirm as chat_confirm
from dsr.channels.telegram.conversation import submit as chat_submit
from dsr.channels.telegram.conversation import texts as t
from dsr.channels.telegram.conversation import verify as chat_verify
from dsr.channels.telegram.conversation.state import load_state, save_state
from dsr.channels.telegram.conversation.turn import (
    IMMEDIATE,
    Buttons,
    ChatEvent,
    ChatLimits,
    ChatSetup,
    EventKind,
    Turn,
)
from dsr.controllers import ControllerProfile
from dsr.inbound import Outcome
from dsr.intents import classify
from dsr.intents.rights import RIGHTS, Right, legal_sort
from dsr.mail.address import is_address
from dsr.pipeline import codes
from dsr.store.audit import audit
from dsr.store.models import Direction, Message, Ticket

__all__ = ["BUTTON_HANDLERS", "COMMANDS", "TEXT_HANDLERS", "ChatEvent", "ChatFlow", "ChatLimits", "EventKind"]

log = logging.getLogger(__name__)

# Reasons the chat can settle by asking the person; every other reason goes to a human.
ASKABLE_REASONS = frozenset({"ambiguous", "low_confidence"})
# A chat message over the message limit with no open ticket: set aside for the DPO (console list of
# set-aside messages; `dsr.replies.labels.LOOP_GUARD_REASONS` names it).
HELD_DISPOSITION = "loop_guard:chat_rate_limit"
HELD_NON_TEXT = "[Datei, Bild oder Sprachnachricht über der Nachrichtenbegrenzung: nicht gespeichert]"


class ChatFlow:
    """The conversation for one controller; `handle` is synchronous and commits once."""

    def __init__(
        self, *, sessions: sessionmaker[Session], profile: ControllerProfile, pipeline: Any,
        clock: Callable[[], datetime], limits: ChatLimits | None = None,
    ) -> None:
        self._sessions = sessions
        self._pipeline = pipeline
        self._clock = clock
        self._setup = ChatSetup(profile=profile, clock=clock, limits=limits or ChatLimits())

    @property
    def controller(self) -> str:
        return self._setup.profile.key

    @property
    def limits(self) -> ChatLimits:
        return self._setup.limits

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
                turn = Turn(self._setup, session, state, event, outcomes)
                dispatch(turn)
                request = turn.pipeline_request
                if request is None:
                    state.last_update_id = event.update_id
                    save_state(session, self.controller, event.chat_id, state, now=self._clock())
                    session.commit()
                    return turn.outbox_ids
            if request.dedupe_key in outcomes:
                raise RuntimeError("chat turn asked twice for the same pipeline request")
            outcomes[request.dedupe_key] = self._pipeline.handle(request)


# --- the handlers of this module --------------------------------------------------------------


def _within_rate_limit(turn: Turn) -> bool:
    """At most N automatic answers per minute (anti-abuse).  The message that first goes over the
    limit gets one short notice, once per window (it cannot loop: nothing over the limit is
    answered): further messages are kept for the data protection team, no automatic answer is
    promised.  The kept messages themselves: `_hold`."""
    now = turn.event.at.timestamp()
    if now - turn.state.rate_window_start >= 60:
        turn.state.rate_window_start, turn.state.rate_count = now, 0
    turn.state.rate_count += 1
    limit = turn.limits.messages_per_minute
    if turn.state.rate_count == limit + 1:
        ticket = _chat_ticket(turn)
        turn.say(t.text("slow_down", turn.form), ticket_id=ticket.id if ticket else None)
        audit(turn.session, actor="system", action="telegram_rate_limited", now=turn.now(),
              ticket_id=ticket.id if ticket else None,
              detail={"limit_per_minute": limit, "update_id": turn.event.update_id})
        log.warning("chat over the message limit update=%s: answers paused, messages kept",
                    turn.event.update_id)
    return turn.state.rate_count <= limit


def _chat_ticket(turn: Turn) -> Ticket | None:
    """The chat's most recent open ticket (what its messages are about), if any."""
    tickets = binding.open_tickets(turn.session, controller=turn.controller, chat_id=turn.event.chat_id,
                                   subject_id=None)
    return tickets[-1] if tickets else None


def _hold(turn: Turn) -> None:
    """A message over the limit gets no automatic answer but is never dropped: it is kept on the
    chat's open ticket (the DPO reads it in the conversation), else among the set-aside messages
    (console "Ignorierte Nachrichten", where it can become a ticket).  A code is stored masked;
    a button press on an earlier prompt is no message and is not kept."""
    event = turn.event
    if event.kind == "button":
        return
    if event.kind == "non_text":
        text = HELD_NON_TEXT
    elif event.kind == "command":
        text = f"/{event.text}"
    else:
        text = codes.mask(event.text)  # whole (Telegram: at most 4096 characters)
    ticket = _chat_ticket(turn)
    if ticket is not None:
        turn.keep_answer(text, ticket.id)
        return
    turn.session.add(Message(
        controller=turn.controller, channel="telegram", direction=Direction.INBOUND.value,
        dedupe_key=f"tg:{event.chat_id}:{event.message_id or f'u{event.update_id}'}",
        sender=f"telegram:{event.user_id}", recipient="", subject_line="", body_text=text, headers={},
        attachments=[], received_at=event.at, ticket_id=None, disposition=HELD_DISPOSITION))
    turn.session.flush()


# -- commands ------------------------------------------------------------------------------


def _start(turn: Turn) -> None:
    turn.state.reset()
    _stop_correcting(turn)
    notice = (t.text("notice", turn.form, url=turn.profile.privacy_notice_url)
              if turn.profile.privacy_notice_url else "")
    turn.say(t.text("welcome", turn.form, controller=turn.profile.legal_name, notice=notice),
             _rights_keyboard(turn, t.MENU_RIGHTS))


def _help(turn: Turn) -> None:
    turn.say(t.text("help", turn.form, email=turn.profile.contact_email))


def _cancel(turn: Turn) -> None:
    had = turn.state.step != "idle" or chat_confirm.correcting(turn)
    turn.state.reset()
    _stop_correcting(turn)
    turn.say(t.text("cancelled" if had else "nothing_to_cancel", turn.form))


def _unbind(turn: Turn) -> None:
    removed = binding.unbind_chat(turn.session, controller=turn.controller,
                                  telegram_user_id=turn.event.user_id, now=turn.now())
    turn.state.reset()
    turn.say(t.text("unbound" if removed else "not_bound", turn.form))


def _stop_correcting(turn: Turn) -> None:
    """Typed text is a new request again (the confirmation's buttons stay usable)."""
    if turn.state.confirm:
        turn.state.confirm = {**turn.state.confirm, "correcting": False}


def _status(turn: Turn) -> None:
    subject = binding.bound_subject(turn.session, turn.controller, turn.event.user_id)
    tickets = binding.open_tickets(turn.session, controller=turn.controller,
                                   chat_id=turn.event.chat_id,
                                   subject_id=subject.id if subject else None)
    if not tickets:
        turn.say(t.text("status_none", turn.form))
        return
    lines = [t.text("status_head", turn.form)]
    for ticket in tickets:
        rights = ", ".join(t.button_label(Right(r), turn.form) if Right(r) in t.MENU_RIGHTS
                           else RIGHTS[Right(r)].name_de for r in ticket.rights)
        due = (chat_submit.format_day(ticket.extended_due_date or ticket.due_date, turn.form)
               if ticket.due_date else t.text("status_no_due", turn.form))
        lines.append(t.text("status_line", turn.form, reference=ticket.reference, rights=rights, due=due))
    turn.say("\n".join(lines))


# -- buttons -------------------------------------------------------------------------------


def _menu_button(turn: Turn, data: str) -> None:
    """A button of the rights menu (or "send" after describing): one answer per button set."""
    action, _, rest = data.partition(":")
    value, _, nonce = rest.rpartition(":") if ":" in rest else ("", "", rest)
    if nonce != str(turn.state.prompt):
        turn.say(t.text("stale_button", turn.form))
        return
    turn.state.prompt += 1  # every button set answers once
    message_id = turn.event.message_id
    if action == "r":
        right = Right(value)
        _edit_chosen(turn, message_id, [right])
        if turn.state.pending:
            _submit(turn, [right])
        elif right in IMMEDIATE:
            _pend_button(turn, right)
            _submit(turn, [right])
        else:
            turn.state.step, turn.state.chosen_right = "describe", right.value
            turn.say(t.text("describe", turn.form, right=t.button_label(right, turn.form)),
                     [[(t.text("button_send", turn.form), _data(turn, "send"))]])
    elif action == "send" and turn.state.chosen_right:
        right = Right(turn.state.chosen_right)
        _pend_button(turn, right)
        _submit(turn, [right])
    else:
        turn.say(t.text("stale_button", turn.form))


def _edit_chosen(turn: Turn, message_id: int | None, rights: list[Right]) -> None:
    if message_id is not None:
        label = ", ".join(t.button_label(r, turn.form) for r in rights)
        turn.say(t.text("chosen", turn.form, right=label), edit=message_id)


def _pend_button(turn: Turn, right: Right) -> None:
    """A request made by button alone: its text says so, for the record."""
    info = RIGHTS[right]
    turn.state.pending = {
        "key": f"tg:{turn.event.chat_id}:btn:{turn.event.update_id}",
        "text": f"Im Telegram-Chat über die Schaltfläche gewählt: {info.name_de} ({info.article})",
        "at": turn.event.at.isoformat(), "rights": [right.value]}


# -- free text -----------------------------------------------------------------------------


def _new_request(turn: Turn, text: str) -> None:
    step = turn.state.step
    pending = {"key": f"tg:{turn.event.chat_id}:{turn.event.message_id}", "text": text,
               "at": turn.event.at.isoformat(), "rights": []}
    if step == "describe" and turn.state.chosen_right:
        pending["rights"] = [turn.state.chosen_right]
        turn.state.pending = pending
        _submit(turn, [Right(turn.state.chosen_right)])
        return
    turn.state.reset()
    turn.state.pending = pending
    result = classify("", text, "telegram")
    turn.state.language, turn.state.language_set = result.language, True
    labels: list[Right] = list(result.requested)
    choosable = [r for r in labels if r not in IMMEDIATE]
    hard = set(result.reasons) - ASKABLE_REASONS
    pending["rights"] = [r.value for r in labels]
    latest = _latest_open_ticket(turn) if not labels and not hard else None
    if latest is not None:
        # No right named while a request of this chat is open ("Und jetzt?", "Danke"): it belongs
        # to that ticket, and the person hears where it stands.
        turn.state.reset()
        _follow_up(turn, text, latest)
    elif result.escalate and hard:
        _submit(turn, labels or [Right.OTHER], escalate=True)
    elif labels and set(labels) <= IMMEDIATE and not result.escalate:
        _submit(turn, labels)
    elif len(choosable) == 1 and not result.escalate:
        # Clear (a marketing objection beside it takes effect anyway): the ticket is opened now
        # (receipt = this message), the reading confirmed after.
        _submit(turn, labels, ask_confirmation=True)
    elif labels or result.escalate:
        # Several rights, or a weak reading: opened now like an e-mail, then the person chooses.
        _submit(turn, labels, offer_choice=True)
    else:
        # Nothing recognised (an e-mail would open no ticket either): offer the rights; a choice
        # opens the ticket with this message's text and receipt time.
        turn.state.step = "choose"
        turn.say(t.text("no_right", turn.form), _rights_keyboard(turn, t.MENU_RIGHTS))


def _latest_open_ticket(turn: Turn) -> Ticket | None:
    """The most recent open ticket this chat opened before this message, if any.

    The ticket this very message opened does not count: the turn reruns after the pipeline
    (`ChatFlow.handle`) and must decide the same way both times.
    """
    key = f"tg:{turn.event.chat_id}:{turn.event.message_id}"
    mine = [ticket for ticket in binding.open_tickets(turn.session, controller=turn.controller,
                                                      chat_id=turn.event.chat_id, subject_id=None)
            if chat_submit.opening_key(turn.session, ticket) != key]
    return mine[-1] if mine else None


def _follow_up(turn: Turn, text: str, ticket: Ticket) -> None:
    """Text about an open ticket: filed with it through the pipeline, acknowledged with its status."""
    _msg, outcome = turn.pipeline_outcome(text=text, rights=(), confirmed=False,
                                          subject=f"[{ticket.reference}]")
    if outcome is None:
        return
    item = chat_submit.acknowledge(turn.session, ticket, outcome, chat_id=turn.event.chat_id, form=turn.form,
                                   now=turn.now(), controller=turn.controller)
    turn.outbox_ids.extend([item] if item is not None else [])


def _submit(turn: Turn, rights: list[Right], *, escalate: bool = False, ask_confirmation: bool = False,
            offer_choice: bool = False) -> None:
    """Hand the pending request to the pipeline and tell the person what happens next.

    `rights` count as chosen by the person (the pipeline takes them as given) unless the
    request escalates or is a classifier reading still to be confirmed or chosen
    (`ask_confirmation`, `offer_choice`: the pipeline classifies the text itself, and the
    question follows the receipt).
    """
    pending = turn.state.pending or {}
    ordered = legal_sort(rights)
    confirmed = not escalate and not ask_confirmation and not offer_choice
    msg, outcome = turn.pipeline_outcome(text=pending["text"], rights=ordered, confirmed=confirmed,
                                         key=pending["key"], at=datetime.fromisoformat(pending["at"]),
                                         hold=ask_confirmation)
    if outcome is None:
        return
    # A clear reading is confirmed first: the answers (receipt, identity step) wait for "Stimmt".
    hold = msg.hold_chat_replies_until
    result = chat_submit.after_pipeline(
        turn.session, outcome=outcome, msg=msg, profile=turn.profile, rights=ordered,
        confirmed=confirmed, form=turn.form, now=turn.now(), hold_until=hold)
    turn.outbox_ids.extend(result.outbox_ids)
    turn.state.reset()
    ticket = chat_submit.ticket_by_reference(turn.session, result.reference)
    if result.needs_identity:
        turn.state.step, turn.state.ticket_reference = "await_identity", result.reference
        if result.offer_email:
            turn.say(t.text("ask_email", turn.form), ticket_id=ticket.id if ticket else None, not_before=hold)
    if ask_confirmation and ticket is not None:
        held = chat_submit.held_replies(turn.session, ticket, chat_id=turn.event.chat_id, now=turn.now())
        chat_confirm.ask(turn, ticket, ordered, held=held)  # the question first; the held answers after it
    elif offer_choice and result.reference:
        chat_choice.offer(turn, result.reference, ordered)


# -- keyboards -----------------------------------------------------------------------------


def _data(turn: Turn, action: str, value: str = "") -> str:
    return f"{action}:{value}:{turn.state.prompt}" if value else f"{action}:{turn.state.prompt}"


def _rights_keyboard(turn: Turn, rights: tuple[Right, ...] | list[Right]) -> Buttons:
    buttons = [(t.button_label(r, turn.form), _data(turn, "r", r.value)) for r in rights]
    return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]


# --- the table: which handler takes an event, by the state of the chat ----------------------------


@dataclass(frozen=True, slots=True)
class Handler:
    """One row of the table: `applies` looks at the turn's state and the event's text or data."""

    name: str
    applies: Callable[[Turn, str], bool]
    run: Callable[[Turn, str], None]


def _awaiting_identity(turn: Turn) -> bool:
    return turn.state.step == "await_identity" and bool(turn.state.ticket_reference)


def _action(data: str) -> str:
    return data.partition(":")[0]


def _always(_turn: Turn, _value: str) -> bool:
    return True


COMMANDS: Mapping[str, Callable[[Turn], None]] = {
    "start": _start,
    "hilfe": _help, "help": _help,
    "status": _status,
    "abbrechen": _cancel, "cancel": _cancel,
    "abmelden": _unbind,
}

BUTTON_HANDLERS: tuple[Handler, ...] = (
    # The readings offered for a ticket just opened (and "Nein, etwas anderes" while choosing).
    Handler("choice",
            lambda turn, data: _action(data) in chat_choice.ACTIONS
            or (_action(data) == "cr" and chat_choice.choosing(turn)),
            lambda turn, data: chat_choice.on_button(turn, _action(data), data.partition(":")[2])),
    # The one-sentence confirmation of a clear reading.
    Handler("confirmation", lambda _turn, data: _action(data) in chat_confirm.ACTIONS,
            lambda turn, data: chat_confirm.on_button(turn, _action(data), data.partition(":")[2])),
    # The rights menu of /start and "no right recognised".
    Handler("menu", _always, _menu_button),
)

TEXT_HANDLERS: tuple[Handler, ...] = (
    # Awaiting identity: an address asks for a code to it, a code proves the link.
    Handler("identity-address",
            lambda turn, text: _awaiting_identity(turn) and is_address(text),
            chat_verify.email_step),
    Handler("identity-code",
            lambda turn, text: _awaiting_identity(turn) and turn.state.code_expected
            and bool(codes.candidates(text)),
            chat_verify.code_step),
    # Correcting a confirmed reading: by choosing among the readings, or in own words.
    Handler("choice-by-text",
            lambda turn, _text: chat_confirm.correcting(turn) and chat_choice.choosing(turn),
            chat_choice.answer_by_text),
    Handler("correction-by-text", lambda turn, _text: chat_confirm.correcting(turn),
            chat_confirm.correct_by_text),
    # Anything else while identity is open goes to the ticket as a message.
    Handler("identity-forward", lambda turn, _text: _awaiting_identity(turn), chat_verify.forward_step),
    # Otherwise (idle, describing a chosen right, choosing from the menu): a new request.
    Handler("new-request", _always, _new_request),
)


def dispatch(turn: Turn) -> None:
    """Run the handler the table assigns to the turn's event (after the rate limit)."""
    if not _within_rate_limit(turn):
        _hold(turn)
        return
    event = turn.event
    if event.kind == "non_text":
        turn.say(t.text("non_text", turn.form))
    elif event.kind == "command":
        COMMANDS.get(event.text, _help)(turn)
    elif event.kind == "button":
        _first(BUTTON_HANDLERS, turn, event.text)
    elif len(event.text) > turn.limits.max_text_chars:
        turn.say(t.text("too_long", turn.form, limit=turn.limits.max_text_chars,
                        email=turn.profile.contact_email))
    else:
        _first(TEXT_HANDLERS, turn, event.text.strip())


def _first(handlers: tuple[Handler, ...], turn: Turn, value: str) -> None:
    handler = next(h for h in handlers if h.applies(turn, value))
    log.debug("chat event update=%s handled by %s", turn.event.update_id, handler.name)
    handler.run(turn, value)
