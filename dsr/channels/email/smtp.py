"""Our own SMTP endpoint (aiosmtpd): the request addresses of the controller profiles, nothing else.

A request counts as received when it reaches the controller (Art. 12(3) GDPR: the month runs
from receipt), so the server must never lose one: it answers 250 only after the pipeline has
committed the message, and 451 on any failure so the sending MTA keeps it and retries.  Unknown
recipients are refused at RCPT time, not bounced later (no backscatter, Mailman #14).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthenticatorType, AuthResult, Envelope, LoginPassword, Session
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dsr.controllers.profile import ControllerProfile
from dsr.inbound import MessageSink, Outcome
from dsr.logs import mask_address
from dsr.mail.address import normalize_address
from dsr.mail.parse import UnparseableMessage, parse_email

log = logging.getLogger(__name__)

SMTP_RECIPIENT_OK = "250 2.1.5 Recipient OK"
SMTP_ACCEPTED = "250 2.0.0 Message accepted"
SMTP_UNKNOWN_RECIPIENT = "550 5.1.1 Recipient address rejected: not a request address here"
SMTP_ONE_CONTROLLER = "452 4.5.3 Too many recipients: send one message per controller"
SMTP_TRY_LATER = "451 4.3.0 Temporary failure, please try again later"
SMTP_TOO_MANY_SESSIONS = b"421 4.7.0 Too many connections, please try again later\r\n"
# Messages above this size are parsed one at a time: four simultaneous 20 MB mails must not
# take the memory of four (issue 18); small ones, nearly all requests, are not held up.
LARGE_MESSAGE_BYTES = 1024 * 1024
# Real mail clients exceed RFC 5321's 1000-octet line limit (unwrapped HTML); we accept such
# lines rather than refuse a request over it.  Memory stays bounded by the message size limit.
LONG_LINE_LIMIT = 1024 * 1024


class SessionSlots:
    """How many SMTP sessions are open; a session over the limit is refused with 421."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    def take(self) -> bool:
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def give_back(self) -> None:
        self.active -= 1


class _TolerantSMTP(SMTP):
    line_length_limit = LONG_LINE_LIMIT


class _LimitedSMTP(_TolerantSMTP):
    """`_TolerantSMTP` that counts its session against `SessionSlots` (the event loop's thread only)."""

    def __init__(self, *args: Any, slots: SessionSlots, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = slots
        self._slot_state = "new"  # new -> counted | refused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._slot_state == "new":  # not again on STARTTLS, which calls this a second time
            if not self._slots.take():
                self._slot_state = "refused"
                log.warning("SMTP session refused: %d sessions open (DSR_SMTP_MAX_SESSIONS)",
                            self._slots.active)
                if isinstance(transport, asyncio.WriteTransport):
                    transport.write(SMTP_TOO_MANY_SESSIONS)
                transport.close()
                return
            self._slot_state = "counted"
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._slot_state == "refused":
            return
        if self._slot_state == "counted":
            self._slot_state = "done"
            self._slots.give_back()
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if self._slot_state != "refused":
            super().data_received(data)

    def eof_received(self) -> bool | None:
        if self._slot_state == "refused":
            return None
        return super().eof_received()


class SmtpHandler:
    """The aiosmtpd handler: maps recipients to controllers and hands each message to the sink."""

    def __init__(
        self, *, sink: MessageSink, profiles: Mapping[str, ControllerProfile], clock: Callable[[], datetime],
        time_budget: float = 20.0,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._time_budget = time_budget
        self._large = asyncio.Semaphore(1)
        self._controller_of = {
            normalize_address(str(address)): key
            for key, profile in profiles.items()
            for address in profile.request_addresses
        }

    async def handle_RCPT(  # noqa: N802 - aiosmtpd finds hooks by this name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        controller = self._controller_of.get(normalize_address(address))
        if controller is None:
            log.info("RCPT refused for %s", mask_address(address))
            return SMTP_UNKNOWN_RECIPIENT
        if envelope.rcpt_tos and self._controller_of[normalize_address(envelope.rcpt_tos[0])] != controller:
            return SMTP_ONE_CONTROLLER  # one message feeds one controller's pipeline
        envelope.rcpt_tos.append(address)
        return SMTP_RECIPIENT_OK

    async def handle_DATA(  # noqa: N802 - aiosmtpd finds hooks by this name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        recipient = envelope.rcpt_tos[0]
        controller = self._controller_of[normalize_address(recipient)]
        received_at = self._clock()
        correlation = secrets.token_hex(4)
        try:
            if len(raw) > LARGE_MESSAGE_BYTES:
                async with self._large:
                    outcome = await asyncio.to_thread(
                        self._commit, raw, controller, recipient, envelope.mail_from or "", received_at
                    )
            else:
                outcome = await asyncio.to_thread(
                    self._commit, raw, controller, recipient, envelope.mail_from or "", received_at
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the one boundary catch: whatever failed, the sender must retry
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
            # The exception text may quote personal data (SQL parameters): type and place only.
            log.error(
                "smtp[%s] message for %s from %s not committed (%s at %s); answered 451",
                correlation, controller, mask_address(envelope.mail_from), type(exc).__name__, where,
            )  # fmt: skip
            return SMTP_TRY_LATER
        log.info(
            "smtp[%s] message for %s from %s committed: %s %s",
            correlation, controller, mask_address(envelope.mail_from), outcome.status,
            outcome.ticket_reference or "-",
        )  # fmt: skip
        return SMTP_ACCEPTED

    def _commit(
        self, raw: bytes, controller: str, recipient: str, mail_from: str, received_at: datetime
    ) -> Outcome:
        started = time.monotonic()
        try:
            msg = parse_email(
                raw,
                controller=controller,
                recipient=recipient,
                received_at=received_at,
                envelope_sender=mail_from,
            )
        except UnparseableMessage as exc:
            # Accepted (250) once quarantined: the DPO sees it, and a bounce would not help.  The
            # envelope sender is kept as Return-Path, as a final delivery does (RFC 5321 4.4).
            stamped = b"Return-Path: <" + mail_from.encode("utf-8", "replace") + b">\r\n" + raw
            return self._sink.quarantine(
                controller=controller, channel="email", raw=stamped, reason=exc.reason
            )
        spent = time.monotonic() - started
        if spent > self._time_budget:
            # The time budget: a message this costly is kept for the DPO instead of run further.
            return self._sink.quarantine(controller=controller, channel="email", raw=raw,
                                         reason=f"zu aufwendig (Zerlegen dauerte {spent:.0f} s)")
        return self._sink.handle(msg)


class PasswordFileAuthenticator:
    """AUTH PLAIN/LOGIN against "user:argon2hash" lines (Settings.smtp_auth_users)."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))  # uniform timing for unknown users

    @classmethod
    def from_file(cls, path: Path) -> PasswordFileAuthenticator:
        users: dict[str, str] = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user or not hashed.startswith("$argon2"):
                raise ValueError(f"{path}: line {number} is not 'user:argon2hash'")
            users[user] = hashed
        return cls(users)

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        try:
            self._hasher.verify(self._users.get(user, self._dummy_hash), auth_data.password)
        except (VerificationError, InvalidHashError):
            log.warning("SMTP AUTH failed for user %s", mask_address(user))
            return AuthResult(success=False, handled=False)
        return AuthResult(success=user in self._users, handled=False, auth_data=user)


def tls_context_from_files(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context for STARTTLS (Settings.smtp_tls_cert / smtp_tls_key)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context


async def start_smtp_server(
    *,
    handler: MessageSink,
    profiles: Mapping[str, ControllerProfile],
    host: str,
    port: int,
    max_size: int,
    tls_context: ssl.SSLContext | None = None,
    require_starttls: bool = False,
    authenticator: AuthenticatorType | None = None,
    clock: Callable[[], datetime] | None = None,
    hostname: str | None = None,
    max_sessions: int = 32,
    time_budget: float = 20.0,
) -> asyncio.Server:
    """Listen on host:port (0 = any free port; read it from `server.sockets[0]`).  With an
    `authenticator`, every client must AUTH, which is only offered after STARTTLS."""
    if authenticator is not None and tls_context is None:
        raise ValueError("SMTP AUTH needs STARTTLS: configure DSR_SMTP_TLS_CERT and DSR_SMTP_TLS_KEY")
    loop = asyncio.get_running_loop()
    adapter = SmtpHandler(sink=handler, profiles=profiles, clock=clock or (lambda: datetime.now(UTC)),
                          time_budget=time_budget)
    slots = SessionSlots(max_sessions)
    fqdn = hostname or await asyncio.to_thread(socket.getfqdn)

    def protocol() -> SMTP:
        return _LimitedSMTP(
            adapter,
            slots=slots,
            data_size_limit=max_size,
            enable_SMTPUTF8=True,
            hostname=fqdn,
            tls_context=tls_context,
            require_starttls=require_starttls and tls_context is not None,
            authenticator=authenticator,
            auth_required=authenticator is not None,
            auth_require_tls=True,
            loop=loop,
        )

    server = await loop.create_server(protocol, host=host, port=port)
    log.info("SMTP endpoint listening on %s:%d", *server.sockets[0].getsockname()[:2])
    return server
