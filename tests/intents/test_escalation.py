"""Escalation cues: they fire on the situation a DPO must see, not on a mere mention (issue 13)."""

from __future__ import annotations

import pytest

from dsr.intents import classify
from dsr.intents.routing import Route, decide
from dsr.intents.scoring import score


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # An end customer of a craft business whose orders kmb2 bills: the business is controller.
        ("Ich bin Kundin von Maler Ostrowski. Welche Daten haben Sie über mich gespeichert?",
         "processor_role"),
        ("Bitte löschen Sie meine Daten, die Rechnung kam im Namen der Firma Sanitär Behrens.",
         "processor_role"),
        # Private contact data shown to everyone: a possible breach (Art. 33).
        ("Auf der Kursseite ist meine private Handynummer für alle Teilnehmer sichtbar. "
         "Bitte entfernen Sie die Nummer und löschen Sie sie.", "breach"),
        # Our answer was incomplete: a grievance about the handling.
        ("Ihre Auskunft ist unvollständig, es fehlen die Empfänger. Ich bitte um vollständige "
         "Auskunft nach Art. 15 DSGVO.", "complaint"),
        ("Bitte teilen Sie uns die aktuelle Anschrift und Bankverbindung des Schuldners mit.",
         "third_party_data"),
        ("Ich war bei Ihnen als Mitarbeiterin beschäftigt. Bitte schicken Sie mir eine Kopie meiner "
         "Personalakte.", "employee"),
    ],
)
def test_situations_a_person_must_see(body: str, reason: str) -> None:
    result = classify("", body, "email")
    assert reason in result.reasons, result.reasons
    assert decide(result).route is Route.ESCALATE


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # kmb2's own surveys and advertising: kmb2 is the controller, no processor situation.
        ("Seit der Elektriker bei mir war, rufen Sie ständig wegen einer Umfrage an. Ich möchte an "
         "keinen Umfragen mehr teilnehmen, bitte keine Anrufe mehr.", "processor_role"),
        # A Handwerkspartner (kmb2's own subcontractor) asking about his own data.
        ("Ich bin Handwerkspartner bei Ihnen. Bitte exportieren Sie meine Einsatzdaten als "
         "CSV-Datei nach Art. 20 DSGVO.", "processor_role"),
        # An employee of a partner using KOMSA's training platform is no HR matter of KOMSA's.
        ("Ich bin Mitarbeiter eines KOMSA-Partners. Ich widerspreche der Weitergabe meiner "
         "Schulungsdaten an die Hersteller.", "employee"),
        ("My partner number is HP-0966. Please send me my assignment data as CSV under article 20.",
         "third_party_data"),
    ],
)
def test_a_mere_mention_is_no_escalation(body: str, reason: str) -> None:
    result = classify("", body, "email")
    assert reason not in result.reasons, result.reasons


def test_score_tells_per_reason_how_often_the_label_agreed() -> None:
    records = [
        {"id": "a", "channel": "email", "subject": "", "labels": ["access"], "escalate": True,
         "body": "Namens und in Vollmacht unseres Mandanten verlangen wir Auskunft nach Art. 15 DSGVO."},
        {"id": "b", "channel": "email", "subject": "", "labels": ["access"], "escalate": False,
         "body": "Namens und in Vollmacht meiner Firma verlange ich Auskunft nach Art. 15 DSGVO."},
    ]
    result = score(records, classify)
    rows = {item.reason: item for item in result.per_reason}
    assert (rows["representative"].fired, rows["representative"].to_person) == (2, 2)
    assert (rows["representative"].agreed, rows["representative"].disagreed) == (1, 1)
    assert rows["representative"].agreement == 0.5
    assert any(line.startswith("representative") for line in result.reason_lines())
