"""Authentication building blocks: argon2 passwords, API tokens, console sessions, login throttle.

Why this shape (Art. 32 GDPR, security of processing): the console shows special-category data
and decides on statutory deadlines, so access is personal (one account per person), passwords are
stored only as argon2id hashes, API tokens only as SHA-256 digests (they are 256-bit random, a slow
hash adds nothing), and a console session lives on the server only, in the database: the cookie
carries a random handle (stored as its digest), so logging out, disabling a user, a new password or
another role or grant ends the session at once, while a restart ends none.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from dsr.store.models import ConsoleSession, ThrottleKey, User


class Role(StrEnum):
    """Console and API roles (need-to-know: only the DPO sees bodies and contact details)."""

    DPO = "dpo"
    MANAGER = "manager"
    ADMIN = "admin"
    # API-token-only roles with a single narrow purpose.
    SUPPRESSION = "suppression"  # a CRM or newsletter tool asking "may we send marketing?"
    CALENDAR = "calendar"  # the iCalendar feed of due dates, nothing else


USER_ROLES: tuple[Role, ...] = (Role.DPO, Role.MANAGER, Role.ADMIN)
TOKEN_ROLES: tuple[Role, ...] = tuple(Role)

MIN_PASSWORD_LENGTH = 12
SESSION_IDLE = timedelta(minutes=30)
SESSION_MAX_AGE = timedelta(hours=10)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_dummy_hash: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check `password`; with no stored hash, burn the same time so user names cannot be probed."""
    global _dummy_hash
    if stored_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_hex(16))
        stored_hash = _dummy_hash
        password = password + "\x00unknown"
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def password_problem(password: str) -> str | None:
    """German explanation why a password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen lang sein."
    if password.strip() != password:
        return "Das Passwort darf nicht mit Leerzeichen beginnen oder enden."
    return None


def new_secret() -> str:
    """A URL-safe random secret (256 bits) for session handles, CSRF and API tokens."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time comparison; an absent value never matches."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(slots=True)
class WebSession:
    """One logged-in browser; `csrf` is the synchronizer token every state change must echo."""

    handle: str
    user_id: int
    username: str
    role: Role
    csrf: str
    created_at: datetime
    last_seen: datetime
    controllers: tuple[str, ...] = ()  # the grant at login ("*" = all)
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (level, German message)


def end_user_sessions(session: Session, user_id: int) -> int:
    """End every console session of a user in the caller's transaction; returns how many."""
    result = session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def _grant(controllers: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(sorted(set(controllers or ())))


@dataclass
class SessionStore:
    """Console sessions in the database (`ConsoleSession`), with an idle timeout and an absolute lifetime.

    A session survives a restart and is valid on every `dsr serve` of one database.  It ends on
    logout, after `idle` without a request or `max_age` after login, and as soon as its user is
    gone, disabled, has another role or other controllers, or changed the password after the login
    (checked on every request; `dsr users` and the admin page also delete the rows at once).
    `last_seen` is written at most every `touch_every`, not on every request.
    """

    sessions: sessionmaker[Session]
    idle: timedelta = SESSION_IDLE
    max_age: timedelta = SESSION_MAX_AGE
    touch_every: timedelta = timedelta(minutes=1)

    def create(self, *, user_id: int, username: str, role: Role, now: datetime) -> WebSession:
        handle, token = new_secret(), new_secret()
        with self.sessions.begin() as session:
            user = session.get(User, user_id)
            controllers = _grant(user.controllers if user is not None else ())
            session.execute(delete(ConsoleSession).where(
                (ConsoleSession.expires_at <= now) | (ConsoleSession.last_seen <= now - self.idle)))
            session.add(ConsoleSession(
                handle_hash=hash_token(handle), user_id=user_id, username=username, role=role.value,
                controllers=list(controllers), csrf=token, created_at=now, last_seen=now,
                expires_at=now + self.max_age, flashes=[],
            ))
        return WebSession(handle, user_id, username, role, token, now, now, controllers)

    def get(self, handle: str | None, *, now: datetime) -> WebSession | None:
        """The live session for `handle`; an expired one, or one whose user changed, is deleted."""
        if not handle or len(handle) > 200:
            return None
        with self.sessions.begin() as session:
            digest = hash_token(handle)
            row = session.scalar(select(ConsoleSession).where(ConsoleSession.handle_hash == digest))
            if row is None:
                return None
            if now >= row.expires_at or now - row.last_seen > self.idle:
                session.delete(row)
                return None
            if _user_changed(session.get(User, row.user_id), row):
                end_user_sessions(session, row.user_id)
                return None
            if now - row.last_seen >= self.touch_every:
                row.last_seen = now
            return WebSession(
                handle, row.user_id, row.username, Role(row.role), row.csrf, row.created_at, row.last_seen,
                _grant(row.controllers), [(str(level), str(text)) for level, text in row.flashes or []],
            )

    def save_flashes(self, web: WebSession) -> None:
        """Keep the session's pending notices for the next page."""
        with self.sessions.begin() as session:
            session.execute(update(ConsoleSession).where(ConsoleSession.handle_hash == hash_token(web.handle))
                            .values(flashes=[list(f) for f in web.flashes]))

    def drop(self, handle: str) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.handle_hash == hash_token(handle)))

    def drop_user(self, user_id: int) -> int:
        """End every session of a user (disabled, password changed); returns how many."""
        with self.sessions.begin() as session:
            return end_user_sessions(session, user_id)


def _user_changed(user: User | None, row: ConsoleSession) -> bool:
    """Whether the session's grant no longer holds: user gone, disabled, other role or controllers,
    or a password set after the login."""
    if user is None or user.disabled or user.role != row.role:
        return True
    if _grant(user.controllers) != _grant(row.controllers):
        return True
    return user.password_changed_at is not None and user.password_changed_at > row.created_at


@dataclass
class LoginThrottle:
    """Login attempts per key (user name, client address), counted in the database (`ThrottleKey`).

    Online password guessing is the realistic attack on a small console.  `reserve` counts an
    attempt for every key atomically *before* the slow hash, in its own short transaction that
    locks the keys' rows, so concurrent requests, also of several `dsr serve` on one database,
    cannot all slip through between "is it blocked?" and "count the failure" (the review: 60
    parallel logins, 32 password checks).  The hash itself runs outside any transaction.  `free`
    attempts per window are free; after that each key backs off: the next attempt is allowed only
    `base * 2^(n - free)` after the previous one (at most `cap`), so a named user is slowed down,
    never locked out for good, and a correct login ends the backoff of its user name.
    """

    sessions: sessionmaker[Session]
    free: int = 5
    window: timedelta = timedelta(minutes=15)
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)

    def _wait(self, row: ThrottleKey, now: datetime) -> timedelta:
        if now - row.window_start >= self.window or row.attempts < self.free:
            return timedelta(0)
        delay: timedelta = min(self.base * (2 ** (row.attempts - self.free)), self.cap)
        return max(timedelta(0), row.last_at + delay - now)

    def _locked_rows(self, session: Session, digests: list[str], now: datetime) -> list[ThrottleKey]:
        """The keys' rows, created if new and locked (PostgreSQL: FOR UPDATE; SQLite: the write lock
        every transaction takes at BEGIN IMMEDIATE)."""
        dialect = session.get_bind().dialect.name
        values = [{"key_hash": d, "window_start": now, "attempts": 0, "last_at": now} for d in digests]
        if dialect == "postgresql":
            session.execute(postgresql.insert(ThrottleKey).values(values).on_conflict_do_nothing())
        else:
            session.execute(sqlite.insert(ThrottleKey).values(values).on_conflict_do_nothing())
        query = (select(ThrottleKey).where(ThrottleKey.key_hash.in_(digests)).order_by(ThrottleKey.key_hash)
                 .with_for_update().execution_options(populate_existing=True))
        return list(session.scalars(query))

    def reserve(self, keys: tuple[str, ...], *, now: datetime) -> timedelta | None:
        """Count an attempt for every key, or return how long to wait (nothing counted then)."""
        digests = sorted({hash_token(k) for k in keys})
        if not digests:
            return None
        with self.sessions.begin() as session:
            session.execute(delete(ThrottleKey).where(ThrottleKey.last_at < now - self.window - self.cap))
            rows = self._locked_rows(session, digests, now)
            wait = max((self._wait(row, now) for row in rows), default=timedelta(0))
            if wait > timedelta(0):
                return wait
            for row in rows:
                if now - row.window_start >= self.window:
                    row.window_start, row.attempts = now, 0
                row.attempts += 1
                row.last_at = now
            return None

    def blocked(self, key: str, *, now: datetime) -> bool:
        with self.sessions() as session:
            row = session.get(ThrottleKey, hash_token(key))
            return row is not None and self._wait(row, now) > timedelta(0)

    def clear(self, key: str) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(ThrottleKey).where(ThrottleKey.key_hash == hash_token(key)))


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: frozenset[str]) -> str:
    """The client's address: the socket peer, or, when the peer is a trusted proxy, the last address
    in X-Forwarded-For that is not itself a trusted proxy (the one the proxy saw)."""
    address = peer or "unknown"
    if address not in trusted_proxies or not forwarded_for:
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if hop not in trusted_proxies:
            return hop
    return address
