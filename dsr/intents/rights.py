"""The catalogue of data-subject rights, shared by classification, replies, store and console.

One table so that a label, its legal article and the words a data subject or DPO reads can never
drift apart between the classifier, the reply templates and the web console.  The order of
`Right` is the legal order (Art. 15 before Art. 17 ...); multi-label results are sorted by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Right(StrEnum):
    """Stable label ids, identical in the corpus, the database, logs and template names."""

    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    PORTABILITY = "portability"
    OBJECTION = "objection"
    MARKETING_OBJECTION = "marketing_objection"
    CONSENT_WITHDRAWAL = "consent_withdrawal"
    AUTOMATED_DECISION = "automated_decision"
    COMPLAINT = "complaint"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class RightInfo:
    """How a right is named and cited towards people."""

    right: Right
    article: str  # e.g. "Art. 15 DSGVO"
    name_de: str  # noun, e.g. "Auskunft"
    long_de: str  # e.g. "Recht auf Auskunft"
    name_en: str
    article_en: str  # e.g. "Art. 15 GDPR"
    # True where Art. 12(3) sets the one-month deadline; False where the law makes the
    # request effective on receipt (Art. 21(3) marketing, Art. 7(3) consent) or no right applies.
    statutory_deadline: bool
    # True where the request takes effect at once without identity verification
    # (docs/LEGAL-NOTES.md 3.5, level 0).
    immediate: bool


RIGHTS: dict[Right, RightInfo] = {
    info.right: info
    for info in (
        RightInfo(Right.ACCESS, "Art. 15 DSGVO", "Auskunft", "Recht auf Auskunft",
                  "access", "Art. 15 GDPR", True, False),
        RightInfo(Right.RECTIFICATION, "Art. 16 DSGVO", "Berichtigung", "Recht auf Berichtigung",
                  "rectification", "Art. 16 GDPR", True, False),
        RightInfo(Right.ERASURE, "Art. 17 DSGVO", "Löschung", "Recht auf Löschung",
                  "erasure", "Art. 17 GDPR", True, False),
        RightInfo(Right.RESTRICTION, "Art. 18 DSGVO", "Einschränkung der Verarbeitung",
                  "Recht auf Einschränkung der Verarbeitung",
                  "restriction of processing", "Art. 18 GDPR", True, False),
        RightInfo(Right.PORTABILITY, "Art. 20 DSGVO", "Datenübertragbarkeit",
                  "Recht auf Datenübertragbarkeit",
                  "data portability", "Art. 20 GDPR", True, False),
        RightInfo(Right.OBJECTION, "Art. 21 Abs. 1 DSGVO", "Widerspruch gegen die Verarbeitung",
                  "Widerspruchsrecht", "objection to processing", "Art. 21(1) GDPR", True, False),
        RightInfo(Right.MARKETING_OBJECTION, "Art. 21 Abs. 2 und 3 DSGVO", "Werbewiderspruch",
                  "Widerspruch gegen Direktwerbung",
                  "objection to direct marketing", "Art. 21(2) and (3) GDPR", False, True),
        RightInfo(Right.CONSENT_WITHDRAWAL, "Art. 7 Abs. 3 DSGVO", "Widerruf der Einwilligung",
                  "Recht auf Widerruf der Einwilligung",
                  "withdrawal of consent", "Art. 7(3) GDPR", False, True),
        RightInfo(Right.AUTOMATED_DECISION, "Art. 22 Abs. 3 DSGVO",
                  "Überprüfung einer automatisierten Entscheidung",
                  "Recht auf Eingreifen einer Person bei automatisierten Entscheidungen",
                  "review of an automated decision", "Art. 22(3) GDPR", True, False),
        RightInfo(Right.COMPLAINT, "Art. 77 DSGVO", "Beschwerde", "Recht auf Beschwerde",
                  "complaint", "Art. 77 GDPR", False, False),
        RightInfo(Right.OTHER, "", "sonstiges Anliegen", "kein Betroffenenrecht",
                  "other matter", "", False, False),
    )
}

LEGAL_ORDER: tuple[Right, ...] = tuple(Right)


def legal_sort(rights: list[Right] | set[Right] | tuple[Right, ...]) -> tuple[Right, ...]:
    """Return `rights` without duplicates, in the legal order of the catalogue."""
    present = set(rights)
    return tuple(r for r in LEGAL_ORDER if r in present)
