"""A running Telegram bot against the fake Bot API, and the chat helpers of the tests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dsr.channels.sender import OutboxSender
from dsr.channels.telegram.adapter import TelegramChannel, run_telegram
from dsr.channels.telegram.conversation.turn import ChatLimits
from dsr.config import Settings
from dsr.controllers import ControllerProfile
from dsr.pipeline.core import Pipeline
from dsr.store.models import AuditEvent, Ticket
from tests.servers.fake_telegram import FakeTelegram
from tests.servers.smtp_sink import SmtpSink

CHAT = 424242


def real_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Bot:
    """The running service parts a Telegram test needs, and helpers to talk to them."""

    fake: FakeTelegram
    sessions: sessionmaker[Session]
    settings: Settings
    profile: ControllerProfile
    pipeline: Pipeline
    sink: SmtpSink | None
    channel: TelegramChannel | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def say(self, text: str, chat: int = CHAT, **kw: Any) -> int:
        """Send `text` as the user; returns the index in `fake.sent` after which answers appear."""
        mark = len(self.fake.sent)
        await self.fake.inject_message(chat, text, **kw)
        return mark

    async def reply(self, after: int, predicate: Callable[[Any], bool] | None = None,
                    chat: int = CHAT) -> Any:
        return await self.fake.wait_sent(chat, predicate, after=after)

    def tickets(self) -> list[Ticket]:
        with self.sessions() as session:
            return list(session.scalars(select(Ticket).order_by(Ticket.id)))

    async def code_from_mail(self) -> str:
        assert self.sink is not None
        mail = await self.sink.next_message()
        match = re.search(r"(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.text)
        assert match, mail.text
        return match.group(1)


def make_settings(db_url: str, fake: FakeTelegram, sink: SmtpSink | None, **extra: Any) -> Settings:
    return Settings(database_url=db_url, controller="kmb2", telegram_token=fake.token,
                    telegram_api_url=fake.api_url, smtp_relay=sink.relay if sink else None, **extra)


@asynccontextmanager
async def running_bot(bot: Bot, *, fault_hook: Callable[[str], None] | None = None,
                      limits: ChatLimits | None = None) -> AsyncIterator[Bot]:
    """Start the bot (polling) and the e-mail sender; stop both afterwards."""
    stop = asyncio.Event()
    ready: asyncio.Future[TelegramChannel] = asyncio.get_running_loop().create_future()
    pipeline = bot.pipeline
    if fault_hook is not None:
        pipeline = Pipeline(sessions=bot.sessions, profiles={"kmb2": bot.profile}, clock=real_clock,
                            settings=bot.settings, fault_hook=fault_hook)
    task = asyncio.create_task(run_telegram(
        settings=bot.settings, sessions=bot.sessions, profiles={"kmb2": bot.profile}, pipeline=pipeline,
        clock=real_clock, stop=stop, on_ready=ready.set_result, poll_timeout=5, limits=limits))
    tasks = [task]
    if bot.sink is not None:
        sender = OutboxSender(sessions=bot.sessions, profiles={"kmb2": bot.profile}, settings=bot.settings,
                              clock=real_clock, poll_interval=0.2)
        tasks.append(asyncio.create_task(sender.run(stop)))
    bot.channel = await asyncio.wait_for(asyncio.shield(ready), 10) if not task.done() else None
    bot.tasks = tasks
    try:
        yield bot
    finally:
        stop.set()
        for t in tasks:
            if not t.done():
                await t


ACCESS = "Ich möchte Auskunft über meine gespeicherten Daten nach Art. 15 DSGVO."
# What the chat says comes next while a ticket waits for the person's identity.
NEXT_IDENTITY = ("Als Nächstes prüfen wir, ob die Anfrage wirklich von Ihnen stammt; erst danach beginnen "
                 "wir mit der Bearbeitung.")


def has_buttons(msg: object) -> bool:
    return bool(getattr(msg, "buttons", None))


async def confirm_reading(bot: Bot, text: str) -> None:
    """Write `text`, check the one-sentence confirmation, press "Stimmt" and wait for the tick."""
    mark = await bot.say(text)
    question = await bot.reply(mark, has_buttons)
    assert question.text.endswith("Stimmt das?")
    assert [label for label, _ in question.buttons] == ["Stimmt", "Nein, etwas anderes"]
    mark = len(bot.fake.sent)
    await bot.fake.press(question, "Stimmt")
    await bot.reply(mark, lambda m: m.method == "editMessageText" and m.message_id == question.message_id
                    and m.text.startswith("✓ "))


def audit_events(bot: Bot, ticket_id: int, action: str) -> list[AuditEvent]:
    with bot.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.ticket_id == ticket_id, AuditEvent.action == action).order_by(AuditEvent.id)))


def audit_actions(bot: Bot, ticket_id: int) -> list[str]:
    with bot.sessions() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.ticket_id == ticket_id)))
