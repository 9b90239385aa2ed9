"""A fake Telegram Bot API server on loopback, for driving the chat adapter end to end.

It speaks the real wire format (`POST /bot<token>/<method>`, form-encoded parameters whose
values are JSON, answers `{"ok": true, "result": ...}` or `{"ok": false, "error_code": ...,
"description": ...}`) so python-telegram-bot runs unmodified against it through `base_url`.
Only the methods the adapter and the chat delivery use exist (sendDocument records the uploaded
file); anything else answers 404 like the real service does
for an unknown method.  Tests inject user messages and button presses and await what the bot
sent.  The server runs as a task on the test's own event loop (uvicorn on port 0).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BOT_ID = 7000001
BOT_USERNAME = "dsr_test_bot"
Predicate = Callable[["SentMessage"], bool]


@dataclass
class SentMessage:
    """One call the bot made that shows something to the user (send or edit)."""

    method: str
    chat_id: int
    text: str
    message_id: int
    reply_markup: dict[str, Any] | None = None
    document: tuple[str, bytes] | None = None  # sendDocument: (file name, content) as uploaded

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of every inline button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", b.get("url", ""))) for row in rows for b in row]


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-TOKEN"
    url: str = ""
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answered_callbacks: list[str] = field(default_factory=list)
    webhook_url: str = ""
    # While set (cleared), sendMessage hangs: lets a test kill the bot with an update in flight.
    send_gate: asyncio.Event = field(default_factory=asyncio.Event)
    # method (lower case) -> [calls to let through, then calls to answer 502 Bad Gateway]
    flaky: dict[str, list[int]] = field(default_factory=dict)
    # method (lower case) -> calls to answer 429 Too Many Requests with `retry_after` seconds
    flooded: dict[str, tuple[int, int]] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _confirmed: int = 0
    _closing: bool = False
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.send_gate.set()

    # -- what the test does -------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """Value for Settings.telegram_api_url (the adapter appends /bot<token>)."""
        return self.url

    async def inject_message(
        self, chat_id: int, text: str | None = None, *, user_id: int | None = None,
        language_code: str = "de", first_name: str = "Erika", extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A user writes to the bot (text, or a photo/document/sticker via `extra`)."""
        update = self.message_update(chat_id, text, user_id=user_id, language_code=language_code,
                                     first_name=first_name, extra=extra)
        return await self._push(update)

    def message_update(
        self, chat_id: int, text: str | None = None, *, user_id: int | None = None,
        language_code: str = "de", first_name: str = "Erika", extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The update payload of a user message (for webhook tests: not queued for getUpdates)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "from": {"id": user_id or chat_id, "is_bot": False, "first_name": first_name,
                     "language_code": language_code},
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        message.update(extra or {})
        return {"update_id": next(self._update_ids), "message": message}

    async def inject_photo(self, chat_id: int) -> dict[str, Any]:
        photo = [{"file_id": "AgAD-photo", "file_unique_id": "ph1", "width": 90, "height": 60}]
        return await self.inject_message(chat_id, extra={"photo": photo})

    async def inject_document(self, chat_id: int) -> dict[str, Any]:
        doc = {"file_id": "BQAD-doc", "file_unique_id": "doc1", "file_name": "ausweis.pdf",
               "mime_type": "application/pdf", "file_size": 1024}
        return await self.inject_message(chat_id, extra={"document": doc})

    async def inject_sticker(self, chat_id: int) -> dict[str, Any]:
        sticker = {"file_id": "CAAD-st", "file_unique_id": "st1", "type": "regular", "width": 512,
                   "height": 512, "is_animated": False, "is_video": False}
        return await self.inject_message(chat_id, extra={"sticker": sticker})

    async def press(self, sent: SentMessage, label: str, *, user_id: int | None = None) -> dict[str, Any]:
        """The user taps the inline button `label` under the bot's message `sent`."""
        data = dict(sent.buttons)[label]
        query = {
            "id": f"cq{next(self._update_ids)}",
            "chat_instance": str(sent.chat_id),
            "data": data,
            "from": {"id": user_id or sent.chat_id, "is_bot": False, "first_name": "Erika"},
            "message": {
                "message_id": sent.message_id,
                "date": int(time.time()),
                "chat": {"id": sent.chat_id, "type": "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "DSR"},
                "text": sent.text,
            },
        }
        return await self._push({"callback_query": query})

    async def wait_sent(
        self, chat_id: int, predicate: Predicate | None = None, *, after: int = 0, timeout: float = 10.0,
    ) -> SentMessage:
        """The first message (index >= after) the bot showed in `chat_id` that matches."""
        async def found() -> SentMessage | None:
            for msg in self.sent[after:]:
                if msg.chat_id == chat_id and (predicate is None or predicate(msg)):
                    return msg
            return None

        async with asyncio.timeout(timeout):
            async with self._changed:
                while (msg := await found()) is None:
                    await self._changed.wait()
                return msg

    async def wait_confirmed(self, update_id: int, *, timeout: float = 10.0) -> None:
        """Until the bot confirmed `update_id` by asking getUpdates for a later offset."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self._confirmed > update_id)

    async def wait_called(self, method: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """The parameters of the first call of Bot API `method` (e.g. "setWebhook")."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: any(m == method for m, _ in self.calls))
            return next(p for m, p in self.calls if m == method)

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.sent if m.chat_id == chat_id]

    # -- the Bot API ----------------------------------------------------------------------------

    async def _push(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = payload if "update_id" in payload else {"update_id": next(self._update_ids), **payload}
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()
        return update

    async def _record(self, sent: SentMessage) -> None:
        async with self._changed:
            self.sent.append(sent)
            self._changed.notify_all()

    async def dispatch(self, request: Request) -> JSONResponse:
        token = request.path_params["token"]
        method = request.path_params["method"]
        if token != self.token:
            return _error(401, "Unauthorized")
        params = await _params(request)
        async with self._changed:
            self.calls.append((method, params))
            self._changed.notify_all()
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        flood = self.flooded.get(method.lower())
        if flood is not None and flood[0] > 0:
            self.flooded[method.lower()] = (flood[0] - 1, flood[1])
            return JSONResponse({"ok": False, "error_code": 429,  # PTB: RetryAfter
                                 "description": f"Too Many Requests: retry after {flood[1]}",
                                 "parameters": {"retry_after": flood[1]}}, status_code=429)
        plan = self.flaky.get(method.lower())
        if plan is not None and plan[0] > 0:
            plan[0] -= 1
        elif plan is not None and plan[1] > 0:
            plan[1] -= 1
            return _error(502, "Bad Gateway")  # PTB: NetworkError, a temporary failure
        result: JSONResponse = await handler(params)
        return result

    async def _api_getme(self, params: dict[str, Any]) -> JSONResponse:
        return _ok({"id": BOT_ID, "is_bot": True, "first_name": "DSR", "username": BOT_USERNAME,
                    "can_join_groups": False, "can_read_all_group_messages": False,
                    "supports_inline_queries": False})

    async def _api_getupdates(self, params: dict[str, Any]) -> JSONResponse:
        if self.webhook_url:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active; "
                               "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        async with self._changed:
            if offset:
                # As the real service: an offset confirms every update before it, for good.
                self._confirmed = max(self._confirmed, offset)
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                self._changed.notify_all()
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(lambda: bool(self.updates) or self._closing)
            except TimeoutError:
                pass
            return _ok(self.updates[:limit])

    async def _api_sendmessage(self, params: dict[str, Any]) -> JSONResponse:
        await self.send_gate.wait()
        chat_id = int(params["chat_id"])
        text = str(params["text"])
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        sent = SentMessage("sendMessage", chat_id, text, 100000 + next(self._message_ids),
                           params.get("reply_markup"))
        await self._record(sent)
        return _ok(self._message_json(sent))

    async def _api_senddocument(self, params: dict[str, Any]) -> JSONResponse:
        chat_id = int(params["chat_id"])
        upload = params.get("document")
        if not isinstance(upload, tuple):
            return _error(400, "Bad Request: there is no document in the request")
        sent = SentMessage("sendDocument", chat_id, str(params.get("caption") or ""),
                           100000 + next(self._message_ids), params.get("reply_markup"), document=upload)
        await self._record(sent)
        body = self._message_json(sent)
        body["document"] = {"file_id": f"BQAD-sent-{sent.message_id}",
                            "file_unique_id": f"s{sent.message_id}", "file_name": upload[0],
                            "file_size": len(upload[1])}
        return _ok(body)

    async def _api_editmessagetext(self, params: dict[str, Any]) -> JSONResponse:
        chat_id = int(params["chat_id"])
        message_id = int(params["message_id"])
        sent = SentMessage("editMessageText", chat_id, str(params["text"]), message_id,
                           params.get("reply_markup"))
        await self._record(sent)
        return _ok(self._message_json(sent))

    async def _api_answercallbackquery(self, params: dict[str, Any]) -> JSONResponse:
        self.answered_callbacks.append(str(params["callback_query_id"]))
        return _ok(True)

    async def _api_setwebhook(self, params: dict[str, Any]) -> JSONResponse:
        self.webhook_url = str(params["url"])
        return _ok(True)

    async def _api_deletewebhook(self, params: dict[str, Any]) -> JSONResponse:
        self.webhook_url = ""
        return _ok(True)

    @staticmethod
    def _message_json(sent: SentMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": {"id": sent.chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "DSR", "username": BOT_USERNAME},
            "text": sent.text,
        }
        if sent.reply_markup:
            body["reply_markup"] = sent.reply_markup
        return body


async def _params(request: Request) -> dict[str, Any]:
    """Bot API parameters: form fields whose values are JSON (strings stay strings), or a JSON body."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body: dict[str, Any] = await request.json()
        return body
    form = await request.form()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, UploadFile):  # a file sent with the call (sendDocument): (name, bytes)
            params[key] = (value.filename or "", await value.read())
            continue
        raw = str(value)
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": code, "description": description}, status_code=code)


@asynccontextmanager
async def running_fake_telegram(*, token: str = "123456:TEST-TOKEN") -> AsyncIterator[FakeTelegram]:
    """Start the fake on 127.0.0.1 with an OS-chosen port on the current loop; stop it after."""
    fake = FakeTelegram(token=token)
    app = Starlette(routes=[Route("/bot{token}/{method}", fake.dispatch, methods=["GET", "POST"])])
    # Bind first: the port is known before serving starts and early connections wait in the backlog.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield fake
    finally:
        server.should_exit = True
        # Wake long polls and held sends so the server can finish its in-flight requests.
        fake.send_gate.set()
        async with fake._changed:
            fake._closing = True
            fake._changed.notify_all()
        await task
        sock.close()
