"""Webhook mode: setWebhook with a secret, updates pushed through the console's endpoint."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dsr.channels.telegram.adapter import TelegramChannel, webhook_endpoint
from dsr.config import Settings
from dsr.console.app import create_app
from dsr.controllers import load_profile
from dsr.pipeline.core import Pipeline
from dsr.service.app import serve
from dsr.store.models import Message, Suppression, Ticket
from tests.servers.fake_telegram import FakeTelegram
from tests.support.telegram import CHAT, Bot, make_settings, real_clock, running_bot

HOOK = "https://dsr.example.org/telegram/webhook"


async def test_webhook_mode_sets_the_hook_and_processes_pushed_updates(bot_parts: Bot, db_url: str) -> None:
    bot_parts.settings = make_settings(db_url, bot_parts.fake, None, telegram_webhook_url=HOOK)
    async with running_bot(bot_parts) as bot:
        params = await bot.fake.wait_called("setWebhook")
        assert params["url"] == HOOK and bot.fake.webhook_url == HOOK
        channel = bot.channel
        assert isinstance(channel, TelegramChannel)
        assert params["secret_token"] == channel.webhook_secret
        route = Route("/telegram/webhook", webhook_endpoint(lambda: channel), methods=["POST"])
        transport = httpx.ASGITransport(app=Starlette(routes=[route]))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            update = bot.fake.message_update(CHAT, "/hilfe")
            forged = await client.post("/telegram/webhook", json=update,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
            assert forged.status_code == 403
            ok = await client.post("/telegram/webhook", json=update,
                                   headers={"X-Telegram-Bot-Api-Secret-Token": channel.webhook_secret})
            assert ok.status_code == 200
            again = await client.post("/telegram/webhook", json=update,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": channel.webhook_secret})
            assert again.status_code == 200
        answer = await bot.fake.wait_sent(CHAT)
        assert "/status" in answer.text
        await channel.deliver_due()
        assert len(bot.fake.texts(CHAT)) == 1  # the redelivered update was not answered twice


async def test_serve_in_webhook_mode_takes_updates_through_the_console(
        fake_tg: FakeTelegram, sessions: sessionmaker[Session], db_url: str, tmp_path: object) -> None:
    """`dsr serve` wiring: setWebhook with a secret, the console's route feeds the running bot."""
    settings = Settings(database_url=db_url, controller="kmb2", telegram_token=fake_tg.token,
                        telegram_api_url=fake_tg.api_url, telegram_webhook_url=HOOK,
                        smtp_listen="127.0.0.1:0", web_listen="127.0.0.1:0", maildir=f"{tmp_path}/maildir")
    profiles = {"kmb2": load_profile("kmb2")}
    stop = asyncio.Event()
    console: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()

    def listening(name: str, host: str, port: int) -> None:
        if name == "console":
            console.set_result((host, port))

    service = asyncio.create_task(serve(settings, profiles, sessions, stop=stop, on_listening=listening))
    try:
        host, port = await asyncio.wait_for(console, 20)
        params = await fake_tg.wait_called("setWebhook")
        assert params["url"] == HOOK
        secret = str(params["secret_token"])
        assert len(secret) >= 32
        assert not any(method == "getUpdates" for method, _ in fake_tg.calls)
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
            # Forged pushes: a marketing "stop" that, if processed, would open a ticket and a block.
            forged = fake_tg.message_update(CHAT, "stop")
            missing = await client.post("/telegram/webhook", json=forged)
            wrong = await client.post("/telegram/webhook", json=forged,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": "x" * len(secret)})
            assert (missing.status_code, wrong.status_code) == (403, 403)
            assert (await client.get("/telegram/webhook")).status_code == 405

            update = fake_tg.message_update(CHAT, "/hilfe")
            first = await client.post("/telegram/webhook", json=update,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": secret})
            assert first.status_code == 200
            answer = await fake_tg.wait_sent(CHAT)
            assert "/status" in answer.text
            again = await client.post("/telegram/webhook", json=update,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": secret})
            assert again.status_code == 200  # Telegram redelivers: accepted, not handled twice
            # One more real update as a barrier: once it is answered, a second /hilfe would be too.
            mark = len(fake_tg.sent)
            status = await client.post("/telegram/webhook", json=fake_tg.message_update(CHAT, "/status"),
                                       headers={"X-Telegram-Bot-Api-Secret-Token": secret})
            assert status.status_code == 200
            await fake_tg.wait_sent(CHAT, lambda m: "keine offenen Anfragen" in m.text, after=mark)
    finally:
        stop.set()
        await asyncio.wait_for(service, 20)
    assert fake_tg.texts(CHAT) == [answer.text, "Sie haben keine offenen Anfragen."]
    with sessions() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 0
        assert session.scalar(select(func.count(Suppression.id))) == 0
        assert session.scalar(select(func.count(Message.id))) == 0


def test_console_refuses_a_webhook_path_it_already_uses(sessions: sessionmaker[Session]) -> None:
    async def endpoint(request: Request) -> Response:
        return Response(status_code=200)

    for url in ("https://dsr.example.org/", "https://dsr.example.org/queue", "https://x.org/api/hook"):
        settings = Settings(database_url="sqlite://", controller="kmb2", telegram_webhook_url=url)
        with pytest.raises(ValueError, match="DSR_TELEGRAM_WEBHOOK_URL"):
            create_app(settings=settings, sessions=sessions, profiles={}, clock=real_clock,
                       sink=Pipeline(sessions=sessions, profiles={}, clock=real_clock, settings=settings),
                       telegram_webhook=endpoint)
