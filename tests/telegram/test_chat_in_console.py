"""The DPO sees every message of a Telegram chat on its ticket (issue 17): the chat is run for real
(fake Bot API -> PTB -> chat flow -> pipeline -> database, code by mail through the SMTP sink), then
the ticket page is opened in headless Chromium on the same database."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, LiveConsole
from tests.support.console import PASSWORD, make_world
from tests.support.database import missing_server
from tests.support.telegram import ACCESS, Bot, has_buttons

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


async def test_telegram_ticket_shows_every_message_of_the_real_chat_in_order(
        bot: Bot, known_subject: int, engine: Engine, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        missing_server("Debian's chromium at /usr/bin/chromium")
    mark = await bot.say(ACCESS)
    question = await bot.reply(mark, has_buttons)
    await bot.fake.press(question, "Stimmt")
    await bot.reply(mark, lambda m: "Oder einfacher" in m.text)
    mark = await bot.say("Und jetzt?")
    await bot.reply(mark, lambda m: "vermerkt" in m.text)
    mark = await bot.say("erika@example.org")
    await bot.reply(mark, lambda m: "Falls diese Adresse" in m.text)
    code = await bot.code_from_mail()
    mark = await bot.say(code)
    await bot.reply(mark, lambda m: "Identität ist bestätigt" in m.text)
    [ticket] = bot.tickets()
    shown = await asyncio.to_thread(_conversation_text, engine, ticket.id, tmp_path)
    expected = [
        ACCESS,
        "Stimmt das?",
        "[Stimmt]",
        "Danke für die Bestätigung. Als Nächstes prüfen wir",
        "Bevor wir Ihre Anfrage bearbeiten",
        "Oder einfacher",
        "Und jetzt?",
        "vermerkt. Stand: Wir warten noch auf die Bestätigung Ihrer Identität",
        "erika@example.org",
        "Ihr Bestätigungscode",  # the mail to the address on file, its code masked
        "••••-••••",
        "Falls diese Adresse bei uns hinterlegt ist",
        "••••-••••",
        "Danke, Ihre Identität ist bestätigt",
    ]
    at = 0
    for text in expected:  # each after the one before
        found = shown.find(text, at)
        assert found >= 0, (text, shown[at:])
        at = found + len(text)
    assert code not in shown and code.replace("-", "") not in shown
    assert not re.search(r"(?m)^Betreff: \[DSR-\d{4}-\d{6}\]$", shown)  # no subject line for chat follow-ups


def _conversation_text(engine: Engine, ticket_id: int, tmp_path: Path) -> str:
    """The ticket page's conversation as Chromium shows it to the DPO (sync Playwright, own thread)."""
    world = make_world(engine)  # the console's users on the chat's database
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with LiveConsole(world) as live, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            locale="de-DE", viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{live.url}/login")
        page.fill("input[name=username]", "dana")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{live.url}/tickets/{ticket_id}")
        text = page.locator("#conversation").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "telegram-chat-on-ticket.png"), full_page=True)
        context.close()
    return text
