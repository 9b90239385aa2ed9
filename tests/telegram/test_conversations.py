"""Conversations end to end: fake Bot API -> PTB -> chat flow -> pipeline -> database -> outbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.chat_state import load_offset
from replies import format_date_de
from store.models import DataSubject, IdentityLevel, Suppression, TicketState
from tests.telegram.conftest import CHAT, Bot

ACCESS = "Ich möchte Auskunft über meine gespeicherten Daten nach Art. 15 DSGVO."


def has_buttons(msg: object) -> bool:
    return bool(getattr(msg, "buttons", None))


async def confirm_reading(bot: Bot, text: str) -> None:
    """Write `text`, check the one-sentence confirmation and press "Stimmt"."""
    mark = await bot.say(text)
    question = await bot.reply(mark, has_buttons)
    assert question.text.endswith("Stimmt das?")
    assert [label for label, _ in question.buttons] == ["Stimmt", "Nein, etwas anderes"]
    await bot.fake.press(question, "Stimmt")


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_access_request_binds_the_chat_with_a_code_to_the_address_on_file(
        bot: Bot, known_subject: int) -> None:
    mark = len(bot.fake.sent)
    await confirm_reading(bot, ACCESS)
    ask = await bot.reply(mark, lambda m: "E-Mail-Adresse" in m.text)
    assert "nur, wenn die Adresse bei uns hinterlegt ist" in ask.text

    mark = await bot.say("Erika@Example.org")
    assert "Falls diese Adresse bei uns hinterlegt ist" in (await bot.reply(mark)).text
    mail = await bot.sink.next_message() if bot.sink else None
    assert mail is not None and mail.rcpt_tos == ("erika@example.org",)
    code = "".join(ch for ch in mail.text.split("Code")[1][:40] if ch.isdigit())[:6]

    mark = await bot.say(code)
    done = await bot.reply(mark, lambda m: "verknüpft" in m.text)
    assert "Identität ist bestätigt" in done.text
    [ticket] = bot.tickets()
    assert ticket.rights == ["access"]
    assert ticket.identity_level == IdentityLevel.CODE_CONFIRMED.value
    assert ticket.state == TicketState.IN_PROGRESS.value
    assert ticket.subject_id == known_subject
    with bot.sessions() as session:
        subject = session.get(DataSubject, known_subject)
        assert subject is not None and subject.telegram_user_id == CHAT

    # Later requests from the bound chat are verified without asking again.
    mark = len(bot.fake.sent)
    await confirm_reading(bot, "Bitte löschen Sie mein Kundenkonto.")
    receipt = await bot.reply(mark, lambda m: "DSR-" in m.text and not has_buttons(m))
    second = bot.tickets()[-1]
    assert second.reference in receipt.text
    assert second.identity_level != IdentityLevel.NONE.value
    assert second.state == TicketState.IN_PROGRESS.value
    assert not any("E-Mail-Adresse, die Sie bei uns" in m.text for m in bot.fake.sent[mark:])

    mark = await bot.say("/abmelden")
    await bot.reply(mark, lambda m: "Verknüpfung dieses Chats mit Ihrem Kundenkonto ist aufgehoben" in m.text)
    with bot.sessions() as session:
        subject = session.get(DataSubject, known_subject)
        assert subject is not None and subject.telegram_user_id is None


async def test_address_not_on_file_gets_the_same_answer_and_no_mail(bot: Bot, known_subject: int) -> None:
    mark = len(bot.fake.sent)
    await confirm_reading(bot, ACCESS)
    await bot.reply(mark, lambda m: "E-Mail-Adresse" in m.text)
    mark = await bot.say("fremd@example.net")
    assert "Falls diese Adresse bei uns hinterlegt ist" in (await bot.reply(mark)).text
    assert bot.sink is not None
    bot.sink.assert_no_message()
    mark = await bot.say("123456")
    assert (await bot.reply(mark)).text == "Der Code stimmt nicht. Sie haben noch 4 Versuch(e)."
    assert bot.tickets()[0].identity_level == IdentityLevel.NONE.value


async def test_marketing_stop_takes_effect_at_once_without_verification(bot: Bot) -> None:
    mark = await bot.say("stop")
    confirmation = await bot.reply(mark)
    [ticket] = bot.tickets()
    assert ticket.rights == ["marketing_objection"]
    assert ticket.identity_level in (IdentityLevel.NONE.value, IdentityLevel.NOT_REQUIRED.value)
    assert ticket.reference in confirmation.text or "Werbung" in confirmation.text
    with bot.sessions() as session:
        entries = session.scalars(select(Suppression.address)).all()
    assert f"telegram:{CHAT}" in entries
    assert not any("E-Mail-Adresse" in m.text for m in bot.fake.sent[mark:])


async def test_status_lists_open_tickets_with_reference_right_and_due_date(bot: Bot) -> None:
    mark = len(bot.fake.sent)
    await confirm_reading(bot, ACCESS)
    await bot.reply(mark, lambda m: "E-Mail-Adresse" in m.text)
    [ticket] = bot.tickets()
    mark = await bot.say("/status")
    status = (await bot.reply(mark)).text
    assert status.startswith("Ihre offenen Anfragen:")
    assert ticket.due_date is not None
    assert f"{ticket.reference}: Auskunft, Frist {format_date_de(ticket.due_date)}" in status


async def test_escalation_says_a_person_answers_and_by_when(bot: Bot) -> None:
    mark = await bot.say("Mein Anwalt meldet sich. Ich will Auskunft, was Sie über mich gespeichert haben.")
    notice = await bot.reply(mark)
    [ticket] = bot.tickets()
    assert ticket.escalated
    assert ticket.due_date is not None and format_date_de(ticket.due_date) in notice.text


async def test_offset_is_committed_after_processing(bot: Bot) -> None:
    update = await bot.fake.inject_message(CHAT, "/hilfe")
    await bot.fake.wait_confirmed(update["update_id"])
    with bot.sessions() as session:
        assert load_offset(session, "kmb2") == update["update_id"] + 1


AMBIGUOUS = "daten löschen oder erstmal auskunft? keine ahnung"


async def test_ambiguous_text_offers_the_likely_readings_as_buttons(bot: Bot) -> None:
    mark = await bot.say(AMBIGUOUS)
    question = await bot.reply(mark, has_buttons)
    labels = [label for label, _ in question.buttons]
    assert question.text == "Ich bin nicht sicher, was Sie meinen. Welches Anliegen haben Sie?"
    assert labels == ["Auskunft", "Löschung", "Beides", "Etwas anderes"]
    assert bot.tickets() == []
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Löschung")
    await bot.reply(mark, lambda m: m.method == "editMessageText" and m.text == "✓ Löschung")
    await bot.reply(mark, lambda m: "E-Mail-Adresse" in m.text)
    [ticket] = bot.tickets()
    assert ticket.rights == ["erasure"]
    assert ticket.state == TicketState.AWAITING_IDENTITY.value
    # A second press on the old keyboard changes nothing.
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Auskunft")
    assert (await bot.reply(mark)).text == "Diese Auswahl ist nicht mehr aktuell."
    assert len(bot.tickets()) == 1


async def test_no_something_else_lets_the_person_choose_the_right(bot: Bot) -> None:
    mark = await bot.say(ACCESS)
    question = await bot.reply(mark, has_buttons)
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Nein, etwas anderes")
    menu = await bot.reply(mark, lambda m: len(m.buttons) == 9)
    assert menu.message_id == question.message_id  # the question itself turns into the menu
    mark = len(bot.fake.sent)
    await bot.fake.press(menu, "Datenübertragbarkeit")
    await bot.reply(mark, lambda m: "E-Mail-Adresse" in m.text)
    [ticket] = bot.tickets()
    assert ticket.rights == ["portability"]
