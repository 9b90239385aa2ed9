"""Security review (issue 14), findings 1 and 3 in the chat: codes in bulk, and the e-mail prompt."""

from __future__ import annotations

import random

import pytest

from dsr.mail.address import is_address
from dsr.store.models import DataSubject, IdentityLevel
from tests.support.telegram import ACCESS, CHAT, Bot, confirm_reading

NAMING_ERIKA = "Ich möchte Auskunft über meine Daten nach Art. 15 DSGVO. Mein Konto: erika@example.org"
_DIGITS, _LETTERS = "34679", "ACEFHJKMNPRTWXY"
MAX_CHAT_TEXT = 2000


def _decoys_like(code: str, count: int) -> list[str]:
    rng = random.Random(14)
    found: set[str] = set()
    while len(found) < count:
        decoy = "".join(rng.choice(_DIGITS) if c.isdigit() else rng.choice(_LETTERS) if c.isalpha() else c
                        for c in code)
        if decoy != code:
            found.add(decoy)
    return sorted(found)


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_a_chat_message_full_of_codes_binds_nothing(bot: Bot, known_subject: int) -> None:
    await confirm_reading(bot, NAMING_ERIKA)
    code = await bot.code_from_mail()  # went silently to Erika's address on file
    message = code  # the right one first, then as many guesses as the chat's 2,000 characters hold
    for guess in _decoys_like(code, 300):
        if len(message) + 1 + len(guess) > MAX_CHAT_TEXT:
            break
        message += " " + guess
    mark = await bot.say(message)
    await bot.reply(mark)
    [ticket] = bot.tickets()
    assert ticket.identity_level == IdentityLevel.NONE.value
    assert ticket.state == "escalated"
    with bot.sessions() as session:
        subject = session.get(DataSubject, known_subject)
        assert subject is not None and subject.telegram_user_id is None


async def test_the_chat_offers_the_code_whether_or_not_the_named_address_is_on_file(
        bot: Bot, known_subject: int) -> None:
    prompts = []
    for chat, text in ((CHAT, NAMING_ERIKA), (CHAT + 1, NAMING_ERIKA.replace("erika@", "niemand@"))):
        mark = await bot.say(text, chat=chat)
        question = await bot.reply(mark, lambda m: bool(getattr(m, "buttons", None)), chat=chat)
        await bot.fake.press(question, "Stimmt")
        await bot.reply(mark, lambda m: "E-Mail-Adresse" in m.text, chat=chat)
        sent = [m.text for m in bot.fake.sent[mark:] if m.chat_id == chat]
        reference = bot.tickets()[-1].reference
        prompts.append([line.replace(reference, "REF") for line in sent])
    assert any("E-Mail-Adresse" in line for line in prompts[0])
    assert prompts[0] == prompts[1]


# Chat messages hold at most 4,096 characters: the longest hostile shapes for the address check
# (the chat's earlier pattern took ~90 ms CPU on the first and 16x that at 4x the length:
# `python -m bench hostile` compares 1x and 4x).
HOSTILE_ADDRESSES = (
    "a@" + "." * 4093 + "@",
    "a@" + "a." * 2046 + "a@",
    "a@" + "ab." * 1364 + "12",
    "a" * 4095 + "@",
)


@pytest.mark.parametrize("text", [*HOSTILE_ADDRESSES, "erika@example", "erika@@example.org",
                                  "erika @example.org"])
def test_what_is_not_one_address_is_no_address(text: str) -> None:
    assert not is_address(text)


@pytest.mark.parametrize("text", ["erika@example.org", " Erika.M+dsr@Example.org\n", "jürgen@müller.de"])
def test_an_address_typed_alone_is_one(text: str) -> None:
    assert is_address(text)


async def test_a_4096_character_message_while_identity_is_open_sends_no_code(
        bot: Bot, known_subject: int) -> None:
    mark = len(bot.fake.sent)
    await confirm_reading(bot, ACCESS)
    await bot.reply(mark, lambda m: "E-Mail-Adresse" in m.text)
    for text in HOSTILE_ADDRESSES:
        assert len(text) == 4096
        mark = await bot.say(text)
        assert "Falls diese Adresse bei uns hinterlegt ist" not in (await bot.reply(mark)).text
    [ticket] = bot.tickets()
    assert ticket.state == "awaiting_identity"
    # The address on file still gets its code afterwards, and only that one mail went out.
    mark = await bot.say("erika@example.org")
    assert "Falls diese Adresse bei uns hinterlegt ist" in (await bot.reply(mark)).text
    assert await bot.code_from_mail()
