"""Issue 14 (low findings): console sessions and the login throttle live in the database.

Sessions lived in a dict of the process (a restart logged everyone out, a second `dsr serve`
did not know them) and survived `dsr users passwd`; the throttle counted per process, so two
processes on one database checked twice the allowed passwords.  Each test here fails on that code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from starlette.testclient import TestClient

from dsr.replies.labels import ACTIONS
from dsr.store.db import make_engine
from dsr.store.models import AuditEvent, ConsoleSession, User
from tests.support.console import (
    PASSWORD,
    World,
    csrf_of,
    failed_logins,
    login,
    make_world,
    parallel_wrong_logins,
)


@pytest.fixture
def twin(engine: Engine, db_world: World) -> Iterator[World]:
    """A second console process on the same database: its own engine, app, session store and throttle."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield make_world(other, clock=db_world.clock, seeded_from=db_world)
    other.dispose()


def _client(world: World) -> TestClient:
    return TestClient(world.app, base_url="http://testserver", follow_redirects=False)


def _logged_in(client: TestClient) -> bool:
    response = client.get("/queue")
    return response.status_code == 200


def _dsr(engine: Engine, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DSR_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "DSR_CONTROLLER": "kmb2,komsa"}
    return subprocess.run([sys.executable, "-c", "from dsr.cli import main; main()", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_session_survives_a_restart_and_works_on_another_process(db_world: World, twin: World) -> None:
    browser = _client(db_world)
    token = login(browser, "dana")
    # "Restart": the first app is gone, a new one on the same database gets the same cookie.
    restarted = _client(twin)
    restarted.cookies = browser.cookies
    assert _logged_in(restarted)
    # The CSRF token of the session holds there too, and a notice set on one process shows on the next page.
    note = {"csrf_token": token, "text": "Notiz"}
    response = restarted.post(f"/tickets/{twin.email_ticket}/notes", data=note)
    assert response.status_code == 303
    assert "Notiz gespeichert." in browser.get(response.headers["location"]).text
    with db_world.sessions() as s:
        row = s.scalar(select(ConsoleSession))
        assert row is not None
        assert browser.cookies["dsr_session"] not in (row.handle_hash, row.csrf)  # only the digest is stored


def test_dsr_users_passwd_ends_the_session_on_every_process(
        engine: Engine, db_world: World, twin: World) -> None:
    browser = _client(db_world)
    login(browser, "dana")
    other = _client(twin)
    other.cookies = browser.cookies
    done = _dsr(engine, "users", "passwd", "dana", stdin="ein-ganz-neues-passwort\n")
    assert done.returncode == 0, done.stderr
    assert not _logged_in(browser) and not _logged_in(other)
    with db_world.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 0


def test_disable_grant_and_role_change_end_the_session(engine: Engine, db_world: World) -> None:
    sessions = {name: _client(db_world) for name in ("dana", "dora", "kora")}
    for name, client in sessions.items():
        login(client, name)
        assert _logged_in(client)
    assert _dsr(engine, "users", "disable", "dana").returncode == 0
    assert _dsr(engine, "users", "grant", "kora", "--controller", "kmb2").returncode == 0
    with db_world.sessions.begin() as s:  # a direct change of the row: the per-request check holds
        s.execute(update(User).where(User.username == "dora").values(role="manager"))
    for client in sessions.values():
        response = client.get("/queue")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_session_ends_after_the_idle_time_also_after_a_restart(db_world: World, twin: World) -> None:
    browser = _client(db_world)
    login(browser, "dana")
    db_world.clock.now += timedelta(minutes=31)
    restarted = _client(twin)
    restarted.cookies = browser.cookies
    assert not _logged_in(restarted)


def test_parallel_wrong_logins_on_two_processes_check_at_most_five_passwords(
        db_world: World, twin: World) -> None:
    clients = [_client(world) for world in (db_world, twin) for _ in range(15)]
    codes = parallel_wrong_logins(clients, "dana")
    assert sorted(set(codes)) == [401, 429]
    assert codes.count(401) == failed_logins(db_world.sessions) <= 5
    # The other process knows the back-off too: even the right password waits.
    late = clients[-1]
    assert late.post("/login", data={"username": "dana", "password": PASSWORD,
                                     "csrf_token": csrf_of(late.get("/login").text)}).status_code == 429


def test_dsr_users_role_changes_the_role_ends_the_sessions_and_is_audited(
        engine: Engine, db_world: World) -> None:
    """There was no command to change a role (`dsr users role` did not exist: exit code 2)."""
    browser = _client(db_world)
    login(browser, "dana")
    done = _dsr(engine, "users", "role", "dana", "--role", "manager")
    assert done.returncode == 0, done.stderr
    assert not _logged_in(browser)
    with db_world.sessions() as s:
        user = s.scalar(select(User).where(User.username == "dana"))
        assert user is not None and user.role == "manager"
        left = select(func.count()).select_from(ConsoleSession).where(ConsoleSession.user_id == user.id)
        assert s.scalar(left) == 0
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "user_role_set"))
        assert event is not None and event.actor == "cli"
        assert event.detail == {"username": "dana", "role": "manager", "previous_role": "dpo"}
    assert ACTIONS["user_role_set"] == "Rolle geändert"
    # The new role's pages work after a new login; the DPO's work list no longer does.
    login(browser, "dana")
    assert browser.get("/board").status_code == 200
    assert browser.get("/queue").status_code == 403


def test_dsr_users_role_refuses_unknown_roles_and_the_last_admin(engine: Engine, db_world: World) -> None:
    assert "Unbekannte Rolle" in _dsr(engine, "users", "role", "dana", "--role", "calendar").stderr
    assert _dsr(engine, "users", "disable", "kai").returncode == 0
    refused = _dsr(engine, "users", "role", "ada", "--role", "dpo")
    assert refused.returncode != 0 and "einzige aktive Administrationskonto" in refused.stderr
    with db_world.sessions() as s:
        assert s.scalar(select(User.role).where(User.username == "ada")) == "admin"
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "user_role_set")) == 0
