"""Processor mode end to end by e-mail (issue 15 no. 9): request -> neutral letter to the person ->
forwarding mail to the client -> ticket state, through our SMTP endpoint and the real SMTP sink."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from dsr.controllers.profile import PROFILE_DIR
from dsr.store.models import OutboxItem
from tests.support.pipeline import KMB2, STRANGER, make_mail
from tests.support.service import ServiceFactory

CLIENT_ADDRESS = "datenschutz@hv-muster.example"
REGISTER = f"""

[[processor_clients]]
key = "hv-muster"
name = "Hausverwaltung Muster GmbH, Braunschweig"
forward_to = "{CLIENT_ADDRESS}"
may_be_named = true
data = "Verbrauchs- und Abrechnungsdaten der Mieter (Heizkostenabrechnung)"
match = ["Hausverwaltung Muster", "HV Muster"]
"""
REQUEST = ("Guten Tag,\n\nich wohne in einer Wohnung der Hausverwaltung Muster. Bitte teilen Sie mir nach "
           "Art. 15 DSGVO mit, welche Daten Sie aus der Heizkostenabrechnung über mich speichern.\n\n"
           "Jana Beispiel")


def _profile_with_register(tmp_path: Path) -> Path:
    path = tmp_path / "kmb2.toml"
    path.write_text((PROFILE_DIR / "kmb2.toml").read_text(encoding="utf-8") + REGISTER, encoding="utf-8")
    return path


async def test_request_about_a_clients_data_is_forwarded_not_answered(
    start_service: ServiceFactory, tmp_path: Path
) -> None:
    service = await start_service(controller=f"{_profile_with_register(tmp_path)},komsa")
    await service.send(make_mail(sender=STRANGER, subject="Auskunft Heizkosten", body=REQUEST,
                                 message_id="<proc-1@example.com>"), mail_from=STRANGER)
    received = [await service.sink.next_message(), await service.sink.next_message()]
    by_recipient = {m.rcpt_tos: m for m in received}
    assert set(by_recipient) == {(STRANGER,), (CLIENT_ADDRESS,)}

    # The person: a neutral note naming the client, no identity check, nothing about the data.
    notice = by_recipient[(STRANGER,)]
    text = " ".join(notice.text.split())
    assert KMB2 in str(notice.message["From"]) and "weitergeleitet" in notice.subject
    assert "im Auftrag von Hausverwaltung Muster GmbH, Braunschweig" in text
    assert "am 2. März 2026 mit dem Eingangsdatum weitergeleitet" in text
    assert "Code" not in text and "Kundennummer" not in text

    # The client: the request itself, its receipt date (the client's clock) and an offer of support.
    forward = by_recipient[(CLIENT_ADDRESS,)]
    body = " ".join(forward.text.split())
    assert "Eingang bei uns am 2. März 2026" in forward.subject
    assert "welche Daten Sie aus der Heizkostenabrechnung über mich speichern" in body
    assert "also bis zum 2. April 2026" in body and "Gern unterstützen wir Sie" in body
    assert "Art. 28 Abs. 3 lit. e DSGVO" in body

    # The ticket: forwarded, our own clock stopped, the follow-up kept.
    [ticket] = service.tickets()
    assert (ticket.state, ticket.outcome, ticket.identity_level) == ("answered", "forwarded", "none")
    record = ticket.classification["processor"]
    assert record == {"client": "hv-muster", "forwarded_on": "2026-03-02", "follow_up": "2026-03-16",
                      "forward_item": record["forward_item"]}
    assert isinstance(record["forward_item"], int)  # the forward's outbox item (a take-back asks)
    with service.sessions() as s:
        kinds = sorted(s.scalars(select(OutboxItem.kind)))
    assert kinds == ["processor_forward", "processor_notice"]  # no code, no receipt in our name


async def test_without_the_register_kmb2_answers_as_before(start_service: ServiceFactory) -> None:
    """A request that names no registered client is kmb2's own (receipt, identity as usual)."""
    service = await start_service()
    await service.send(make_mail(sender=STRANGER, subject="Auskunft Heizkosten", body=REQUEST),
                       mail_from=STRANGER)
    reply = await service.sink.next_message()
    assert reply.rcpt_tos == (STRANGER,) and "weitergeleitet" not in reply.subject
