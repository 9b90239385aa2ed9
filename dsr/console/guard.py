"""Route guard: every console route states who may call it, and the guard enforces it.

`page()`, `api()`, `calendar()` and `public()` build the entries of the one route list in
`dsr.console.app`.  Each entry carries its access kind and roles, so a test can walk the whole URL
surface and prove that anonymous callers are sent to the login (pages) or get 401 (API), that
the wrong role gets 403 and that every POST without the CSRF token is refused.

Views are plain synchronous functions `view(ctx) -> Response`; the guard runs them in the thread
pool (SQLAlchemy is synchronous) after authentication, role check and CSRF check.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from dsr.config import Settings
from dsr.console import csrf
from dsr.console.auth import LoginThrottle, Role, SessionStore, WebSession
from dsr.console.queries import ControllerScope
from dsr.console.users import find_token
from dsr.controllers import ControllerProfile
from dsr.inbound import MessageSink
from dsr.store.models import User

log = logging.getLogger(__name__)
NO_CONTROLLERS = ControllerScope(frozenset())
BERLIN = ZoneInfo("Europe/Berlin")
MAX_FORM_BYTES = 512 * 1024


class Access(StrEnum):
    SESSION = "session"  # console page: login cookie, role, CSRF on POST
    TOKEN = "token"  # noqa: S105 - an access kind, not a secret; JSON API: Authorization: Bearer <token>
    CALENDAR = "calendar"  # iCalendar feed: the token is the secret part of the URL
    PUBLIC = "public"  # login form only


@dataclass(frozen=True)
class Services:
    """Everything a view may use; built once by `create_app`, no globals."""

    settings: Settings
    sessions: sessionmaker[Session]
    profiles: Mapping[str, ControllerProfile]
    clock: Callable[[], datetime]
    templates: Jinja2Templates
    web_sessions: SessionStore
    throttle: LoginThrottle
    # The service's own pipeline (template overrides, write gate, sender wake-up): quarantined
    # mail is reprocessed through it, never through a copy built here.
    sink: MessageSink

    @property
    def cookie_name(self) -> str:
        # The __Host- prefix makes the browser refuse the cookie unless Secure, Path=/, no Domain.
        return "__Host-dsr_session" if self.settings.web_cookie_secure else "dsr_session"


@dataclass(frozen=True, slots=True)
class TokenCaller:
    token_id: int
    name: str
    role: Role
    scope: ControllerScope = NO_CONTROLLERS


@dataclass
class Ctx:
    """One request as a view sees it."""

    request: Request
    services: Services
    now: datetime
    web: WebSession | None = None
    token: TokenCaller | None = None
    form: FormData = field(default_factory=FormData)
    body: dict[str, Any] = field(default_factory=dict)
    # The controllers the caller may see, read from the account or token on every request (so a
    # changed grant applies at once); nothing until the guard has authenticated the caller.
    scope: ControllerScope = NO_CONTROLLERS

    @property
    def today(self) -> date:
        """The Europe/Berlin calendar day: legal dates are Berlin days (docs/LEGAL-NOTES.md 2.3)."""
        return self.now.astimezone(BERLIN).date()

    @property
    def user(self) -> WebSession:
        """The logged-in console user (the guard guarantees one on session routes)."""
        if self.web is None:
            raise RuntimeError("this view needs a logged-in console user")
        return self.web

    @property
    def role(self) -> Role | None:
        if self.web is not None:
            return self.web.role
        return self.token.role if self.token is not None else None

    @property
    def actor(self) -> str:
        """Audit actor: who acted, through which door."""
        if self.web is not None:
            return f"console:{self.web.username}"
        if self.token is not None:
            return f"api:{self.token.name}"
        return "console:anonymous"

    def path_int(self, name: str) -> int:
        return int(self.request.path_params[name])

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default)
        return value.strip() if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def flash(self, message: str, level: str = "ok") -> None:
        if self.web is not None:
            self.web.flashes.append((level, message))

    def render(self, template: str, status_code: int = 200, **values: Any) -> Response:
        flashes: list[tuple[str, str]] = []
        if self.web is not None:
            flashes, self.web.flashes[:] = list(self.web.flashes), []
        context = {
            "web": self.web,
            "csrf_field": csrf.FIELD,
            "flashes": flashes,
            "now": self.now,
            "today": self.today,
            **values,
        }
        return self.services.templates.TemplateResponse(
            self.request, template, context, status_code=status_code
        )

    def redirect(self, url: str, message: str | None = None, level: str = "ok") -> Response:
        if message:
            self.flash(message, level)
        return RedirectResponse(url, status_code=303)

    def not_found(self) -> Response:
        return self.render(
            "error.html",
            status_code=404,
            title="Nicht gefunden",
            message="Diesen Eintrag gibt es nicht (mehr).",
        )

    def json(self, data: Any, status_code: int = 200) -> Response:
        return JSONResponse(data, status_code=status_code)


View = Callable[[Ctx], Response]


class GuardedRoute(Route):
    """A route that knows its access kind and the roles allowed to call it."""

    def __init__(
        self, path: str, view: View, *, access: Access, roles: Collection[Role], methods: Sequence[str],
        max_body: int = MAX_FORM_BYTES,
    ) -> None:
        self.access = access
        self.roles = frozenset(roles)
        self.view = view
        super().__init__(
            path,
            _guarded(view, access, self.roles),
            methods=list(methods),
            name=f"{view.__module__.rsplit('.', 1)[-1]}.{view.__name__}",
            max_body_size=max_body,
        )


def page(
    path: str, view: View, *, roles: Collection[Role], methods: Sequence[str] = ("GET",),
    max_body: int = MAX_FORM_BYTES,
) -> GuardedRoute:
    """`max_body`: larger only for a form that uploads a file (the reply editor's attachment, the
    manual intake's scanned letter)."""
    return GuardedRoute(path, view, access=Access.SESSION, roles=roles, methods=methods, max_body=max_body)


def api(path: str, view: View, *, roles: Collection[Role], methods: Sequence[str] = ("GET",)) -> GuardedRoute:
    return GuardedRoute(path, view, access=Access.TOKEN, roles=roles, methods=methods)


def calendar(path: str, view: View) -> GuardedRoute:
    return GuardedRoute(path, view, access=Access.CALENDAR, roles=(Role.CALENDAR,), methods=("GET",))


def public(path: str, view: View, *, methods: Sequence[str] = ("GET",)) -> GuardedRoute:
    return GuardedRoute(path, view, access=Access.PUBLIC, roles=(), methods=methods)


def _forbidden_page(ctx: Ctx, message: str) -> Response:
    return ctx.render("error.html", status_code=403, title="Keine Berechtigung", message=message)


def _lookup_token(services: Services, plain: str) -> TokenCaller | None:
    """The token's caller; a token owned by a user answers with that user's controllers."""
    with services.sessions() as session:
        token = find_token(session, plain)
        if token is None:
            return None
        grant = token.controllers or ()
        if token.user_id is not None:
            owner = session.get(User, token.user_id)
            if owner is None or owner.disabled:
                return None
            grant = owner.controllers or ()
        return TokenCaller(token.id, token.name, Role(token.role), ControllerScope.granted(grant))


def _guarded(view: View, access: Access, roles: frozenset[Role]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        services: Services = request.app.state.services
        ctx = Ctx(request=request, services=services, now=services.clock())
        if access is Access.PUBLIC:
            if request.method == "POST":
                ctx.form = await request.form()
            return await run_in_threadpool(view, ctx)
        if access is Access.SESSION:
            return await _session_endpoint(ctx, view, roles)
        if access is Access.CALENDAR:
            caller = await run_in_threadpool(
                _lookup_token, services, str(request.path_params.get("token", ""))
            )
            if caller is None:
                return Response(
                    "Unbekannter oder widerrufener Kalender-Link.\n",
                    status_code=401,
                    media_type="text/plain; charset=utf-8",
                )
            if caller.role not in roles:
                return Response(
                    "Dieser Token ist kein Kalender-Token.\n",
                    status_code=403,
                    media_type="text/plain; charset=utf-8",
                )
            ctx.token, ctx.scope = caller, caller.scope
            return await run_in_threadpool(view, ctx)
        return await _token_endpoint(ctx, view, roles)

    endpoint.__name__ = view.__name__
    return endpoint


async def _session_endpoint(ctx: Ctx, view: View, roles: frozenset[Role]) -> Response:
    request, services = ctx.request, ctx.services
    # The session store checks the account on every request (gone, disabled, other role or
    # controllers, new password: the session is over), so the grant below is the current one.
    web = await run_in_threadpool(
        services.web_sessions.get, request.cookies.get(services.cookie_name), now=ctx.now)
    if web is None:
        target = "/login"
        if request.method == "GET" and request.url.path != "/":
            target += "?next=" + quote(request.url.path, safe="/")
        return RedirectResponse(target, status_code=303)
    ctx.web = web
    ctx.scope = ControllerScope.granted(web.controllers)
    flashes = list(web.flashes)
    response = await _session_view(ctx, view, roles)
    if web.flashes != flashes:
        await run_in_threadpool(services.web_sessions.save_flashes, web)
    return response


async def _session_view(ctx: Ctx, view: View, roles: frozenset[Role]) -> Response:
    request, web = ctx.request, ctx.user
    if web.role not in roles:
        return await run_in_threadpool(
            _forbidden_page, ctx, "Diese Seite ist für Ihre Rolle nicht freigegeben."
        )
    if request.method == "POST":
        ctx.form = await request.form()
        if not csrf.valid(request, ctx.form, web.csrf):
            log.warning("csrf refused path=%s user_id=%s", request.url.path, web.user_id)
            return await run_in_threadpool(
                _forbidden_page,
                ctx,
                "Die Sicherheitsprüfung des Formulars ist fehlgeschlagen. Bitte laden Sie die Seite neu.",
            )
    return await run_in_threadpool(view, ctx)


async def _token_endpoint(ctx: Ctx, view: View, roles: frozenset[Role]) -> Response:
    request = ctx.request
    scheme, _, plain = request.headers.get("authorization", "").partition(" ")
    caller = None
    if scheme.lower() == "bearer" and plain.strip():
        caller = await run_in_threadpool(_lookup_token, ctx.services, plain.strip())
    if caller is None:
        return JSONResponse(
            {"error": "unauthorized", "detail": "Bearer-Token fehlt oder ist ungültig."},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="dsr"'},
        )
    ctx.token, ctx.scope = caller, caller.scope
    if caller.role not in roles:
        return JSONResponse(
            {"error": "forbidden", "detail": "Die Rolle des Tokens erlaubt das nicht."}, status_code=403
        )
    if request.method == "POST":
        try:
            body = json.loads(await request.body() or b"{}")
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "bad_request", "detail": "JSON-Objekt erwartet."}, status_code=400)
        ctx.body = body
    return await run_in_threadpool(view, ctx)
