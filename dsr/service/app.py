"""`dsr serve` wiring: one process, one asyncio loop, every channel around the one pipeline.

    SMTP endpoint (aiosmtpd) ─┐
    IMAP poller (imapclient) ─┼─> Pipeline (sync, in worker threads) ─> outbox ─> OutboxSender
    Telegram bot (PTB) ───────┘
    Console (Starlette under uvicorn)

Start-up order: logging, settings and profiles (checked by the CLI), migrations, demo data, then
the listeners; one log line per listener.  SIGTERM/SIGINT set a stop event: listeners close,
tasks finish their current item, the process exits.  Nothing acknowledged is ever lost on stop,
because every adapter acknowledges only after the pipeline committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from dsr.channels.sender import LANES as OUTBOX_LANES
from dsr.channels.sender import OutboxSender
from dsr.config import Settings
from dsr.controllers.profile import ControllerProfile
from dsr.fulfilment.vault import parse_key
from dsr.inbound import InboundMessage, MessageSink, Outcome
from dsr.pipeline.core import Pipeline
from dsr.pipeline.fault_inject import fault_hook_from_env
from dsr.pipeline.workers import PipelineWorkers
from dsr.replies import warm_templates
from dsr.service.leadership import InstanceLock, Leadership
from dsr.service.scheduler import Scheduler
from dsr.store.db import make_engine, migrate, session_factory
from dsr.store.models import User
from dsr.store.sealed import reseal_legacy
from dsr.store.write_gate import gate_for

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class WakingSink:
    """The pipeline as adapters see it (`MessageSink`), waking the sender after each commit."""

    def __init__(self, pipeline: MessageSink, wake: Callable[[], None]) -> None:
        self._pipeline = pipeline
        self._wake = wake

    def handle(self, msg: InboundMessage) -> Outcome:
        outcome = self._pipeline.handle(msg)
        if outcome.outbox_ids:
            self._wake()
        return outcome

    def quarantine(self, *, controller: str, channel: str, raw: bytes, reason: str) -> Outcome:
        return self._pipeline.quarantine(controller=controller, channel=channel, raw=raw, reason=reason)


def _start_fulfilment(settings: Settings, sessions: sessionmaker[Session], stop: asyncio.Event,
                      spawn: Callable[[str, Coroutine[Any, Any, Any]], None], clock: Callable[[], datetime],
                      gate: Any, profiles: Mapping[str, ControllerProfile]) -> None:
    """Discovery and package housekeeping for the controllers that have a data map."""
    from dsr.datamap import DataMapError
    from dsr.fulfilment.maps import delivery_config, load_datamaps
    from dsr.service.fulfilment_worker import FulfilmentWorker

    try:
        datamaps = load_datamaps(settings)
    except DataMapError as exc:  # `dsr serve` checks the maps first; this guards other callers
        log.error("fulfilment disabled: %s", exc)
        return
    if not datamaps:
        return
    delivery = delivery_config(settings)
    if delivery is None:
        log.warning("DSR_PACKAGE_KEY is not set: discovery runs, but no package can be built or delivered")
    worker = FulfilmentWorker(sessions=sessions, datamaps=datamaps, clock=clock, delivery=delivery,
                              write_gate=gate, profiles=profiles)
    spawn("fulfilment", worker.run(stop))


def prepare_database(settings: Settings) -> sessionmaker[Session]:
    engine = make_engine(settings.database_url)
    migrate(engine)
    return session_factory(engine)


Listening = Callable[[str, str, int], None]  # (listener name, host, port) once bound


async def serve(settings: Settings, profiles: Mapping[str, ControllerProfile],
                sessions: sessionmaker[Session], *, stop: asyncio.Event | None = None,
                clock: Callable[[], datetime] = utc_now, on_listening: Listening | None = None) -> None:
    """Run every configured listener until SIGTERM/SIGINT (or `stop`) and shut down cleanly.

    `clock` and `on_listening` exist for tests (a fixed receipt time; ports chosen by the OS).
    """
    stop = stop or asyncio.Event()
    notify = on_listening or (lambda _name, _host, _port: None)
    # SQLite: one instance per database (SecondInstanceError); PostgreSQL: any number, the
    # singletons below run on one of them at a time (dsr.service.leadership).
    instance = InstanceLock(settings.database_url)
    try:
        await _serve(settings, profiles, sessions, stop=stop, clock=clock, notify=notify)
    finally:
        instance.release()


async def _serve(settings: Settings, profiles: Mapping[str, ControllerProfile],
                 sessions: sessionmaker[Session], *, stop: asyncio.Event, clock: Callable[[], datetime],
                 notify: Listening) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if settings.trusted_authserv_id is None:
        log.warning("DSR_TRUSTED_AUTHSERV_ID is not set: a sender address on file counts as verified "
                    "without a DKIM/DMARC check (set it to your receiving MTA's authserv-id)")
    # SQLite has one writer at a time: let our own writers (threads and worker processes) queue
    # on a gate that wakes at once, instead of SQLite's sleeping busy handler.  PostgreSQL: None.
    gate = gate_for(settings.database_url)
    workers = await _start_workers(settings, profiles)
    pipeline: MessageSink = workers or Pipeline(
        sessions=sessions, profiles=profiles, clock=clock, settings=settings,
        fault_hook=fault_hook_from_env(), write_gate=gate, overrides_dir=settings.templates_dir)
    if workers:
        # Each worker's pipeline compiled its templates when it was built; this process renders
        # letters inside write transactions too (scheduler reminders, console, Telegram chat).
        await asyncio.to_thread(warm_templates, tuple(profiles), settings.templates_dir)
    await asyncio.to_thread(reseal_outbox, settings, sessions)
    sender_engine = _sender_engine(settings)
    sender = OutboxSender(sessions=session_factory(sender_engine) if sender_engine else sessions,
                          profiles=profiles, settings=settings, clock=clock, write_gate=gate)
    sink = WakingSink(pipeline, sender.wake)
    tasks: list[asyncio.Task[Any]] = []

    def spawn(name: str, coro: Coroutine[Any, Any, Any]) -> None:
        tasks.append(asyncio.create_task(coro, name=name))

    smtp = await _start_smtp(settings, profiles, sink, clock)
    notify("smtp", *smtp.sockets[0].getsockname()[:2])
    spawn("outbox", sender.run(stop))
    leadership = Leadership(settings.database_url)
    scheduler = Scheduler(sessions=sessions, profiles=profiles, clock=clock, settings=settings,
                          write_gate=gate, wake=sender.wake)
    spawn("scheduler", leadership.run("scheduler", scheduler.run, stop))
    _start_fulfilment(settings, sessions, stop, spawn, clock, gate, profiles)
    if settings.imap_url:
        from dsr.channels.email.imap import ImapPoller

        # Two messages in flight per worker process: one is committed while the next is handed over.
        poller = ImapPoller(sink=sink, profiles=profiles, url=settings.imap_url,
                            processed_folder=settings.imap_processed_folder, clock=clock,
                            workers=2 * workers.count if workers else 1)
        where = poller.location
        log.info("IMAP poller watching %s:%d/%s", where.host, where.port, where.folder)
        mailbox = f"imap:{where.host.lower()}:{where.port}:{_digest(where.user)}:{where.folder}"
        spawn("imap", leadership.run(mailbox, poller.run, stop))
    webhook = _start_telegram(settings, profiles, sessions, sink, stop, spawn, clock, leadership) \
        if settings.telegram_token else None
    _start_console(settings, profiles, sessions, sink, stop, spawn, clock, webhook=webhook, notify=notify)
    log.info("dsr serve ready: controllers %s", ", ".join(profiles))
    await stop.wait()
    log.info("shutting down")
    smtp.close()
    await smtp.wait_closed()
    done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    for task in [*done, *pending]:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if workers is not None:
        await asyncio.to_thread(workers.close)
    if sender_engine is not None:
        sender_engine.dispose()
    leadership.close()
    log.info("stopped")


def reseal_outbox(settings: Settings, sessions: sessionmaker[Session]) -> None:
    """Outbox payloads sealed in the first format (bound to nothing but the key) are re-sealed bound
    to their own item before the sender starts (`dsr.store.sealed`); without the key nothing opens."""
    if not settings.package_key:
        return
    with sessions.begin() as session:
        done, left = reseal_legacy(session, parse_key(settings.package_key))
    if done or left:
        log.info("outbox: %d sealed payload(s) re-sealed bound to their item, %d left as they were "
                 "(another key or altered)", done, left)


def _digest(value: str) -> str:
    """A short stable stand-in for a secret or personal value in a lock name."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _sender_engine(settings: Settings) -> Engine | None:
    """PostgreSQL: the outbox sender's own pool, without a pre-ping round trip per transaction
    (it repeats a transaction whose connection turned out dead).  SQLite: None (shared)."""
    if not settings.database_url.startswith("postgresql"):
        return None
    return make_engine(settings.database_url, pre_ping=False, pool_size=OUTBOX_LANES + 1)


async def _start_workers(settings: Settings,
                         profiles: Mapping[str, ControllerProfile]) -> PipelineWorkers | None:
    """Start the pipeline worker processes (None: the pipeline runs in this process)."""
    count = settings.worker_count
    if count == 0:
        return None
    workers = PipelineWorkers(settings=settings, profiles=profiles, count=count)
    await asyncio.to_thread(workers.start)
    return workers


async def _start_smtp(settings: Settings, profiles: Mapping[str, ControllerProfile],
                      sink: WakingSink, clock: Callable[[], datetime]) -> asyncio.Server:
    from dsr.channels.email.smtp import PasswordFileAuthenticator, start_smtp_server, tls_context_from_files

    host, port = Settings.split_host_port(settings.smtp_listen)
    tls = None
    if settings.smtp_tls_cert and settings.smtp_tls_key:
        tls = tls_context_from_files(settings.smtp_tls_cert, settings.smtp_tls_key)
    auth = PasswordFileAuthenticator.from_file(settings.smtp_auth_users) if settings.smtp_auth_users else None
    server = await start_smtp_server(handler=sink, profiles=profiles, host=host, port=port,
                                     max_size=settings.smtp_max_message_size, tls_context=tls,
                                     authenticator=auth, clock=clock, max_sessions=settings.smtp_max_sessions,
                                     time_budget=settings.message_time_budget_seconds)
    bound = server.sockets[0].getsockname()
    log.info("SMTP endpoint on %s:%d (STARTTLS %s, AUTH %s)", bound[0], bound[1],
             "on" if tls else "off", "required" if auth else "off")
    return server


def _start_telegram(settings: Settings, profiles: Mapping[str, ControllerProfile],
                    sessions: sessionmaker[Session], sink: WakingSink, stop: asyncio.Event,
                    spawn: Callable[[str, Coroutine[Any, Any, Any]], None],
                    clock: Callable[[], datetime],
                    leadership: Leadership) -> Callable[[Any], Awaitable[Any]] | None:
    """Spawn the bot (on the one instance leading for its token); in webhook mode return the
    console endpoint that feeds it (else None)."""
    try:
        from dsr.channels.telegram.adapter import TelegramChannel, run_telegram, webhook_endpoint
    except ImportError as exc:  # the adapter is optional at build time
        log.error("DSR_TELEGRAM_TOKEN is set but the Telegram adapter cannot be loaded (%s)", exc)
        return None
    log.info("Telegram bot starting (API %s)", settings.telegram_api_url or "api.telegram.org")
    running: list[TelegramChannel] = []  # filled by run_telegram once the bot is up
    def bot(inner_stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        return run_telegram(settings=settings, sessions=sessions, profiles=profiles, pipeline=sink,
                            clock=clock, stop=inner_stop, on_ready=running.append)

    token = settings.telegram_token or ""
    spawn("telegram", leadership.run(f"telegram:{_digest(token)}", bot, stop))
    if not settings.telegram_webhook_url:
        return None
    return webhook_endpoint(lambda: running[-1] if running else None)


def _warn_without_users(sessions: sessionmaker[Session]) -> None:
    """A first start has no console account: say how to make one instead of a silent login page."""
    with sessions() as session:
        active = session.scalar(select(func.count()).select_from(User).where(User.disabled.is_(False)))
    if not active:
        log.warning("no console user yet: create one with `dsr users add NAME --role dpo --controller KEY` "
                    "(or --role manager / admin), then log in")


def _start_console(settings: Settings, profiles: Mapping[str, ControllerProfile],
                   sessions: sessionmaker[Session], sink: WakingSink, stop: asyncio.Event,
                   spawn: Callable[[str, Coroutine[Any, Any, Any]], None],
                   clock: Callable[[], datetime], *, webhook: Callable[[Any], Awaitable[Any]] | None = None,
                   notify: Listening | None = None) -> None:
    try:
        import uvicorn

        from dsr.console.app import create_app
    except ImportError as exc:
        log.error("web console unavailable (%s); continuing without it", exc)
        return
    host, port = Settings.split_host_port(settings.web_listen)
    app = create_app(settings=settings, sessions=sessions, profiles=profiles, clock=clock, sink=sink,
                     telegram_webhook=webhook)
    # proxy_headers off: uvicorn would otherwise take X-Forwarded-For from any loopback peer; the
    # console reads it itself, only from DSR_WEB_TRUSTED_PROXIES (dsr.console.auth.client_address).
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
                            proxy_headers=False)

    class ConsoleServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the service's own handlers stop everything, the console included

    server = ConsoleServer(config)

    # Bound here, not by uvicorn, so that the port (0 in tests: chosen by the OS) is known at once.
    sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    bound = sock.getsockname()
    if notify is not None:
        notify("console", bound[0], bound[1])

    async def run_console() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        await stop.wait()
        server.should_exit = True
        await serving

    log.info("web console on http://%s:%d/", host, bound[1])
    _warn_without_users(sessions)
    spawn("console", run_console())
