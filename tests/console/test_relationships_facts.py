"""Issue 15 nos. 3 and 15 in the console: a person's relationships chosen (or found) for the access
answer, and profile facts the notice does not contain confirmed by a DPO."""

from __future__ import annotations

import re

from sqlalchemy import select

from dsr.store.models import (
    AuditEvent,
    DiscoveryResult,
    FactConfirmation,
    FulfilmentCase,
    SubjectRelationship,
    Ticket,
)
from tests.support.console import World


def _post(client: object, url: str, data: dict[str, object]) -> str:
    response = client.post(url, data={**data, "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303, response.text[:500]
    return str(client.get(response.headers["location"]).text)  # type: ignore[attr-defined]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _draft(world: World) -> str:
    with world.sessions() as s:
        ticket = s.get(Ticket, world.email_ticket)
        assert ticket is not None
        return _flat(ticket.draft_reply or "")


def _verified(world: World) -> tuple[object, str]:
    client = world.client("dpo")
    url = f"/tickets/{world.email_ticket}"
    _post(client, f"{url}/identity", {"level": "code_confirmed", "method": "Code an hinterlegte Adresse"})
    return client, url


def test_the_dpo_chooses_the_persons_relationships_and_the_answer_states_only_theirs(world: World) -> None:
    client, url = _verified(world)
    page = client.get(url).text  # type: ignore[attr-defined]
    assert 'id="relationships"' in page and "Noch nicht gewählt und nichts gefunden" in page
    page = _post(client, f"{url}/relationships",
                 {"relationship": ["website-visitor", "marketing", "unknown"]})
    assert ("Beziehungen gespeichert: Empfang von kmb2-Angeboten und Online-Umfragen; "
            "Besuch der Website") in page
    assert "gewählt von" in page
    _post(client, f"{url}/draft/template", {"kind": "access_answer"})
    draft = _draft(world)
    assert "Besuch der Website www.kmb2.de" in draft and "Information über kmb2-Angebote" in draft
    # Not the customer's purposes, recipients or invoice retention.
    for other in ("Vorbereitung, Verhandlung, Durchführung und Abrechnung", "Handwerkspartner",
                  "Buchungsbelege"):
        assert other not in draft
    with world.sessions() as s:
        keys = set(s.scalars(select(SubjectRelationship.key)))
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "subject.relationships_chosen")).one()
    assert keys == {"website-visitor", "marketing"}
    assert event.ticket_id == world.email_ticket and event.detail["added"] == ["marketing", "website-visitor"]
    # Taking one away is recorded too.
    _post(client, f"{url}/relationships", {"relationship": ["marketing"]})
    with world.sessions() as s:
        assert set(s.scalars(select(SubjectRelationship.key))) == {"marketing"}
        last = s.scalars(select(AuditEvent).where(AuditEvent.action == "subject.relationships_chosen")
                         .order_by(AuditEvent.id.desc())).first()
    assert last is not None and last.detail["removed"] == ["website-visitor"]


def test_relationships_are_proposed_from_what_discovery_found(world: World) -> None:
    client, url = _verified(world)
    now = world.clock()
    with world.sessions.begin() as s:
        case = FulfilmentCase(ticket_id=world.email_ticket, controller="kmb2", state="reviewing",
                              created_at=now, updated_at=now)
        s.add(case)
        s.flush()
        s.add(DiscoveryResult(case_id=case.id, system="crm", state="found", next_attempt_at=now,
                              found={"customers": ["17"], "orders": ["4711"]}))
    page = client.get(url).text  # type: ignore[attr-defined]
    assert 'data-proposed="customer"' in page and "gefunden in: Stammdaten (Name, Anschrift, Kontakt)" in page
    assert 'data-proposed="website-visitor"' not in page
    _post(client, f"{url}/draft/template", {"kind": "access_answer"})
    draft = _draft(world)
    assert "Kunde, Lieferant oder Partner von kmb2" in draft
    assert "(gespeichert in unseren Unterlagen: Stammdaten (Name, Anschrift, Kontakt), Aufträge)" in draft
    assert "Besuch der Website" not in draft


def test_the_facts_page_lists_assumptions_and_a_dpo_confirms_one(world: World) -> None:
    client, url = _verified(world)
    page = client.get("/facts").text  # type: ignore[attr-defined]
    assert "Profilangaben: offene Annahmen" in page
    assert 'id="fact-kmb2-purpose.website.legal_basis"' in page
    assert 'id="fact-komsa-dsr_record_retention"' in page
    assert "Hinweis zur Datenverarbeitung für Neukunden der KOMSA AG" in page
    _post(client, f"{url}/relationships", {"relationship": ["website-visitor"]})
    _post(client, f"{url}/draft/template", {"kind": "access_answer"})
    before = _draft(world)
    gap = "⟦nicht bestätigte Angabe – bitte bestätigen oder streichen: Rechtsgrundlage: Art. 6 Abs. 1 lit. f"
    assert gap in before
    page = _post(client, "/facts/confirm", {"controller": "kmb2", "fact_id": "purpose.website.legal_basis",
                                            "note": "Verzeichnis der Verarbeitungstätigkeiten Nr. 7"})
    assert "Angabe bestätigt" in page
    assert 'id="fact-kmb2-purpose.website.legal_basis"' not in page
    assert "Verarbeitungstätigkeiten Nr. 7" in page
    _post(client, f"{url}/draft/template", {"kind": "access_answer"})
    after = _draft(world)
    stated = re.sub(r"⟦[^⟧]*⟧", "", after)
    assert "Rechtsgrundlage: Art. 6 Abs. 1 lit. f DSGVO; für Cookies § 25 TDDDG." in stated
    with world.sessions() as s:
        row = s.scalars(select(FactConfirmation)).one()
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "profile.fact_confirmed")).one()
    assert (row.controller, row.fact_id) == ("kmb2", "purpose.website.legal_basis")
    assert row.confirmed_by == event.actor and event.detail["fact_id"] == "purpose.website.legal_basis"
    # A fact that is no assumption cannot be "confirmed"; a note is required.
    page = _post(client, "/facts/confirm", {"controller": "komsa", "fact_id": "purpose.training.legal_basis",
                                            "note": "irgendwas"})
    assert "keine offene Annahme" in page
    page = _post(client, "/facts/confirm",
                 {"controller": "kmb2", "fact_id": "dsr_record_retention", "note": ""})
    assert "Bitte kurz vermerken" in page


def test_admins_see_the_facts_but_only_dpos_confirm(world: World) -> None:
    admin = world.client("admin")
    page = admin.get("/facts").text
    assert "Profilangaben: offene Annahmen" in page and "Bestätigen</button>" not in page
    response = admin.post("/facts/confirm", data={"controller": "kmb2", "fact_id": "dsr_record_retention",
                                                  "note": "Löschkonzept", "csrf_token": admin.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 403


def test_the_review_outcome_draft_needs_the_persons_relationships(world: World) -> None:
    """Brief gap 1: the Art. 22 review outcome is drafted per person like the access answer."""
    client, url = _verified(world)
    page = _post(client, f"{url}/draft/template", {"kind": "automated_decision_outcome"})
    assert "zuerst die Beziehungen der Person" in page and _draft(world) == ""
    _post(client, f"{url}/relationships", {"relationship": ["customer"]})
    page = _post(client, f"{url}/draft/template", {"kind": "automated_decision_outcome"})
    assert "Entwurf aus der Vorlage" in page
    draft = _draft(world)
    assert "⟦Ergebnis der Prüfung in eigenen Worten⟧" in draft
    # kmb2 names no automated decision for its customers: the outcome explains none.
    assert "Art. 15 Abs. 1 lit. h" not in draft
