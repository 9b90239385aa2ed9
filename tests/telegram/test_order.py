"""The order of the chat (issue 17): the reading is confirmed first, then identity is asked for;
every confirmation says what happens next, every message gets an answer, and everything typed or
pressed is kept on the ticket (a code only masked).  End to end: fake Bot API -> PTB -> chat flow ->
pipeline -> database -> outbox -> fake Bot API, mail through the SMTP sink."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dsr.channels.telegram.conversation.turn import ChatLimits
from dsr.replies import format_date_de
from dsr.store.models import Message, OutboxItem, TicketState
from tests.servers.fake_telegram import SentMessage
from tests.support.telegram import ACCESS, CHAT, NEXT_IDENTITY, Bot, has_buttons, running_bot


def _chat(bot: Bot, after: int) -> list[SentMessage]:
    return [m for m in bot.fake.sent[after:] if m.chat_id == CHAT and m.method == "sendMessage"]


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_confirm_first_then_identity_and_every_message_is_answered(
        bot: Bot, known_subject: int) -> None:
    assert bot.channel is not None
    mark = await bot.say(ACCESS)
    question = await bot.reply(mark, has_buttons)
    [ticket] = bot.tickets()
    assert ticket.due_date is not None
    due = format_date_de(ticket.due_date)
    # The question comes first and alone: the identity step waits for the answer (not yet due).
    assert question.text == (f"Ihre Nachricht ist als Anfrage {ticket.reference} eingegangen. Sie möchten "
                             "Auskunft darüber, welche Daten wir über Sie speichern (Art. 15 DSGVO). "
                             "Stimmt das?")
    await bot.channel.deliver_due()
    assert [m.text for m in _chat(bot, mark)] == [question.text]

    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Stimmt")
    email_offer = await bot.reply(mark, lambda m: "Oder einfacher" in m.text)
    first, *rest = _chat(bot, mark)
    assert first.text.startswith(f"Danke für die Bestätigung. {NEXT_IDENTITY}\n\nBevor wir Ihre Anfrage "
                                 "bearbeiten, müssen wir sicher sein")
    assert rest == [email_offer]

    mark = await bot.say("Und jetzt?")
    status = await bot.reply(mark, lambda m: m.method == "sendMessage")
    assert status.text == (f"Danke, Ihre Nachricht ist bei Ihrer Anfrage {ticket.reference} vermerkt. "
                           "Stand: Wir warten noch auf die Bestätigung Ihrer Identität; erst danach beginnen "
                           f"wir mit der Bearbeitung. Die Frist läuft bis {due}.")

    mark = await bot.say("erika@example.org")
    await bot.reply(mark, lambda m: "Falls diese Adresse bei uns hinterlegt ist" in m.text)
    code = await bot.code_from_mail()
    mark = await bot.say(code)
    verified = await bot.reply(mark)
    assert verified.text.startswith("Danke, Ihre Identität ist bestätigt. Wir bearbeiten Ihre Anfrage jetzt")

    mark = await bot.say("Und jetzt?")
    status = await bot.reply(mark)
    assert status.text == (f"Danke, Ihre Nachricht ist bei Ihrer Anfrage {ticket.reference} vermerkt. Stand: "
                           f"Ihre Anfrage ist in Bearbeitung; die Antwort erhalten Sie spätestens am {due}.")
    [after] = bot.tickets()  # no second ticket from "Und jetzt?"
    assert after.state == TicketState.IN_PROGRESS.value

    # Everything typed or pressed is on the ticket, in order; the code only masked, nowhere in clear.
    with bot.sessions() as session:
        typed = session.scalars(select(Message.body_text).where(
            Message.ticket_id == ticket.id, Message.direction == "in").order_by(Message.id)).all()
        every_body = session.scalars(select(Message.body_text)).all()
        ours = session.scalars(select(OutboxItem.payload).where(
            OutboxItem.ticket_id == ticket.id, OutboxItem.channel == "telegram")).all()
    assert typed == [ACCESS, "[Stimmt]", "Und jetzt?", "erika@example.org", "••••-••••", "Und jetzt?"]
    assert not any(code in body or code.replace("-", "") in body for body in every_body)
    said = [payload.decode() for payload in ours]
    for text in ("Stimmt das?", "Bevor wir Ihre Anfrage", "Oder einfacher", "Falls diese Adresse",
                 "Identität ist bestätigt", "in Bearbeitung"):
        assert any(text in s for s in said), text


async def test_du_profile_says_what_comes_next_with_du(bot_parts: Bot) -> None:
    bot_parts.profile = bot_parts.profile.model_copy(update={"address_form": "Du"})
    async with running_bot(bot_parts) as bot:
        mark = await bot.say(ACCESS)
        question = await bot.reply(mark, has_buttons)
        assert question.text.startswith("Deine Nachricht ist als Anfrage ")
        mark = len(bot.fake.sent)
        await bot.fake.press(question, "Stimmt")
        lead = await bot.reply(mark, lambda m: m.method == "sendMessage")
        assert lead.text.startswith("Danke für die Bestätigung. Als Nächstes prüfen wir, ob die Anfrage "
                                    "wirklich von dir stammt; erst danach beginnen wir mit der Bearbeitung.")


async def test_unanswered_question_does_not_hold_the_identity_step_back_for_ever(bot_parts: Bot) -> None:
    async with running_bot(bot_parts, limits=_short_hold()) as bot:
        mark = await bot.say(ACCESS)
        await bot.reply(mark, has_buttons)
        # Nobody answers: when the wait is over, the identity step goes out by itself, unchanged.
        request = await bot.reply(mark, lambda m: "Bevor wir Ihre Anfrage bearbeiten" in m.text)
        assert request.text.startswith("Bevor wir Ihre Anfrage bearbeiten")
        await bot.reply(mark, lambda m: "Oder einfacher" in m.text)


def _short_hold() -> ChatLimits:
    return ChatLimits(confirm_hold=timedelta(seconds=1))
