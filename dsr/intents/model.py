"""Value types of a classification result: what was recognised, how sure, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsr.intents.rights import Right


@dataclass(frozen=True, slots=True)
class Evidence:
    """One rule that fired (or was suppressed), with the text span that made it fire."""

    label: Right
    rule: str  # stable rule id from the lexicon, e.g. "access.auskunft_art15"
    matched: str  # the text as written by the sender
    score: float  # 0..100 fuzzy score of the match
    start: int  # character span in `field`'s scoped text
    end: int
    field: str = "body"  # "subject" or "body"
    weight: float = 1.0
    suppressed_by: str | None = None  # e.g. "negation", "false_friend:invoice"
    reason: str | None = None  # escalation reason code when this is an escalation cue, not a right

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label.value,
            "rule": self.rule,
            "matched": self.matched,
            "score": round(self.score, 1),
            "start": self.start,
            "end": self.end,
            "field": self.field,
            "weight": self.weight,
            "suppressed_by": self.suppressed_by,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Classification:
    """The result of `intents.classify`.  `labels` are in legal order; never empty."""

    labels: tuple[Right, ...]
    confidence: float  # 0..1
    escalate: bool
    reasons: tuple[str, ...]  # machine-readable escalation reason codes, e.g. "complaint"
    evidence: tuple[Evidence, ...]
    scores: dict[str, float] = field(default_factory=dict)  # label -> aggregated score
    language: str = "de"  # "de" or "en": the language to answer in
    # Why the message is no privacy request, on positive evidence ("invoice", "order", "auto_reply",
    # codes in `dsr.intents.reasons.ROUTINE_CODES`); "" otherwise.  Only a message labelled `other`
    # with this set and no escalation may be set aside without a person: `other` without it
    # always carries "low_confidence" and escalates.
    non_request: str = ""
    # Rights the sender asks about without exercising them ("Wie kann ich meine Daten löschen
    # lassen?"): the readings a clarification question offers.  A short such question is labelled
    # with them beside `other` (what it is about, nothing exercised yet: `requested` is empty).
    asked_about: tuple[Right, ...] = ()
    # A general question about the privacy notice, the DPO or how data is handled, no right
    # exercised ("Wo finde ich Ihre Datenschutzerklärung?"): answered with a clarification question
    # that names the notice and the DPO and offers the rights, not the DPO's triage queue.
    general_question: bool = False

    @property
    def requested(self) -> tuple[Right, ...]:
        """The rights the message exercises: none when it is `other`, alone or beside the rights
        of a question how to exercise them."""
        return () if Right.OTHER in self.labels else self.labels

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": [r.value for r in self.labels],
            "confidence": round(self.confidence, 3),
            "escalate": self.escalate,
            "reasons": list(self.reasons),
            "evidence": [e.to_dict() for e in self.evidence],
            "scores": {k: round(v, 3) for k, v in self.scores.items()},
            "language": self.language,
            "non_request": self.non_request,
            "asked_about": [r.value for r in self.asked_about],
            "general_question": self.general_question,
        }
