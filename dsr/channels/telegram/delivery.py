"""Delivering chat items from the outbox to Telegram, in order, marked sent only when accepted.

Every chat answer is an outbox row (channel "telegram", UTF-8 JSON `{"chat_id", "text"}` plus
optional `reply_markup` / `edit_message_id`, and `document` for a file sent after the text), so
answers written by the pipeline, by the conversation or approved by the DPO in the console reach
the person the same way.  An item is
marked sent only after Telegram accepted it; a temporary failure holds back the rest of that
chat (a person must read the answers in the order they were written), a permanent one (bot
blocked, message refused) is marked failed for the DPO.

An item that takes several calls (a long text in parts, a text and its document) records in its
payload how many of them Telegram accepted (`delivered_steps`) after each one, so a retry goes
on where the failure was and never shows the text, or a part of it, a second time.

Also the two small waiting helpers the update loop shares with the delivery loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from dsr.store.models import OutboxItem
from dsr.store.outbox import due_items, mark_failed, mark_sent
from dsr.store.sealed import DROPPED, SealedPayloadError, is_sealed, seal, unseal

log = logging.getLogger(__name__)

DELIVERY_IDLE_SECONDS = 5.0
MAX_MESSAGE_CHARS = 4000  # Telegram allows 4096 characters per message


class ChatDelivery:
    """The delivery loop of one bot (one controller)."""

    def __init__(self, *, sessions: sessionmaker[Session], controller: str, bot: Callable[[], Bot],
                 clock: Callable[[], datetime], key: bytes | None = None) -> None:
        self._sessions = sessions
        self._key = key  # opens payloads sealed at rest (a DPO attachment, dsr.store.sealed)
        self._controller = controller
        self._bot = bot
        self._clock = clock
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one delivery round at a time: never send an item twice

    def wake(self) -> None:
        """Deliver soon (called after each processed update)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver due chat items whenever woken or every few seconds, until `stop`."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:  # the delivery loop must survive a database hiccup
                log.exception("telegram delivery round failed")
            wake = asyncio.ensure_future(self._wake.wait())
            await first_done(wake, stop, timeout=DELIVERY_IDLE_SECONDS)
            wake.cancel()

    async def deliver_due(self) -> int:
        """Send every due chat item in order; returns how many were sent."""
        async with self._lock:
            return await self._deliver_round()

    async def _deliver_round(self) -> int:
        items = await asyncio.to_thread(self._due)
        blocked: set[str] = set()
        sent = 0
        for item_id, recipient, payload in items:
            if recipient in blocked:
                continue  # keep a chat's messages in order behind a temporary failure
            error, permanent = await self._send(item_id, payload)
            if error is not None and not permanent:
                blocked.add(recipient)
            await asyncio.to_thread(self._mark, item_id, error, permanent)
            sent += error is None
        return sent

    async def _send(self, item_id: int, payload: dict[str, Any]) -> tuple[str | None, bool]:
        """Show one item, going on after the steps an earlier attempt delivered; (error, permanent)."""
        bot = self._bot()
        markup = keyboard_markup(payload.get("reply_markup"))
        try:
            if payload.get("edit_message_id") is not None:
                await bot.edit_message_text(chat_id=payload["chat_id"], message_id=payload["edit_message_id"],
                                            text=payload["text"], reply_markup=markup)
                return None, False
            steps = _steps(bot, payload, markup)
            done = int(payload.get("delivered_steps") or 0)
            for number, step in enumerate(steps, start=1):
                if number <= done:
                    continue  # Telegram accepted it on an earlier attempt
                await step()
                if len(steps) > 1 and number < len(steps):
                    await asyncio.to_thread(self._progress, item_id, number)
        except RetryAfter as exc:
            wait = exc.retry_after  # a timedelta with PTB_TIMEDELTA (see dsr.channels.telegram)
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            return f"RetryAfter: {seconds:g} s", False
        except (Forbidden, BadRequest) as exc:
            if "not modified" in str(exc).lower():
                return None, False
            return f"{type(exc).__name__}: {exc}", True
        except NetworkError as exc:
            return f"{type(exc).__name__}: {exc}", False
        return None, False

    def _progress(self, item_id: int, steps: int) -> None:
        """Record that the first `steps` calls of an item were accepted (before the next one is made)."""
        with self._sessions() as session:
            item = session.get(OutboxItem, item_id)
            if item is None:
                return
            data = json.loads(unseal(item.payload, self._key, item_id=item.id).decode())
            data["delivered_steps"] = steps
            payload = json.dumps(data, ensure_ascii=False).encode()
            # A sealed payload stays sealed (a legacy one is re-sealed bound to this item).
            if is_sealed(item.payload) and self._key:
                payload = seal(payload, self._key, item_id=item.id)
            item.payload = payload
            session.commit()

    def _due(self) -> list[tuple[int, str, dict[str, Any]]]:
        with self._sessions() as session:
            items = due_items(session, now=self._clock(), channel="telegram", limit=100)
            mine = [i for i in items if i.controller == self._controller]
            mine.sort(key=lambda i: i.id)
            due: list[tuple[int, str, dict[str, Any]]] = []
            for item in mine:
                try:
                    plain = unseal(item.payload, self._key, item_id=item.id)
                    due.append((item.id, item.recipient, json.loads(plain.decode())))
                except SealedPayloadError as exc:
                    mark_failed(session, item, error=str(exc), permanent=True, now=self._clock())
                    session.commit()
            return due

    def _mark(self, item_id: int, error: str | None, permanent: bool) -> None:
        with self._sessions() as session:
            item = session.get(OutboxItem, item_id)
            if item is None:
                return
            if error is None:
                mark_sent(session, item, now=self._clock())
                if is_sealed(item.payload):
                    item.payload = DROPPED  # the DPO's file leaves the outbox once delivered
            else:
                mark_failed(session, item, error=error, permanent=permanent, now=self._clock())
            session.commit()


Step = Callable[[], Awaitable[Any]]


def _steps(bot: Bot, payload: dict[str, Any], markup: InlineKeyboardMarkup | None) -> list[Step]:
    """The Bot API calls that show one item, in order: the text's parts, then its document."""
    chat_id = payload["chat_id"]
    parts = split_text(str(payload["text"]))
    steps: list[Step] = [
        functools.partial(bot.send_message, chat_id=chat_id, text=part,
                          reply_markup=markup if i == len(parts) - 1 else None)
        for i, part in enumerate(parts)
    ]
    document = payload.get("document")
    if isinstance(document, dict):
        # A file (the DPO's upload): sent as a document, which the chat never renders.
        file = InputFile(base64.b64decode(document["data"]), filename=str(document["filename"]))
        steps.append(functools.partial(bot.send_document, chat_id=chat_id, document=file,
                                       disable_content_type_detection=True))
    return steps


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Cut a long answer (an access cover letter) into Telegram-sized parts at line breaks."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit))
        cut = cut if cut > limit // 2 else limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    return [*parts, rest]


def keyboard_markup(data: Any) -> InlineKeyboardMarkup | None:
    """The stored `reply_markup` JSON as PTB's inline keyboard (None when there is none)."""
    if not isinstance(data, dict) or not data.get("inline_keyboard"):
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b["text"], callback_data=b.get("callback_data"))
                                  for b in row] for row in data["inline_keyboard"]])


async def first_done(task: asyncio.Future[Any], stop: asyncio.Event, *, timeout: float | None = None) -> bool:
    """Wait for `task` or `stop`; True when the task finished (otherwise it is cancelled)."""
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task in done:
        return True
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        # The poll we abandoned: its updates are fetched again from the stored offset.
    except Exception:
        log.debug("abandoned request failed", exc_info=True)
    return False


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
