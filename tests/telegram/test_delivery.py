"""Chat items in the outbox (e.g. a reply the DPO approved in the console) reach the chat."""

from __future__ import annotations

import json

from dsr.store.models import OutboxItem
from dsr.store.outbox import enqueue
from tests.support.telegram import CHAT, Bot, real_clock


def queue(bot: Bot, text: str, chat: int = CHAT) -> int:
    with bot.sessions() as session:
        item = enqueue(session, controller="kmb2", channel="telegram", kind="access_answer",
                       recipient=str(chat), now=real_clock(),
                       payload=json.dumps({"chat_id": chat, "text": text}, ensure_ascii=False).encode())
        session.commit()
        return item.id


async def test_approved_reply_is_delivered_and_marked_sent(bot: Bot) -> None:
    assert bot.channel is not None
    item_id = queue(bot, "Ihre Auskunft nach Art. 15 DSGVO liegt vor.")
    await bot.channel.deliver_due()
    assert bot.fake.texts(CHAT) == ["Ihre Auskunft nach Art. 15 DSGVO liegt vor."]
    with bot.sessions() as session:
        item = session.get(OutboxItem, item_id)
        assert item is not None and item.state == "sent" and item.sent_at is not None


async def test_long_answer_is_split_at_paragraphs(bot: Bot) -> None:
    assert bot.channel is not None
    paragraphs = [(f"Absatz {i}: " + "Angaben nach Art. 15 Abs. 1 DSGVO. " * 30).strip() for i in range(10)]
    queue(bot, "\n\n".join(paragraphs))
    await bot.channel.deliver_due()
    parts = bot.fake.texts(CHAT)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == "\n\n".join(paragraphs)


async def test_refused_message_is_a_permanent_failure_for_the_dpo(bot: Bot) -> None:
    assert bot.channel is not None
    item_id = queue(bot, "")  # Telegram refuses an empty text: a permanent error, not a retry
    await bot.channel.deliver_due()
    with bot.sessions() as session:
        item = session.get(OutboxItem, item_id)
        assert item is not None and item.state == "failed" and "empty" in (item.last_error or "")
