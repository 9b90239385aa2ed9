"""The identity step of the chat: binding the chat to a known data subject, inside a ticket.

While a ticket waits for identity (Art. 12(6)), what the person types is read as an answer to
that step: an e-mail address gets a one-time code sent to it *only if* it is already on file
(the chat is told the same either way); a code-shaped answer is checked against that code (a
turn with several candidates counts each as a failed attempt); anything else (facts, or the code
the pipeline itself sent) belongs to the ticket and goes through the pipeline.  Once the code is
right the chat is bound, and later requests from it are verified at the same level.
"""

from __future__ import annotations

from datetime import datetime

from dsr.channels.telegram.conversation import binding
from dsr.channels.telegram.conversation import submit as chat_submit
from dsr.channels.telegram.conversation import texts as t
from dsr.channels.telegram.conversation.turn import Turn
from dsr.mail.address import is_address, normalize_address
from dsr.pipeline import codes
from dsr.store.models import TicketState
from dsr.store.tickets.services import escalate


def forward_step(turn: Turn, text: str) -> None:
    """A reply while identity is open (facts, or a code the pipeline sent): it belongs to the ticket."""
    reference = turn.state.ticket_reference or ""
    _msg, outcome = turn.pipeline_outcome(text=text, rights=(), confirmed=False, subject=f"[{reference}]")
    if outcome is None:
        return
    ticket = chat_submit.ticket_by_reference(turn.session, reference)
    if ticket is not None:
        item = chat_submit.acknowledge(turn.session, ticket, outcome, chat_id=turn.event.chat_id,
                                       form=turn.form, now=turn.now(), controller=turn.controller)
        turn.outbox_ids.extend([item] if item is not None else [])
    if ticket is None or ticket.state != "awaiting_identity":
        if ticket is not None and ticket.subject_id and ticket.identity_level == "code_confirmed":
            # The pipeline's code went to the address on file: that proves the chat, too.
            binding.bind_chat(turn.session, controller=turn.controller, subject_id=ticket.subject_id,
                              telegram_user_id=turn.event.user_id, now=turn.now())
        turn.state.reset()


def email_step(turn: Turn, text: str) -> None:
    """An e-mail address typed while identity is open: a code to it, if (and only if) it is on file."""
    if not is_address(text):
        turn.say(t.text("not_an_email", turn.form))
        return
    ticket = chat_submit.ticket_by_reference(turn.session, turn.state.ticket_reference)
    turn.keep_answer(text, ticket.id if ticket else None)  # the person's own address, on the person's ticket
    turn.state.email_attempts += 1
    if turn.state.email_attempts > turn.limits.email_attempts:
        turn.state.reset()
        turn.say(t.text("code_failed", turn.form, email=turn.profile.contact_email),
                 ticket_id=ticket.id if ticket else None)
        return
    turn.state.code_expected, turn.state.code_misses = True, 0
    turn.state.challenge_id = binding.start_binding(
        turn.session, profile=turn.profile, typed_address=normalize_address(text), ticket=ticket,
        now=turn.now(), ttl=turn.limits.code_ttl,
        max_attempts=turn.limits.code_attempts, language=turn.state.language)
    turn.say(t.text("code_sent", turn.form, hours=int(turn.limits.code_ttl.total_seconds() // 3600)),
             ticket_id=ticket.id if ticket else None)


def code_step(turn: Turn, text: str) -> None:
    """A code-shaped answer after an address was given: check it; bind the chat when it is right."""
    now = turn.now()
    ticket = chat_submit.ticket_by_reference(turn.session, turn.state.ticket_reference)
    ticket_id = ticket.id if ticket else None
    turn.keep_answer(codes.mask(text), ticket_id)  # never a code in clear
    candidates = codes.candidates(text)
    result = binding.check_code(turn.session, turn.state.challenge_id, candidates, now=now)
    if result.outcome is binding.CodeCheck.WRONG:
        turn.say(t.text("code_wrong", turn.form, left=result.attempts_left), ticket_id=ticket_id)
        return
    if result.outcome is binding.CodeCheck.NO_CHALLENGE:
        # The address was not on file: answer exactly as for a wrong code (no enumeration).
        turn.state.code_misses += len(candidates)
        left = turn.limits.code_attempts - turn.state.code_misses
        if left > 0:
            turn.say(t.text("code_wrong", turn.form, left=left), ticket_id=ticket_id)
            return
    if result.outcome is not binding.CodeCheck.VERIFIED or result.subject_id is None:
        turn.state.challenge_id, turn.state.code_expected = None, False
        _hand_to_person(turn, now)
        turn.say(t.text("code_failed", turn.form, email=turn.profile.contact_email), ticket_id=ticket_id)
        return
    binding.bind_chat(turn.session, controller=turn.controller, subject_id=result.subject_id,
                      telegram_user_id=turn.event.user_id, now=now)
    text = t.text("bound", turn.form)
    if ticket is not None and chat_submit.verify_ticket(turn.session, ticket, subject_id=result.subject_id,
                                                        actor=f"telegram:{turn.event.user_id}", now=now):
        verified = chat_submit.render_chat(ticket, turn.profile, form=turn.form, verified=True)
        text = f"{verified}\n\n{text}"
    turn.state.reset()
    turn.say(text, ticket_id=ticket_id)


def _hand_to_person(turn: Turn, now: datetime) -> None:
    """The attempts are used up: the ticket's identity is a person's decision (we say we get in touch)."""
    ticket = chat_submit.ticket_by_reference(turn.session, turn.state.ticket_reference)
    if ticket is not None and ticket.state == TicketState.AWAITING_IDENTITY.value:
        escalate(turn.session, ticket, ["identity_unverified"], actor="system", now=now,
                 reason="Identität im Chat nicht bestätigt; Versuche aufgebraucht")
