"""A seeded console (users of every role, escalated tickets, quarantine, tokens) and its readers."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dsr.config import Settings
from dsr.console.app import create_app
from dsr.console.auth import LoginThrottle, Role, SessionStore
from dsr.console.users import add_user, create_token
from dsr.controllers import ControllerProfile, load_profile
from dsr.intents.rights import Right
from dsr.pipeline.core import Pipeline
from dsr.store.db import session_factory
from dsr.store.models import (
    AuditEvent,
    DataSubject,
    Document,
    Message,
    QuarantinedMessage,
    Ticket,
    TicketState,
    User,
)
from dsr.store.tickets.services import escalate, open_ticket, transition
from tests.support.clock import FakeClock

PASSWORD = "korrekt-pferd-batterie"


NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


ACCESS_BODY = (
    "Sehr geehrte Damen und Herren,\n\nich bitte um Auskunft nach Art. 15 DSGVO über alle zu meiner Person "
    "gespeicherten Daten. Danach löschen Sie bitte alles.\nSonst schalte ich meinen Anwalt ein.\n\n"
    "Anna Schmidt"
)


@dataclass
class World:
    app: Starlette
    sessions: sessionmaker[Session]
    clock: FakeClock
    store: SessionStore
    profiles: dict[str, ControllerProfile]
    user_ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # role -> plain token
    komsa_tokens: dict[str, str] = field(default_factory=dict)  # role -> token bound to komsa only
    token_ids: dict[str, int] = field(default_factory=dict)
    email_ticket: int = 0
    email_reference: str = ""
    chat_ticket: int = 0
    overdue_ticket: int = 0
    quarantine_id: int = 0
    ignored_id: int = 0  # an inbound message set aside as no request ("invoice")
    document_id: int = 0  # a scanned letter stored with the chat ticket
    letter_message_id: int = 0  # a postal answer recorded on the chat ticket

    def client(self, role: str | None = None) -> TestClient:
        """A client with a server-side session for the user of `role` (login is tested separately)."""
        client = TestClient(self.app, base_url="http://testserver", follow_redirects=False)
        if role is not None:
            name = USERNAMES[role]
            web = self.store.create(
                user_id=self.user_ids[name], username=name, role=Role(role), now=self.clock()
            )
            client.cookies.set("dsr_session", web.handle)
            client.csrf = web.csrf  # type: ignore[attr-defined]
        return client


USERNAMES = {"dpo": "dana", "manager": "max", "admin": "ada"}


# Accounts of the other group company: bound to komsa only (tenant isolation tests).
KOMSA_USERNAMES = {"dpo": "kora", "manager": "kurt", "admin": "kai"}


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the CSRF token of the first page after login."""
    page = client.get("/login")
    token = CSRF_RE.search(page.text)
    assert token is not None
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.text
    home = client.get(response.headers["location"])
    found = CSRF_RE.search(home.text)
    assert found is not None
    return found.group(1)


def parallel_wrong_logins(clients: list[TestClient], username: str) -> list[int]:
    """One wrong login per client, all released at once; the status codes in arrival order."""
    tokens = [csrf_of(c.get("/login").text) for c in clients]
    start = threading.Barrier(len(clients))
    codes: list[int] = []

    def one(client: TestClient, token: str) -> None:
        start.wait()
        response = client.post("/login", data={"username": username, "password": "falsch-falsch-falsch",
                                               "csrf_token": token})
        codes.append(response.status_code)

    threads = [threading.Thread(target=one, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def failed_logins(sessions: sessionmaker[Session]) -> int:
    """Password checks that failed (each is audited as console.login_failed)."""
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == "console.login_failed")) or 0)


def post_form(client: TestClient, url: str, data: dict[str, object]) -> str:
    """POST a form as the client's logged-in user; return the page shown after the redirect."""
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303, response.text[:500]
    return client.get(response.headers["location"]).text


def read_ticket(world: World, ticket_id: int) -> Ticket:
    with world.sessions() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found is not None
    return found.group(1)


def seed(world: World) -> None:
    with world.sessions.begin() as s:
        for name, role in (("dana", "dpo"), ("dora", "dpo"), ("max", "manager"), ("ada", "admin")):
            user = add_user(s, username=name, role=role, password=PASSWORD, now=NOW - timedelta(days=30),
                            controllers=["*"])
            assert isinstance(user, User)
            world.user_ids[name] = user.id
        for role in ("dpo", "manager", "admin", "suppression", "calendar"):
            created = create_token(s, name=f"test-{role}", role=role, now=NOW, controllers=["*"])
            assert isinstance(created, tuple)
            world.tokens[role], world.token_ids[role] = created[1], created[0].id
        for role, name in KOMSA_USERNAMES.items():
            user = add_user(s, username=name, role=role, password=PASSWORD, now=NOW - timedelta(days=30),
                            controllers=["komsa"])
            assert isinstance(user, User)
            world.user_ids[name] = user.id
        for role in ("dpo", "manager", "admin", "suppression", "calendar"):
            created = create_token(s, name=f"komsa-{role}", role=role, now=NOW, controllers=["komsa"])
            assert isinstance(created, tuple)
            world.komsa_tokens[role] = created[1]
        subject = DataSubject(
            controller="kmb2",
            name="Anna Schmidt",
            email="anna.schmidt@example.org",
            customer_number="K-1001",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(subject)
        s.flush()
        received = datetime(2026, 2, 20, 8, 15, tzinfo=UTC)
        matched = "Auskunft nach Art. 15 DSGVO"
        start = ACCESS_BODY.index(matched)
        classification = {
            "labels": ["access", "erasure"],
            "confidence": 0.62,
            "escalate": True,
            "reasons": ["contradictory", "legal_threat"],
            "scores": {"access": 0.93, "erasure": 0.71, "objection": 0.12},
            "evidence": [
                {
                    "label": "access",
                    "rule": "access.auskunft_art15",
                    "matched": matched,
                    "score": 97.0,
                    "start": start,
                    "end": start + len(matched),
                    "field": "body",
                    "weight": 1.0,
                    "suppressed_by": None,
                },
                {
                    "label": "erasure",
                    "rule": "erasure.loeschen",
                    "matched": "löschen",
                    "score": 100.0,
                    "start": 0,
                    "end": 7,
                    "field": "body",
                    "weight": 1.0,
                    "suppressed_by": None,
                },
            ],
        }
        ticket = open_ticket(
            s,
            controller="kmb2",
            land="NI",
            channel="email",
            received_at=received,
            rights=[Right.ACCESS, Right.ERASURE],
            now=received,
            subject_id=subject.id,
            reply_to="anna.schmidt@example.org",
            classification=classification,
            escalation_reasons=["contradictory", "legal_threat"],
        )
        escalate(
            s, ticket, ["contradictory", "legal_threat"], actor="system", reason="Eskalation", now=received
        )
        s.add(
            Message(
                controller="kmb2",
                channel="email",
                direction="in",
                dedupe_key="<m1@example.org>",
                message_id="<m1@example.org>",
                sender="anna.schmidt@example.org",
                recipient="datenschutz@kmb2.de",
                subject_line="Auskunft und Löschung",
                body_text=ACCESS_BODY,
                received_at=received,
                ticket_id=ticket.id,
            )
        )
        world.email_ticket, world.email_reference = ticket.id, ticket.reference

        chat_received = datetime(2026, 2, 25, 18, 0, tzinfo=UTC)
        chat = open_ticket(
            s,
            controller="kmb2",
            land="NI",
            channel="telegram",
            received_at=chat_received,
            rights=[Right.ACCESS],
            now=chat_received,
            reply_to="424242",
            classification={
                "labels": ["access"],
                "confidence": 0.4,
                "evidence": [],
                "scores": {"access": 0.4},
            },
            escalation_reasons=["low_confidence"],
        )
        escalate(s, chat, ["low_confidence"], actor="system", reason="Eskalation", now=chat_received)
        s.add(
            Message(
                controller="kmb2",
                channel="telegram",
                direction="in",
                dedupe_key="tg:424242:7",
                sender="telegram:424242",
                subject_line="",
                body_text="was habt ihr über mich gespeichert",
                received_at=chat_received,
                ticket_id=chat.id,
            )
        )
        world.chat_ticket = chat.id
        # A scanned letter and a postal answer on the chat ticket (kmb2) (manual intake, letters).
        scan = Document(
            ticket_id=chat.id, name="scan.pdf", content_type="application/pdf", size=9,
            sha256="0" * 64, data=b"%PDF-1.4\n", created_by="console:dana", created_at=chat_received,
        )
        letter = Message(
            controller="kmb2", channel="letter", direction="out", dedupe_key="letter:seed",
            sender="datenschutz@kmb2.de", recipient="Herr Muster", subject_line="Ihre Anfrage",
            body_text="Sehr geehrter Herr Muster,\n\nwir melden uns.", received_at=chat_received,
            ticket_id=chat.id,
        )
        s.add_all([scan, letter])
        s.flush()
        world.document_id, world.letter_message_id = scan.id, letter.id

        old = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
        overdue = open_ticket(
            s,
            controller="komsa",
            land="SN",
            channel="email",
            received_at=old,
            rights=[Right.ERASURE],
            now=old,
            reply_to="someone@example.net",
            escalation_reasons=["credit_agency"],
        )
        escalate(s, overdue, ["credit_agency"], actor="system", reason="Eskalation", now=old)
        world.overdue_ticket = overdue.id

        # Two answered tickets for the statistics: one on time, one late.
        for received_at, answered_at in (
            (datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 20, 9, tzinfo=UTC)),
            (datetime(2025, 12, 1, 9, tzinfo=UTC), datetime(2026, 1, 15, 9, tzinfo=UTC)),
        ):
            done = open_ticket(
                s,
                controller="kmb2",
                land="NI",
                channel="email",
                received_at=received_at,
                rights=[Right.ACCESS],
                now=received_at,
                reply_to="x@example.com",
            )
            transition(
                s,
                done,
                TicketState.ANSWERED,
                actor="system",
                reason="beantwortet",
                now=answered_at,
                outcome="granted",
            )

        item = QuarantinedMessage(
            controller="kmb2",
            channel="email",
            reason="no From header",
            raw=b"Subject: Datenschutz\r\n\r\nBitte loeschen Sie meine Daten.\r\n",
            received_at=NOW - timedelta(hours=3),
            state="open",
        )
        s.add(item)
        s.flush()
        world.quarantine_id = item.id

        ignored = Message(
            controller="kmb2", channel="email", direction="in", dedupe_key="<inv-7@example.net>",
            message_id="<inv-7@example.net>", sender="paul.panne@example.net",
            recipient="datenschutz@kmb2.de",
            subject_line="Rechnung 7", body_text="Ich habe die Rechnung eines anderen Kunden bekommen.",
            received_at=datetime(2026, 2, 27, 16, 45, tzinfo=UTC), disposition="not_a_request",
            disposition_reason="invoice",
        )
        s.add(ignored)
        s.flush()
        world.ignored_id = ignored.id


def make_world(
    engine: Engine, *, clock: FakeClock | None = None, secure: bool = False, seeded_from: World | None = None
) -> World:
    """A console on `engine`; seeded here, or on a copy of an already seeded database."""
    sessions = session_factory(engine)
    kmb2 = load_profile("kmb2").model_copy(update={"allow_identity_pause": True})
    profiles = {"kmb2": kmb2, "komsa": load_profile("komsa")}
    clock = clock or FakeClock(NOW)
    store = SessionStore(sessions)
    settings = Settings(web_cookie_secure=secure, database_url="sqlite:///unused.sqlite3")
    app = create_app(
        settings=settings,
        sessions=sessions,
        profiles=profiles,
        clock=clock,
        sink=Pipeline(sessions=sessions, profiles=profiles, clock=clock, settings=settings),
        session_store=store,
        throttle=LoginThrottle(sessions),
    )
    world = World(app=app, sessions=sessions, clock=clock, store=store, profiles=profiles)
    if seeded_from is None:
        seed(world)
    else:
        for name in (
            "user_ids",
            "tokens",
            "komsa_tokens",
            "token_ids",
            "email_ticket",
            "email_reference",
            "chat_ticket",
            "overdue_ticket",
            "quarantine_id",
            "ignored_id",
            "document_id",
            "letter_message_id",
        ):
            setattr(world, name, getattr(seeded_from, name))
    return world
