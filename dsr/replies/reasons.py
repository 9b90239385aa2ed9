"""Escalation reason codes (ARCHITECTURE.md) explained in German for the DPO alert.

The classifier (`intents`) and the service itself (undeliverable answers, identity not
confirmed, the person's word in the chat) emit stable snake_case codes; the DPO reads what each
means and why the law wants a human to look (docs/LEGAL-NOTES.md 5).  A code missing here is shown
with a warning rather than dropped: an escalation alert must never fail to go out.
"""

from __future__ import annotations

import logging

from dsr.replies.labels import STATES

logger = logging.getLogger(__name__)

ESCALATION_REASONS_DE: dict[str, str] = {
    "low_confidence": "Die Einordnung der Anfrage ist unsicher (niedrige Trefferquote der Regeln).",
    "ambiguous": "Die Anfrage lässt mehrere Deutungen zu; die Regeln liegen zu dicht beieinander.",
    "complaint": "Beschwerde oder Unzufriedenheit mit der Bearbeitung; Hinweis auf die Aufsichtsbehörde.",
    "legal_threat": "Anwalt, Klage, Schadensersatz (Art. 82 DSGVO) oder Abmahnung werden erwähnt.",
    "representative": "Die Anfrage kommt von einer vertretenden Person (Vollmacht, Kanzlei, Angehörige).",
    "minor": "Es geht um ein Kind oder eine minderjährige Person (Art. 8 DSGVO, Sorgerecht).",
    "special_category": "Besondere Kategorien personenbezogener Daten (Art. 9, 10 DSGVO) sind betroffen.",
    "third_party_data": "Die Anfrage betrifft Daten anderer Personen (Art. 15 Abs. 4 DSGVO, § 29 BDSG).",
    "employee": "Beschäftigte, Bewerbende oder ehemalige Beschäftigte: Personaldaten (Art. 88 DSGVO).",
    "processor_role": "Wir sind möglicherweise nur Auftragsverarbeiter; Weiterleitung an den "
    "Verantwortlichen prüfen (Art. 28 Abs. 3 lit. e DSGVO).",
    "contradictory": "Mehrere oder widersprüchliche Rechte in einer Nachricht; Reihenfolge festlegen "
    "(z. B. Auskunft vor Löschung).",
    "breach": "Hinweis auf eine Datenpanne: 72-Stunden-Frist nach Art. 33 DSGVO prüfen.",
    "authority": "Schreiben einer Behörde, eines Gerichts, der Polizei oder der Aufsichtsbehörde.",
    "identity_theft": "Verdacht auf Identitätsdiebstahl oder Betrug; keine Daten herausgeben.",
    "credit_agency": "Auskunftei- oder Bonitätseintrag (z. B. SCHUFA) ist betroffen.",
    "deceased": "Verstorbene Person oder Erben; die DSGVO gilt nicht für Verstorbene (ErwG 27).",
    "distress": "Anzeichen einer Notlage oder Gefährdung; vorrangig und mit Sorgfalt behandeln.",
    "unusual_scope": "Ungewöhnlicher Umfang oder ungewöhnliches Format (z. B. Aufzeichnungen, "
    "alle E-Mails, Originalakten).",
    "abusive": "Möglicher Missbrauch oder exzessive Anfrage (Art. 12 Abs. 5 DSGVO); nur ein Mensch "
    "darf ablehnen oder ein Entgelt verlangen.",
    "objection_balancing": "Widerspruch nach Art. 21 Abs. 1 DSGVO: Interessenabwägung durch einen "
    "Menschen erforderlich.",
    "automated_decision_review": "Anfechtung einer automatisierten Entscheidung (Art. 22 Abs. 3 DSGVO): "
    "echte Überprüfung durch eine entscheidungsbefugte Person.",
    "consent_withdrawal_review": "Widerruf einer Einwilligung, die nicht nur Werbung betrifft (z. B. "
    "längere Speicherung, Bonitätsabfrage, Weitergabe): Verarbeitungen finden, die darauf beruhen, "
    "einstellen, Daten ohne andere Rechtsgrundlage löschen (Art. 7 Abs. 3, Art. 17 Abs. 1 lit. b "
    "DSGVO) und der Person mitteilen, was geschehen ist.",
    "delivery_bounced": "Eine Antwort an die betroffene Person kam als unzustellbar zurück. Bitte einen "
    "anderen Weg zur Person suchen (z. B. Anschrift im Bestand); die Frist läuft weiter.",
    "delivery_failed": "Eine Antwort an die betroffene Person konnte endgültig nicht versendet werden "
    "(vom Mailserver oder von Telegram abgelehnt). Bitte prüfen und auf anderem Weg antworten; die "
    "Frist läuft weiter.",
    "delivery_delayed": "Eine Antwort an die betroffene Person konnte seit Stunden nicht versendet "
    "werden (Mailserver nicht erreichbar oder lehnt vorübergehend ab); weitere Versuche laufen. Bitte "
    "den Versand prüfen; die Frist läuft weiter.",
    "identity_unverified": "Die Identität konnte nicht bestätigt werden (zu viele falsche Codes oder "
    "Angaben). Ein Mensch entscheidet, wie sie verhältnismäßig geprüft wird (Art. 12 Abs. 6 DSGVO; "
    "keine Ausweiskopie verlangen); die Frist läuft weiter.",
    "subject_says_not_a_request": "Die Person hat im Chat angegeben, dass ihre Nachricht kein "
    "Datenschutz-Anliegen ist. Nichts wurde gelöscht; bitte prüfen und den Vorgang mit passendem "
    "Ergebnis schließen (z. B. „Kein Betroffenenrecht“). Bis dahin läuft die Frist weiter.",
    "unrecognised": "Aus der Nachricht war weder ein Betroffenenrecht noch sicher ein anderes Anliegen "
    "(Rechnung, Bestellung, Werbung …) zu erkennen. Bitte lesen und entscheiden: Rechte im Vorgang "
    "setzen, eine Rückfrage senden oder mit „Kein Betroffenenrecht“ abschließen. Die Frist läuft ab "
    "Eingang.",
    "several_clients": "Die Anfrage nennt mehrere Auftraggeber, für die wir Daten im Auftrag verarbeiten "
    "(welche, steht im Verlauf des Vorgangs). Bitte aufteilen: je Auftraggeber einen Teil weiterleiten "
    "(Art. 28 Abs. 3 lit. e DSGVO), eigene Anliegen selbst beantworten. Der Person wurde noch nichts "
    "geschrieben; die Frist läuft ab Eingang.",
}


def explain_reason(code: str) -> str:
    """German explanation of an escalation reason code; unknown codes are named, not dropped."""
    text = ESCALATION_REASONS_DE.get(code)
    if text is None:
        logger.warning("no German explanation for escalation reason code %r", code)
        return f"Unbekannter Grund-Code „{code}“: bitte die Klassifikation im Vorgang prüfen."
    return text


# Ticket states (dsr.store.models.TicketState values) as managers read them in the weekly digest.
# The one table of state labels (console, CLI, digest).
STATE_LABELS_DE: dict[str, str] = STATES


def state_label(code: str) -> str:
    """German label of a ticket state; an unknown state is shown as its code."""
    return STATE_LABELS_DE.get(code, code)
