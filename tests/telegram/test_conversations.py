"""Conversations end to end: fake Bot API -> PTB -> chat flow -> pipeline -> database -> outbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dsr.channels.telegram.conversation.state import load_offset
from dsr.deadlines import compute_deadline
from dsr.intents import classify
from dsr.intents.rights import Right
from dsr.replies import format_date_de
from dsr.store.models import DataSubject, IdentityLevel, Message, Suppression, TicketState
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
    code = re.search(r"(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.text).group(1)  # type: ignore[union-attr]

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
    mark = await bot.say("K7MX-3RTA")
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


async def test_marketing_stop_from_a_bound_chat_suppresses_every_identifier_of_the_person(
        bot: Bot, known_subject: int) -> None:
    """Issue 15 no. 7: a chat id alone is something no CRM can match; the person bound to the chat
    has every identifier on file suppressed (e-mail, customer data), not only `telegram:<id>`."""
    with bot.sessions.begin() as session:
        subject = session.get(DataSubject, known_subject)
        assert subject is not None
        subject.telegram_user_id = CHAT
    mark = await bot.say("stop")
    await bot.reply(mark)
    with bot.sessions() as session:
        entries = set(session.scalars(select(Suppression.address)).all())
    assert {f"telegram:{CHAT}", "erika@example.org"} <= entries


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


def test_the_ambiguous_example_has_two_readings_for_the_classifier() -> None:
    """Precondition of the next test (`dsr classify --explain`): two rights, nothing to escalate."""
    result = classify("", AMBIGUOUS, "telegram")
    assert set(result.labels) == {Right.ACCESS, Right.ERASURE} and not result.escalate


async def test_ambiguous_text_opens_the_ticket_at_once_and_the_choice_makes_it_precise(bot: Bot) -> None:
    mark = await bot.say(AMBIGUOUS)
    question = await bot.reply(mark, has_buttons)
    labels = [label for label, _ in question.buttons]
    assert labels == ["Auskunft", "Löschung", "Beides", "Etwas anderes"]
    # The ticket exists before any button is pressed, for both readings, identity step running.
    [ticket] = bot.tickets()
    assert ticket.rights == ["access", "erasure"]
    assert ticket.state == TicketState.AWAITING_IDENTITY.value
    assert question.text.startswith("Ich bin nicht sicher, was Sie meinen.")
    assert f"als Anfrage {ticket.reference} eingegangen" in question.text
    assert any("E-Mail-Adresse" in m.text for m in bot.fake.sent[mark:])
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Löschung")
    await bot.reply(mark, lambda m: m.method == "editMessageText" and m.text == "✓ Löschung")
    done = await bot.reply(mark, lambda m: m.method == "sendMessage" and "betrifft jetzt" in m.text)
    assert ticket.due_date is not None
    assert done.text == (f"Danke. Ihre Anfrage {ticket.reference} betrifft jetzt Löschung. "
                         f"Die Frist bleibt der {format_date_de(ticket.due_date)}. {NEXT_IDENTITY}")
    [after] = bot.tickets()
    assert after.id == ticket.id and after.rights == ["erasure"]
    assert (after.received_at, after.due_date) == (ticket.received_at, ticket.due_date)
    assert after.state == TicketState.AWAITING_IDENTITY.value
    [event] = audit_events(bot, ticket.id, "rights_corrected")
    assert event.actor == f"telegram:{CHAT}" and event.reason == "vom Betroffenen im Chat präzisiert"
    assert event.detail == {"from": ["access", "erasure"], "to": ["erasure"]}
    # A second press on the old keyboard changes nothing.
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Auskunft")
    assert (await bot.reply(mark)).text == "Diese Auswahl ist nicht mehr aktuell."
    assert bot.tickets()[0].rights == ["erasure"]
    # The identity step of the (now precise) request is still open.
    mark = await bot.say("erika@example.org")
    assert "Falls diese Adresse bei uns hinterlegt ist" in (await bot.reply(mark)).text


async def test_ambiguous_text_without_any_button_pressed_is_a_ticket_the_dpo_sees(bot: Bot) -> None:
    update = await bot.fake.inject_message(CHAT, AMBIGUOUS)
    await bot.reply(0, has_buttons)
    # Nobody presses anything: the request exists, the clock running from the person's message.
    [ticket] = bot.tickets()
    received = datetime.fromtimestamp(update["message"]["date"], UTC)
    # Within Telegram's whole second (the deadline is the same as from its date).
    assert received <= ticket.received_at.replace(tzinfo=UTC) < received + timedelta(seconds=1)
    assert ticket.due_date == compute_deadline(received, bot.profile.state).due
    assert ticket.rights == ["access", "erasure"]
    with bot.sessions() as session:
        assert session.scalar(select(Message.body_text).where(Message.ticket_id == ticket.id)) == AMBIGUOUS
    [offered] = audit_events(bot, ticket.id, "readings_offered")
    assert offered.reason == ("Im Chat zur Auswahl angeboten: Auskunft (Art. 15 DSGVO), "
                              "Löschung (Art. 17 DSGVO)")
    assert offered.detail == {"readings": ["access", "erasure"]}


async def test_beides_keeps_both_rights_and_records_that_the_person_said_so(bot: Bot) -> None:
    mark = await bot.say(AMBIGUOUS)
    question = await bot.reply(mark, has_buttons)
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Beides")
    await bot.reply(mark, lambda m: m.method == "editMessageText" and m.text == "✓ Auskunft, Löschung")
    await bot.reply(mark, lambda m: "betrifft jetzt Auskunft, Löschung" in m.text)
    [ticket] = bot.tickets()
    assert ticket.rights == ["access", "erasure"]
    [event] = audit_events(bot, ticket.id, "rights_confirmed")
    assert event.reason == "vom Betroffenen im Chat präzisiert"
    assert audit_events(bot, ticket.id, "rights_corrected") == []


async def test_choice_in_free_text_is_kept_with_the_ticket(bot: Bot) -> None:
    mark = await bot.say(AMBIGUOUS)
    await bot.reply(mark, has_buttons)
    mark = await bot.say("Nur die Auskunft bitte, was Sie über mich gespeichert haben.")
    await bot.reply(mark, lambda m: "betrifft jetzt Auskunft" in m.text)
    [ticket] = bot.tickets()
    assert ticket.rights == ["access"]
    [event] = audit_events(bot, ticket.id, "rights_corrected")
    assert event.reason == "vom Betroffenen im Chat präzisiert"
    with bot.sessions() as session:
        bodies = session.scalars(select(Message.body_text).where(
            Message.ticket_id == ticket.id, Message.direction == "in").order_by(Message.id)).all()
    assert bodies == [AMBIGUOUS, "Nur die Auskunft bitte, was Sie über mich gespeichert haben."]


async def test_something_else_then_not_a_request_keeps_the_ticket_for_the_dpo(bot: Bot) -> None:
    mark = await bot.say(AMBIGUOUS)
    question = await bot.reply(mark, has_buttons)
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Etwas anderes")
    menu = await bot.reply(mark, lambda m: m.method == "editMessageText" and has_buttons(m))
    labels = [label for label, _ in menu.buttons]
    assert "Auskunft" not in labels and "Löschung" not in labels
    assert labels[-1] == "Kein Datenschutz-Anliegen"
    mark = len(bot.fake.sent)
    await bot.fake.press(menu, "Kein Datenschutz-Anliegen")
    answer = await bot.reply(mark, lambda m: m.method == "sendMessage")
    assert "gelöscht wird dadurch nichts" in answer.text
    [ticket] = bot.tickets()
    assert ticket.state == TicketState.ESCALATED.value
    assert "subject_says_not_a_request" in ticket.escalation_reasons
    assert ticket.rights == ["access", "erasure"]


UNCLEAR = ("hab ich bei euch überhaupt ein konto? bekomm dauernd mails von euch obwohl ich da nie was "
           "gemacht hab")


def test_the_unclear_example_is_a_weak_reading_for_the_classifier() -> None:
    """Precondition of the next tests: one weak reading, the pipeline asks before anything else."""
    result = classify("", UNCLEAR, "telegram")
    assert result.labels == (Right.ACCESS,) and result.reasons == ("low_confidence",)


async def test_weak_reading_opens_a_ticket_pending_clarification_even_if_nobody_answers(bot: Bot) -> None:
    update = await bot.fake.inject_message(CHAT, UNCLEAR)
    question = await bot.reply(0, has_buttons)
    assert [label for label, _ in question.buttons] == ["Auskunft", "Etwas anderes"]
    # The pipeline's own clarification question, in the chat, lists the same readings, numbered.
    assert any(m.text.startswith("Kurze Rückfrage") and "(1)" in m.text for m in bot.fake.sent)
    [ticket] = bot.tickets()
    received = datetime.fromtimestamp(update["message"]["date"], UTC)
    # Within Telegram's whole second (the deadline is the same as from its date).
    assert received <= ticket.received_at.replace(tzinfo=UTC) < received + timedelta(seconds=1)
    assert ticket.due_date == compute_deadline(received, bot.profile.state).due
    assert ticket.state == TicketState.NEW.value and ticket.classification["pending_clarification"] is True
    [asked] = audit_events(bot, ticket.id, "clarification_requested")
    assert asked.detail == {"readings": ["access"]}
    [offered] = audit_events(bot, ticket.id, "readings_offered")
    assert offered.reason == "Im Chat zur Auswahl angeboten: Auskunft (Art. 15 DSGVO)"


async def test_number_answer_continues_the_pipelines_clarification_and_the_identity_step(bot: Bot) -> None:
    mark = await bot.say(UNCLEAR)
    await bot.reply(mark, has_buttons)
    mark = await bot.say("1")
    done = await bot.reply(mark, lambda m: "betrifft jetzt" in m.text)
    [ticket] = bot.tickets()
    assert ticket.due_date is not None
    assert done.text == (f"Danke. Ihre Anfrage {ticket.reference} betrifft jetzt Auskunft. "
                         f"Die Frist bleibt der {format_date_de(ticket.due_date)}. {NEXT_IDENTITY}")
    assert ticket.rights == ["access"] and ticket.classification["pending_clarification"] is False
    assert ticket.state == TicketState.AWAITING_IDENTITY.value
    await bot.reply(mark, lambda m: "nur, wenn die Adresse bei uns hinterlegt ist" in m.text)
    assert "rights_corrected" in audit_actions(bot, ticket.id)
    # The identity step is the usual one: same answer whether or not the address is on file.
    mark = await bot.say("fremd@example.net")
    assert "Falls diese Adresse bei uns hinterlegt ist" in (await bot.reply(mark)).text


async def test_button_on_a_pending_ticket_goes_through_the_pipeline(bot: Bot) -> None:
    mark = await bot.say(UNCLEAR)
    question = await bot.reply(mark, has_buttons)
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Etwas anderes")
    menu = await bot.reply(mark, lambda m: m.method == "editMessageText" and has_buttons(m))
    mark = len(bot.fake.sent)
    await bot.fake.press(menu, "Werbewiderspruch")
    await bot.reply(mark, lambda m: "betrifft jetzt Werbewiderspruch" in m.text)
    [ticket] = bot.tickets()
    assert ticket.rights == ["marketing_objection"]
    assert ticket.state == TicketState.ANSWERED.value and ticket.outcome == "suppressed"
    with bot.sessions() as session:
        assert f"telegram:{CHAT}" in session.scalars(select(Suppression.address)).all()
        bodies = session.scalars(select(Message.body_text).where(
            Message.ticket_id == ticket.id, Message.direction == "in").order_by(Message.id)).all()
    assert bodies == [UNCLEAR, "[Etwas anderes]", "Im Telegram-Chat über die Schaltfläche gewählt: "
                                                  "Werbewiderspruch (Art. 21 Abs. 2 und 3 DSGVO)"]


async def test_marketing_stop_beside_another_right_takes_effect_before_any_question(bot: Bot) -> None:
    mark = await bot.say("keine mails mehr und alles löschen")
    question = await bot.reply(mark, has_buttons)
    assert question.text.endswith("Stimmt das?")
    [ticket] = bot.tickets()
    assert ticket.rights == ["erasure", "marketing_objection"]
    with bot.sessions() as session:
        assert f"telegram:{CHAT}" in session.scalars(select(Suppression.address)).all()






NOTHING_TO_OFFER = "ich hätte ein anliegen bezüglich meiner daten"


def test_the_vague_example_has_no_reading_for_the_classifier() -> None:
    """Precondition of the next test: a weak reading with no right to offer (e-mail: to a human)."""
    result = classify("", NOTHING_TO_OFFER, "telegram")
    assert result.escalate and result.reasons == ("low_confidence",) and result.scores.get("access", 0) == 0


async def test_vague_request_goes_to_a_person_and_may_still_be_made_precise(bot: Bot) -> None:
    mark = await bot.say(NOTHING_TO_OFFER)
    menu = await bot.reply(mark, has_buttons)
    [ticket] = bot.tickets()
    assert ticket.escalated and ticket.reference in menu.text
    assert menu.buttons[0][0] == "Auskunft"
    mark = len(bot.fake.sent)
    await bot.fake.press(menu, "Auskunft")
    await bot.reply(mark, lambda m: "betrifft jetzt Auskunft" in m.text)
    [after] = bot.tickets()
    assert after.rights == ["access"] and after.escalated and after.due_date == ticket.due_date
    [event] = audit_events(bot, ticket.id, "rights_corrected")
    assert event.reason == "vom Betroffenen im Chat präzisiert" and event.actor == f"telegram:{CHAT}"
