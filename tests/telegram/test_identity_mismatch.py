"""A chat code proves only the record it was sent to, never another person named in the request."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session, sessionmaker

from dsr.store.models import DataSubject, IdentityLevel, TicketState
from tests.support.telegram import CHAT, Bot, confirm_reading, real_clock


def _victim(sessions: sessionmaker[Session]) -> int:
    now = real_clock()
    with sessions() as session:
        victim = DataSubject(controller="kmb2", name="Vera Opfer", email="vera.opfer@example.net",
                             customer_number="K-20077", postal_code="38102", created_at=now, updated_at=now)
        session.add(victim)
        session.commit()
        return victim.id


async def test_own_code_does_not_verify_a_request_about_someone_else(bot: Bot, known_subject: int) -> None:
    victim = _victim(bot.sessions)
    mark = len(bot.fake.sent)
    await confirm_reading(bot, "Ich möchte Auskunft nach Art. 15 DSGVO über meine Daten. "
                               "Meine E-Mail-Adresse ist vera.opfer@example.net")
    await bot.reply(mark, lambda m: "DSR-" in m.text)
    [ticket] = bot.tickets()
    assert ticket.subject_id == victim  # the pipeline found the person named in the text

    # The requester now proves a DIFFERENT address on file (his own) by the chat code.
    assert bot.sink is not None
    mark = await bot.say("erika@example.org")
    await bot.reply(mark)
    for _ in range(3):
        mail = await bot.sink.next_message()
        if mail.rcpt_tos == ("erika@example.org",):
            break
    else:
        raise AssertionError("no binding code to the requester's own address")
    code = re.search(r"(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.text).group(1)  # type: ignore[union-attr]
    mark = await bot.say(code)
    await bot.reply(mark, lambda m: "verknüpft" in m.text)

    [after] = bot.tickets()
    assert after.subject_id == victim
    assert after.identity_level != IdentityLevel.CODE_CONFIRMED.value
    assert after.state == TicketState.ESCALATED.value and "identity_unverified" in after.escalation_reasons
    with bot.sessions() as session:
        requester = session.get(DataSubject, known_subject)
        assert requester is not None and requester.telegram_user_id == CHAT  # the chat is his own
