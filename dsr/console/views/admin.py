"""Administration: see accounts and API tokens, disable an account, revoke a token.

Creating accounts and passwords stays on the command line (`dsr users`), where no password ever
passes through a web form.  Admins see no ticket content (need-to-know).

Group companies are separate legal entities, so an admin bound to some controllers manages only
the accounts and tokens bound to those controllers alone; an account or token of another
controller, or one granted all controllers, is managed only by an admin granted all controllers
explicitly ("*").  Everything else answers as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from dsr.console.auth import end_user_sessions
from dsr.console.guard import Ctx
from dsr.console.queries import ControllerScope
from dsr.store.models import ApiToken, User
from dsr.store.tickets.services import audit


def manages(scope: ControllerScope, grant: Sequence[str]) -> bool:
    """Whether an admin with `scope` may manage an account or token granted `grant`."""
    granted = ControllerScope.granted(grant)
    if scope.controllers is None:
        return True
    if granted.controllers is None:
        return False
    return bool(granted.controllers) and granted.controllers <= scope.controllers


def _token_grant(session: Session, token: ApiToken) -> list[str]:
    """A token answers with its owner's controllers when a user owns it."""
    if token.user_id is not None:
        owner = session.get(User, token.user_id)
        return list(owner.controllers or ()) if owner is not None else []
    return list(token.controllers or ())


def users_page(ctx: Ctx) -> Response:
    with ctx.services.sessions() as session:
        users = [u for u in session.scalars(select(User).order_by(User.username))
                 if manages(ctx.scope, u.controllers or ())]
        tokens = [t for t in session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc()))
                  if manages(ctx.scope, _token_grant(session, t))]
        return ctx.render("admin_users.html", users=users, tokens=tokens)


def toggle_user(ctx: Ctx) -> Response:
    user_id = ctx.path_int("user_id")
    if user_id == ctx.user.user_id:
        return ctx.redirect("/admin/users", "Das eigene Konto kann hier nicht gesperrt werden.", "error")
    with ctx.services.sessions.begin() as session:
        user = session.get(User, user_id)
        if user is None or not manages(ctx.scope, user.controllers or ()):
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
        if token is None or not manages(ctx.scope, _token_grant(session, token)):
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
