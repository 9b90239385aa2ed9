"""Identity retries in the chat (issue 17 item 7): a fact already typed is not asked for again, a
wrong pair is named as a pair, and guessing in many short messages gets no extra tries.

The customer on file (conftest `known_subject`): K-10023, postal code 26789, erika@example.org.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from dsr.pipeline import attempts
from dsr.store.models import Message, OutboxItem, VerificationFailure
from tests.support.telegram import ACCESS, Bot, confirm_reading


def _failures(bot: Bot) -> int:
    with bot.sessions() as session:
        return session.scalar(select(func.count()).select_from(VerificationFailure)) or 0


async def _answer(bot: Bot, text: str) -> str:
    """Type `text` and return the chat's answer to it (flattened)."""
    mark = await bot.say(text)
    return " ".join((await bot.reply(mark)).text.split())


async def _typed(bot: Bot, text: str) -> None:
    """Type `text` and wait until the service stored it (answers stop at the automatic reply
    limit per recipient, so a guessing run cannot wait for them)."""
    before = _inbound(bot)
    await bot.say(text)
    for _ in range(200):
        if _inbound(bot) > before:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not stored: {text!r}")


def _inbound(bot: Bot) -> int:
    with bot.sessions() as session:
        return session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) or 0


async def _identity_open(bot: Bot) -> None:
    mark = len(bot.fake.sent)
    await confirm_reading(bot, ACCESS)
    await bot.reply(mark, lambda m: "E-Mail-Adresse" in m.text)
    [ticket] = bot.tickets()
    assert ticket.state == "awaiting_identity"


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_a_customer_number_typed_alone_is_not_asked_for_again(bot: Bot, known_subject: int) -> None:
    await _identity_open(bot)
    answer = await _answer(bot, "Kundennummer K-10023")
    assert "Ihre Kundennummer haben wir notiert." in answer
    assert "Bitte nennen Sie uns noch: Postleitzahl." in answer
    assert "passen" not in answer and _failures(bot) == 0
    answer = await _answer(bot, "26789")
    # The pair found the record; access discloses data, so the code goes to the address on file.
    assert "Kundennummer" not in answer
    assert await bot.code_from_mail()
    assert _failures(bot) == 0
    [ticket] = bot.tickets()
    assert ticket.identity_level == "none" and ticket.state == "awaiting_identity"


async def test_a_wrong_pair_in_the_chat_is_named_as_a_pair(bot: Bot, known_subject: int) -> None:
    await _identity_open(bot)
    await _answer(bot, "26789")
    answer = await _answer(bot, "K-99999")
    assert "Kundennummer und Postleitzahl passen zusammen leider nicht zu unseren Daten" in answer
    assert "welche Angabe abweicht, sagen wir aus Sicherheitsgründen nicht" in answer
    assert "Bitte nennen Sie uns: Kundennummer und Postleitzahl." in answer
    assert _failures(bot) == 1


async def test_guessing_in_many_chat_messages_gets_no_extra_tries(bot: Bot, known_subject: int) -> None:
    await _identity_open(bot)
    limit = attempts.TICKET_MAX_FAILURES
    pairs = 0
    while bot.tickets()[0].state == "awaiting_identity" and pairs < 2 * limit:
        await _typed(bot, "K-10023")
        await _typed(bot, f"{26700 + pairs}")  # never 26789
        pairs += 1
    assert (pairs, _failures(bot)) == (limit, limit)  # each pair one attempt, lone halves none
    [ticket] = bot.tickets()
    assert ticket.state == "escalated" and "identity_unverified" in ticket.escalation_reasons
    assert ticket.identity_level == "none"
    with bot.sessions() as session:
        to_erika = select(OutboxItem).where(OutboxItem.recipient == "erika@example.org")
        assert not list(session.scalars(to_erika))
