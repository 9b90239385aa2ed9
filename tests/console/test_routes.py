"""Walk every route of the console's route list: anonymous, wrong role, right role, and CSRF.

The list is read from the app itself, so a route added without a guard, or with a guard but
without an entry here, fails the suite.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from dsr.console.auth import USER_ROLES, Role
from dsr.console.guard import Access, GuardedRoute
from dsr.store.models import AuditEvent, Ticket
from tests.support.console import World
from tests.support.routes import ALL, IDS, POST_DATA, _template, _url


def _audit_count(world: World) -> int:
    with world.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_every_post_route_has_test_data() -> None:
    posts = {_template(r.path) for r, m in ALL if m == "POST"}
    assert posts == set(POST_DATA)


@pytest.mark.parametrize(("route", "method"), ALL, ids=IDS)
def test_anonymous_is_sent_to_login_or_refused(world: World, route: GuardedRoute, method: str) -> None:
    client = world.client()
    url = _url(world, route, calendar_token="not-a-valid-token")
    response = client.request(method, url)
    if route.access is Access.SESSION:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    elif route.access in (Access.TOKEN, Access.CALENDAR):
        assert response.status_code == 401
    elif route.path.startswith("/download/"):
        # The data subject's download page needs no login; an unknown link token is simply unknown.
        assert response.status_code == 404
        assert "Dieser Link ist ungültig." in response.text
    else:  # the login form itself
        assert route.path == "/login"
        assert response.status_code == (200 if method == "GET" else 403)


@pytest.mark.parametrize(
    ("route", "method"),
    [(r, m) for r, m in ALL if r.access is not Access.PUBLIC],
    ids=[i for (r, _), i in zip(ALL, IDS, strict=True) if r.access is not Access.PUBLIC],
)
def test_wrong_role_gets_403(world: World, route: GuardedRoute, method: str) -> None:
    if route.access is Access.SESSION:
        wrong = [r for r in USER_ROLES if r not in route.roles]
        for role in wrong:
            client = world.client(role.value)
            data = {"csrf_token": client.csrf} if method == "POST" else None  # type: ignore[attr-defined]
            response = client.request(method, _url(world, route), data=data)
            assert response.status_code == 403, (role, response.text[:300])
            assert "Keine Berechtigung" in response.text
        return
    if route.access is Access.CALENDAR:
        response = world.client().get(_url(world, route, calendar_token=world.tokens["manager"]))
        assert response.status_code == 403
        return
    for role in (r for r in Role if r not in route.roles):
        response = world.client().request(
            method,
            _url(world, route),
            json=POST_DATA.get(_template(route.path)),
            headers={"Authorization": f"Bearer {world.tokens[role.value]}"},
        )
        assert response.status_code == 403, role


@pytest.mark.parametrize(
    ("route", "method"),
    [(r, m) for r, m in ALL if r.access is not Access.PUBLIC],
    ids=[i for (r, _), i in zip(ALL, IDS, strict=True) if r.access is not Access.PUBLIC],
)
def test_right_role_gets_200(world: World, route: GuardedRoute, method: str) -> None:
    with world.sessions.begin() as s:  # letters about the ticket go only to a verified contact
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        ticket.identity_level = "contact_on_file"
    if route.access is Access.CALENDAR:
        response = world.client().get(_url(world, route))
        assert response.status_code == 200
        assert response.text.startswith("BEGIN:VCALENDAR")
        return
    if route.access is Access.TOKEN:
        for role in route.roles:
            response = world.client().request(
                method,
                _url(world, route),
                json=POST_DATA.get(_template(route.path)),
                headers={"Authorization": f"Bearer {world.tokens[role.value]}"},
            )
            assert response.status_code == 200, (role, response.text)
        return
    for role in route.roles:
        client = world.client(role.value)
        data = None
        if method == "POST":
            data = {**POST_DATA[_template(route.path)], "csrf_token": client.csrf}  # type: ignore[attr-defined]
        response = client.request(method, _url(world, route), data=data)
        if route.path == "/logout":
            assert (response.status_code, response.headers["location"]) == (303, "/login")
            assert client.get("/queue").headers["location"].startswith("/login")  # the session is gone
            continue
        if response.status_code == 303:
            location = response.headers["location"]
            assert not location.startswith("/login"), location
            response = client.get(location)
        assert response.status_code == 200, (role, response.text[:500])
        assert "Keine Berechtigung" not in response.text
        assert "Sicherheitsprüfung" not in response.text


SESSION_POSTS = [(r, m) for r, m in ALL if r.access is Access.SESSION and m == "POST"]


@pytest.mark.parametrize(("route", "method"), SESSION_POSTS, ids=[f"POST {r.path}" for r, _ in SESSION_POSTS])
def test_state_change_without_csrf_token_is_refused(world: World, route: GuardedRoute, method: str) -> None:
    role = sorted(route.roles)[0]
    client = world.client(role.value)
    data = POST_DATA[_template(route.path)]
    before = _audit_count(world)
    for bad in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        response = client.post(_url(world, route), data={**data, **bad})
        assert response.status_code == 403
        assert "Sicherheitsprüfung" in response.text
    # A correct token from another origin is refused as well.
    response = client.post(
        _url(world, route),
        data={**data, "csrf_token": client.csrf},  # type: ignore[attr-defined]
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    response = client.post(
        _url(world, route),
        data={**data, "csrf_token": client.csrf},  # type: ignore[attr-defined]
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"},
    )
    assert response.status_code == 403
    assert _audit_count(world) == before


def test_login_without_csrf_token_is_refused(world: World) -> None:
    client: TestClient = world.client()
    response = client.post("/login", data={"username": "dana", "password": "korrekt-pferd-batterie"})
    assert response.status_code == 403
    assert "dsr_session" not in response.cookies
