"""Security review (issue 14), findings 1 and 3 in the chat: codes in bulk, and the e-mail prompt."""

from __future__ import annotations

import random

import pytest

from dsr.store.models import DataSubject, IdentityLevel
from tests.support.telegram import CHAT, Bot, confirm_reading

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
        await bot.reply(mark, lambda m: bool(getattr(m, "buttons", None)), chat=chat)
        sent = [m.text for m in bot.fake.sent[mark:] if m.chat_id == chat]
        reference = bot.tickets()[-1].reference
        prompts.append([line.replace(reference, "REF") for line in sent])
    assert any("E-Mail-Adresse" in line for line in prompts[0])
    assert prompts[0] == prompts[1]
