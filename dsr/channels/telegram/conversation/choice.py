"""Several or unclear readings of a chat request: the ticket is opened first, then the person chooses.

Art. 12(3) runs from receipt and a request must never exist only in the chat, so a message the
classifier reads with several rights, or only weakly, goes to the pipeline at once, exactly as an
e-mail would: the ticket is opened with the receipt time of the person's message and the due date
that follows from it.  The pipeline decides how: with several rights it opens the ticket for all
of them; with a weak or ambiguous reading it opens it "pending clarification" and queues its
clarification question (the readings, numbered); with nothing to offer it hands it to a human.
Only then does the chat offer the readings as buttons (and "Beides"/"Alle davon", "Etwas
anderes").  What the person then says never opens anything; it makes the open ticket precise:

- on a ticket pending clarification the choice (button, a number from the question, or free
  text) is a follow-up through the pipeline, which continues its own clarification flow
  (rights corrected, then the identity step; still unclear: a human);
- on any other ticket the choice corrects the ticket's rights through
  `dsr.store.tickets.services.correct_rights`, audited with the reason "vom Betroffenen im Chat präzisiert";
  the deadline does not move;
- "Etwas anderes" offers every right and "Kein Datenschutz-Anliegen" (`conversation.confirm`), which
  keeps the ticket and records it for the DPO.

Marketing objection and consent withdrawal already took effect on receipt (the pipeline acts on
them whatever else the message says); they are not offered as readings and stay on the ticket
whichever reading is chosen.  The readings offered are audited, so the DPO sees them even if the
person never answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dsr.channels.telegram.conversation import confirm as chat_confirm
from dsr.channels.telegram.conversation import submit as chat_submit
from dsr.channels.telegram.conversation import texts as t
from dsr.channels.telegram.conversation.turn import Turn
from dsr.inbound import InboundMessage, Outcome
from dsr.intents.rights import RIGHTS, Right, legal_sort
from dsr.pipeline.clarification import offered_readings, reading_numbers
from dsr.store.audit import audit
from dsr.store.models import Ticket, TicketState

log = logging.getLogger(__name__)

PRECISED_REASON = "vom Betroffenen im Chat präzisiert"
OFFERED_ACTION = "readings_offered"
ACTIONS = frozenset({"cp", "ca"})  # a reading, all readings ("cr" too while the choice is open)
IMMEDIATE = frozenset({Right.MARKETING_OBJECTION, Right.CONSENT_WITHDRAWAL})
MAX_READINGS = 3
# Pipeline outcomes of a follow-up that was simply attached (the ticket was not pending clarification).
ATTACHED_OUTCOMES = frozenset({"follow_up_attached", "sender_not_requester"})


def pending_clarification(ticket: Ticket) -> bool:
    """True while the pipeline waits for the person to say which reading is meant."""
    return ticket.state == TicketState.NEW.value and bool(ticket.classification.get("pending_clarification"))


def offer(turn: Turn, reference: str, labels: Sequence[Right]) -> None:
    """Offer the readings of the ticket just opened as buttons; audited for the DPO."""
    ticket = chat_submit.ticket_by_reference(turn.session, reference)
    if ticket is None:
        return
    readings = _readings(turn, ticket, labels)
    turn.state.confirm = {"reference": reference, "rights": list(ticket.rights), "correcting": True,
                          "mode": "choose", "readings": [r.value for r in readings]}
    if not readings:
        # Nothing to offer (the pipeline handed it to a human): every right, or "not a request".
        turn.say(t.text("choose_any_open", turn.form, reference=reference),
                 chat_confirm.keyboard(turn, ticket))
        return
    named = ", ".join(f"{RIGHTS[r].name_de} ({RIGHTS[r].article})" for r in readings)
    audit(turn.session, actor="system", action=OFFERED_ACTION, now=turn.now(), ticket_id=ticket.id,
          reason=f"Im Chat zur Auswahl angeboten: {named}", detail={"readings": [r.value for r in readings]})
    buttons = [(t.button_label(r, turn.form), f"cp:{r.value}:{reference}") for r in readings]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    last = [(t.text("button_other", turn.form), f"cn:{reference}")]
    if len(readings) > 1:
        last.insert(0, (t.text("button_both" if len(readings) == 2 else "button_all", turn.form),
                        f"ca:{reference}"))
    rows.append(last)
    turn.say(t.text("choose", turn.form, reference=reference), rows)


def on_button(turn: Turn, action: str, rest: str) -> None:
    """A reading ("cp"), all readings ("ca"), or a right from the menu after "Etwas anderes" ("cr")."""
    value, _, reference = rest.rpartition(":") if action in ("cp", "cr") else ("", "", rest)
    open_for = (turn.state.confirm or {}).get("reference")
    ticket = chat_submit.ticket_by_reference(turn.session, reference) if reference == open_for else None
    readings = offered(turn)
    allowed = {"cp": {r.value for r in readings}, "cr": {r.value for r in t.MENU_RIGHTS}}
    if ticket is None or (action in allowed and value not in allowed[action]) or (action == "ca" and
                                                                                  len(readings) < 2):
        turn.say(t.text("stale_button", turn.form))
        return
    chosen = readings if action == "ca" else [Right(value)]
    choose(turn, ticket, chosen, edit=turn.event.message_id)


def choosing(turn: Turn) -> bool:
    """True while the open question is a choice between readings (not a one-sentence confirmation)."""
    return bool(turn.state.confirm and turn.state.confirm.get("mode") == "choose")


def offered(turn: Turn) -> list[Right]:
    return [Right(r) for r in (turn.state.confirm or {}).get("readings", [])]


def choose(turn: Turn, ticket: Ticket, rights: Sequence[Right], *, edit: int | None,
           typed: str | None = None) -> None:
    """The person chose `rights` (button, or `typed` numbers): make the ticket precise."""
    wanted = _with_effective(ticket, rights)
    key = None if typed is not None else f"tg:{turn.event.chat_id}:btn:{turn.event.update_id}"
    via_pipeline = typed is not None or pending_clarification(ticket) or key in turn.outcomes
    if not via_pipeline:
        turn.keep_answer(f"[{', '.join(t.button_label(r, 'sie') for r in rights)}]", ticket.id)  # for the DPO
        chat_confirm.correct(turn, ticket, wanted, edit=edit, reason=PRECISED_REASON, text_key="precised")
        return
    text = typed if typed is not None else _button_text(rights)
    msg, outcome = turn.pipeline_outcome(text=text, rights=wanted, confirmed=True, key=key,
                                         subject=f"[{ticket.reference}]")
    if outcome is None:
        return
    if outcome.reason in ATTACHED_OUTCOMES:
        # Not (or no longer) pending clarification: the typed answer is kept, the rights set here.
        chat_confirm.correct(turn, ticket, wanted, edit=edit, reason=PRECISED_REASON, text_key="precised")
        return
    if edit is not None:
        turn.say(t.text("chosen", turn.form, right=_labels(wanted, turn)), edit=edit)
    _after_clarification(turn, ticket, outcome, msg, wanted)


def answer_by_text(turn: Turn, text: str) -> None:
    """Typed text while the choice is open: numbers pick readings; anything else is read as words."""
    ticket = chat_confirm.question_ticket(turn)
    if ticket is None:
        return
    readings = offered(turn)
    picked = reading_numbers(text, len(readings))
    if picked:
        choose(turn, ticket, [readings[i - 1] for i in picked], edit=None, typed=text)
        return
    sent = chat_confirm.follow_up(turn, ticket, text)
    if sent is None:
        return
    msg, outcome = sent
    if outcome.reason not in ATTACHED_OUTCOMES:
        _after_clarification(turn, ticket, outcome, msg, ())  # the pipeline read the answer itself
        return
    labels = chat_confirm.clear_labels(text)
    if labels:
        chat_confirm.correct(turn, ticket, _with_effective(ticket, labels), edit=None,
                             reason=PRECISED_REASON, text_key="precised")
    else:
        turn.say(t.text("fix_unclear", turn.form), chat_confirm.keyboard(turn, ticket))


def _after_clarification(turn: Turn, ticket: Ticket, outcome: Outcome, msg: InboundMessage,
                         rights: Sequence[Right]) -> None:
    """The pipeline continued its clarification flow: report the result and open the identity step."""
    now = turn.now()
    current = legal_sort(tuple(Right(r) for r in ticket.rights))
    result = chat_submit.after_pipeline(
        turn.session, outcome=outcome, msg=msg, profile=turn.profile, rights=rights or current,
        confirmed=bool(rights), form=turn.form, now=now)
    turn.outbox_ids.extend(result.outbox_ids)
    turn.state.confirm = None
    log.info("chat ticket %s clarified by the person outcome=%s", ticket.reference, outcome.reason)
    if ticket.escalated:
        return  # the pipeline told the person that a member of the team takes over
    text = t.text("precised", turn.form, reference=ticket.reference,
                  rights=_labels(legal_sort(tuple(Right(r) for r in ticket.rights)), turn))
    if ticket.state != TicketState.ANSWERED.value and ticket.due_date is not None:
        due = chat_submit.format_day(ticket.extended_due_date or ticket.due_date, turn.form)
        text += " " + t.text("due_stays", turn.form, due=due)
        text += " " + chat_submit.progress(ticket, turn.form, prefix="next")
    turn.say(text, ticket_id=ticket.id)
    if result.needs_identity:
        turn.state.step, turn.state.ticket_reference = "await_identity", ticket.reference
        if result.offer_email:
            turn.say(t.text("ask_email", turn.form))


def _readings(turn: Turn, ticket: Ticket, labels: Sequence[Right]) -> list[Right]:
    """What to offer: the pipeline's own readings (as numbered in its question), else the rights found."""
    if pending_clarification(ticket):
        found = offered_readings(turn.session, ticket)
        if found:
            return found[:MAX_READINGS]
    found = [r for r in labels if r not in IMMEDIATE and r is not Right.OTHER]
    return found[:MAX_READINGS]


def _with_effective(ticket: Ticket, rights: Sequence[Right]) -> tuple[Right, ...]:
    """The chosen rights plus any marketing objection / consent withdrawal already in effect."""
    kept = [Right(r) for r in ticket.rights if Right(r) in IMMEDIATE]
    return legal_sort(tuple(dict.fromkeys([*rights, *kept])))


def _button_text(rights: Sequence[Right]) -> str:
    """The record of a choice made by button alone (stored as the follow-up message)."""
    named = ", ".join(f"{RIGHTS[r].name_de} ({RIGHTS[r].article})" for r in rights)
    return f"Im Telegram-Chat über die Schaltfläche gewählt: {named}"


def _labels(rights: Sequence[Right], turn: Turn) -> str:
    return ", ".join(t.button_label(r, turn.form) for r in rights)
