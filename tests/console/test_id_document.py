"""Issue 17 item 7: an ID copy that arrived is visible on the ticket, said truthfully (only its name,
type, size and hash are stored; the letter tells the person it is not used), not only as an audit row."""

from __future__ import annotations

from sqlalchemy import select

from dsr.store.models import Message
from tests.support.console import World


def test_an_id_copy_shows_on_its_message_as_not_kept_and_not_used(world: World) -> None:
    with world.sessions.begin() as s:
        message = s.scalars(select(Message).where(Message.ticket_id == world.email_ticket,
                                                  Message.direction == "in").order_by(Message.id)).first()
        assert message is not None
        message.attachments = [
            {"name": "personalausweis.jpg", "type": "image/jpeg", "size": 48213, "sha256": "ab" * 32,
             "id_document": True},
            {"name": "rechnung.pdf", "type": "application/pdf", "size": 1200, "sha256": "cd" * 32,
             "id_document": False}]
    page = world.client("dpo").get(f"/tickets/{world.email_ticket}").text
    assert "personalausweis.jpg <span class=\"tag id-document\">Ausweiskopie: nicht gespeichert" in page
    assert page.count("Ausweiskopie: nicht gespeichert") == 1  # the invoice is no ID copy
