"""Issue 14 leftover: the DPO's free-text extension reason is checked before it goes to the person.

The dialog accepted any 30 characters: a placeholder, an e-mail address or phone number (of the
person or of somebody else), filler.  The text goes out as written, also in the neutral notice to
an unverified contact.  The console tests below fail on the old code (the ticket was extended).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from dsr.console.extension import EXTENSION_REASONS
from dsr.console.free_text import MAX_CHARS, reason_problem
from dsr.store.models import OutboxItem, Ticket
from tests.support.console import World

REFERENCE = "DSR-2026-000042"


@pytest.mark.parametrize("text", [
    *EXTENSION_REASONS.values(),
    "Die Daten liegen im Auftragssystem, im Papierarchiv und bei zwei Dienstleistern.",
    "Die Unterlagen aus 2019 bis 2023 müssen einzeln geprüft werden; Stand 15.03.2026.",
    f"Zu Vorgang {REFERENCE}: die Schwärzung der Akten dauert länger als geplant.",
    "Our service providers must first send us their part of the records.",
])
def test_ordinary_reasons_pass(text: str) -> None:
    assert reason_problem(text, reference=REFERENCE) is None


@pytest.mark.parametrize(("text", "says"), [
    ("Die Daten liegen in ⟦System⟧ und müssen geprüft werden.", "Platzhalter"),
    ("Die Daten liegen in XXX und müssen noch geprüft werden.", "Platzhalter"),
    ("TODO: Grund eintragen, bevor der Brief rausgeht.", "Platzhalter"),
    ("Die Unterlagen von [Name] müssen vorher geschwärzt werden.", "Platzhalter"),
    ("Die Unterlagen von <Name des Mitarbeiters> müssen geschwärzt werden.", "Platzhalter"),
    ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.", "Platzhalter"),
    ("Ihr Ehemann (max.mustermann@example.org) hat ebenfalls angefragt.", "E-Mail-Adressen"),
    ("Wir warten auf Rückruf von Frau Berg unter 0511 1234567 wegen der Akten.", "Telefon"),
    ("Die Buchungen zum Konto DE02 1203 0000 0000 2020 51 werden noch geprüft.", "Kontonummern"),
    ("Die Verträge zur Kundennummer 1002345 liegen noch im Archiv vor Ort.", "Kunden-"),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ganzen Worten"),
    ("dauert dauert dauert dauert dauert dauert", "ganzen Worten"),
    ("Die Zusammenstellung dauert. " * 40, f"höchstens {MAX_CHARS}"),
])
def test_slips_are_refused_with_a_german_reason(text: str, says: str) -> None:
    problem = reason_problem(text, reference=REFERENCE)
    assert problem is not None and says in problem


def _extended(world: World) -> bool:
    with world.sessions() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        return ticket.extended_due_date is not None


def _notices(world: World) -> list[OutboxItem]:
    with world.sessions() as s:
        return list(s.scalars(select(OutboxItem).where(OutboxItem.kind.like("extension_notice%"))))


def _post(client: TestClient, url: str, data: dict[str, str]) -> str:
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303
    return client.get(response.headers["location"]).text


def test_the_dialog_refuses_another_persons_address_in_preview_and_on_confirm(world: World) -> None:
    with world.sessions.begin() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        ticket.identity_level = "manual"
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}/extend"
    leaked = {"ground": "third_parties",
              "reason": "Die Akte enthält Angaben zu Herrn Berg (k.berg@example.net), die wir schwärzen."}
    for target in (f"{url}/preview", url):
        page = _post(client, target, leaked)
        assert "keine E-Mail-Adressen" in page
    placeholder = {"ground": "complexity", "reason": "Die Daten liegen in ⟦System⟧ und im Papierarchiv vor."}
    assert "Platzhalter" in _post(client, url, placeholder)
    assert not _extended(world) and _notices(world) == []
    fine = {"ground": "third_parties",
            "reason": "Die Akte enthält Angaben zu anderen Personen, die wir schwärzen."}
    assert "Frist verlängert" in _post(client, url, fine)
    assert _extended(world) and len(_notices(world)) == 1


def test_the_api_refuses_contact_details_in_the_reason(world: World) -> None:
    with world.sessions.begin() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        ticket.identity_level = "contact_on_file"
    response = TestClient(world.app).post(
        f"/api/tickets/{world.email_reference}/extend",
        json={"reason": "Rückruf unter 0511 1234567 steht aus"},
        headers={"Authorization": f"Bearer {world.tokens['dpo']}"})
    assert response.status_code == 409 and "Telefon" in response.text
    assert not _extended(world) and _notices(world) == []
