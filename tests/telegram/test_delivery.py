"""Chat items in the outbox (e.g. a reply the DPO approved in the console) reach the chat."""

from __future__ import annotations

import base64
import json
import warnings
from datetime import timedelta

from sqlalchemy import update

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


def _due_again(bot: Bot, item_id: int) -> None:
    """Skip the retry back-off: the item is due now."""
    with bot.sessions.begin() as session:
        session.execute(update(OutboxItem).where(OutboxItem.id == item_id)
                        .values(next_attempt_at=real_clock() - timedelta(seconds=1)))


async def test_a_document_retry_does_not_repeat_its_text(bot: Bot) -> None:
    """Issue 16 leftover: the text went out, the document failed for the moment, and the retry
    sent the text again (the old code shows it twice)."""
    assert bot.channel is not None
    document = {"filename": "Liste.csv", "media_type": "text/csv",
                "data": base64.b64encode(b"a;b\n1;2\n").decode("ascii")}
    with bot.sessions() as session:
        item = enqueue(session, controller="kmb2", channel="telegram", kind="file_attachment",
                       recipient=str(CHAT), now=real_clock(),
                       payload=json.dumps({"chat_id": CHAT, "text": "Anbei die Liste.",
                                           "document": document}).encode())
        session.commit()
        item_id = item.id
    bot.fake.flaky["senddocument"] = [0, 1]  # the first sendDocument fails for the moment
    assert await bot.channel.deliver_due() == 0
    with bot.sessions() as session:
        row = session.get(OutboxItem, item_id)
        assert row is not None and row.state == "pending" and row.attempts == 1
    _due_again(bot, item_id)
    assert await bot.channel.deliver_due() == 1
    assert [(m.method, m.text) for m in bot.fake.sent if m.chat_id == CHAT] == [
        ("sendMessage", "Anbei die Liste."), ("sendDocument", "")]
    assert bot.fake.sent[-1].document == ("Liste.csv", b"a;b\n1;2\n")
    with bot.sessions() as session:
        row = session.get(OutboxItem, item_id)
        assert row is not None and row.state == "sent"


async def test_a_retry_of_a_long_answer_goes_on_with_the_part_that_failed(bot: Bot) -> None:
    assert bot.channel is not None
    paragraphs = [(f"Absatz {i}: " + "Angaben nach Art. 15 Abs. 1 DSGVO. " * 30).strip() for i in range(10)]
    item_id = queue(bot, "\n\n".join(paragraphs))
    bot.fake.flaky["sendmessage"] = [1, 1]  # the first part goes through, the second is refused once
    assert await bot.channel.deliver_due() == 0
    assert len(bot.fake.texts(CHAT)) == 1
    _due_again(bot, item_id)
    assert await bot.channel.deliver_due() == 1
    parts = bot.fake.texts(CHAT)
    assert len(parts) == len(set(parts)) > 2  # every part once
    assert "\n\n".join(parts) == "\n\n".join(paragraphs)


async def test_flood_control_is_a_temporary_failure_without_deprecation_warning(bot: Bot) -> None:
    """A 429 (RetryAfter) leaves the item pending with the wait in its error, and raises no
    PTBDeprecationWarning (PTB 22 warned on every RetryAfter: an int `retry_after`)."""
    assert bot.channel is not None
    item_id = queue(bot, "Ihre Auskunft nach Art. 15 DSGVO liegt vor.")
    bot.fake.flooded["sendmessage"] = (1, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert await bot.channel.deliver_due() == 0
    with bot.sessions() as session:
        row = session.get(OutboxItem, item_id)
        assert row is not None and row.state == "pending" and row.attempts == 1
        assert row.last_error == "RetryAfter: 7 s"
    assert bot.fake.texts(CHAT) == []
    _due_again(bot, item_id)
    assert await bot.channel.deliver_due() == 1
    assert bot.fake.texts(CHAT) == ["Ihre Auskunft nach Art. 15 DSGVO liegt vor."]
