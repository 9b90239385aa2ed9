"""Work list: fulfilment waiting for the DPO's review is in the default list and has its own view."""

from __future__ import annotations

from dsr.intents.rights import Right
from dsr.store.models import FulfilmentCase, FulfilmentState, TicketState
from tests.support.console import NOW, World
from tests.support.store import new_ticket


def _ticket_with_case(world: World, state: FulfilmentState, *, ticket_state: TicketState) -> str:
    with world.sessions.begin() as s:
        ticket = new_ticket(s, rights=(Right.ACCESS,), received_at=NOW, state=ticket_state, now=NOW)
        ticket.reply_to = f"{state.value}@example.org"  # two people, so the rows do not link each other
        s.add(FulfilmentCase(ticket_id=ticket.id, controller="kmb2", state=state.value, created_at=NOW,
                             updated_at=NOW))
        return ticket.reference


def _row_of(html: str, reference: str) -> str:
    start = html.index(f">{reference}</a><br><small>")
    return html[html.rindex("<tr", 0, start):html.index("</tr>", start)]


def test_fulfilment_in_review_is_marked_in_the_work_list_and_filtered_by_its_view(world: World) -> None:
    # Paused for the person's identity: not ours by state, but the review still waits for the DPO.
    review = _ticket_with_case(world, FulfilmentState.REVIEW, ticket_state=TicketState.PAUSED)
    searching = _ticket_with_case(world, FulfilmentState.DISCOVERING, ticket_state=TicketState.IN_PROGRESS)
    client = world.client("dpo")
    work = client.get("/queue").text
    assert "Erfüllung prüfen" in _row_of(work, review)
    assert "Erfüllung prüfen" not in _row_of(work, searching)
    view = client.get("/queue?scope=review").text
    assert "<h1>Erfüllung prüfen" in view
    listed = [ref for ref in (review, searching, world.email_reference) if f">{ref}</a><br><small>" in view]
    assert listed == [review]
    assert 'href="/queue?scope=review"' in work  # a view of its own beside the work list
