"""The work list's bulk actions report what they did, in German number agreement: "1 Anfrage an dana
zugewiesen", not "1 Anfragen", and not the number of ticked boxes (a ticket that already had the
assignee, an id that is gone or outside the user's controllers is no assignment)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from starlette.testclient import TestClient

from dsr.console.auth import Role
from dsr.console.labels import counted, days_word
from dsr.intents.rights import Right
from dsr.store.models import AuditEvent, Ticket, TicketState
from tests.support.console import KOMSA_USERNAMES, NOW, World, post_form
from tests.support.store import new_ticket

GONE = 987_654  # an id no ticket has


def _tickets(world: World, *assignees: str | None, controller: str = "kmb2") -> list[int]:
    with world.sessions.begin() as s:
        ids = []
        for assignee in assignees:
            ticket = new_ticket(s, rights=(Right.ACCESS,), received_at=NOW, state=TicketState.IN_PROGRESS,
                                controller=controller, now=NOW)
            ticket.assignee = assignee
            ids.append(ticket.id)
        return ids


def _assignees(world: World, ids: list[int]) -> list[str | None]:
    with world.sessions() as s:
        return [s.get(Ticket, i).assignee for i in ids]  # type: ignore[union-attr]


def _assigned_audits(world: World, ids: list[int]) -> int:
    with world.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "assigned", AuditEvent.ticket_id.in_(ids))) or 0)


def _bulk(client: TestClient, ids: list[int], **fields: str) -> str:
    return post_form(client, "/queue/bulk", {"ids": [str(i) for i in ids], "query": "scope=all", **fields})


def test_counted_agrees_in_number() -> None:
    assert [counted(n, "Anfrage", "Anfragen") for n in (0, 1, 2, -1)] == [
        "0 Anfragen", "1 Anfrage", "2 Anfragen", "-1 Anfrage"]
    assert days_word(1) == "1 Tag" and days_word(3) == "3 Tage"


def test_one_ticket_assigned_is_one_anfrage(world: World) -> None:
    ids = _tickets(world, None)
    page = _bulk(world.client("dpo"), ids, action="assign", assignee="dana")
    assert "1 Anfrage an dana zugewiesen." in page and "1 Anfragen" not in page
    assert _assignees(world, ids) == ["dana"]


def test_bulk_assignment_counts_what_it_assigned_not_what_was_ticked(world: World) -> None:
    ids = _tickets(world, None, "dana", None, "dora")
    before = _assigned_audits(world, ids)
    page = _bulk(world.client("dpo"), [*ids, GONE], action="assign", assignee="dana")
    # Three assigned (two unassigned, one from dora), one already with dana, one id gone.
    assert ("3 Anfragen an dana zugewiesen. Bereits an dana zugewiesen: 1 Anfrage. "
            "Nicht gefunden: 1 Anfrage.") in page
    assert "5 Anfragen" not in page
    assert _assignees(world, ids) == ["dana"] * 4
    assert _assigned_audits(world, ids) == before + 3  # the ticket that already had dana is not touched


def test_clearing_the_assignee_counts_the_tickets_that_had_one(world: World) -> None:
    ids = _tickets(world, "dana", None)
    page = _bulk(world.client("dpo"), ids, action="assign", assignee="")
    assert "Zuweisung bei 1 Anfrage aufgehoben. Bereits ohne Zuweisung: 1 Anfrage." in page
    assert _assignees(world, ids) == [None, None]


def test_a_ticket_outside_the_users_controllers_is_not_counted(world: World) -> None:
    own = _tickets(world, None, controller="komsa")
    other = _tickets(world, None, controller="kmb2")
    client = TestClient(world.app, base_url="http://testserver", follow_redirects=False)
    name = KOMSA_USERNAMES["dpo"]
    web = world.store.create(user_id=world.user_ids[name], username=name, role=Role.DPO, now=world.clock())
    client.cookies.set("dsr_session", web.handle)
    client.csrf = web.csrf  # type: ignore[attr-defined]
    page = _bulk(client, [*own, *other], action="assign", assignee=name)
    assert f"1 Anfrage an {name} zugewiesen. Nicht gefunden: 1 Anfrage." in page
    assert _assignees(world, own + other) == [name, None]


def test_bulk_close_of_one_ticket_is_one_anfrage(world: World) -> None:
    ids = _tickets(world, None)
    page = _bulk(world.client("dpo"), [*ids, GONE], action="close", outcome="duplicate",
                 reason="Zweimal gestellt, einmal per Mail und einmal im Chat")
    assert "1 Anfrage abgeschlossen. Nicht gefunden: 1 Anfrage." in page


def test_a_deadline_one_day_past_is_one_tag_overdue(world: World) -> None:
    (ticket_id,) = _tickets(world, None)
    with world.sessions.begin() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.due_date = NOW.date() - timedelta(days=1)
        reference = ticket.reference
    client = world.client("dpo")
    assert "1 Tag überfällig" in client.get(f"/tickets/{ticket_id}").text
    queue = client.get("/queue?scope=all").text
    at = queue.index(f">{reference}</a>")
    assert "1 Tag überfällig" in queue[queue.rindex("<tr", 0, at):queue.index("</tr>", at)]
