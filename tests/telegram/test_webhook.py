"""Webhook mode: setWebhook with a secret, updates pushed through the console's endpoint."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from bot.telegram_chat import TelegramChannel, webhook_endpoint
from tests.telegram.conftest import CHAT, Bot, make_settings, running_bot

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
