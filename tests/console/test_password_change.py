"""Issue 14 leftover: a signed-in user changes their own password in the console.

There was no such page (only `dsr users passwd`): every test here fails on the old code (404).
The form needs the current password, follows the CLI's policy, counts the check against the login
throttle (user name and address), ends the user's other sessions, keeps this browser signed in
with a fresh session, is audited (German label) and refuses a POST without the CSRF token.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from starlette.testclient import TestClient

from dsr.console.auth import verify_password
from dsr.replies.labels import ACTIONS
from dsr.store.models import AuditEvent, ConsoleSession, User
from tests.support.console import PASSWORD, World, csrf_of, login

NEW = "ein-neues-langes-passwort"


def _browser(world: World) -> TestClient:
    return TestClient(world.app, base_url="http://testserver", follow_redirects=False)


def _change(client: TestClient, current: str, new: str = NEW, repeat: str | None = None) -> int:
    token = csrf_of(client.get("/account/password").text)
    response = client.post("/account/password", data={
        "csrf_token": token, "current_password": current, "new_password": new,
        "new_password_repeat": new if repeat is None else repeat})
    return response.status_code


def _hash_of(world: World, name: str) -> str:
    with world.sessions() as s:
        found = s.scalar(select(User.password_hash).where(User.username == name))
        assert found is not None
        return found


def _count(world: World, action: str) -> int:
    with world.sessions() as s:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        return int(s.scalar(query) or 0)


def test_a_user_changes_the_own_password_and_the_other_sessions_end(db_world: World) -> None:
    here, elsewhere = _browser(db_world), _browser(db_world)
    login(here, "max")
    login(elsewhere, "max")
    old_cookie = here.cookies["dsr_session"]
    token = csrf_of(here.get("/account/password").text)
    response = here.post("/account/password", data={
        "csrf_token": token, "current_password": PASSWORD, "new_password": NEW, "new_password_repeat": NEW})
    assert response.status_code == 303 and response.headers["location"] == "/board"
    # This browser goes on with a fresh session (new handle); the other one is logged out.
    assert here.cookies["dsr_session"] != old_cookie
    page = here.get("/board")
    assert page.status_code == 200 and "Passwort geändert." in page.text
    assert elsewhere.get("/board").status_code == 303
    with db_world.sessions() as s:
        user = s.scalar(select(User).where(User.username == "max"))
        assert user is not None and user.password_changed_at is not None
        assert s.scalar(select(func.count()).select_from(ConsoleSession)
                        .where(ConsoleSession.user_id == user.id)) == 1
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "console.password_changed"))
        assert event is not None and event.actor == "console:max" and event.detail == {"sessions_ended": 2}
    assert ACTIONS["console.password_changed"] == "Passwort in der Konsole geändert"
    assert verify_password(_hash_of(db_world, "max"), NEW)
    # The old password no longer logs in; the new one does.
    fresh = _browser(db_world)
    form = {"username": "max", "password": PASSWORD, "csrf_token": csrf_of(fresh.get("/login").text)}
    assert fresh.post("/login", data=form).status_code == 401
    login(fresh, "max", NEW)


def test_a_wrong_current_password_changes_nothing_and_is_throttled_like_the_login(world: World) -> None:
    """An open session alone (a browser left unlocked) must not take the account over, nor guess."""
    client = world.client("dpo")
    before = _hash_of(world, "dana")
    assert [_change(client, f"geraten-{n}-passwort") for n in range(5)] == [401] * 5
    assert _change(client, PASSWORD) == 429  # the right one, but too soon: the login's back-off
    assert _hash_of(world, "dana") == before
    assert _count(world, "console.password_change_failed") == 5
    assert ACTIONS["console.password_change_failed"].startswith("Passwortänderung")
    # The same keys as the login: the login form cannot be used to go on guessing either.
    other = _browser(world)
    form = {"username": "dana", "password": PASSWORD, "csrf_token": csrf_of(other.get("/login").text)}
    assert other.post("/login", data=form).status_code == 429
    world.clock.now += timedelta(seconds=3)
    assert _change(client, PASSWORD) == 303


def test_the_new_password_follows_the_policy_of_the_cli(world: World) -> None:
    client = world.client("admin")
    before = _hash_of(world, "ada")
    for new, repeat, status, text in (
        ("kurz", None, 400, "mindestens 12 Zeichen"),
        (" mit-leerzeichen-am-rand", None, 400, "Leerzeichen"),
        (NEW, NEW + "x", 400, "stimmen nicht überein"),
        (PASSWORD, None, 400, "unterscheiden"),
    ):
        token = csrf_of(client.get("/account/password").text)
        response = client.post("/account/password", data={
            "csrf_token": token, "current_password": PASSWORD, "new_password": new,
            "new_password_repeat": new if repeat is None else repeat})
        assert response.status_code == status and text in response.text
    assert _hash_of(world, "ada") == before
    assert _count(world, "console.password_change_failed") == 0  # policy first: no password was checked


def test_a_change_without_the_csrf_token_is_refused(world: World) -> None:
    client = world.client("dpo")
    before = _hash_of(world, "dana")
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": NEW, "new_password_repeat": NEW})
    assert response.status_code == 403
    form = {"csrf_token": "forged", "current_password": PASSWORD, "new_password": NEW,
            "new_password_repeat": NEW}
    forged = client.post("/account/password", data=form, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert _hash_of(world, "dana") == before
    assert _count(world, "console.password_changed") == 0


def test_anonymous_callers_are_sent_to_the_login(world: World) -> None:
    client = _browser(world)
    assert client.get("/account/password").headers["location"].startswith("/login")
    response = client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert _hash_of(world, "dana") != "" and _count(world, "console.password_changed") == 0
