"""No chat request is dropped (issue 13): a message in which no rule reads anything, but nothing
shows it is no request either, is opened as a ticket at once for the DPO's triage; the person can
still choose what is meant.  End to end: fake Bot API -> PTB -> chat flow -> pipeline -> database."""

from __future__ import annotations

from sqlalchemy import select

from dsr.store.models import Message, TicketState
from tests.support.telegram import Bot

UNREADABLE = "Qwrtz plöm vasdu kelirr, bitte bis morgen."
DIALECT = "ey macht mal alles wech was ihr von mir habt"


def has_buttons(msg: object) -> bool:
    return bool(getattr(msg, "buttons", None))


async def test_unreadable_chat_message_opens_a_triage_ticket_and_offers_the_rights(bot: Bot) -> None:
    mark = await bot.say(UNREADABLE)
    menu = await bot.reply(mark, has_buttons)
    [ticket] = bot.tickets()
    assert ticket.reference in menu.text  # "… ist als Anfrage DSR-… eingegangen"
    assert ticket.state == TicketState.ESCALATED.value and ticket.escalation_reasons == ["unrecognised"]
    with bot.sessions() as session:
        [stored] = session.scalars(select(Message).where(Message.ticket_id == ticket.id,
                                                         Message.direction == "in")).all()
        assert stored.body_text == UNREADABLE and stored.received_at == ticket.received_at
    assert ticket.due_date is not None


async def test_dialect_erasure_in_chat_ends_in_a_ticket(bot: Bot) -> None:
    mark = await bot.say(DIALECT)
    await bot.reply(mark)
    [ticket] = bot.tickets()
    assert ticket.channel == "telegram" and ticket.due_date is not None
