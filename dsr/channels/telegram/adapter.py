"""Telegram adapter: PTB `Application` with explicit handlers, our own update loop, chat delivery.

Receiving.  We do not use PTB's `Updater`: its polling confirms an update to Telegram as soon as
it was *fetched*.  Our loop asks `getUpdates` from the offset stored in `channel_state`, runs
each update through `Application.process_update` (handlers registered explicitly below), and
stores `offset = update_id + 1` only after the update's effects were committed.  A crash
therefore re-fetches the update, and the conversation's per-chat "last update handled" mark and
the pipeline's dedupe key (`tg:<chat_id>:<message_id>`) make the replay a no-op.  An update that
keeps failing is retried with backoff, then quarantined for the DPO (never silently dropped) and
the person gets a generic apology.  With `DSR_TELEGRAM_WEBHOOK_URL` set, Telegram pushes updates
to the console's web server instead, which hands them to `handle_webhook_update`; a non-2xx
answer makes Telegram retry, which is the webhook's form of "offset not advanced".

Sending.  Every chat answer is an outbox row, delivered by `dsr.channels.telegram.delivery` in order
and marked sent only after Telegram accepted it; this module wakes it after each update.

Privacy.  Photos, documents and stickers are never downloaded (an ID photo is never kept);
only private chats are served; the bot token never appears in logs (httpx is kept quiet by
`dsr.logs`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from telegram import Update
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from dsr.channels.telegram.conversation import state as chat_state
from dsr.channels.telegram.conversation.flow import ChatEvent, ChatFlow, ChatLimits, EventKind
from dsr.channels.telegram.delivery import ChatDelivery, first_done, sleep_unless
from dsr.config import Settings
from dsr.controllers import ControllerProfile
from dsr.fulfilment.vault import parse_key

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
COMMANDS = ("start", "hilfe", "help", "status", "abbrechen", "cancel", "abmelden")
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_UPDATE_ATTEMPTS = 5
LAST_OF_SECOND = timedelta(microseconds=999_999)
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name, not a secret
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class TelegramChannel:
    """One bot serving one controller: handlers, update loop, webhook entry, chat delivery."""

    def __init__(
        self, *, settings: Settings, sessions: sessionmaker[Session], profile: ControllerProfile,
        pipeline: Any, clock: Callable[[], datetime], limits: ChatLimits | None = None,
        poll_timeout: int = 25, retry_base_seconds: float = 1.0,
    ) -> None:
        if not settings.telegram_token:
            raise ValueError("DSR_TELEGRAM_TOKEN is not set")
        self._settings = settings
        self._sessions = sessions
        self._clock = clock
        self._poll_timeout = poll_timeout
        self._retry_base = retry_base_seconds
        self.profile = profile
        self.flow = ChatFlow(sessions=sessions, profile=profile, pipeline=pipeline, clock=clock,
                             limits=limits)
        self.application = self._build_application(settings.telegram_token, settings.telegram_api_url)
        self._failures: dict[int, BaseException] = {}
        self._attempts: dict[int, int] = {}
        self._webhook_lock = asyncio.Lock()
        self.delivery = ChatDelivery(sessions=sessions, controller=profile.key, clock=clock,
                                     bot=lambda: self.application.bot,
                                     key=parse_key(settings.package_key) if settings.package_key else None)

    # -- PTB application -------------------------------------------------------------------------

    def _build_application(self, token: str, api_url: str | None) -> AnyApplication:
        base = (api_url or DEFAULT_API_URL).rstrip("/")
        app = (ApplicationBuilder().token(token).base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
               .updater(None).get_updates_read_timeout(self._poll_timeout + 10).build())
        private = filters.ChatType.PRIVATE
        new = filters.UpdateType.MESSAGE
        app.add_handler(CommandHandler(list(COMMANDS), self._on_command, filters=private & new))
        app.add_handler(MessageHandler(private & new & filters.COMMAND, self._on_unknown_command))
        app.add_handler(MessageHandler(private & new & filters.TEXT, self._on_text))
        app.add_handler(MessageHandler(private & new & ~filters.TEXT, self._on_non_text))
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_error_handler(self._on_error)
        return app

    @property
    def webhook_secret(self) -> str:
        """Secret Telegram echoes in X-Telegram-Bot-Api-Secret-Token (derived from the token)."""
        token = (self._settings.telegram_token or "").encode()
        return hmac.new(token, b"dsr-webhook", hashlib.sha256).hexdigest()[:48]

    def _event(self, update: Update, kind: EventKind, text: str, message_id: int | None) -> ChatEvent:
        chat, user = update.effective_chat, update.effective_user
        now = self._clock()
        sent = update.effective_message.date if update.effective_message and kind != "button" else None
        # Telegram's date has whole seconds: the message reached us within that second and not after
        # `now`.  The latest such moment keeps the receipt in Telegram's second (same deadline) and
        # places the message after our answers of the same second in the conversation.
        at = min(now, sent + LAST_OF_SECOND) if sent else now
        return ChatEvent(
            update_id=update.update_id, chat_id=chat.id if chat else 0, user_id=user.id if user else 0,
            at=at, kind=kind, text=text, message_id=message_id,
            language_code=user.language_code if user else None)

    async def _dispatch(self, event: ChatEvent) -> None:
        await asyncio.to_thread(self.flow.handle, event)
        self.delivery.wake()

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
        await self._dispatch(self._event(update, "command", name, message.message_id))

    async def _on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            await self._dispatch(self._event(update, "command", "hilfe", message.message_id))

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text is not None:
            await self._dispatch(self._event(update, "text", message.text, message.message_id))

    async def _on_non_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer politely; the file is not downloaded and nothing of it is stored."""
        message = update.effective_message
        if message is not None:
            await self._dispatch(self._event(update, "non_text", "", message.message_id))

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None:
            return
        await self._dispatch(self._event(update, "button", query.data or "", query.message.message_id))
        try:
            await query.answer()
        except TelegramError as exc:  # the spinner stops by itself; nothing is lost
            log.info("answerCallbackQuery failed: %s", type(exc).__name__)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update) and context.error is not None:
            self._failures[update.update_id] = context.error
        log.error("update handling failed update=%s error=%s",
                  getattr(update, "update_id", "?"), type(context.error).__name__, exc_info=context.error)

    # -- receiving -------------------------------------------------------------------------------

    async def process(self, update: Update) -> bool:
        """Run one update through the handlers; True when its effects are committed."""
        self._failures.pop(update.update_id, None)
        await self.application.process_update(update)
        return self._failures.pop(update.update_id, None) is None

    async def poll(self, stop: asyncio.Event) -> None:
        """Long polling with the offset committed in the database after each processed update."""
        bot = self.application.bot
        await bot.delete_webhook()
        offset = await asyncio.to_thread(self._load_offset)
        log.info("telegram polling controller=%s offset=%s", self.profile.key, offset)
        failures = 0
        while not stop.is_set():
            fetch = asyncio.ensure_future(bot.get_updates(
                offset=offset or None, timeout=self._poll_timeout, allowed_updates=ALLOWED_UPDATES))
            if not await first_done(fetch, stop):
                break
            try:
                updates = fetch.result()
            except (NetworkError, RetryAfter) as exc:
                failures += 1
                log.warning("getUpdates failed (%s); retrying", type(exc).__name__)
                await sleep_unless(stop, min(60.0, self._retry_base * 2 ** min(failures, 6)))
                continue
            failures = 0
            for update in updates:
                if stop.is_set():
                    break
                if not await self._settle(update, stop):
                    break  # fetch again from the same offset
                offset = update.update_id + 1
                await asyncio.to_thread(self._save_offset, offset)

    async def _settle(self, update: Update, stop: asyncio.Event) -> bool:
        """Process `update`; on failure wait and let it be fetched again, quarantine after N tries."""
        if await self.process(update):
            self._attempts.pop(update.update_id, None)
            return True
        attempts = self._attempts.get(update.update_id, 0) + 1
        self._attempts[update.update_id] = attempts
        if attempts < MAX_UPDATE_ATTEMPTS:
            await sleep_unless(stop, self._retry_base * 2 ** (attempts - 1))
            return False
        self._attempts.pop(update.update_id, None)
        raw = json.dumps(update.to_dict(), ensure_ascii=False).encode()
        await asyncio.to_thread(self.flow._pipeline.quarantine, controller=self.profile.key,
                                channel="telegram", raw=raw, reason="Telegram-Update nicht verarbeitbar")
        chat = update.effective_chat
        if chat is not None:
            try:
                await self.application.bot.send_message(chat_id=chat.id, text=_try_later(self.profile))
            except TelegramError as exc:
                log.warning("apology not sent: %s", type(exc).__name__)
        return True

    async def handle_webhook_update(self, data: dict[str, Any], *, secret_token: str | None = None) -> int:
        """Entry for the console's webhook route; returns the HTTP status to answer Telegram with.

        403 when the secret header does not match (anyone can POST to a public URL: a forged
        update could act in a bound customer's name), 500 when processing failed so Telegram
        delivers it again, 200 otherwise.
        """
        expected = self.webhook_secret.encode()
        if secret_token is None or not hmac.compare_digest(secret_token.encode(), expected):
            return 403
        update = Update.de_json(data, self.application.bot)
        async with self._webhook_lock:  # one at a time, in arrival order
            ok = await self.process(update)
        return 200 if ok else 500

    async def set_webhook(self) -> None:
        url = self._settings.telegram_webhook_url
        if url:
            await self.application.bot.set_webhook(url=url, allowed_updates=ALLOWED_UPDATES,
                                                   secret_token=self.webhook_secret)
            log.info("telegram webhook set controller=%s", self.profile.key)

    def _load_offset(self) -> int:
        with self._sessions() as session:
            return chat_state.load_offset(session, self.profile.key)

    def _save_offset(self, offset: int) -> None:
        with self._sessions() as session:
            chat_state.save_offset(session, self.profile.key, offset, now=self._clock())
            session.commit()

    # -- sending ---------------------------------------------------------------------------------

    async def deliver(self, stop: asyncio.Event) -> None:
        """Deliver due chat items whenever woken (after each update) or every few seconds."""
        await self.delivery.run(stop)

    async def deliver_due(self) -> int:
        """Send every due chat item in order; returns how many were sent."""
        return await self.delivery.deliver_due()


async def run_telegram(
    *, settings: Settings, sessions: sessionmaker[Session], profiles: Mapping[str, ControllerProfile],
    pipeline: Any, clock: Callable[[], datetime], stop: asyncio.Event,
    on_ready: Callable[[TelegramChannel], None] | None = None, limits: ChatLimits | None = None,
    poll_timeout: int = 25,
) -> None:
    """Run the bot until `stop` is set (entry point for `dsr serve`)."""
    profile = pick_profile(settings, profiles)
    channel = TelegramChannel(settings=settings, sessions=sessions, profile=profile, pipeline=pipeline,
                              clock=clock, limits=limits, poll_timeout=poll_timeout)
    app = channel.application
    await app.initialize()
    try:
        me = await app.bot.get_me()
        log.info("telegram bot @%s serves controller=%s", me.username, profile.key)
        if on_ready is not None:
            on_ready(channel)
        delivery = asyncio.create_task(channel.deliver(stop))
        try:
            if settings.telegram_webhook_url:
                await channel.set_webhook()
                await stop.wait()
            else:
                await channel.poll(stop)
        finally:
            stop.set()
            await delivery
    finally:
        await app.shutdown()


def webhook_endpoint(
    channel: Callable[[], TelegramChannel | None],
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint for the console's route list: `Route(path, endpoint, methods=["POST"])`.

    `channel` returns the running `TelegramChannel` (handed over by `run_telegram(on_ready=...)`),
    or None while the bot is not up, which answers 503 so that Telegram delivers again later.
    A request without the secret-token header is refused with 403 before anything else.
    """

    async def endpoint(request: Request) -> Response:
        secret = request.headers.get(SECRET_HEADER)
        if not secret:
            return Response(status_code=403)  # not from Telegram: nothing is read or processed
        current = channel()
        if current is None:
            return Response(status_code=503)
        try:
            data = await request.json()
        except ValueError:
            return Response(status_code=400)
        if not isinstance(data, dict):
            return Response(status_code=400)
        status = await current.handle_webhook_update(data, secret_token=secret)
        return Response(status_code=status)

    return endpoint


def pick_profile(settings: Settings, profiles: Mapping[str, ControllerProfile]) -> ControllerProfile:
    """The controller the bot speaks for: DSR_TELEGRAM_CONTROLLER, else the first configured."""
    wanted = getattr(settings, "telegram_controller", None)
    if wanted:
        for name, profile in profiles.items():
            if wanted in (name, profile.key):
                return profile
        raise ValueError(f"DSR_TELEGRAM_CONTROLLER: {wanted!r} is not a configured controller")
    return next(iter(profiles.values()))


def _try_later(profile: ControllerProfile) -> str:
    from dsr.channels.telegram.conversation import texts as chat_texts

    return chat_texts.text("try_later", chat_texts.form_for("de", profile.address_form))
