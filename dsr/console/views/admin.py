"""Administration: see accounts and API tokens, disable an account, revoke a token.

Creating accounts and passwords stays on the command line (`dsr users`), where no password ever
passes through a web form.  Admins see no ticket content (need-to-know).
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response

from dsr.console.auth import end_user_sessions
from dsr.console.guard import Ctx
from dsr.store.models import ApiToken, User
from dsr.store.tickets.services import audit


def users_page(ctx: Ctx) -> Response:
    with ctx.services.sessions() as session:
        users = list(session.scalars(select(User).order_by(User.username)))
        tokens = list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))
        return ctx.render("admin_users.html", users=users, tokens=tokens)


def toggle_user(ctx: Ctx) -> Response:
    user_id = ctx.path_int("user_id")
    if user_id == ctx.user.user_id:
        return ctx.redirect("/admin/users", "Das eigene Konto kann hier nicht gesperrt werden.", "error")
    with ctx.services.sessions.begin() as session:
        user = session.get(User, user_id)
        if user is None:
            return ctx.not_found()
        user.disabled = not user.disabled
        name, disabled = user.username, user.disabled
        if disabled:
            end_user_sessions(session, user_id)
        audit(
            session,
            actor=ctx.actor,
            action="console.user_disabled" if disabled else "console.user_enabled",
            now=ctx.now,
            detail={"user_id": user_id},
        )
    return ctx.redirect("/admin/users", f"Konto {name} {'gesperrt' if disabled else 'entsperrt'}.")


def revoke_token(ctx: Ctx) -> Response:
    token_id = ctx.path_int("token_id")
    with ctx.services.sessions.begin() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            return ctx.not_found()
        token.revoked = True
        name = token.name
        audit(
            session,
            actor=ctx.actor,
            action="console.token_revoked",
            now=ctx.now,
            detail={"token_id": token_id},
        )
    return ctx.redirect("/admin/users", f"Token {name} widerrufen.")
