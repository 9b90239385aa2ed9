"""Login, sessions, cookies, rate limit, security headers, and the `dsr users` command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from dsr.console.users import authenticate
from dsr.store.models import AuditEvent, User
from tests.support.console import PASSWORD, World, login, make_world


def test_login_sets_a_strict_httponly_cookie_and_opens_the_role_home(world: World) -> None:
    client = world.client()
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"username": "max", "password": PASSWORD, "csrf_token": token})
    assert (response.status_code, response.headers["location"]) == (303, "/board")
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "dsr_session=" in v)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # web_cookie_secure=False in this world (plain-HTTP demo)
    with world.sessions() as s:
        assert "console.login" in s.scalars(select(AuditEvent.action)).all()


def test_secure_cookie_uses_the_host_prefix(sqlite_engine: Engine) -> None:
    world = make_world(sqlite_engine, secure=True)
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"username": "dana", "password": PASSWORD, "csrf_token": token})
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "dsr_session=" in v)
    assert cookie.startswith("__Host-dsr_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert response.headers["strict-transport-security"].startswith("max-age=")


def _token(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def test_wrong_password_and_unknown_user_look_the_same_and_are_throttled(world: World) -> None:
    client = world.client()
    token = _token(client.get("/login").text)
    answers = []
    for name in ("dana", "nobody", "dana", "dana", "dana"):
        r = client.post(
            "/login", data={"username": name, "password": "falsch-falsch-falsch", "csrf_token": token}
        )
        answers.append((r.status_code, "Benutzername oder Passwort ist falsch" in r.text))
        token = _token(r.text)  # each answer carries a fresh login token
    assert answers == [(401, True)] * 5
    # Sixth attempt, even with the right password: refused until the window has passed.
    r = client.post("/login", data={"username": "dana", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429
    world.clock.now += timedelta(minutes=16)
    r = client.post("/login", data={"username": "dana", "password": PASSWORD, "csrf_token": _token(r.text)})
    assert r.status_code == 303


def test_sessions_expire_when_idle_and_end_at_logout(world: World) -> None:
    client = world.client()
    csrf = login(client, "dana")
    world.clock.now += timedelta(minutes=29)
    assert client.get("/queue").status_code == 200
    world.clock.now += timedelta(minutes=31)
    response = client.get("/queue")
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/queue")
    client = world.client()
    csrf = login(client, "dana")
    client.post("/logout", data={"csrf_token": csrf})
    assert client.get("/queue").status_code == 303


def test_disabled_account_loses_its_session_at_once(world: World) -> None:
    client = world.client("dpo")
    assert client.get("/queue").status_code == 200
    with world.sessions.begin() as s:
        user = s.scalars(select(User).where(User.username == "dana")).one()
        user.disabled = True
    assert client.get("/queue").status_code == 303
    with world.sessions.begin() as s:
        assert authenticate(s, username="dana", password=PASSWORD, now=world.clock()) is None


def test_login_redirect_target_must_be_local(world: World) -> None:
    client = world.client()
    page = client.get("/login?next=//evil.example/x")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post(
        "/login",
        data={"username": "dana", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
    )
    assert r.headers["location"] == "/queue"


def test_security_headers_and_no_personal_data_in_urls(world: World) -> None:
    client = world.client("dpo")
    response = client.get(f"/tickets/{world.email_ticket}")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "same-origin"
    hrefs = [part.split('"')[0] for part in response.text.split('href="')[1:]]
    actions = [part.split('"')[0] for part in response.text.split('action="')[1:]]
    for url in hrefs + actions:
        assert "@" not in url and "schmidt" not in url.lower(), url


def _dsr(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DSR_DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3", "DSR_CONTROLLER": "kmb2"}
    return subprocess.run(
        [sys.executable, "-c", "from dsr.cli import main; main()", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_users_command_adds_changes_disables_and_issues_tokens(tmp_path: Path) -> None:
    added = _dsr(tmp_path, "users", "add", "erika", "--role", "dpo", "--controller", "kmb2",
                 stdin="ein-langes-passwort\n")
    assert added.returncode == 0, added.stderr
    assert "ein-langes-passwort" not in added.stdout + added.stderr
    short = _dsr(tmp_path, "users", "add", "otto", "--role", "manager", "--controller", "kmb2",
                 stdin="kurz\n")
    assert short.returncode == 1 and "mindestens 12 Zeichen" in short.stderr
    bad_role = _dsr(tmp_path, "users", "add", "otto", "--role", "chef", "--controller", "kmb2",
                    stdin="ein-langes-passwort\n")
    assert bad_role.returncode == 1 and "Unbekannte Rolle" in bad_role.stderr
    assert _dsr(tmp_path, "users", "passwd", "erika", stdin="ein-neues-passwort\n").returncode == 0
    token = _dsr(tmp_path, "users", "token", "crm", "--role", "suppression", "--controller", "kmb2")
    assert token.returncode == 0 and len(token.stdout.strip()) >= 40
    assert _dsr(tmp_path, "users", "disable", "erika").returncode == 0
    listing = _dsr(tmp_path, "users", "list").stdout
    assert "erika" in listing and "disabled" in listing and "crm" in listing
    assert token.stdout.strip() not in listing
    from dsr.store.db import make_engine, session_factory

    engine = make_engine(f"sqlite:///{tmp_path}/cli.sqlite3")
    with session_factory(engine).begin() as s:
        user = s.scalars(select(User).where(User.username == "erika")).one()
        assert user.password_hash.startswith("$argon2id$")
        assert user.disabled
    engine.dispose()
