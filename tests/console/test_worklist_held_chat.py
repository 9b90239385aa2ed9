"""Work list: a chat that went over its message limit was told the data protection team reads its
further messages and answers; its ticket is in the DPO's default list (even while it waits for the
person's identity) until the DPO acts on it.  The Telegram side: tests/telegram/test_rate_limit.py."""

from __future__ import annotations

from dsr.console.worklist import CHAT_RATE_LIMITED
from dsr.intents.rights import Right
from dsr.store.audit import audit
from dsr.store.models import TicketState
from tests.support.console import NOW, World
from tests.support.store import new_ticket

MARK = "Chat-Nachrichten ohne automatische Antwort lesen und beantworten"


def _row_of(html: str, reference: str) -> str:
    start = html.index(f">{reference}</a><br><small>")
    return html[html.rindex("<tr", 0, start):html.index("</tr>", start)]


def _listed(html: str, reference: str) -> bool:
    return f">{reference}</a><br><small>" in html


def test_ticket_of_a_chat_over_the_limit_waits_for_the_dpo_until_she_acts(world: World) -> None:
    with world.sessions.begin() as s:
        flooded = new_ticket(s, rights=(Right.ACCESS,), received_at=NOW, state=TicketState.AWAITING_IDENTITY,
                             now=NOW)
        flooded.channel, flooded.reply_to = "telegram", "515151"
        quiet = new_ticket(s, rights=(Right.ACCESS,), received_at=NOW, state=TicketState.AWAITING_IDENTITY,
                           now=NOW)
        quiet.channel, quiet.reply_to = "telegram", "616161"
        s.flush()
        audit(s, actor="system", action=CHAT_RATE_LIMITED, now=NOW, ticket_id=flooded.id,
              detail={"limit_per_minute": 12, "update_id": 7})
        flooded_id, flooded_ref, quiet_ref = flooded.id, flooded.reference, quiet.reference
    client = world.client("dpo")
    work = client.get("/queue").text
    assert _listed(work, flooded_ref) and MARK in _row_of(work, flooded_ref)
    assert not _listed(work, quiet_ref)  # waiting for the person: not in the default list
    # Looking at the ticket is not handling it; a note (any action of the DPO) is.
    assert client.get(f"/tickets/{flooded_id}").status_code == 200
    assert MARK in _row_of(client.get("/queue").text, flooded_ref)
    noted = client.post(f"/tickets/{flooded_id}/notes", data={
        "text": "Chat gelesen, Rückruf vereinbart", "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert noted.status_code == 303
    assert not _listed(client.get("/queue").text, flooded_ref)
    assert _listed(client.get("/queue?scope=open").text, flooded_ref)
    # The chat goes over the limit again later: back in the list.
    with world.sessions.begin() as s:
        audit(s, actor="system", action=CHAT_RATE_LIMITED, now=NOW, ticket_id=flooded_id,
              detail={"limit_per_minute": 12, "update_id": 9})
    assert MARK in _row_of(client.get("/queue").text, flooded_ref)
