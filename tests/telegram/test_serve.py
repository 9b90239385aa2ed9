"""`dsr serve` runs the bot when DSR_TELEGRAM_TOKEN is set; DSR_TELEGRAM_CONTROLLER picks the controller."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dsr.channels.telegram.adapter import pick_profile
from dsr.config import Settings
from dsr.controllers import load_profile
from dsr.service.app import serve
from tests.servers.fake_telegram import FakeTelegram
from tests.support.telegram import CHAT


async def test_serve_starts_the_bot_against_the_configured_api(
        fake_tg: FakeTelegram, sessions: sessionmaker[Session], db_url: str, tmp_path: object) -> None:
    settings = Settings(database_url=db_url, controller="kmb2,komsa", telegram_token=fake_tg.token,
                        telegram_api_url=fake_tg.api_url, telegram_controller="komsa",
                        smtp_listen="127.0.0.1:0", web_listen="127.0.0.1:0", maildir=f"{tmp_path}/maildir")
    profiles = {name: load_profile(name) for name in settings.controller_names}
    stop = asyncio.Event()
    service = asyncio.create_task(serve(settings, profiles, sessions, stop=stop))
    try:
        await fake_tg.inject_message(CHAT, "/start")
        welcome = await fake_tg.wait_sent(CHAT)
        assert "KOMSA AG" in welcome.text
    finally:
        stop.set()
        await service


def test_first_configured_controller_unless_configured_otherwise() -> None:
    profiles = {"kmb2": load_profile("kmb2"), "komsa": load_profile("komsa")}
    assert pick_profile(Settings(controller="kmb2,komsa"), profiles).key == "kmb2"
    chosen = Settings(controller="kmb2,komsa", telegram_controller="komsa")
    assert pick_profile(chosen, profiles).key == "komsa"
    with pytest.raises(ValueError, match="DSR_TELEGRAM_CONTROLLER"):
        pick_profile(Settings(controller="kmb2", telegram_controller="acme"), {"kmb2": profiles["kmb2"]})
