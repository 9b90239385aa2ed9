"""Commands, non-text messages and abuse limits, through the fake Bot API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dsr.controllers import ControllerProfile, load_profile
from dsr.store.models import Message
from tests.support.telegram import CHAT, Bot, running_bot


async def test_start_welcomes_names_controller_and_offers_the_nine_rights(bot: Bot) -> None:
    mark = await bot.say("/start")
    welcome = await bot.reply(mark)
    assert "Klaus Marwede" in welcome.text or bot.profile.legal_name in welcome.text
    assert not bot.profile.privacy_notice_url  # neither reference notice names its own address
    assert "Datenschutzhinweise:" not in welcome.text  # so no empty link line
    assert [label for label, _ in welcome.buttons] == [
        "Auskunft", "Berichtigung", "Löschung", "Einschränkung", "Datenübertragbarkeit", "Widerspruch",
        "Werbewiderspruch", "Einwilligung widerrufen", "Entscheidung überprüfen lassen"]


async def test_start_in_english_for_an_english_client(bot: Bot) -> None:
    mark = await bot.say("/start", language_code="en-GB")
    welcome = await bot.reply(mark)
    assert welcome.text.startswith("Welcome to the data protection assistant")
    assert "Access" in dict(welcome.buttons)


async def test_help_lists_commands_and_warns_against_id_copies(bot: Bot) -> None:
    mark = await bot.say("/hilfe")
    text = (await bot.reply(mark)).text
    for command in ("/start", "/status", "/abbrechen", "/abmelden"):
        assert command in text
    assert "keine Ausweiskopien" in text


async def test_photo_document_and_sticker_answered_politely_and_not_stored(bot: Bot) -> None:
    for inject in (bot.fake.inject_photo, bot.fake.inject_document, bot.fake.inject_sticker):
        mark = len(bot.fake.sent)
        await inject(CHAT)
        answer = await bot.reply(mark)
        assert "als Text" in answer.text and "keine Ausweiskopien" in answer.text
    with bot.sessions() as session:
        assert session.scalar(select(func.count(Message.id))) == 0
    assert not [m for m, _ in bot.fake.calls if m.lower() == "getfile"]


async def test_status_without_requests(bot: Bot) -> None:
    mark = await bot.say("/status")
    assert (await bot.reply(mark)).text == "Sie haben keine offenen Anfragen."


async def test_overlong_message_is_refused_without_a_ticket(bot: Bot) -> None:
    mark = await bot.say("Auskunft " * 400)
    assert "zu lang" in (await bot.reply(mark)).text
    assert bot.tickets() == []


async def test_rate_limit_one_notice_then_silence(bot: Bot) -> None:
    limit = bot.channel.flow.limits.messages_per_minute if bot.channel else 0
    for _ in range(limit + 3):
        update = await bot.fake.inject_message(CHAT, "/hilfe")
    await bot.fake.wait_confirmed(update["update_id"])
    await bot.channel.deliver_due() if bot.channel else None
    texts = bot.fake.texts(CHAT)
    assert sum("sehr schnell" in t for t in texts) == 1
    assert len(texts) == limit + 1


async def test_du_form_when_the_profile_says_so(bot_parts: Bot) -> None:
    bot_parts.profile = bot_parts.profile.model_copy(update={"address_form": "Du"})
    async with running_bot(bot_parts) as bot:
        mark = await bot.say("/start")
        assert "Hier kannst du deine Rechte" in (await bot.reply(mark)).text
        mark = await bot.say("/status")
        assert (await bot.reply(mark)).text == "Du hast keine offenen Anfragen."


async def test_english_request_is_answered_in_english(bot: Bot) -> None:
    mark = await bot.say("What data do you have on me? GDPR request", language_code="en")
    question = await bot.reply(mark, lambda m: bool(m.buttons))
    [ticket] = bot.tickets()
    assert question.text == (f"Your message has been received as request {ticket.reference}. You would like "
                             "to know which data we hold about you (Art. 15 GDPR). Is that right?")
    assert [label for label, _ in question.buttons] == ["Yes, correct", "No, something else"]
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Yes, correct")
    after = await bot.reply(mark, lambda m: m.method == "sendMessage")
    assert after.text.startswith("Thank you for confirming. Next we check that the request really comes "
                                 "from you; only then do we start working on it.\n\n")


class TestWithAPrivacyNoticeAddress:
    @pytest.fixture
    def profile(self) -> ControllerProfile:
        return load_profile("kmb2").model_copy(update={"privacy_notice_url": "https://kmb2.example/datenschutz"})

    async def test_start_links_the_privacy_notice(self, bot: Bot) -> None:
        mark = await bot.say("/start")
        welcome = await bot.reply(mark)
        assert "Datenschutzhinweise: https://kmb2.example/datenschutz" in welcome.text
