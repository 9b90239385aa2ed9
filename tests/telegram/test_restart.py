"""Durability: state survives a restart; an update in flight when the bot dies is processed once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dsr.channels.telegram.conversation.state import load_offset
from dsr.store.models import Message, OutboxItem, Suppression
from tests.support.telegram import ACCESS, CHAT, Bot, has_buttons, running_bot


class Killed(BaseException):
    """Stands in for the process dying: not an Exception, so nothing on the way catches it."""


async def test_restart_mid_conversation_continues_where_it_stood(bot_parts: Bot, known_subject: int) -> None:
    async with running_bot(bot_parts) as bot:
        mark = await bot.say(ACCESS)
        question = await bot.reply(mark, has_buttons)
        first_app = bot.channel
    [ticket] = bot_parts.tickets()  # opened on receipt, before any button

    async with running_bot(bot_parts) as bot:
        assert bot.channel is not first_app
        mark = len(bot.fake.sent)
        await bot.fake.press(question, "Stimmt")
        await bot.reply(mark, lambda m: m.method == "editMessageText" and m.text == "✓ Auskunft")
        mark = await bot.say("erika@example.org")  # the identity step is still where it stood
        assert "Falls diese Adresse bei uns hinterlegt ist" in (await bot.reply(mark)).text
    [after] = bot_parts.tickets()
    assert after.id == ticket.id and after.rights == ["access"]


@pytest.mark.parametrize("point", ["crash_before_commit", "crash_after_commit"])
async def test_update_in_flight_when_killed_is_processed_once_after_restart(
        bot_parts: Bot, point: str) -> None:
    def die(where: str) -> None:
        if where == point:
            raise Killed(where)

    async with running_bot(bot_parts, fault_hook=die) as bot:
        update = await bot.fake.inject_message(CHAT, "stop")
        with pytest.raises(Killed):
            await bot.tasks[0]
    with bot_parts.sessions() as session:
        assert load_offset(session, "kmb2") <= update["update_id"]

    async with running_bot(bot_parts) as bot:
        await bot.fake.wait_confirmed(update["update_id"])
        await bot.channel.deliver_due() if bot.channel else None
    with bot_parts.sessions() as session:
        assert load_offset(session, "kmb2") == update["update_id"] + 1
        assert session.scalar(select(func.count(Message.id)).where(Message.direction == "in")) == 1
        assert session.scalar(select(func.count(Suppression.id))) == 1
        chat_items = session.scalars(select(OutboxItem).where(OutboxItem.channel == "telegram")).all()
        assert chat_items and all(item.state == "sent" for item in chat_items)
    assert len(bot_parts.tickets()) == 1
    assert len(bot_parts.fake.texts(CHAT)) == len(chat_items)
