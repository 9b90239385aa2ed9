"""The chat's message limit (issue 17: every message gets an answer, nothing is lost): over the
limit a chat gets ONE short notice per window that further messages are kept for the data
protection team; those messages get no automatic answer but are kept where the DPO reads them (on
the chat's open ticket, else among the set-aside messages).  Fake Bot API on loopback, real flow."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import select

from dsr.channels.telegram.conversation.turn import ChatLimits
from dsr.console.ignored import ignored_messages, reason_code, reason_label, reply_address
from dsr.console.queries import ControllerScope
from dsr.replies.labels import action_label
from dsr.store.models import AuditEvent, Message
from tests.support.telegram import ACCESS, CHAT, Bot, audit_events, confirm_reading, running_bot

NOTICE_DE = ("Sie schreiben sehr schnell, daher antworte ich in der nächsten Minute nicht automatisch. Ihre "
             "weiteren Nachrichten gehen nicht verloren: Wir bewahren sie auf, und unser Datenschutz-Team "
             "liest sie und antwortet Ihnen.")
NOTICE_EN = ("You are writing very fast, so I will not answer automatically for the next minute. Your "
             "further messages are not lost: we keep them, and our data protection team will read them and "
             "answer you.")


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def _inbound(bot: Bot, **where: object) -> list[Message]:
    with bot.sessions() as session:
        query = select(Message).where(Message.direction == "in", Message.channel == "telegram")
        for name, value in where.items():
            query = query.where(getattr(Message, name) == value)
        return list(session.scalars(query.order_by(Message.id)))


def _shown(bot: Bot, chat: int = CHAT) -> list[str]:
    return [m.text for m in bot.fake.sent if m.chat_id == chat]


async def test_over_the_limit_one_notice_then_kept_on_the_ticket_without_answers(bot_parts: Bot) -> None:
    async with running_bot(bot_parts, limits=ChatLimits(messages_per_minute=4)) as bot:
        await confirm_reading(bot, ACCESS)  # the message and the "Stimmt" press: 2 of 4
        [ticket] = bot.tickets()
        mark = await bot.say("Und jetzt?")
        assert "vermerkt" in (await bot.reply(mark)).text  # 3: answered with the ticket's status
        mark = await bot.say("Wie lange dauert das?")
        assert "vermerkt" in (await bot.reply(mark)).text  # 4: the last one answered
        mark = await bot.say("Hallo??")  # 5: over the limit: the one notice
        assert (await bot.reply(mark)).text == NOTICE_DE
        held = ["Ich warte seit Stunden!", "Meine Kundennummer ist K-10023", "/status", "Antwort bitte"]
        for text in held:
            await bot.say(text)
        await _until(lambda: len(_inbound(bot, ticket_id=ticket.id)) >= 6)
        await asyncio.sleep(1.0)  # an answer would have been queued in the same transaction
        shown = _shown(bot)[_shown(bot).index(NOTICE_DE):]
        assert shown == [NOTICE_DE], shown  # nothing after the notice: no second notice, no answers
    bodies = [m.body_text for m in _inbound(bot, ticket_id=ticket.id)]
    # The whole chat is on the ticket for the DPO, the held messages included, in order.
    assert bodies[-5:] == ["Hallo??", *held], bodies
    [notice] = audit_events(bot, ticket.id, "telegram_rate_limited")
    assert notice.detail == {"limit_per_minute": 4, "update_id": notice.detail["update_id"]}
    assert not action_label("telegram_rate_limited").startswith("telegram")  # German in the history
    with bot.sessions() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "telegram_rate_limited",
                                                       AuditEvent.id != notice.id)) is None


async def test_english_chat_without_ticket_gets_english_notice_and_messages_are_set_aside(
        bot_parts: Bot) -> None:
    chat = 515151
    async with running_bot(bot_parts, limits=ChatLimits(messages_per_minute=1)) as bot:
        await bot.fake.inject_message(chat, "Hello there", language_code="en")
        await bot.fake.wait_sent(chat, lambda m: m.buttons is not None and bool(m.buttons))  # the menu
        mark = len(bot.fake.sent)
        await bot.fake.inject_message(chat, "Are you a bot?", language_code="en")
        assert (await bot.fake.wait_sent(chat, after=mark)).text == NOTICE_EN
        await bot.fake.inject_message(chat, "Please delete my data, code KMNP-4679", language_code="en")
        await bot.fake.inject_message(chat, None, language_code="en",
                                      extra={"sticker": {"file_id": "s1", "file_unique_id": "u1", "width": 1,
                                                         "height": 1, "is_animated": False,
                                                         "is_video": False, "type": "regular"}})
        long_text = "All my data, please. " * 150  # 3,150 characters: over the 2,000 a request may have
        await bot.fake.inject_message(chat, long_text, language_code="en")
        await _until(lambda: len(_inbound(bot, ticket_id=None)) >= 4)
        await asyncio.sleep(1.0)
        assert _shown(bot, chat)[-1] == NOTICE_EN and _shown(bot, chat).count(NOTICE_EN) == 1
    assert bot.tickets() == []
    with bot.sessions() as session:
        listed = ignored_messages(session, scope=ControllerScope.only("kmb2"))
        set_aside = [row for row in listed if row.reason == "chat_rate_limit"]
        assert [row.preview for row in set_aside][:0:-1] == [
            "Are you a bot?", "Please delete my data, code ••••-••••",
            "[Datei, Bild oder Sprachnachricht über der Nachrichtenbegrenzung: nicht gespeichert]"]
        kept_long = session.get(Message, set_aside[0].id)
        assert kept_long is not None and kept_long.body_text == long_text  # whole, not cut
        stored = session.get(Message, set_aside[1].id)
        assert stored is not None and reply_address(stored) == str(chat)  # "Anfrage anlegen" answers the chat
        assert reason_label(reason_code(stored)).startswith("Chat-Nachricht über der Nachrichtenbegrenzung")


async def test_more_than_ten_messages_in_three_hours_are_each_answered(bot_parts: Bot) -> None:
    """The mail cap (10 automatic replies per recipient in 3 hours, `dsr.pipeline.loop_guard`) does
    not silence a chat: under the per-minute limit every message is answered."""
    async with running_bot(bot_parts, limits=ChatLimits(messages_per_minute=100)) as bot:
        await confirm_reading(bot, ACCESS)
        [ticket] = bot.tickets()
        for n in range(14):
            mark = await bot.say(f"Gibt es schon etwas Neues? ({n})")
            assert ticket.reference in (await bot.reply(mark)).text, n
        assert audit_events(bot, ticket.id, "auto_reply_withheld") == []
