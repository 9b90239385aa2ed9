"""Console users and API tokens in the database (used by the console and `dsr users`).

Outcomes are return values: a `UserProblem` carries a German one-line explanation for the CLI or
the admin page.  Nothing here commits; the caller owns the transaction.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dsr.console.auth import (
    TOKEN_ROLES,
    USER_ROLES,
    Role,
    end_user_sessions,
    hash_password,
    hash_token,
    new_secret,
    password_needs_rehash,
    password_problem,
    verify_password,
)
from dsr.console.queries import ALL_CONTROLLERS
from dsr.store.models import ApiToken, User

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


@dataclass(frozen=True, slots=True)
class UserProblem:
    message: str


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def controllers_problem(controllers: Sequence[str], known: Collection[str] | None) -> UserProblem | None:
    """Why a grant of controllers is not acceptable: none at all, or a name that is not configured."""
    if not controllers:
        return UserProblem("Bitte mindestens einen Verantwortlichen angeben (oder ausdrücklich alle: *).")
    unknown = [c for c in controllers if c != ALL_CONTROLLERS and known is not None and c not in known]
    if unknown:
        return UserProblem(f"Unbekannte Verantwortliche: {', '.join(unknown)}.")
    return None


def add_user(
    session: Session, *, username: str, role: str, password: str, now: datetime, controllers: Sequence[str],
    known_controllers: Collection[str] | None = None,
) -> User | UserProblem:
    """Create an account bound to `controllers` (profile keys; ["*"] = all, explicitly)."""
    if not USERNAME_RE.fullmatch(username):
        return UserProblem(
            "Benutzername: 2-64 Zeichen, Kleinbuchstaben, Ziffern, Punkt, Bindestrich, Unterstrich."
        )
    if role not in {r.value for r in USER_ROLES}:
        return UserProblem(f"Unbekannte Rolle {role!r} (erlaubt: dpo, manager, admin).")
    if find_user(session, username) is not None:
        return UserProblem(f"Den Benutzer {username} gibt es schon.")
    problem = password_problem(password)
    if problem:
        return UserProblem(problem)
    grant = controllers_problem(controllers, known_controllers)
    if grant is not None:
        return grant
    user = User(
        username=username, role=role, password_hash=hash_password(password), disabled=False, created_at=now,
        controllers=sorted(set(controllers)),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, username: str, password: str,
                 now: datetime | None = None) -> User | UserProblem:
    """New password; with `now`, every console session of the user started before it ends."""
    user = find_user(session, username)
    if user is None:
        return UserProblem(f"Den Benutzer {username} gibt es nicht.")
    problem = password_problem(password)
    if problem:
        return UserProblem(problem)
    user.password_hash = hash_password(password)
    if now is not None:
        user.password_changed_at = now
    end_user_sessions(session, user.id)
    return user


def set_controllers(session: Session, *, username: str, controllers: Sequence[str],
                    known_controllers: Collection[str] | None = None) -> User | UserProblem:
    user = find_user(session, username)
    if user is None:
        return UserProblem(f"Den Benutzer {username} gibt es nicht.")
    problem = controllers_problem(controllers, known_controllers)
    if problem is not None:
        return problem
    if sorted(set(controllers)) != sorted(set(user.controllers or ())):
        end_user_sessions(session, user.id)
    user.controllers = sorted(set(controllers))
    return user


def set_role(session: Session, *, username: str, role: str) -> User | UserProblem:
    """Give a user another role; a change ends every console session of the user at once.

    The last enabled admin cannot lose the role: nobody could manage the accounts any more.
    """
    user = find_user(session, username)
    if user is None:
        return UserProblem(f"Den Benutzer {username} gibt es nicht.")
    if role not in {r.value for r in USER_ROLES}:
        return UserProblem(f"Unbekannte Rolle {role!r} (erlaubt: dpo, manager, admin).")
    if user.role == role:
        return user
    if user.role == Role.ADMIN.value and not user.disabled:
        admins = session.scalars(
            select(User.id).where(User.role == Role.ADMIN.value, User.disabled.is_(False)))
        if set(admins) == {user.id}:
            return UserProblem(f"{username} ist das einzige aktive Administrationskonto; die Rolle bleibt.")
    user.role = role
    end_user_sessions(session, user.id)
    return user


def set_disabled(session: Session, *, username: str, disabled: bool = True) -> User | UserProblem:
    user = find_user(session, username)
    if user is None:
        return UserProblem(f"Den Benutzer {username} gibt es nicht.")
    user.disabled = disabled
    if disabled:
        end_user_sessions(session, user.id)
    return user


@dataclass(frozen=True, slots=True)
class LoginCheck:
    """A verified login: who, as what (the password was checked outside any transaction)."""

    user_id: int
    username: str
    role: str
    new_hash: str | None  # a rehash with current parameters, to store


def check_login(sessions: sessionmaker[Session], *, username: str, password: str) -> LoginCheck | None:
    """The enabled user with this password, or None; same cost whether or not the name exists.

    The argon2 work runs between two short sessions, never inside a transaction: an anonymous
    login must not hold a database (on SQLite: the write) lock for the length of a hash.
    """
    with sessions() as session:
        user = find_user(session, username) if username else None
        found = (None if user is None
                 else (user.id, user.username, user.role, user.password_hash, user.disabled))
    ok = verify_password(found[3] if found else None, password)
    if found is None or not ok or found[4] or found[2] not in {r.value for r in USER_ROLES}:
        return None
    new_hash = hash_password(password) if password_needs_rehash(found[3]) else None
    return LoginCheck(found[0], found[1], found[2], new_hash)


def authenticate(session: Session, *, username: str, password: str, now: datetime) -> User | None:
    """The enabled user with this password, or None (same cost whether or not the name exists)."""
    user = find_user(session, username)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled or user.role not in {r.value for r in USER_ROLES}:
        return None
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


def create_token(
    session: Session, *, name: str, role: str, now: datetime, controllers: Sequence[str] = (),
    user_id: int | None = None, known_controllers: Collection[str] | None = None,
) -> tuple[ApiToken, str] | UserProblem:
    """Create an API token; the plain token is returned once and only its digest is stored.

    A token is bound to `controllers`, or owned by the user `user_id` (then it answers with that
    user's controllers and ends with the user).
    """
    if not name or len(name) > 100:
        return UserProblem("Der Token braucht einen Namen (höchstens 100 Zeichen).")
    if role not in {r.value for r in TOKEN_ROLES}:
        allowed = ", ".join(r.value for r in TOKEN_ROLES)
        return UserProblem(f"Unbekannte Token-Rolle {role!r} (erlaubt: {allowed}).")
    if user_id is None:
        grant = controllers_problem(controllers, known_controllers)
        if grant is not None:
            return grant
    plain = new_secret()
    token = ApiToken(name=name, token_hash=hash_token(plain), role=role, created_at=now, revoked=False,
                     controllers=sorted(set(controllers)), user_id=user_id)
    session.add(token)
    session.flush()
    return token, plain


def find_token(session: Session, plain: str) -> ApiToken | None:
    """The unrevoked token matching `plain` (looked up by digest, so no timing side channel)."""
    if not plain or len(plain) > 200:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if token is None or token.revoked or token.role not in {r.value for r in Role}:
        return None
    return token
