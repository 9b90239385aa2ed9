"""Realistic sample contexts for every reply kind: the legal-review preview and the golden tests.

Dates are frozen: a request received on Saturday 31 January 2026 is due on Monday 2 March 2026
(28 February is a Saturday; docs/LEGAL-NOTES.md 2.2) and, if extended, on Thursday 30 April 2026.  The
person and the data are invented.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from dsr.intents.rights import Right
from dsr.intents.routing import GENERAL_READINGS
from dsr.replies.context import (
    CaseRecipient,
    DigestRow,
    PersonRelationship,
    ReplyContext,
    ReplyKind,
    RetainedItem,
)
from dsr.replies.language import normalise_language

RECEIVED = date(2026, 1, 31)
DUE = date(2026, 3, 2)
EXTENDED = date(2026, 4, 30)
REFERENCE = "DSR-2026-000123"
NAME = "Jana Beispiel"

_BASE = ReplyContext(
    reference=REFERENCE,
    rights=(Right.ACCESS,),
    received_date=RECEIVED,
    due_date=DUE,
    verified=True,
    recipient_name=NAME,
)


# Free text written by the DPO, in the request's language and without a form of address, so that
# the same sample serves "Sie" and "Du" replies.
_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "reason_systems": "Die Daten liegen in drei getrennten Systemen (Abrechnung, Auftragsverwaltung, "
        "Archiv) und müssen einzeln zusammengestellt werden.",
        "reason_redaction": "Die Unterlagen enthalten Angaben über andere Personen, die vor der Herausgabe "
        "geschwärzt werden müssen (Art. 15 Abs. 4 DSGVO).",
        "objection_komsa": "Die Weitergabe an Auskunfteien wird eingestellt. Die konzerninterne Auswertung "
        "des Zahlungsverhaltens wird fortgesetzt, weil KOMSA in Vorleistung tritt und ohne sie kein "
        "Kreditlimit einräumen kann. Diesen zwingenden Grund haben wir gegen die geschilderte "
        "besondere Situation abgewogen: Ohne die Auswertung müsste jede Lieferung auf Vorkasse "
        "umgestellt werden, was schwerer wöge als die Auswertung selbst.",
        "objection_kmb2": "Dem Widerspruch wird stattgegeben: Die Daten werden nicht mehr für "
        "Kundenumfragen verwendet. Die Abrechnung des laufenden Auftrags ist davon nicht betroffen, "
        "weil sie auf dem Vertrag beruht.",
        "automated": "Nach Prüfung der eingereichten Jahresabschlüsse wird die Zahlung auf Rechnung mit "
        "einem Kreditlimit von 5.000 Euro eingeräumt.",
        "automated_applied": "Bewerbung vom 12.01.2026: Die Bonitätsauskunft der CRIF Bürgel ergab den "
        "Bonitätsindex 410 (Schwelle 350); deshalb wurde die Zahlung auf Rechnung automatisiert "
        "ausgeschlossen. Die Partnerschaft selbst wurde nicht abgelehnt.",
        "refusal": "Die Rechnungen aus den Jahren 2024 und 2025 sind nach § 147 AO und § 14b UStG acht "
        "Jahre aufzubewahren (Art. 17 Abs. 3 lit. b DSGVO). Diese Daten sind gesperrt und werden nach "
        "Ablauf der Frist gelöscht.",
    },
    "en": {
        "reason_systems": "The data are held in three separate systems (billing, order management, "
        "archive) and have to be compiled one by one.",
        "reason_redaction": "The documents contain information about other people that has to be "
        "redacted before disclosure (Art. 15(4) GDPR).",
        "objection_komsa": "Disclosure to credit agencies will stop. The group-internal assessment of "
        "payment behaviour continues because KOMSA delivers in advance and cannot grant a credit "
        "limit without it. We weighed this compelling ground against the particular situation you "
        "described: without the assessment every delivery would have to be paid in advance, which "
        "would affect you more than the assessment itself.",
        "objection_kmb2": "The objection is upheld: the data will no longer be used for customer "
        "surveys. Billing of the ongoing order is not affected because it is based on the contract.",
        "automated": "After review of the annual accounts submitted, payment on account is granted "
        "with a credit limit of EUR 5,000.",
        "automated_applied": "Application of 12 January 2026: the credit report from CRIF Bürgel gave "
        "a credit index of 410 (threshold 350); payment on account was therefore excluded "
        "automatically. The partnership itself was not refused.",
        "refusal": "The invoices from 2024 and 2025 must be kept for eight years under section 147 of "
        "the German Fiscal Code and section 14b of the VAT Act (Art. 17(3)(b) GDPR). These data are "
        "restricted and will be erased when the period ends.",
    },
}


def sample_context(kind: ReplyKind, controller: str, language: str = "de") -> ReplyContext:
    """A realistic, complete context for `kind`; `controller` picks controller-specific details,
    `language` the language of the DPO's free text."""
    komsa = controller == "komsa"
    text = _TEXTS[normalise_language(language)]
    k = ReplyKind
    samples: dict[ReplyKind, ReplyContext] = {
        k.RECEIPT_CONFIRMATION: replace(_BASE, rights=(Right.ACCESS, Right.ERASURE)),
        k.IDENTITY_REQUEST: replace(
            _BASE, verified=False, rights=(Right.ACCESS,),
            facts_requested=("Kundennummer", "Postleitzahl der bei uns hinterlegten Anschrift")
            if not komsa else (),
        ),
        k.VERIFICATION_CODE: replace(
            _BASE, verified=False, verification_code="482913",
            code_expires_at=datetime(2026, 2, 1, 10, 15, tzinfo=UTC),
            code_sent_to_masked="j***@beispiel-handel.de",
        ),
        k.IDENTITY_VERIFIED: replace(_BASE, rights=(Right.ACCESS, Right.ERASURE)),
        k.IDENTITY_FAILED: replace(_BASE, verified=False),
        k.IDENTITY_EXPIRED: replace(_BASE, verified=False),
        k.MARKETING_OBJECTION_CONFIRMATION: replace(
            _BASE, rights=(Right.MARKETING_OBJECTION,), due_date=None, verified=False),
        # kmb2: a withdrawal a person must handle; KOMSA: an advertising consent, done at once.
        k.CONSENT_WITHDRAWAL_CONFIRMATION: replace(
            _BASE, rights=(Right.CONSENT_WITHDRAWAL,), due_date=None,
            withdrawal_scope="marketing" if komsa else "review"),
        # kmb2: no copy delivered with the letter (it says so); KOMSA: a download link issued.
        # KOMSA: the DPO chose the partner application, discovery found a newsletter subscription;
        # kmb2: discovery found master data and orders of a customer.
        k.ACCESS_ANSWER: replace(
            _BASE,
            relationships=(
                PersonRelationship("partner-applicant"),
                PersonRelationship("advertising", origin="discovery", found_in=("Newsletter-Abonnements",),
                                   found_in_en=("Newsletter subscriptions",)),
            ) if komsa else (
                PersonRelationship("customer", origin="discovery", found_in=("Stammdaten", "Aufträge"),
                                   found_in_en=("Master data", "Orders")),
            ),
            copy_link="https://datenschutz.komsa.com/kopie/3f9c2a7e" if komsa else None,
            copy_link_expires=date(2026, 3, 16) if komsa else None,
            # The DPO names the members of the notice's recipient groups that received this person's
            # data (C-154/21); the credit agencies are named by the notice itself.  Fictitious.
            case_recipients=(CaseRecipient("Rechenzentrum Beispiel GmbH, Chemnitz", group="hosting"),)
            if komsa else (CaseRecipient("Elektro Sommer GmbH, Braunschweig", group="craft-partners"),),
            automated_logic_applied=(text["automated_applied"],) if komsa else None,
        ),
        k.PORTABILITY_ANSWER: replace(
            _BASE, rights=(Right.PORTABILITY,), export_format="JSON",
            attachment_names=("Datenexport_DSR-2026-000123.json",),
        ),
        k.RECTIFICATION_DONE: replace(
            _BASE, rights=(Right.RECTIFICATION,),
            changes=("Anschrift: neu „Lindenweg 4, 38100 Braunschweig“",
                     "Schreibweise des Nachnamens: „Beispiel“ statt „Beispil“"),
            notified_recipients=("Elektro Sommer GmbH, Braunschweig",) if not komsa else (
                "Creditsafe Deutschland GmbH, Berlin", "KOMSA Services GmbH"),
        ),
        k.ERASURE_DONE: replace(
            _BASE, rights=(Right.ERASURE,),
            erased=("Kontaktdaten und Kundenkonto", "Anfrage- und Korrespondenzverlauf",
                    "Daten für Werbezwecke"),
            retained=(
                RetainedItem("Rechnungen 2024 (Buchungsbelege)", "§ 147 Abs. 3 AO, § 14b UStG",
                             date(2032, 12, 31)),
                RetainedItem("Geschäftsbriefe 2025", "§ 257 HGB, § 147 AO", date(2031, 12, 31)),
            ),
            notified_recipients=() if not komsa else ("HubSpot, Inc.",),
        ),
        k.RESTRICTION_DONE: replace(
            _BASE, rights=(Right.RESTRICTION,),
            restricted=("Abrechnungsdaten 2025 (Richtigkeit bestritten)",),
            notified_recipients=() if not komsa else ("KOMSA Services GmbH",),
        ),
        k.OBJECTION_ACK: replace(_BASE, rights=(Right.OBJECTION,)),
        k.OBJECTION_OUTCOME: replace(
            _BASE, rights=(Right.OBJECTION,), request_granted=not komsa,
            outcome_text=text["objection_komsa"] if komsa else text["objection_kmb2"],
        ),
        k.AUTOMATED_DECISION_ACK: replace(_BASE, rights=(Right.AUTOMATED_DECISION,)),
        # Per person: KOMSA's partner applicant reads about the credit decision on applications,
        # not about the group scoring of existing partners; kmb2's customer has no such procedure.
        k.AUTOMATED_DECISION_OUTCOME: replace(
            _BASE, rights=(Right.AUTOMATED_DECISION,), request_granted=True, outcome_text=text["automated"],
            relationships=(PersonRelationship("partner-applicant"),) if komsa else (
                PersonRelationship("customer"),),
            automated_logic_applied=(text["automated_applied"],) if komsa else None,
        ),
        k.EXTENSION_NOTICE: replace(
            _BASE, rights=(Right.ACCESS, Right.PORTABILITY), extended_due_date=EXTENDED,
            as_of=date(2026, 2, 20), extension_reasons=(text["reason_systems"], text["reason_redaction"]),
        ),
        k.REFUSAL_NOTICE: replace(
            _BASE, rights=(Right.ERASURE,), refusal_code="art17_3_b_retention",
            refusal_reasons=text["refusal"],
        ),
        k.NO_DATA: replace(_BASE, verified=False, recipient_name=NAME),
        k.ESCALATION_NOTICE: replace(_BASE, rights=(Right.ACCESS, Right.ERASURE),
                                     escalation_reasons=("legal_threat",)),
        k.CLARIFICATION: replace(
            _BASE, rights=(), verified=False, readings=(Right.ERASURE, Right.MARKETING_OBJECTION),
            marketing_applied=True,
        ),
        # kmb2 names its client; KOMSA's sample shows the client that may not be named.
        k.PROCESSOR_NOTICE: replace(
            _BASE, rights=(Right.ACCESS,), verified=False, forwarded_date=date(2026, 1, 31),
            client_name=None if komsa else "Hausverwaltung Muster GmbH, Braunschweig",
        ),
        # kmb2: the client is named and was told; KOMSA: not named, the forward had not gone out.
        k.PROCESSOR_TAKEN_BACK: replace(
            _BASE, rights=(Right.ACCESS,), verified=False, forwarded_date=date(2026, 2, 2),
            client_name=None if komsa else "Hausverwaltung Muster GmbH, Braunschweig",
            client_told=not komsa, as_of=date(2026, 2, 9),
        ),
        # Held for the DPO (an escalation reason, or several clients): no date beyond the receipt.
        k.PROCESSOR_RECEIPT: replace(_BASE, rights=(Right.ACCESS,), verified=False, recipient_name=None),
        k.PROCESSOR_FORWARD: replace(
            _BASE, rights=(Right.ACCESS,), forwarded_date=date(2026, 1, 31),
            client_name="Hausverwaltung Muster GmbH, Braunschweig",
            client_data="Verbrauchs- und Abrechnungsdaten der Mieter",
            forwarded_text="Guten Tag,\nbitte teilen Sie mir mit, welche Daten Sie aus der "
            "Heizkostenabrechnung der Hausverwaltung Muster über mich speichern.\nJana Beispiel",
        ),
        k.PROCESSOR_WITHDRAWN: replace(
            _BASE, rights=(Right.ACCESS,), forwarded_date=date(2026, 1, 31),
            client_name="Hausverwaltung Muster GmbH, Braunschweig",
        ),
        k.PROCESSOR_FOLLOW_UP: replace(
            _BASE, rights=(Right.ACCESS,), forwarded_date=date(2026, 1, 31),
            client_name="Hausverwaltung Muster GmbH, Braunschweig", follow_up_date=date(2026, 2, 14),
            as_of=date(2026, 2, 14),
        ),
        k.DPO_ESCALATION_ALERT: replace(
            _BASE, rights=(Right.ACCESS, Right.ERASURE), internal_target=date(2026, 2, 16),
            escalation_reasons=("legal_threat", "contradictory"),
        ),
        k.DEADLINE_REMINDER: replace(
            _BASE, rights=(Right.ACCESS,), as_of=date(2026, 2, 23), internal_target=date(2026, 2, 16),
        ),
        k.WEEKLY_DIGEST: replace(
            _BASE, reference="", rights=(), due_date=None, period_label="KW 9/2026",
            as_of=date(2026, 2, 27),
            digest_rows=(
                DigestRow("DSR-2026-000101", (Right.ACCESS,), "in_progress", date(2026, 2, 26)),
                DigestRow("DSR-2026-000123", (Right.ACCESS, Right.ERASURE), "escalated", DUE,
                          ("legal_threat",)),
                DigestRow("DSR-2026-000131", (Right.RECTIFICATION,), "awaiting_identity",
                          date(2026, 3, 16)),
            ),
        ),
    }
    return samples[kind]


def general_question(controller: str, language: str = "de") -> ReplyContext:
    """The clarification after a general question about privacy ("Wo finde ich Ihre
    Datenschutzerklärung?"): the notice and the DPO first, then the rights routing offers for it."""
    return replace(sample_context(ReplyKind.CLARIFICATION, controller, language), readings=GENERAL_READINGS,
                   marketing_applied=False, general_question=True)


def unverified_receipt() -> ReplyContext:
    """The neutral receipt to a sender we could not match: must contain no personal data."""
    return replace(_BASE, rights=(Right.ACCESS, Right.ERASURE), verified=False)
