"""The one-sentence confirmation of a clear reading, asked *after* the ticket was opened.

Art. 12(3) runs from receipt and a request must never be lost, so a clear chat request goes to
the pipeline at once (ticket, deadline and audit from the time of the person's message); only
then does the chat ask "Sie möchten … Stimmt das?".  The answer does not open anything:

- "Stimmt" records that the person confirmed the reading (audited);
- "Nein, etwas anderes" offers the other rights and free text; the choice corrects the ticket's
  rights through `dsr.store.tickets.services.correct_rights` (audited, reason "vom Betroffenen im Chat
  korrigiert").  A correction to a marketing objection or consent withdrawal takes effect at
  once, as on receipt.  The deadline does not move: it runs from receipt whatever the right;
- "Kein Datenschutz-Anliegen" deletes nothing: the ticket goes to the DPO with the reason code
  `subject_says_not_a_request`, who closes it with the fitting outcome.

The "Etwas anderes" menu, `correct` and "Kein Datenschutz-Anliegen" also serve the choice
between several or weak readings (`conversation.choice`), there with the reason "vom Betroffenen im
Chat präzisiert".

Buttons carry the ticket reference (not the prompt counter), so the question can still be
answered after the identity step in between; it answers once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dsr.channels.telegram.conversation import submit as chat_submit
from dsr.channels.telegram.conversation import texts as t
from dsr.channels.telegram.conversation import verify as chat_verify
from dsr.channels.telegram.conversation.turn import Buttons, Turn
from dsr.inbound import InboundMessage, Outcome
from dsr.intents import classify
from dsr.intents.rights import Right, legal_sort
from dsr.store.audit import audit
from dsr.store.models import Ticket, TicketState
from dsr.store.tickets.catalogue import TRANSITIONS
from dsr.store.tickets.services import correct_rights, escalate

log = logging.getLogger(__name__)

NOT_A_REQUEST_REASON = "subject_says_not_a_request"
CORRECTED_REASON = "vom Betroffenen im Chat korrigiert"
CONFIRMED_REASON = "vom Betroffenen im Chat bestätigt"
ACTIONS = frozenset({"cy", "cn", "cr", "cx"})  # confirm yes / no, corrected right, not a request
SETTLED_STATES = frozenset({TicketState.ANSWERED.value, TicketState.REFUSED.value, TicketState.CLOSED.value})
WITHDRAWN_REASON = "Im Chat anders beantwortet: die zurückgehaltene Antwort passt nicht mehr"
# Pipeline outcomes of a follow-up that answered the identity step rather than the question.
IDENTITY_OUTCOMES = frozenset({"identity_verified", "identity_attempt_failed", "identity_failed",
                               "code_expired_resent", "identity_fact_kept", "identity_facts_unclear"})


def ask(turn: Turn, ticket: Ticket, rights: Sequence[Right], *, held: Sequence[int] = ()) -> None:
    """Ask the person whether the reading the ticket was opened on is right.

    `held`: the chat answers about the ticket (receipt, identity step) that wait for the answer.
    """
    reference = ticket.reference
    turn.state.confirm = {"reference": reference, "rights": [r.value for r in rights], "correcting": False,
                          "mode": "confirm", "held": list(held)}
    turn.say(t.text("confirm", turn.form, reference=reference, want=t.wants(list(rights), turn.form),
                    article=", ".join(t.article(r, turn.form) for r in rights)),
             [[(t.text("button_yes", turn.form), f"cy:{reference}"),
               (t.text("button_no", turn.form), f"cn:{reference}")]], ticket_id=ticket.id)


def held(turn: Turn) -> list[int]:
    return [int(i) for i in (turn.state.confirm or {}).get("held", [])]


def proceed(turn: Turn, ticket: Ticket, lead: str, held_ids: Sequence[int]) -> None:
    """Say `lead` (what the answer changed and what happens next), then the answers held for it;
    on a settled ticket or one a person now looks at, the held answers are withdrawn instead."""
    now = turn.now()
    settled = ticket.state in SETTLED_STATES or ticket.escalated
    if settled:
        chat_submit.withdraw_held(turn.session, ticket, held_ids, actor=_actor(turn), now=now,
                                  reason=WITHDRAWN_REASON)
    elif chat_submit.release_held(turn.session, held_ids, lead=lead, now=now):
        return
    turn.say(lead, ticket_id=ticket.id)


def correcting(turn: Turn) -> bool:
    """True while typed text answers the open question (after "Nein, etwas anderes", or a choice)."""
    return bool(turn.state.confirm and turn.state.confirm.get("correcting"))


def on_button(turn: Turn, action: str, rest: str) -> None:
    """One of the confirmation's buttons; stale unless it belongs to the open confirmation."""
    value, _, reference = rest.rpartition(":") if action == "cr" else ("", "", rest)
    open_for = (turn.state.confirm or {}).get("reference")
    ticket = chat_submit.ticket_by_reference(turn.session, reference) if reference == open_for else None
    if ticket is None or (action == "cr" and value not in {r.value for r in t.MENU_RIGHTS}):
        turn.say(t.text("stale_button", turn.form))
        return
    message_id = turn.event.message_id
    choosing = (turn.state.confirm or {}).get("mode") == "choose"
    pressed = {"cy": t.text("button_yes", "sie"),
               "cn": t.text("button_other" if choosing else "button_no", "sie"),
               "cx": t.text("button_not_a_request", "sie")}
    label = pressed.get(action) or t.button_label(Right(value), "sie")
    turn.keep_answer(f"[{label}]", ticket.id)  # what was pressed, for the DPO (German)
    if action == "cy":
        rights = [Right(r) for r in (turn.state.confirm or {}).get("rights", [])]
        audit(turn.session, actor=_actor(turn), action="rights_confirmed", now=turn.now(),
              ticket_id=ticket.id, reason=CONFIRMED_REASON, detail={"rights": [r.value for r in rights]})
        held_ids = held(turn)
        turn.state.confirm = None
        if message_id is not None:
            turn.say(t.text("chosen", turn.form, right=_labels(rights, turn)), edit=message_id,
                     ticket_id=ticket.id)
        lead = t.text("thanks_confirmed", turn.form)
        lead += " " + chat_submit.progress(ticket, turn.form, prefix="next")
        proceed(turn, ticket, lead, held_ids)
    elif action == "cn":
        turn.state.confirm = {**(turn.state.confirm or {}), "correcting": True}
        turn.say(t.text("fix_choose", turn.form, reference=ticket.reference), keyboard(turn, ticket),
                 edit=message_id, ticket_id=ticket.id)
    elif action == "cr":
        correct(turn, ticket, [Right(value)], edit=message_id)
    else:
        not_a_request(turn, ticket, edit=message_id)


def correct_by_text(turn: Turn, text: str) -> None:
    """Free text after "Nein, etwas anderes": kept with the ticket, read, and the rights corrected."""
    ticket = question_ticket(turn)
    if ticket is None or follow_up(turn, ticket, text) is None:
        return
    labels = clear_labels(text)
    if labels:
        correct(turn, ticket, labels, edit=None)
    else:
        turn.say(t.text("fix_unclear", turn.form), keyboard(turn, ticket))


def question_ticket(turn: Turn) -> Ticket | None:
    """The ticket the open question is about; the question is dropped when the ticket is gone."""
    ticket = chat_submit.ticket_by_reference(turn.session, (turn.state.confirm or {}).get("reference"))
    if ticket is None:
        turn.state.confirm = None
    return ticket


def follow_up(turn: Turn, ticket: Ticket, text: str) -> tuple[InboundMessage, Outcome] | None:
    """Typed text about `ticket`, stored with it through the pipeline as a follow-up.

    None when nothing more is to be done here: the pipeline failed (the person got an apology),
    or the text answered the identity step (facts or a code), which takes it over while the
    question stays open.
    """
    msg, outcome = turn.pipeline_outcome(text=text, rights=(), confirmed=False,
                                         subject=f"[{ticket.reference}]")
    if outcome is None:
        return None
    if outcome.reason in IDENTITY_OUTCOMES:
        if turn.state.ticket_reference == ticket.reference:
            chat_verify.forward_step(turn, text)
        return None
    return msg, outcome


def clear_labels(text: str) -> list[Right]:
    """The rights typed text clearly names, or [] when it is unclear or needs a person."""
    result = classify("", text, "telegram")
    labels: list[Right] = list(result.requested)
    return labels if labels and not result.escalate else []


def correct(turn: Turn, ticket: Ticket, rights: Sequence[Right], *, edit: int | None,
            reason: str = CORRECTED_REASON, text_key: str = "fixed") -> None:
    """Set the ticket's rights to what the person says they meant (audited); the due date stays.

    Rights equal to the ticket's are recorded as confirmed with the same `reason` (the person
    made the request precise by keeping all of it, e.g. "Beides").
    """
    ordered = legal_sort(tuple(rights))
    now = turn.now()
    held_ids = held(turn)
    if edit is not None:
        turn.say(t.text("chosen", turn.form, right=_labels(ordered, turn)), edit=edit, ticket_id=ticket.id)
    if list(ticket.rights) != [r.value for r in ordered]:
        correct_rights(turn.session, ticket, ordered, actor=_actor(turn), reason=reason, now=now)
    else:
        audit(turn.session, actor=_actor(turn), action="rights_confirmed", now=now, ticket_id=ticket.id,
              reason=reason, detail={"rights": [r.value for r in ordered]})
    turn.outbox_ids.extend(chat_submit.take_effect_now(
        turn.session, ticket, profile=turn.profile, rights=ordered, chat_id=turn.event.chat_id,
        user_id=turn.event.user_id, form=turn.form, now=now))
    turn.state.confirm = None
    text = t.text(text_key, turn.form, reference=ticket.reference, rights=_labels(ordered, turn))
    if ticket.state == TicketState.ANSWERED.value:
        _leave_identity_step(turn, ticket)  # nothing left that needs identity
    elif ticket.due_date is not None:
        due = chat_submit.format_day(ticket.extended_due_date or ticket.due_date, turn.form)
        text += " " + t.text("due_stays", turn.form, due=due)
        text += " " + chat_submit.progress(ticket, turn.form, prefix="next")
    proceed(turn, ticket, text, held_ids)


def not_a_request(turn: Turn, ticket: Ticket, *, edit: int | None) -> None:
    """The person says it was no data-protection request: recorded for the DPO, nothing deleted."""
    now = turn.now()
    held_ids = held(turn)
    if edit is not None:
        turn.say(t.text("chosen", turn.form, right=t.text("button_not_a_request", turn.form)), edit=edit,
                 ticket_id=ticket.id)
    reason = "Betroffene Person im Chat: kein Datenschutz-Anliegen"
    current = TicketState(ticket.state)
    if current is TicketState.ESCALATED or TicketState.ESCALATED in TRANSITIONS[current]:
        escalate(turn.session, ticket, [NOT_A_REQUEST_REASON], actor=_actor(turn), reason=reason, now=now)
    else:
        audit(turn.session, actor=_actor(turn), action="subject_says_not_a_request", now=now,
              ticket_id=ticket.id, reason=reason)
    log.info("chat ticket %s: the person says it is no data-protection request", ticket.reference)
    turn.state.confirm = None
    _leave_identity_step(turn, ticket)
    chat_submit.withdraw_held(turn.session, ticket, held_ids, actor=_actor(turn), now=now,
                              reason=WITHDRAWN_REASON)
    turn.say(t.text("not_a_request", turn.form, reference=ticket.reference), ticket_id=ticket.id)


def _leave_identity_step(turn: Turn, ticket: Ticket) -> None:
    if turn.state.ticket_reference == ticket.reference:
        turn.state.reset()


def keyboard(turn: Turn, ticket: Ticket) -> Buttons:
    """The rights other than the ticket's, two per row, and "Kein Datenschutz-Anliegen"."""
    current = set(ticket.rights)
    buttons = [(t.button_label(r, turn.form), f"cr:{r.value}:{ticket.reference}")
               for r in t.MENU_RIGHTS if r.value not in current]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([(t.text("button_not_a_request", turn.form), f"cx:{ticket.reference}")])
    return rows


def _labels(rights: Sequence[Right], turn: Turn) -> str:
    return ", ".join(t.button_label(r, turn.form) for r in rights)


def _actor(turn: Turn) -> str:
    return f"telegram:{turn.event.user_id}"
