"""German words for the stable codes the console shows (reason codes, states, identity levels).

Reason codes follow docs/ARCHITECTURE.md and the escalation cases of docs/LEGAL-NOTES.md 5 (the
classifier's codes, and those the service sets itself: undeliverable answers, identity not
confirmed, the person's own word in the chat); the DPO reads the plain German sentence, the code
stays visible as a tooltip for support questions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dsr.intents.rights import RIGHTS, Right

BERLIN = ZoneInfo("Europe/Berlin")

REASONS: dict[str, str] = {
    "low_confidence": "Anliegen nicht sicher erkannt",
    "ambiguous": "Mehrdeutig: mehrere Lesarten möglich",
    "complaint": "Beschwerde oder Drohung mit der Aufsichtsbehörde",
    "legal_threat": "Anwalt, Klage oder Schadensersatz angekündigt",
    "representative": "Vertreter, Kanzlei oder Angehörige handeln für die Person",
    "minor": "Minderjährige Person oder Eltern",
    "special_category": "Besondere Kategorien (Gesundheit, Religion …) oder Strafdaten",
    "third_party_data": "Fragt nach Daten anderer Personen",
    "employee": "Beschäftigte, Bewerber oder Betriebsrat",
    "processor_role": "Verantwortlichkeit unklar (Auftragsverarbeitung)",
    "contradictory": "Mehrere oder widersprüchliche Rechte in einer Nachricht",
    "breach": "Hinweis auf eine Datenpanne (72-Stunden-Frist, Art. 33)",
    "authority": "Behörde, Gericht, Polizei oder Presse",
    "identity_theft": "Verdacht auf Identitätsdiebstahl oder Betrug",
    "credit_agency": "Auskunftei- oder Bonitätseintrag",
    "deceased": "Verstorbene Person oder Erben",
    "distress": "Person in Not oder besonders schutzbedürftig",
    "unusual_scope": "Ungewöhnlicher Umfang oder Format",
    "abusive": "Möglicherweise rechtsmissbräuchlich oder exzessiv",
    "objection_balancing": "Widerspruch nach Art. 21 Abs. 1: Abwägung nötig",
    "automated_decision_review": "Überprüfung einer automatisierten Entscheidung (Art. 22)",
    "delivery_bounced": "Antwort kam als unzustellbar zurück",
    "delivery_failed": "Antwort konnte nicht versendet werden",
    "delivery_delayed": "Antwort bisher nicht zustellbar (Versuche laufen)",
    "identity_unverified": "Identität nicht bestätigt (zu viele falsche Angaben)",
    "subject_says_not_a_request": "Person sagt im Chat: kein Datenschutz-Anliegen",
    "consent_withdrawal_review": "Widerruf einer Einwilligung (nicht nur Werbung): Verarbeitungen prüfen",
    "unrecognised": "Nachricht nicht zugeordnet: bitte lesen und entscheiden",
}

STATES: dict[str, str] = {
    "new": "neu",
    "awaiting_identity": "wartet auf Identitätsnachweis",
    "in_progress": "in Bearbeitung",
    "escalated": "beim DSB",
    "extended": "verlängert",
    "paused": "pausiert",
    "answered": "beantwortet",
    "refused": "abgelehnt",
    "closed": "abgeschlossen",
}

OPEN_STATES: tuple[str, ...] = ("new", "awaiting_identity", "in_progress", "escalated", "extended", "paused")

IDENTITY: dict[str, str] = {
    "none": "nicht geprüft",
    "not_required": "nicht erforderlich",
    "contact_on_file": "Kontakt aus dem Bestand",
    "code_confirmed": "Code bestätigt",
    "known_facts": "bekannte Angaben bestätigt",
    "manual": "manuell geprüft",
    "unidentifiable": "nicht identifizierbar (Art. 11 Abs. 2)",
}

CHANNELS: dict[str, str] = {"email": "E-Mail", "telegram": "Telegram", "console": "Konsole"}

# Lawful grounds for stopping the clock (docs/LEGAL-NOTES.md 2.4, EDPB 01/2022 § 159): only while the
# controller waits for information it asked for without undue delay.
PAUSE_REASONS: dict[str, str] = {
    "identity": "Begründete Zweifel an der Identität: Nachweis angefordert (Art. 12 Abs. 6, EDPB § 159)",
    "clarification": "Umfang unklar: Präzisierung angefordert (ErwG 63, EDPB § 159)",
}


def reason_label(code: str) -> str:
    return REASONS.get(code, code.replace("_", " "))


def state_label(code: str | None) -> str:
    return STATES.get(code or "", code or "")


def identity_label(code: str | None) -> str:
    return IDENTITY.get(code or "", code or "")


def channel_label(code: str | None) -> str:
    return CHANNELS.get(code or "", code or "")


def right_label(code: str) -> str:
    try:
        info = RIGHTS[Right(code)]
    except ValueError:
        return code
    return f"{info.name_de} ({info.article})" if info.article else info.name_de


def right_name(code: str) -> str:
    try:
        return RIGHTS[Right(code)].name_de
    except ValueError:
        return code


def rights_names(codes: Iterable[str]) -> str:
    return ", ".join(right_name(c) for c in codes)


def date_de(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        value = value.astimezone(BERLIN).date()
    return value.strftime("%d.%m.%Y")


def datetime_de(value: datetime | None) -> str:
    if value is None:
        return "–"
    return value.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


def days_word(n: int) -> str:
    return "1 Tag" if abs(n) == 1 else f"{n} Tage"


FILTERS = {
    "reason": reason_label,
    "state": state_label,
    "identity": identity_label,
    "channel": channel_label,
    "right": right_label,
    "right_name": right_name,
    "rights": rights_names,
    "date_de": date_de,
    "datetime_de": datetime_de,
    "days": days_word,
}
