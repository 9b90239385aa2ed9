"""Login, logout, the user's own password and the role's start page.

The login is rate-limited per user name and per client address (LoginThrottle), answers the same
for unknown users and wrong passwords, and starts a fresh server-side session (no fixation).

A signed-in user changes their own password only with the current one: a stolen or forgotten
open session must not be enough to take the account over.  The check of the current password
counts against the same throttle keys as the login (user name, client address), so the form is
no second way to guess it; the new password follows the policy of `dsr users passwd`; every
session of the user ends, and this browser gets a fresh one.  An admin resets a forgotten
password with `dsr users passwd NAME` (no password passes through a web form of another person).
"""

from __future__ import annotations

import logging

from starlette.responses import RedirectResponse, Response

from dsr.console import csrf
from dsr.console.auth import (
    Role,
    WebSession,
    client_address,
    end_user_sessions,
    hash_password,
    new_secret,
    password_problem,
    same_secret,
)
from dsr.console.guard import Ctx
from dsr.console.labels import counted
from dsr.console.users import check_login
from dsr.store.models import User
from dsr.store.tickets.services import audit

log = logging.getLogger(__name__)

HOME: dict[Role, str] = {Role.DPO: "/queue", Role.MANAGER: "/board", Role.ADMIN: "/admin/users"}


def _safe_next(value: str) -> str | None:
    """Only a local absolute path may be a redirect target (no open redirect)."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value and "://" not in value:
        return value
    return None


def _login_page(ctx: Ctx, *, error: str | None = None, status_code: int = 200) -> Response:
    token = new_secret()
    response = ctx.render(
        "login.html",
        status_code=status_code,
        login_csrf=token,
        error=error,
        next=_safe_next(ctx.request.query_params.get("next", "") or ctx.field("next")) or "",
    )
    response.set_cookie(
        csrf.LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=ctx.services.settings.web_cookie_secure,
        path="/login",
    )
    return response


def login_form(ctx: Ctx) -> Response:
    web = ctx.services.web_sessions.get(ctx.request.cookies.get(ctx.services.cookie_name), now=ctx.now)
    if web is not None:
        return RedirectResponse(HOME[web.role], status_code=303)
    return _login_page(ctx)


def login_submit(ctx: Ctx) -> Response:
    services = ctx.services
    if not (
        csrf.origin_ok(ctx.request)
        and same_secret(csrf.form_token(ctx.form), ctx.request.cookies.get(csrf.LOGIN_COOKIE))
    ):
        return _login_page(
            ctx, error="Die Sicherheitsprüfung ist fehlgeschlagen. Bitte erneut versuchen.", status_code=403
        )
    username = ctx.field("username").lower()
    password = ctx.form.get("password")
    password = password if isinstance(password, str) else ""
    client = _client(ctx)
    keys = (f"user:{username}", f"addr:{client}")
    # The attempt is counted before the password is checked (atomically for both keys), so parallel
    # requests cannot test more passwords than the throttle allows.
    wait = services.throttle.reserve(keys, now=ctx.now)
    if wait is not None:
        log.warning("login throttled client=%s", client)
        seconds = max(1, int(wait.total_seconds()))
        return _login_page(
            ctx,
            status_code=429,
            error=f"Zu viele Fehlversuche. Bitte warten Sie {counted(seconds, 'Sekunde', 'Sekunden')} und "
                  "versuchen Sie es erneut.",
        )
    checked = check_login(services.sessions, username=username, password=password)
    with services.sessions.begin() as session:
        if checked is None:
            audit(
                session,
                actor="console:anonymous",
                action="console.login_failed",
                now=ctx.now,
                detail={"client": client},
            )
            log.info("login failed client=%s", client)
            return _login_page(ctx, status_code=401, error="Benutzername oder Passwort ist falsch.")
        user = session.get(User, checked.user_id)
        if user is not None:
            user.last_login_at = ctx.now
            if checked.new_hash is not None:
                user.password_hash = checked.new_hash
        audit(session, actor=f"console:{checked.username}", action="console.login", now=ctx.now)
        user_id, name, role = checked.user_id, checked.username, Role(checked.role)
    services.throttle.clear(keys[0])
    web = services.web_sessions.create(user_id=user_id, username=name, role=role, now=ctx.now)
    target = _safe_next(ctx.field("next")) or HOME[role]
    response = _with_session_cookie(ctx, RedirectResponse(target, status_code=303), web)
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
    return response


def _client(ctx: Ctx) -> str:
    trusted = frozenset(p.strip() for p in ctx.services.settings.web_trusted_proxies.split(",") if p.strip())
    return client_address(ctx.request.client.host if ctx.request.client else None,
                          ctx.request.headers.get("x-forwarded-for"), trusted)


def _with_session_cookie(ctx: Ctx, response: Response, web: WebSession) -> Response:
    response.set_cookie(
        ctx.services.cookie_name,
        web.handle,
        httponly=True,
        samesite="strict",
        secure=ctx.services.settings.web_cookie_secure,
        path="/",
        max_age=int(ctx.services.web_sessions.max_age.total_seconds()),
    )
    return response


def password_form(ctx: Ctx) -> Response:
    return ctx.render("account_password.html", error=None)


def _password_page(ctx: Ctx, error: str, status_code: int) -> Response:
    return ctx.render("account_password.html", status_code=status_code, error=error)


def password_submit(ctx: Ctx) -> Response:
    """Change the signed-in user's own password (current password required, throttled like the login)."""
    services, web = ctx.services, ctx.user
    current = ctx.form.get("current_password")
    new = ctx.form.get("new_password")
    repeat = ctx.form.get("new_password_repeat")
    current = current if isinstance(current, str) else ""
    new = new if isinstance(new, str) else ""
    problem = password_problem(new)
    if problem is None and new != repeat:
        problem = "Die beiden neuen Passwörter stimmen nicht überein."
    if problem is None and new == current:
        problem = "Das neue Passwort muss sich vom bisherigen unterscheiden."
    if problem is not None:
        return _password_page(ctx, problem, 400)
    client = _client(ctx)
    keys = (f"user:{web.username}", f"addr:{client}")
    wait = services.throttle.reserve(keys, now=ctx.now)
    if wait is not None:
        log.warning("password change throttled user_id=%s client=%s", web.user_id, client)
        seconds = max(1, int(wait.total_seconds()))
        text = (f"Zu viele Fehlversuche. Bitte warten Sie {counted(seconds, 'Sekunde', 'Sekunden')} und "
                "versuchen Sie es erneut.")
        return _password_page(ctx, text, 429)
    checked = check_login(services.sessions, username=web.username, password=current)
    if checked is None or checked.user_id != web.user_id:
        with services.sessions.begin() as session:
            audit(session, actor=ctx.actor, action="console.password_change_failed", now=ctx.now,
                  detail={"client": client})
        log.info("password change refused (wrong current password) user_id=%s", web.user_id)
        return _password_page(ctx, "Das bisherige Passwort ist falsch.", 401)
    new_hash = hash_password(new)  # argon2 outside the transaction
    with services.sessions.begin() as session:
        user = session.get(User, web.user_id)
        if user is None or user.disabled:
            return ctx.redirect("/login")
        user.password_hash = new_hash
        user.password_changed_at = ctx.now
        ended = end_user_sessions(session, web.user_id)
        audit(session, actor=ctx.actor, action="console.password_changed", now=ctx.now,
              reason="Passwort in der Konsole geändert", detail={"sessions_ended": ended})
    services.throttle.clear(keys[0])
    # Every session of the user is gone (other browsers are logged out); this one starts afresh.
    fresh = services.web_sessions.create(
        user_id=web.user_id, username=web.username, role=web.role, now=ctx.now)
    fresh.flashes.append(("ok", "Passwort geändert. Andere Anmeldungen dieses Kontos wurden beendet."))
    services.web_sessions.save_flashes(fresh)
    web.flashes.clear()
    return _with_session_cookie(ctx, RedirectResponse(HOME[web.role], status_code=303), fresh)


def logout(ctx: Ctx) -> Response:
    ctx.services.web_sessions.drop(ctx.user.handle)
    with ctx.services.sessions.begin() as session:
        audit(session, actor=ctx.actor, action="console.logout", now=ctx.now)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        ctx.services.cookie_name,
        path="/",
        secure=ctx.services.settings.web_cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return response


def home(ctx: Ctx) -> Response:
    return RedirectResponse(HOME[ctx.user.role], status_code=303)
