"""The German word for every stable code a DPO, a manager or a data subject can see.

One table for the console, the digest, the CSV export, the CLI and the texts the service writes
into the audit log: codes (`in_progress`, `granted`, `reply_queued`) stay the machine's
vocabulary, people read these labels.  A code without a label is shown as a readable German
fallback, never as snake_case (`label()` below), and tests check that every code the code base
emits has its entry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

STATES: dict[str, str] = {
    "new": "neu",
    "awaiting_identity": "wartet auf Identitätsbestätigung",
    "in_progress": "in Bearbeitung",
    "escalated": "beim Datenschutz (eskaliert)",
    "extended": "Frist verlängert",
    "paused": "Frist pausiert",
    "answered": "beantwortet",
    "refused": "abgelehnt",
    "closed": "abgeschlossen",
}

IDENTITY: dict[str, str] = {
    "none": "nicht bestätigt",
    "not_required": "nicht erforderlich",
    "contact_on_file": "Kontakt aus dem Bestand",
    "code_confirmed": "Code bestätigt",
    "known_facts": "bekannte Angaben bestätigt",
    "manual": "manuell geprüft",
    "unidentifiable": "nicht identifizierbar (Art. 11 Abs. 2)",
}

CHANNELS: dict[str, str] = {
    "email": "E-Mail",
    "telegram": "Telegram",
    "console": "Konsole",
    "letter": "Brief",
    "phone": "Telefon",
    "in_person": "persönlich",
    "fax": "Fax",
    "other_mailbox": "anderes Postfach",
}

# Short forms of the escalation reasons (the DPO alert explains them at length).
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
    "several_clients": "Nennt mehrere Auftraggeber: aufteilen und weiterleiten",
}

# What happened, as the history of a ticket shows it (audit actions).
ACTIONS: dict[str, str] = {
    "ticket_opened": "Anfrage angelegt",
    "state_changed": "Status geändert",
    "escalated": "an den Datenschutz übergeben",
    "escalation_reasons_added": "weitere Eskalationsgründe",
    "escalation_reason_dismissed": "Eskalationsgrund verworfen",
    "rights_confirmed": "Anliegen bestätigt",
    "rights_corrected": "Rechte korrigiert",
    "readings_offered": "Lesarten zur Auswahl angeboten",
    "reply_queued": "Antwort in den Postausgang gelegt",
    "auto_reply_withheld": "automatische Antwort zurückgehalten",
    "auto_reply_ignored": "automatische Nachricht ohne Antwort",
    "clarification_requested": "Rückfrage zum Anliegen gestellt",
    "follow_up_received": "weitere Nachricht zum Vorgang",
    "follow_up_held": "Nachricht zurückgehalten (andere Adresse)",
    "message_not_a_request": "keine Betroffenenanfrage erkannt",
    "message_quarantined": "Nachricht in Quarantäne",
    "id_document_received": "Ausweiskopie erhalten",
    "identity_challenge_sent": "Identitätsabfrage gesendet",
    "identity_recorded": "Identität vermerkt",
    "identity_mismatch": "Angaben zur Identität stimmen nicht",
    "identity_attempt_failed": "falscher Code oder falsche Angaben",
    "identity_fact_kept": "Angabe zur Identität notiert (zweite fehlt noch)",
    "identity_facts_unclear": "Angaben zur Identität nicht eindeutig (nichts geprüft)",
    "identity_failed": "Identität nicht bestätigt",
    "deadline_extended": "Frist verlängert",
    "deadline_paused": "Frist pausiert",
    "deadline_resumed": "Frist läuft weiter",
    "assigned": "Zuständigkeit geändert",
    "note_added": "Notiz hinzugefügt",
    "suppressed": "in die Werbesperrdatei aufgenommen",
    "subject_says_not_a_request": "Person: kein Datenschutz-Anliegen",
    "delivery_failed": "Versand fehlgeschlagen",
    "delivery_bounced": "Antwort unzustellbar",
    "delivery_requeued": "Versand erneut angestoßen",
    "telegram_bound": "Telegram-Konto verknüpft",
    "telegram_unbound": "Telegram-Verknüpfung gelöst",
    "telegram_binding_no_match": "Telegram-Verknüpfung: keine Übereinstimmung",
    "telegram_rate_limited": "Chat über der Nachrichtenbegrenzung: Hinweis gesendet, Nachrichten aufbewahrt",
    "telegram_binding_code_sent": "Telegram-Verknüpfung: Code gesendet",
    "retention_purged": "nach Ablauf der Aufbewahrung gelöscht",
    "subjects_imported": "Personen importiert",
    "subjects_exported": "Personen exportiert",
    "user_added": "Konto angelegt",
    "user_disabled": "Konto gesperrt",
    "user_enabled": "Konto entsperrt",
    "user_password_set": "Passwort gesetzt",
    "user_role_set": "Rolle geändert",
    "user_controllers_set": "Verantwortliche des Kontos geändert",
    "api_token_created": "API-Token erstellt",
    "api_token_revoked": "API-Token widerrufen",
    "manual_intake": "von Hand erfasst",
    "document_stored": "Dokument gespeichert",
    "reopened": "wieder geöffnet",
    "letter_printed": "Brief zum Druck erstellt",
    "scheduler.reminder_queued": "Fristerinnerung versandt",
    "scheduler.digest_queued": "Wochenübersicht versandt",
    "scheduler.processor_follow_up_queued": "Erinnerung: beim Auftraggeber nachfassen",
    "forwarded_to_client": "an den Auftraggeber weitergeleitet",
    "processor_reverted": "doch eigene Anfrage (nicht weitergeleitet)",
    "processor_confirmed": "Bestätigung des Auftraggebers vermerkt",
    "ticket_split": "Anfrage aufgeteilt",
    "console.ticket_viewed": "Vorgang angesehen",
    "console.search": "Suche",
    "console.reply_approved": "Antwort freigegeben",
    "console.question_queued": "Rückfrage versandt",
    "console.extension_notice_queued": "Mitteilung der Verlängerung versandt",
    "console.draft_saved": "Entwurf gespeichert",
    "console.draft_from_template": "Entwurf aus Vorlage",
    "console.quarantine_viewed": "Quarantäne-Eintrag angesehen",
    "console.quarantine_reprocessed": "Quarantäne-Eintrag neu verarbeitet",
    "console.quarantine_handled": "Quarantäne-Eintrag erledigt",
    "console.quarantine_discarded": "Quarantäne-Eintrag verworfen",
    "console.quarantine_intake": "Anfrage aus Quarantäne angelegt",
    "console.digest_queued": "Übersicht versandt",
    "console.csv_exported": "CSV exportiert",
    "console.document_downloaded": "Dokument heruntergeladen",
    "console.letter_pdf_refused": "Brief-PDF verweigert: nach der Freigabe verändert",
    "console.fulfilment_refused_closed": "Aktion abgelehnt: Vorgang abgeschlossen (nur lesbar)",
    "console.action_refused_closed": "Änderung abgelehnt: Vorgang abgeschlossen (nur lesbar)",
    "console.calendar_token_created": "Kalender-Link erstellt",
    "console.login": "Anmeldung",
    "console.login_failed": "Anmeldung fehlgeschlagen",
    "console.logout": "Abmeldung",
    "console.password_changed": "Passwort in der Konsole geändert",
    "console.password_change_failed": "Passwortänderung: bisheriges Passwort falsch",
    "console.user_disabled": "Konto gesperrt",
    "console.token_revoked": "Token widerrufen",
    "api.ticket_viewed": "über die API angesehen",
    "api.suppression_checked": "Werbesperre abgefragt",
    "api.action_refused_closed": "API-Aufruf abgelehnt: Vorgang abgeschlossen (nur lesbar)",
}

# Kinds of messages we send (outbox), as the conversation shows them.
MESSAGE_KINDS: dict[str, str] = {
    "receipt_confirmation": "Eingangsbestätigung",
    "identity_request": "Bitte um Identitätsnachweis",
    "verification_code": "Bestätigungscode",
    "identity_verified": "Identität bestätigt",
    "identity_failed": "Identität nicht bestätigt",
    "identity_expired": "Identitätsprüfung abgelaufen",
    "marketing_objection_confirmation": "Bestätigung Werbewiderspruch",
    "consent_withdrawal_confirmation": "Bestätigung Widerruf",
    "access_answer": "Auskunft",
    "portability_answer": "Datenübertragung",
    "rectification_done": "Berichtigung erledigt",
    "erasure_done": "Löschung erledigt",
    "restriction_done": "Einschränkung erledigt",
    "objection_ack": "Eingang des Widerspruchs",
    "objection_outcome": "Ergebnis des Widerspruchs",
    "automated_decision_ack": "Eingang: automatisierte Entscheidung",
    "automated_decision_outcome": "Ergebnis der Überprüfung",
    "extension_notice": "Mitteilung der Verlängerung",
    "extension_notice_neutral": "Mitteilung der Verlängerung (neutrale Fassung)",
    "refusal_notice": "Ablehnung",
    "no_data": "Negativauskunft",
    "escalation_notice": "Hinweis: an den Datenschutz übergeben",
    "clarification": "Rückfrage zum Anliegen",
    "dpo_escalation_alert": "Hinweis an den Datenschutz",
    "deadline_reminder": "Fristerinnerung",
    "weekly_digest": "Wochenübersicht",
    "processor_notice": "Hinweis: an den Verantwortlichen weitergeleitet",
    "processor_forward": "Weiterleitung an den Auftraggeber",
    "processor_follow_up": "Erinnerung: beim Auftraggeber nachfassen",
    "processor_taken_back": "Hinweis: doch selbst beantwortet (Weiterleitung zurückgenommen)",
    "processor_receipt": "Eingangsbestätigung (Zuständigkeit wird geprüft)",
    "processor_withdrawn": "Weiterleitung zurückgenommen (an den Auftraggeber)",
    "dpo_reply": "Antwort des Datenschutzes",
    "dpo_question": "Rückfrage des Datenschutzes",
    "chat": "Chat-Nachricht",
}

OUTBOX_STATES: dict[str, str] = {
    "pending": "wartet auf Versand",
    "sent": "versandt",
    "failed": "Versand fehlgeschlagen",
}

# Why an inbound message was not (or not only) handled as part of a ticket.
DISPOSITIONS: dict[str, str] = {
    "follow_up": "weitere Nachricht",
    "bounce": "Unzustellbarkeitsmeldung",
    "bounce_unmatched": "Unzustellbarkeitsmeldung ohne Vorgang",
    "held_not_requester": "zurückgehalten: andere Adresse als die des Antragstellers",
    "not_a_request": "ignoriert: keine Betroffenenanfrage erkannt",
    "loop_guard": "ignoriert: automatische Nachricht",
    "withdrawn": "nicht versandt: vor dem Versand zurückgezogen",
}

LOOP_GUARD_REASONS: dict[str, str] = {
    "own_address": "von unserer eigenen Adresse",
    "own_message_id": "unsere eigene Nachricht",
    "auto_submitted": "automatisch erzeugt (Auto-Submitted)",
    "list_id": "Mailingliste",
    "list_unsubscribe": "Newsletter oder Mailingliste",
    "vendor_autoreply_header": "Abwesenheitsnotiz",
    "noreply_sender": "Absender nimmt keine Antworten an",
    "auto_response_suppress": "Absender wünscht keine automatischen Antworten",
    "chat_rate_limit": "Chat-Nachricht über der Nachrichtenbegrenzung, ohne automatische Antwort",
}

ACTORS: dict[str, str] = {"system": "Assistent", "scheduler": "Zeitplan"}

# Reasons the adapters give when they put a message into quarantine (English in the code).
QUARANTINE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^no From header$"), "Kein Absender (From-Kopfzeile fehlt)"),
    (re.compile(r"^From header contains no address$"), "Absenderzeile ohne Adresse"),
    (re.compile(r"^empty message$"), "Leere Nachricht"),
    (re.compile(r"^parser returned no message$"), "Nachricht nicht lesbar"),
    (re.compile(r"^no headers \(not an e-mail message\)$"), "Keine Kopfzeilen: keine E-Mail"),
    (re.compile(r"^parser error \((\w+)\)$"), r"Nachricht nicht lesbar (\1)"),
    (re.compile(r"^processing failed (\d+) times \((\w+)\)$"), r"Verarbeitung \1-mal fehlgeschlagen (\2)"),
    (re.compile(r"^unbekannter Verantwortlicher (.*)$"), r"unbekannter Verantwortlicher \1"),
)

SNAKE = re.compile(r"\b[a-z]+(?:[._][a-z]+)+\b")


def counted(n: int, one: str, many: str) -> str:
    """A number with its noun in German number agreement: "1 Anfrage", "0 Anfragen", "2 Anfragen"."""
    return f"{n} {one if abs(n) == 1 else many}"


def humanize(code: str) -> str:
    """Last resort for a code without a label: readable words instead of snake_case."""
    return code.replace("_", " ").replace(".", " ")


def label(table: dict[str, str], code: str | None) -> str:
    if not code:
        return ""
    return table.get(code) or humanize(code)


def state_label(code: str | None) -> str:
    return label(STATES, code)


def identity_label(code: str | None) -> str:
    return label(IDENTITY, code)


def channel_label(code: str | None) -> str:
    return label(CHANNELS, code)


def reason_label(code: str) -> str:
    return label(REASONS, code)


def reasons_text(codes: Sequence[str]) -> str:
    return "; ".join(reason_label(c) for c in codes)


def action_label(code: str) -> str:
    return label(ACTIONS, code)


def kind_label(code: str) -> str:
    return label(MESSAGE_KINDS, code)


def outbox_state_label(code: str) -> str:
    return label(OUTBOX_STATES, code)


def disposition_label(code: str) -> str:
    if code.startswith("loop_guard:"):
        reason = code.split(":", 1)[1]
        return f"{DISPOSITIONS['loop_guard']} ({label(LOOP_GUARD_REASONS, reason)})"
    return label(DISPOSITIONS, code)


def actor_label(actor: str) -> str:
    """`console:dana` -> `dana`, `system` -> `Assistent`, `api:erp` -> `API erp`."""
    if actor in ACTORS:
        return ACTORS[actor]
    door, _, name = actor.partition(":")
    if door == "console" and name:
        return name
    if door == "api" and name:
        return f"API {name}"
    if door == "cli" and name:
        return f"Kommandozeile ({name})" if name else "Kommandozeile"
    return actor


def quarantine_reason_label(reason: str) -> str:
    for pattern, replacement in QUARANTINE_PATTERNS:
        if pattern.match(reason):
            return pattern.sub(replacement, reason)
    return humanize(reason) if SNAKE.fullmatch(reason) else reason
