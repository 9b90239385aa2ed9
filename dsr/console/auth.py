"""Authentication building blocks: argon2 passwords, API tokens, console sessions, login throttle.

Why this shape (Art. 32 GDPR, security of processing): the console shows special-category data
and decides on statutory deadlines, so access is personal (one account per person), passwords are
stored only as argon2id hashes, API tokens only as SHA-256 digests (they are 256-bit random, a slow
hash adds nothing), and a console session lives on the server only: the cookie carries a random
handle, so logging out or disabling a user ends the session at once and a restart ends them all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


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
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (level, German message)


@dataclass
class SessionStore:
    """Server-side console sessions with an idle timeout and an absolute lifetime."""

    idle: timedelta = SESSION_IDLE
    max_age: timedelta = SESSION_MAX_AGE
    _sessions: dict[str, WebSession] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, *, user_id: int, username: str, role: Role, now: datetime) -> WebSession:
        session = WebSession(new_secret(), user_id, username, role, new_secret(), now, now)
        with self._lock:
            self._sessions[session.handle] = session
        return session

    def get(self, handle: str | None, *, now: datetime) -> WebSession | None:
        """The live session for `handle`, touching it; expired sessions are removed."""
        if not handle:
            return None
        with self._lock:
            session = self._sessions.get(handle)
            if session is None:
                return None
            if now - session.last_seen > self.idle or now - session.created_at > self.max_age:
                del self._sessions[handle]
                return None
            session.last_seen = now
            return session

    def drop(self, handle: str) -> None:
        with self._lock:
            self._sessions.pop(handle, None)

    def drop_user(self, user_id: int) -> int:
        """End every session of a user (disabled, password changed); returns how many."""
        with self._lock:
            doomed = [h for h, s in self._sessions.items() if s.user_id == user_id]
            for handle in doomed:
                del self._sessions[handle]
        return len(doomed)


@dataclass
class LoginThrottle:
    """Login attempts per key (user name, client address): reserved before the password is checked.

    Online password guessing is the realistic attack on a small console.  `reserve` counts an
    attempt for every key atomically *before* the slow hash, so concurrent requests cannot all slip
    through between "is it blocked?" and "count the failure" (the review: 60 parallel logins, 32
    password checks).  `free` attempts per window are free; after that each key backs off: the next
    attempt is allowed only `base * 2^(n - free)` after the previous one (at most `cap`), so a named
    user is slowed down, never locked out for good, and a correct login ends the backoff of its
    user name.
    """

    free: int = 5
    window: timedelta = timedelta(minutes=15)
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)
    _attempts: dict[str, list[datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: datetime) -> list[datetime]:
        recent = [t for t in self._attempts.get(key, []) if now - t < self.window]
        if recent:
            self._attempts[key] = recent
        else:
            self._attempts.pop(key, None)
        return recent

    def _wait(self, key: str, now: datetime) -> timedelta:
        recent = self._recent(key, now)
        if len(recent) < self.free:
            return timedelta(0)
        delay: timedelta = min(self.base * (2 ** (len(recent) - self.free)), self.cap)
        left: timedelta = recent[-1] + delay - now
        return max(timedelta(0), left)

    def reserve(self, keys: tuple[str, ...], *, now: datetime) -> timedelta | None:
        """Count an attempt for every key, or return how long to wait (nothing counted then)."""
        with self._lock:
            wait = max((self._wait(k, now) for k in keys), default=timedelta(0))
            if wait > timedelta(0):
                return wait
            for key in keys:
                self._attempts.setdefault(key, []).append(now)
            return None

    def blocked(self, key: str, *, now: datetime) -> bool:
        with self._lock:
            return self._wait(key, now) > timedelta(0)

    def clear(self, key: str) -> None:
        with self._lock:
            self._attempts.pop(key, None)


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
