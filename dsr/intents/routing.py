"""Where a classified new message goes: never drop a request (pure; the pipeline acts on it).

A message is answered automatically only on a strong, unambiguous reading; it is ignored only on
positive evidence that nobody asks anything of the controller about their data.  Everything else
a person wrote goes to a clarification question (the person can settle it) or to the DPO's triage
queue, and the deadline runs from receipt either way (Art. 12(3) GDPR: the month starts with the
request, not with our understanding of it).

    special intake (breach, authority, representative, processor)  -> a person at once
    escalation reasons the classifier gives                          -> a person
    rights recognised, reading strong                                -> handled automatically
    weak or ambiguous reading with readings to offer                 -> clarification question
    a general question about privacy, no right read                  -> clarification question
                                                                        naming notice and DPO
    no right, confident non-privacy reading (recorded reason)        -> ignored, listed for the DPO
    anything else                                                    -> DPO triage queue

Positive evidence of a non-privacy message comes from the classifier: `Classification.non_request`
names the routine reading ("invoice", "order", "support", "application", "newsletter", "spam" ...,
`dsr.intents.reasons.ROUTINE_CODES`); it is set only for `other` without escalation.  A message
without it in which no right is recognised is never set aside.

The decision lives beside the classifier (not in the pipeline) because the corpus figures
(`dsr.intents.scoring`) count what actually reaches a person: a clarification question is put
to the sender, not to the DPO, so it is neither an escalation nor an automatic answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from dsr.intents.model import Classification
from dsr.intents.reasons import UNCLEAR_CODES
from dsr.intents.rights import Right

# Reasons that first earn a clarification question rather than a human (the two-stage fallback).
UNCLEAR_REASONS = UNCLEAR_CODES
# Special intake: a person looks at once, whatever else the message says; never a clarification
# question or an automatic answer about the request itself.
SPECIAL_INTAKE = frozenset({"breach", "authority", "representative", "processor_role"})
# Set by the pipeline (not the classifier) for a message nothing could be read from.
UNRECOGNISED = "unrecognised"
MAX_READINGS = 3
# A general question about privacy (`Classification.general_question`) offers these rights; never
# the marketing objection, which the pipeline would apply at once to someone who only asked.
GENERAL_READINGS = (Right.ACCESS, Right.RECTIFICATION, Right.ERASURE)


class Route(StrEnum):
    HANDLE = "handle"  # rights recognised: verification, answer, or immediate effect
    ESCALATE = "escalate"  # to the DPO with the classifier's reasons
    CLARIFY = "clarify"  # ask the person which reading is meant
    TRIAGE = "triage"  # nothing readable: to the DPO's triage queue
    IGNORE = "ignore"  # a confident non-privacy reading, recorded with its reason


@dataclass(frozen=True, slots=True)
class Decision:
    route: Route
    labels: tuple[Right, ...] = ()  # recognised rights (never `other`)
    readings: tuple[Right, ...] = ()  # for CLARIFY: offered in this order
    reasons: tuple[str, ...] = ()  # escalation reason codes for ESCALATE / TRIAGE
    ignore_reason: str = ""  # for IGNORE: the routine reading, e.g. "invoice"


def decide(result: Classification) -> Decision:
    """Route one classified new message; see the module docstring for the order of the rules."""
    labels = result.requested  # a question how to exercise a right exercises none; it is offered
    reasons = tuple(result.reasons)
    special = tuple(r for r in reasons if r in SPECIAL_INTAKE)
    if special:
        return Decision(Route.ESCALATE, labels=labels, reasons=reasons)
    hard = tuple(r for r in reasons if r not in UNCLEAR_REASONS)
    if hard or (result.escalate and not reasons):
        return Decision(Route.ESCALATE, labels=labels, reasons=reasons or ("low_confidence",))
    readings = tuple(readings_of(result))
    if reasons:  # only unclear reasons: ask the person if there is something to offer
        if readings:
            return Decision(Route.CLARIFY, labels=labels, readings=readings, reasons=reasons)
        if labels:
            return Decision(Route.ESCALATE, labels=labels, reasons=reasons)
        if result.general_question:
            return Decision(Route.CLARIFY, readings=GENERAL_READINGS, reasons=reasons)
        return Decision(Route.TRIAGE, reasons=(UNRECOGNISED,))
    if labels:
        return Decision(Route.HANDLE, labels=labels)
    if readings:
        return Decision(Route.CLARIFY, readings=readings, reasons=("low_confidence",))
    if result.non_request:
        return Decision(Route.IGNORE, ignore_reason=result.non_request)
    return Decision(Route.TRIAGE, reasons=(UNRECOGNISED,))


def readings_of(result: Classification) -> list[Right]:
    """The likeliest readings to offer in a clarification question, best first."""
    valid = {r.value for r in Right} - {Right.OTHER.value}
    scored = sorted(((score, label) for label, score in result.scores.items()
                     if label in valid and score > 0), reverse=True)
    readings = [Right(label) for _score, label in scored][:MAX_READINGS]
    for label in (*result.labels, *result.asked_about):
        if label is not Right.OTHER and label not in readings:
            readings.append(label)
    return readings[:MAX_READINGS]


def special_intake(reasons: Sequence[str]) -> tuple[str, ...]:
    """The special-intake codes among `reasons`, in their order."""
    return tuple(r for r in reasons if r in SPECIAL_INTAKE)


def reaches_person(decision: Decision) -> bool:
    """Whether the DPO sees the message at once (an escalation or the triage queue)."""
    return decision.route in (Route.ESCALATE, Route.TRIAGE)
