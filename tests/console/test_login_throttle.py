"""Security review (issue 14), finding 7 and the login lows: throttle race, lockout, forwarded addresses."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from dsr.config import Settings
from dsr.console.app import create_app
from tests.support.console import PASSWORD, World, failed_logins, parallel_wrong_logins


def _token(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def _attempt(client: TestClient, username: str, password: str = "falsch-falsch-falsch",
             headers: dict[str, str] | None = None) -> int:
    token = _token(client.get("/login").text)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                           headers=headers or {})
    return response.status_code


def test_sixty_parallel_wrong_logins_check_at_most_five_passwords(world: World) -> None:
    clients = [TestClient(world.app, base_url="http://testserver", follow_redirects=False) for _ in range(60)]
    codes = parallel_wrong_logins(clients, "dana")
    assert sorted(set(codes)) == [401, 429]
    assert codes.count(401) == failed_logins(world.sessions) <= 5


def test_the_throttle_backs_off_instead_of_locking_out(world: World) -> None:
    client = TestClient(world.app, base_url="http://testserver", follow_redirects=False)
    assert [_attempt(client, "dana") for _ in range(5)] == [401] * 5
    assert _attempt(client, "dana", PASSWORD) == 429  # right password, but too soon
    world.clock.now += timedelta(seconds=3)  # a short wait, not 15 minutes
    assert _attempt(client, "dana", PASSWORD) == 303


def test_forwarded_addresses_count_only_from_configured_proxies(world: World) -> None:
    client = TestClient(world.app, base_url="http://testserver", follow_redirects=False)
    # Untrusted peer: X-Forwarded-For is ignored, every attempt counts for the peer's address.
    for n in range(5):
        assert _attempt(client, f"user{n}", headers={"X-Forwarded-For": f"198.51.100.{n}"}) == 401
    assert _attempt(client, "other", headers={"X-Forwarded-For": "203.0.113.9"}) == 429

    services = world.app.state.services
    trusting = create_app(settings=Settings(database_url="sqlite:///unused.sqlite3", web_cookie_secure=False,
                                            web_trusted_proxies="testclient"),
                          sessions=services.sessions, profiles=services.profiles, clock=services.clock,
                          sink=services.sink)
    proxied = TestClient(trusting, base_url="http://testserver", follow_redirects=False)
    # Behind a trusted proxy, users at different addresses do not share one key.
    for n in range(5):
        assert _attempt(proxied, f"user{n}", headers={"X-Forwarded-For": "198.51.100.7"}) == 401
    assert _attempt(proxied, "other", headers={"X-Forwarded-For": "198.51.100.7"}) == 429
    assert _attempt(proxied, "other", headers={"X-Forwarded-For": "203.0.113.9"}) == 401


def test_a_password_change_ends_the_users_sessions(world: World) -> None:
    """Issue 14 (low): console sessions survived `dsr users passwd`."""
    from dsr.console.users import set_password

    client = world.client("dpo")
    assert client.get("/queue").status_code == 200
    world.clock.now += timedelta(minutes=1)
    with world.sessions.begin() as s:
        set_password(s, username="dana", password="ein-ganz-neues-passwort", now=world.clock())
    response = client.get("/queue")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
