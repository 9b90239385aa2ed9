"""Escalation cues: they fire on the situation a DPO must see, not on a mere mention (issue 13)."""

from __future__ import annotations

import pytest

from dsr.intents import classify
from dsr.intents.rights import Right
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
        ("Ich schreibe Ihnen zum dritten Mal: bitte löschen Sie endlich meine Daten.", "complaint"),
        ("Hört endlich auf mit den Werbeanrufen, das geht jetzt an die Verbraucherzentrale.", "complaint"),
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
        # Advertising received for the third time is the reason to object, not an ignored request.
        ("Sie rufen mich jetzt zum dritten Mal wegen Werbung an. Ich will keine Werbung mehr.", "complaint"),
        ("Falls Sie noch Daten von mir haben, bitte löschen. Wenn nicht, brauche ich keine Antwort.",
         "complaint"),
        # Certificates kept "für Bewerbungen" elsewhere: no application to the controller.
        ("Bitte löschen Sie mein Konto auf der Schulungsplattform. Die Zertifikate habe ich für "
         "Bewerbungen schon heruntergeladen.", "employee"),
        # A relative named beside an invoice matter, no right asked for: no one else's data request.
        ("Widerspruch gegen die Rechnung 2024-0581: meine Frau hat die Anfahrt nie bestellt.",
         "third_party_data"),
        # Data passed to the other companies of the group: an objection, no breach report.
        ("Ich möchte nicht, dass meine Kontaktdaten an die anderen Firmen Ihrer Gruppe für deren "
         "Werbung gehen. Bitte keine Werbung der Konzerngesellschaften mehr.", "complaint"),
        # An auditor's client is no data subject represented; a customer number is no customer.
        ("Im Rahmen der Jahresabschlussprüfung unserer Mandantin bitten wir um Bestätigung des Saldos. "
         "Ihre Auskunft wird vertraulich behandelt.", "representative"),
        ("My customer number is 3309-1187. Please delete the recordings of my calls with your hotline.",
         "processor_role"),
        # Keeping invoices for the statutory retention is no contradiction.
        ("Bitte löschen Sie mein Konto und alle Daten dazu. Die Rechnungen können Sie wegen der "
         "Buchhaltung natürlich behalten.", "contradictory"),
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


BOUNCE = (
    "This is the mail system at host mx02.example.de.\n\n"
    "I'm sorry to have to inform you that your message could not\nbe delivered to one or more "
    "recipients. For further assistance, please send mail to postmaster. You can\ndelete your own "
    "text from the attached returned message.\n\n"
    "<a.b@example.org>: host mx.example.org said: 550 5.1.1 Recipient address rejected: User unknown\n\n"
    "--- Original message ---\nSubject: Ihr Widerspruch gegen die Verarbeitung Ihrer Daten für "
    "Werbezwecke – Bestätigung\n"
)


@pytest.mark.parametrize(
    ("subject", "body", "channel", "why"),
    [
        # A server's delivery report quoting our letter: its privacy words are ours.
        ("Undelivered Mail Returned to Sender", BOUNCE, "email", "auto_reply"),
        ("", "Gilt die Werbung für das Galaxy S24 aus dem Prospekt noch?", "telegram", "business"),
        ("", "wat is dat hier für n bot", "telegram", "chat_noise"),
        ("", "do you speak english?", "telegram", "chat_noise"),
        ("", "hab euch letzte woche ne bewerbung geschickt, ist die angekommen?", "telegram",
         "application"),
        ("Betriebsferien", "Vielen Dank für Ihre Nachricht. Unser Betrieb ist bis 06.01. in "
         "Betriebsferien, ab dem 07.01. sind wir wieder für Sie da. In Notfällen: 0171 1234567.",
         "email", "auto_reply"),
    ],
)
def test_positive_evidence_of_no_request_sets_a_message_aside(subject: str, body: str, channel: str,
                                                               why: str) -> None:
    decision = decide(classify(subject, body, channel))
    assert (decision.route, decision.ignore_reason) == (Route.IGNORE, why)


@pytest.mark.parametrize(
    ("subject", "body", "channel"),
    [
        # A person quoting a bounce is no bounce; "unzustellbar" late in a subject is no auto-reply.
        ("Ihre Datenschutz-Adresse ist unzustellbar",
         "Meine E-Mail an datenschutz@example.de kam als unzustellbar zurück (\"Mailbox unavailable\"). "
         "Bitte teilen Sie mir nach Art. 15 DSGVO mit, welche Daten Sie über mich gespeichert haben.",
         "email"),
        # A how-to question about a right in a business context; the account is the person's.
        ("", "how do i delete meinen account im händlerportal? finde nix in den einstellungen", "telegram"),
        # A change in "your system" is a correction of stored data, not an order matter.
        ("", "Wir sind vom Lindenweg in die Bahnhofstraße 4 gezogen. Künnt ihr dat bitte en eurem System "
         "ändere, die letzte Lieferung ging noch an die alte. Kundennummer 400-733516.", "email"),
        # Prepayment only and a human should look: an Art. 22 matter, never set aside.
        ("", "Seit Montag darf ich nur noch mit Vorkasse bestellen. Das soll sich mal ein Mensch "
         "ansehen und persönlich prüfen. Kundennummer 10061183", "telegram"),
    ],
)
def test_a_person_asking_about_their_data_is_never_set_aside(subject: str, body: str, channel: str) -> None:
    assert decide(classify(subject, body, channel)).route is not Route.IGNORE


def test_a_question_about_the_procedure_offers_the_right_it_names() -> None:
    result = classify("", "Wie kann ich meine Daten bei euch löschen lassen?", "telegram")
    decision = decide(result)
    # Labelled with what it asks about beside `other`; nothing is exercised yet.
    assert result.labels == (Right.ERASURE, Right.OTHER) and result.requested == ()
    assert decision.route is Route.CLARIFY and Right.ERASURE in decision.readings
    assert decision.labels == ()


@pytest.mark.parametrize("body, right", [
    ("how do I unsubscribe from your emails? there is no link at the bottom", Right.MARKETING_OBJECTION),
    ("Wo kann ich mich vom Newsletter abmelden? Finde den Link nicht", Right.MARKETING_OBJECTION),
    ("Wie kann ich eine Datenauskunft beantragen?", Right.ACCESS),
])
def test_a_short_how_to_question_is_labelled_with_the_right_it_asks_about(body: str, right: Right) -> None:
    result = classify("", body, "telegram")
    assert result.labels == (right, Right.OTHER) and result.asked_about == (right,)
    assert decide(result).route is Route.CLARIFY and decide(result).labels == ()


def test_a_long_enquiry_naming_a_right_in_a_question_stays_other() -> None:
    body = ("Sehr geehrte Damen und Herren,\n\nich schreibe an der Hochschule meine Bachelorarbeit über "
            "den Umgang mittelständischer Unternehmen mit der DSGVO. Dürfte ich Ihnen einige Fragen "
            "stellen? Zum Beispiel: Wie kann man bei Ihnen seine Daten löschen lassen, wie viele solcher "
            "Anfragen erhalten Sie im Jahr, und wer bearbeitet sie? Die Antworten würden anonymisiert "
            "ausgewertet.\n\nMit freundlichen Grüßen\nLena Hartmann")
    result = classify("Anfrage für eine Bachelorarbeit", body, "email")
    assert result.labels == (Right.OTHER,)


def test_a_question_about_a_right_in_an_hr_context_goes_to_a_person() -> None:
    body = "I am a former freelancer of yours. How can I get a copy of the data you keep about me?"
    result = classify("", body, "email")
    assert "employee" in result.reasons
    assert decide(result).route is Route.ESCALATE


def test_a_newsletter_reporting_a_court_ruling_is_no_authority_matter() -> None:
    body = ("Liebe Mitglieder,\n\ndie Themen dieses Monats:\n- Datenschutz: Das Landgericht hat entschieden, "
            "dass ein Werbewiderspruch auch per Telefon wirksam ist.\n- Fachhandelstag am 21.11.\n\n"
            "Sie erhalten diese Nachricht als Mitglied des Fachverbands. Abmeldung jederzeit möglich.")
    result = classify("Branchenbrief 11/2024", body, "email")
    assert "authority" not in result.reasons
    assert any(item.reason == "authority" for item in result.evidence)  # the hit stays visible
    assert decide(result).route is not Route.ESCALATE


@pytest.mark.parametrize("body", [
    "Guten Tag,\nich habe heute eine Rechnung bekommen, die gar nicht an mich gerichtet ist, sondern an "
    "eine Frau aus Wolfsburg. Was soll ich damit machen?",
    "Hi, I got a letter from you today that is not addressed to me at all. "
    "It has someone's bank details on it.",
    "Hallo, in meinem Umschlag lagen heute Unterlagen, die eindeutig zu einem anderen Kunden von Ihnen "
    "gehören, mit Name und Adresse.",
])
def test_someone_elses_letter_told_at_length_is_a_breach(body: str) -> None:
    result = classify("", body, "email")
    assert "breach" in result.reasons
    assert decide(result).route is Route.ESCALATE
