"""The web console and JSON API: one explicit route list, one factory.

Every entry states who may call it (`page`: console roles with login and CSRF; `api`: bearer
token roles; `calendar`: the calendar token in the URL; `public`: the login form and the
data subject's download page, where the link token in the URL and a one-time code authenticate).  URLs
carry ticket ids and references, never names or addresses (they would land in logs and
browser histories).

One route is not in that list because its path is configuration: with DSR_TELEGRAM_WEBHOOK_URL
set, Telegram POSTs chat updates to that URL's path.  Telegram has no console login and cannot
echo a CSRF token; it authenticates with the secret it was given in setWebhook, sent back in
the X-Telegram-Bot-Api-Secret-Token header, which the endpoint requires (403 without it or with
a wrong one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dsr.config import Settings
from dsr.console import api, ical
from dsr.console.auth import LoginThrottle, Role, SessionStore
from dsr.console.guard import Services, page, public
from dsr.console.guard import api as api_route
from dsr.console.guard import calendar as calendar_route
from dsr.console.labels import FILTERS
from dsr.console.views import (
    admin,
    board,
    download,
    facts,
    fulfilment,
    ignored,
    intake,
    processor,
    quarantine,
    queue,
    session_views,
    ticket,
    ticket_actions,
)
from dsr.controllers import ControllerProfile
from dsr.fulfilment.uploads import MAX_UPLOAD_BYTES
from dsr.inbound import MessageSink

HERE = Path(__file__).parent
DPO, MANAGER, ADMIN = (Role.DPO,), (Role.MANAGER,), (Role.ADMIN,)
ANY_USER = (Role.DPO, Role.MANAGER, Role.ADMIN)
BOARD = ANY_USER  # deadline metadata: everyone with a console account
POST = ("POST",)
INTAKE_MAX_BYTES = 11 * 1024 * 1024  # a scanned letter of up to 10 MB plus the form
WEBHOOK_MAX_BYTES = 256 * 1024  # a Telegram update is a few KiB (messages are at most 4096 characters)
Endpoint = Callable[[Request], Awaitable[Response]]
UPLOAD_MAX_BYTES = MAX_UPLOAD_BYTES


def _ticket_post(suffix: str, view: Callable[..., Response]) -> BaseRoute:
    return page(f"/tickets/{{ticket_id:int}}/{suffix}", view, roles=DPO, methods=POST)


ROUTES: list[BaseRoute] = [
    public("/login", session_views.login_form),
    public("/login", session_views.login_submit, methods=POST),
    page("/logout", session_views.logout, roles=ANY_USER, methods=POST),
    page("/account/password", session_views.password_form, roles=ANY_USER),
    page("/account/password", session_views.password_submit, roles=ANY_USER, methods=POST),
    # The data subject's download of their package: the link token is the secret, a one-time
    # code to the verified contact the second factor (dsr.console.views.download).
    public("/download/{token}", download.download_page),
    public("/download/{token}/code", download.request_code, methods=POST),
    public("/download/{token}", download.download, methods=POST),
    page("/", session_views.home, roles=ANY_USER),
    # DPO: work list, tickets, manual intake, quarantine
    page("/queue", queue.queue_page, roles=DPO),
    page("/queue/search", queue.search, roles=DPO, methods=POST),
    page("/intake", intake.intake_form, roles=DPO),
    page("/intake", intake.intake_submit, roles=DPO, methods=POST, max_body=INTAKE_MAX_BYTES),
    page("/queue/bulk", queue.bulk, roles=DPO, methods=POST),
    page("/queue/views", queue.save_view, roles=DPO, methods=POST),
    page("/queue/views/{view_id:int}/delete", queue.delete_view, roles=DPO, methods=POST),
    page("/tickets/{ticket_id:int}", ticket.ticket_page, roles=DPO),
    _ticket_post("rights", ticket_actions.correct_rights_action),
    _ticket_post("identity", ticket_actions.identity_action),
    _ticket_post("relationships", ticket_actions.relationships_action),
    _ticket_post("question", ticket_actions.question_action),
    _ticket_post("extend/preview", ticket_actions.extend_preview),
    _ticket_post("extend", ticket_actions.extend_action),
    _ticket_post("reopen", ticket_actions.reopen_action),
    _ticket_post("letter", ticket_actions.letter_action),
    page("/tickets/{ticket_id:int}/letters/{letter_id:int}.pdf", ticket.letter_pdf, roles=DPO),
    page("/tickets/{ticket_id:int}/documents/{document_id:int}", ticket.document_download, roles=DPO),
    _ticket_post("dismiss-reason", ticket_actions.dismiss_reason_action),
    _ticket_post("pause", ticket_actions.pause_action),
    _ticket_post("resume", ticket_actions.resume_action),
    _ticket_post("draft", ticket_actions.draft_save_action),
    _ticket_post("draft/template", ticket_actions.draft_template_action),
    _ticket_post("send", ticket_actions.send_action),
    _ticket_post("close", ticket_actions.close_action),
    _ticket_post("notes", ticket_actions.note_action),
    _ticket_post("breach", ticket_actions.breach_action),
    _ticket_post("assign", ticket_actions.assign_action),
    _ticket_post("processor/preview", processor.forward_preview),
    _ticket_post("processor/forward", processor.forward_action),
    _ticket_post("processor/revert", processor.revert_action),
    _ticket_post("processor/confirm", processor.confirm_action),
    # Fulfilment (dsr.fulfilment): discovery results, review, package, erasure plan, proof
    page("/tickets/{ticket_id:int}/fulfilment", fulfilment.fulfilment_page, roles=DPO),
    _ticket_post("fulfilment/discover", fulfilment.discover_action),
    _ticket_post("fulfilment/exclude", fulfilment.exclude_action),
    _ticket_post("fulfilment/include", fulfilment.include_action),
    _ticket_post("fulfilment/manual", fulfilment.manual_action),
    _ticket_post("fulfilment/deliver", fulfilment.deliver_action),
    _ticket_post("fulfilment/execute", fulfilment.execute_action),
    page("/tickets/{ticket_id:int}/fulfilment/upload", fulfilment.upload_action, roles=DPO, methods=POST,
         max_body=UPLOAD_MAX_BYTES + 64 * 1024),
    page("/ignored", ignored.ignored_list, roles=DPO),
    page("/ignored/search", ignored.ignored_search, roles=DPO, methods=POST),
    page("/ignored/{message_id:int}", ignored.ignored_item, roles=DPO),
    page("/ignored/{message_id:int}/ticket", ignored.ignored_to_ticket, roles=DPO, methods=POST),
    page("/quarantine", quarantine.quarantine_list, roles=DPO),
    page("/quarantine/{item_id:int}", quarantine.quarantine_item, roles=DPO),
    page("/quarantine/{item_id:int}/process", quarantine.quarantine_process, roles=DPO, methods=POST),
    page("/quarantine/{item_id:int}/handled", quarantine.quarantine_handled, roles=DPO, methods=POST),
    page("/quarantine/{item_id:int}/discard", quarantine.quarantine_discard, roles=DPO, methods=POST),
    # Managers (and everyone with an account): deadlines, metadata only
    page("/board", board.board_page, roles=BOARD),
    page("/board/export.csv", board.export_csv, roles=BOARD),
    page("/board/digest", board.send_digest, roles=(Role.MANAGER, Role.DPO), methods=POST),
    page("/board/calendar", board.calendar_subscribe, roles=BOARD, methods=POST),
    calendar_route("/calendar/{token}.ics", ical.calendar_feed),
    # Profile facts the notices do not contain: DPOs confirm them, admins may look
    page("/facts", facts.facts_page, roles=(Role.DPO, Role.ADMIN)),
    page("/facts/confirm", facts.confirm_action, roles=DPO, methods=POST),
    # Administration
    page("/admin/users", admin.users_page, roles=ADMIN),
    page("/admin/users/{user_id:int}/toggle", admin.toggle_user, roles=ADMIN, methods=POST),
    page("/admin/tokens/{token_id:int}/revoke", admin.revoke_token, roles=ADMIN, methods=POST),
    # JSON API (bearer tokens)
    api_route(
        "/api/openapi.json",
        api.openapi_document,
        roles=(Role.DPO, Role.MANAGER, Role.ADMIN, Role.SUPPRESSION),
    ),
    api_route("/api/tickets", api.list_tickets, roles=(Role.DPO, Role.MANAGER, Role.ADMIN)),
    api_route("/api/tickets/{reference}", api.ticket_detail, roles=(Role.DPO, Role.MANAGER)),
    api_route("/api/tickets/{reference}/extend", api.extend_ticket, roles=DPO, methods=POST),
    api_route("/api/tickets/{reference}/close", api.close_ticket, roles=DPO, methods=POST),
    api_route("/api/tickets/{reference}/notes", api.add_ticket_note, roles=DPO, methods=POST),
    api_route("/api/deadlines", api.deadlines, roles=(Role.DPO, Role.MANAGER, Role.ADMIN)),
    api_route(
        "/api/suppression/check", api.suppression_check, roles=(Role.SUPPRESSION, Role.DPO), methods=POST
    ),
    api_route("/api/suppression/export", api.suppression_export, roles=(Role.SUPPRESSION, Role.DPO)),
    Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class SecurityHeaders:
    """Headers for every response: no framing, no sniffing, no referrer, strict CSP, no caching."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"content-security-policy", CSP.encode()),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                if not static and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers + [(k, v) for k, v in extra if k not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return Jinja2Templates(env=env)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    text = {404: "Nicht gefunden.", 405: "Methode nicht erlaubt.", 413: "Anfrage zu groß."}.get(
        status, "Fehler."
    )
    return PlainTextResponse(text + "\n", status_code=status)


def create_app(
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    profiles: Mapping[str, ControllerProfile],
    clock: Callable[[], datetime],
    sink: MessageSink,
    session_store: SessionStore | None = None,
    throttle: LoginThrottle | None = None,
    telegram_webhook: Endpoint | None = None,
) -> Starlette:
    """Build the console; `dsr serve` runs it under uvicorn in the service's event loop.

    `sink` is the service's pipeline, as the channels have it; the console hands reprocessed
    quarantine items to it.  `telegram_webhook` (from `dsr.channels.telegram.adapter.webhook_endpoint`)
    is served on the path of DSR_TELEGRAM_WEBHOOK_URL when that is set.
    """
    services = Services(
        settings=settings,
        sessions=sessions,
        profiles=profiles,
        clock=clock,
        templates=_templates(),
        web_sessions=session_store or SessionStore(sessions),
        throttle=throttle or LoginThrottle(sessions),
        sink=sink,
    )
    routes = list(ROUTES)
    if settings.telegram_webhook_url and telegram_webhook is not None:
        routes.insert(0, telegram_webhook_route(settings.telegram_webhook_url, telegram_webhook))
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.services = services
    app.add_middleware(SecurityHeaders, hsts=settings.web_cookie_secure)
    return app


def telegram_webhook_route(url: str, endpoint: Endpoint) -> Route:
    """POST-only route on the path of the public webhook URL (no login, no CSRF: see above)."""
    path = urlsplit(url).path.rstrip("/")
    taken = {getattr(r, "path", "") for r in ROUTES}
    if not path or path in taken or path.startswith(("/static/", "/api/")):
        raise ValueError(f"DSR_TELEGRAM_WEBHOOK_URL: the path {path or '/'!r} is used by the console; "
                         "choose its own path, e.g. https://dsr.example.org/telegram/<random>")
    return Route(path, endpoint, methods=["POST"], name="telegram_webhook", max_body_size=WEBHOOK_MAX_BYTES)
