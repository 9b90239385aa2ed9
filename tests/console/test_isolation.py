"""Security review (issue 14), finding 6: one controller's data only for its own staff.

Every route of the console's route list is called by accounts and tokens bound to komsa, aimed at
kmb2's tickets and quarantine.  Nothing of kmb2 may show (references, names) and nothing may
change; object routes answer 404 (as if the ticket did not exist).  Before the fix every account
and token saw and changed every controller's tickets.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from dsr.console.auth import Role
from dsr.console.guard import Access, GuardedRoute
from dsr.store.models import ApiToken, AuditEvent, OutboxItem, QuarantinedMessage, Ticket, TicketNote, User
from tests.support.console import KOMSA_USERNAMES, World
from tests.support.routes import ALL, IDS, POST_DATA, _template, _url

# These routes touch no controller's data and are checked by test_routes.py.  Account
# administration is walked too: a komsa admin manages komsa's accounts and tokens only.
NOT_CONTROLLER_DATA = {"/login", "/logout", "/", "/api/openapi.json"}
OBJECT_ROUTES = ("{ticket_id", "{reference}", "{item_id", "{message_id", "{user_id", "{token_id")
# The seeded accounts and tokens granted all controllers: only an admin granted all manages them.
ALL_CONTROLLER_ACCOUNTS = ("dana", "dora", "max", "ada")


def _kmb2_state(world: World) -> str:
    """Everything an action on kmb2's tickets or quarantine could change."""
    with world.sessions() as s:
        tickets = [(t.reference, t.state, t.assignee, t.draft_reply, t.rights, t.identity_level,
                    str(t.extended_due_date), t.paused_days)
                   for t in s.scalars(select(Ticket).where(Ticket.controller == "kmb2").order_by(Ticket.id))]
        notes = s.scalar(select(func.count()).select_from(TicketNote))
        outbox = s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.controller == "kmb2"))
        quarantine = [(q.id, q.state) for q in s.scalars(select(QuarantinedMessage))]
        accounts = [(u.username, u.disabled) for u in s.scalars(select(User).order_by(User.id))
                    if u.username in ALL_CONTROLLER_ACCOUNTS]
        tokens = [(t.name, t.revoked) for t in s.scalars(select(ApiToken).order_by(ApiToken.id))
                  if t.name.startswith("test-")]
        return json.dumps([tickets, notes, outbox, quarantine, accounts, tokens], default=str)


def _secrets_of_kmb2(world: World) -> list[str]:
    with world.sessions() as s:
        refs = list(s.scalars(select(Ticket.reference).where(Ticket.controller == "kmb2")))
    return [*refs, "Anna Schmidt", "anna.schmidt@example.org", f"/quarantine/{world.quarantine_id}\"",
            f"/ignored/{world.ignored_id}\""]


def _komsa_client(world: World, role: Role) -> TestClient:
    client = TestClient(world.app, base_url="http://testserver", follow_redirects=False)
    name = KOMSA_USERNAMES[role.value]
    web = world.store.create(user_id=world.user_ids[name], username=name, role=role, now=world.clock())
    client.cookies.set("dsr_session", web.handle)
    client.csrf = web.csrf  # type: ignore[attr-defined]
    return client


def _calendar_token_of(world: World, client: TestClient) -> str:
    """A komsa user subscribes to the calendar: the token belongs to that user."""
    page = client.post("/board/calendar", data={"csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert page.status_code == 200
    return page.text.split("/calendar/", 1)[1].split(".ics", 1)[0]


def _calls(world: World, route: GuardedRoute, method: str) -> list[tuple[str, Any]]:
    """(who, response) for every komsa caller allowed on `route`."""
    data = POST_DATA.get(_template(route.path), {})
    url = _url(world, route)
    out: list[tuple[str, Any]] = []
    if route.access is Access.SESSION:
        for role in sorted(route.roles):
            client = _komsa_client(world, role)
            form = {**data, "csrf_token": client.csrf} if method == "POST" else None  # type: ignore[attr-defined]
            response = client.request(method, url, data=form)
            if response.status_code == 303 and not response.headers["location"].startswith("/login"):
                response = client.get(response.headers["location"])
            out.append((role.value, response))
    elif route.access is Access.TOKEN:
        for role in sorted(route.roles):
            response = TestClient(world.app).request(
                method, url, json=data if method == "POST" else None,
                headers={"Authorization": f"Bearer {world.komsa_tokens[role.value]}"})
            out.append((role.value, response))
    elif route.access is Access.CALENDAR:
        token = _calendar_token_of(world, _komsa_client(world, Role.MANAGER))
        out.append(("calendar", TestClient(world.app).get(_url(world, route, calendar_token=token))))
        bound = TestClient(world.app).get(_url(world, route, calendar_token=world.komsa_tokens["calendar"]))
        out.append(("calendar-token", bound))
    return out


def _walked(route: GuardedRoute) -> bool:
    return route.access is not Access.PUBLIC and _template(route.path) not in NOT_CONTROLLER_DATA


CONTROLLER_ROUTES = [(r, m) for r, m in ALL if _walked(r)]


def test_the_walk_covers_every_route_but_account_administration() -> None:
    walked = {_template(r.path) for r, _ in CONTROLLER_ROUTES}
    # Public routes (the login form, a data subject's download by link token) know no staff account.
    public = {_template(r.path) for r, _ in ALL if r.access is Access.PUBLIC}
    assert walked | NOT_CONTROLLER_DATA | public == {_template(r.path) for r, _ in ALL}


@pytest.mark.parametrize(("route", "method"), CONTROLLER_ROUTES,
                         ids=[i for (r, _), i in zip(ALL, IDS, strict=True) if _walked(r)])
def test_komsa_staff_see_and_change_nothing_of_kmb2(world: World, route: GuardedRoute, method: str) -> None:
    _walk(world, route, method)


def test_the_whole_walk_on_sqlite_and_postgresql(db_world: World) -> None:
    for route, method in CONTROLLER_ROUTES:
        _walk(db_world, route, method)


def _walk(world: World, route: GuardedRoute, method: str) -> None:
    before = _kmb2_state(world)
    secrets = _secrets_of_kmb2(world)
    if route.path.startswith("/admin/"):
        secrets += [f"<td>{name}</td>" for name in (*ALL_CONTROLLER_ACCOUNTS, "test-suppression", "test-dpo")]
    for who, response in _calls(world, route, method):
        if any(marker in route.path for marker in OBJECT_ROUTES):
            assert response.status_code == 404, (route.path, who, response.status_code, response.text[:300])
        elif route.path.startswith("/api/suppression/"):
            assert response.status_code == 422, who  # kmb2 was named: not this token's controller
        else:
            assert response.status_code == 200, (route.path, who, response.status_code, response.text[:300])
        for secret in secrets:
            assert secret not in response.text, (route.path, who, secret)
    assert _kmb2_state(world) == before, route.path


def test_komsa_staff_still_see_their_own_tickets(world: World) -> None:
    with world.sessions() as s:
        own = s.scalar(select(Ticket).where(Ticket.controller == "komsa"))
        assert own is not None
    client = _komsa_client(world, Role.DPO)
    assert own.reference in client.get("/queue?scope=all").text
    assert client.get(f"/tickets/{own.id}").status_code == 200
    bearer = {"Authorization": f"Bearer {world.komsa_tokens['dpo']}"}
    api = TestClient(world.app).get("/api/tickets", headers=bearer)
    assert [t["reference"] for t in api.json()["tickets"]] == [own.reference]


def test_a_calendar_token_dies_with_its_user(world: World) -> None:
    client = _komsa_client(world, Role.MANAGER)
    token = _calendar_token_of(world, client)
    assert TestClient(world.app).get(f"/calendar/{token}.ics").status_code == 200
    with world.sessions.begin() as s:
        owner = world.user_ids[KOMSA_USERNAMES["manager"]]
        assert s.scalar(select(ApiToken).where(ApiToken.user_id == owner)) is not None
        user = s.get(User, owner)
        assert user is not None
        user.disabled = True
    assert TestClient(world.app).get(f"/calendar/{token}.ics").status_code == 401


def test_an_account_without_controllers_sees_nothing(world: World) -> None:
    with world.sessions.begin() as s:
        user = s.get(User, world.user_ids[KOMSA_USERNAMES["dpo"]])
        assert user is not None
        user.controllers = []
        audit_before = s.scalar(select(func.count()).select_from(AuditEvent))
    client = _komsa_client(world, Role.DPO)
    page = client.get("/queue?scope=all")
    assert page.status_code == 200
    with world.sessions() as s:
        for reference in s.scalars(select(Ticket.reference)):
            assert reference not in page.text
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == audit_before


def test_a_komsa_admin_manages_komsa_accounts_and_an_all_controllers_admin_all(world: World) -> None:
    komsa_admin = _komsa_client(world, Role.ADMIN)
    page = komsa_admin.get("/admin/users").text
    assert "<td>kora</td>" in page and "<td>komsa-suppression</td>" in page
    assert "<td>dana</td>" not in page and "<td>test-suppression</td>" not in page
    kora = world.user_ids[KOMSA_USERNAMES["dpo"]]
    done = komsa_admin.post(f"/admin/users/{kora}/toggle", data={"csrf_token": komsa_admin.csrf})  # type: ignore[attr-defined]
    assert done.status_code == 303
    refused = komsa_admin.post(f"/admin/users/{world.user_ids['dana']}/toggle",
                               data={"csrf_token": komsa_admin.csrf})  # type: ignore[attr-defined]
    assert refused.status_code == 404
    everything = world.client("admin").get("/admin/users").text
    assert "<td>dana</td>" in everything and "<td>kora</td>" in everything
    with world.sessions() as s:
        users = {u.username: u.disabled for u in s.scalars(select(User))}
    assert users["kora"] and not users["dana"]
