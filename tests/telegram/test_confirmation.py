"""Telegram: a clear reading opens the ticket at once; "Stimmt" confirms it, "Nein" corrects it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from dsr.deadlines import compute_deadline
from dsr.replies import format_date_de
from dsr.store.models import AuditEvent, Message, Suppression, Ticket, TicketState
from tests.servers.fake_telegram import SentMessage
from tests.support.telegram import (
    ACCESS,
    CHAT,
    NEXT_IDENTITY,
    Bot,
    audit_actions,
    audit_events,
    confirm_reading,
    has_buttons,
)


async def test_clear_request_opens_the_ticket_at_once_even_if_no_button_is_pressed(bot: Bot) -> None:
    update = await bot.fake.inject_message(CHAT, ACCESS)
    question = await bot.reply(0, has_buttons)
    assert question.text.endswith("Stimmt das?")
    # Nobody presses anything: the request exists anyway, with the clock running from the message.
    [ticket] = bot.tickets()
    received = datetime.fromtimestamp(update["message"]["date"], UTC)
    assert ticket.rights == ["access"]
    # Within Telegram's whole second (the deadline is the same as from its date).
    assert received <= ticket.received_at.replace(tzinfo=UTC) < received + timedelta(seconds=1)
    assert ticket.due_date == compute_deadline(received, bot.profile.state).due
    assert ticket.state == TicketState.AWAITING_IDENTITY.value
    assert ticket.reference in " ".join(bot.fake.texts(CHAT))
    assert audit_actions(bot, ticket.id).count("rights_confirmed") == 0


async def test_stimmt_confirms_the_reading_on_the_ticket_and_answers_once(bot: Bot) -> None:
    mark = len(bot.fake.sent)
    await confirm_reading(bot, ACCESS)
    question = await bot.reply(mark, has_buttons)
    await bot.reply(mark, lambda m: m.method == "editMessageText" and m.text == "✓ Auskunft")
    [ticket] = bot.tickets()
    assert ticket.rights == ["access"]
    [event] = audit_events(bot, ticket.id, "rights_confirmed")
    assert event.actor == f"telegram:{CHAT}" and event.reason == "vom Betroffenen im Chat bestätigt"
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Nein, etwas anderes")
    assert (await bot.reply(mark)).text == "Diese Auswahl ist nicht mehr aktuell."
    assert bot.tickets()[0].rights == ["access"]


async def say_no(bot: Bot, text: str = ACCESS) -> tuple[Ticket, SentMessage]:
    """Write `text`, answer "Nein, etwas anderes"; returns the ticket and the correction menu."""
    mark = await bot.say(text)
    question = await bot.reply(mark, has_buttons)
    [ticket] = bot.tickets()
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Nein, etwas anderes")
    menu = await bot.reply(mark, lambda m: m.method == "editMessageText" and has_buttons(m))
    assert menu.message_id == question.message_id  # the question itself turns into the menu
    return ticket, menu


async def test_no_something_else_corrects_the_rights_of_the_open_ticket(bot: Bot) -> None:
    ticket, menu = await say_no(bot)
    assert ticket.reference in menu.text
    assert [label for label, _ in menu.buttons] == [
        "Berichtigung", "Löschung", "Einschränkung", "Datenübertragbarkeit", "Widerspruch",
        "Werbewiderspruch", "Einwilligung widerrufen", "Entscheidung überprüfen lassen",
        "Kein Datenschutz-Anliegen"]
    mark = len(bot.fake.sent)
    await bot.fake.press(menu, "Datenübertragbarkeit")
    fixed = await bot.reply(mark, lambda m: "korrigiert" in m.text)
    assert ticket.due_date is not None
    # The correction says what happens next and opens the identity step that waited for the answer.
    assert fixed.text.startswith(
        f"Danke, korrigiert: Ihre Anfrage {ticket.reference} betrifft jetzt Datenübertragbarkeit. Die Frist "
        f"bleibt der {format_date_de(ticket.due_date)}. {NEXT_IDENTITY}\n\nBevor wir Ihre Anfrage bearbeiten")
    [after] = bot.tickets()
    assert after.id == ticket.id and after.rights == ["portability"]
    assert after.due_date == ticket.due_date and after.received_at == ticket.received_at
    [event] = audit_events(bot, ticket.id, "rights_corrected")
    assert event.actor == f"telegram:{CHAT}" and event.reason == "vom Betroffenen im Chat korrigiert"
    assert event.detail == {"from": ["access"], "to": ["portability"]}


async def test_correction_in_free_text_is_kept_with_the_ticket(bot: Bot) -> None:
    ticket, _menu = await say_no(bot)
    mark = await bot.say("Bitte löschen Sie meine Daten.")
    await bot.reply(mark, lambda m: "korrigiert" in m.text)
    [after] = bot.tickets()
    assert after.rights == ["erasure"]
    with bot.sessions() as session:
        bodies = session.scalars(select(Message.body_text).where(
            Message.ticket_id == ticket.id, Message.direction == "in").order_by(Message.id)).all()
    assert bodies == [ACCESS, "[Nein, etwas anderes]", "Bitte löschen Sie meine Daten."]
    # Identity is still open for the corrected request: an address typed now gets the code step.
    mark = await bot.say("erika@example.org")
    await bot.reply(mark, lambda m: "Falls diese Adresse bei uns hinterlegt ist" in m.text)


async def test_not_a_data_protection_request_goes_to_the_dpo_and_nothing_is_deleted(bot: Bot) -> None:
    ticket, menu = await say_no(bot)
    mark = len(bot.fake.sent)
    await bot.fake.press(menu, "Kein Datenschutz-Anliegen")
    answer = await bot.reply(mark, lambda m: m.method == "sendMessage")
    assert "gelöscht wird dadurch nichts" in answer.text and ticket.reference in answer.text
    [after] = bot.tickets()
    assert after.escalated and after.state == TicketState.ESCALATED.value
    assert "subject_says_not_a_request" in after.escalation_reasons
    assert after.rights == ["access"] and after.due_date == ticket.due_date
    with bot.sessions() as session:
        bodies = session.scalars(select(Message.body_text).where(
            Message.ticket_id == ticket.id, Message.direction == "in").order_by(Message.id)).all()
        withheld = session.scalars(select(AuditEvent.detail).where(
            AuditEvent.ticket_id == ticket.id, AuditEvent.action == "auto_reply_withheld")).all()
    assert bodies == [ACCESS, "[Nein, etwas anderes]", "[Kein Datenschutz-Anliegen]"]
    # The identity step that waited for the answer is not sent to someone who says it was no request.
    assert [d["kind"] for d in withheld] == ["identity_request", "chat"]
    assert not any("Bevor wir Ihre Anfrage bearbeiten" in m.text for m in bot.fake.sent)
    # The identity step for that ticket is over: an address is now just text about the open ticket,
    # not a code request; the person hears that a person from the team handles it.
    mark = await bot.say("erika@example.org")
    assert (await bot.reply(mark)).text == (
        f"Danke, Ihre Nachricht ist bei Ihrer Anfrage {ticket.reference} vermerkt. Stand: Eine Person aus "
        "unserem Datenschutz-Team bearbeitet Ihre Anfrage; die Antwort erhalten Sie spätestens am "
        f"{format_date_de(ticket.due_date)}.")
    mark = await bot.say("/status")
    assert ticket.reference in (await bot.reply(mark)).text  # still open, for the DPO to close


async def test_correction_to_a_marketing_objection_takes_effect_at_once(bot: Bot) -> None:
    ticket, menu = await say_no(bot)
    mark = len(bot.fake.sent)
    await bot.fake.press(menu, "Werbewiderspruch")
    await bot.reply(mark, lambda m: "korrigiert" in m.text)
    [after] = bot.tickets()
    assert after.id == ticket.id and after.rights == ["marketing_objection"]
    assert after.state == TicketState.ANSWERED.value and after.outcome == "suppressed"
    with bot.sessions() as session:
        assert f"telegram:{CHAT}" in session.scalars(select(Suppression.address)).all()
    assert any("Werbung" in m.text for m in bot.fake.sent[mark:] if m.method == "sendMessage")
