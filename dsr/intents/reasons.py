"""Escalation reason codes (docs/ARCHITECTURE.md): stable ids the pipeline, store and console share.

Each code names why a careful DPO wants a human to look at a message (docs/LEGAL-NOTES.md 5).  The lexicon
may only use codes from this list, so a typo in a data file cannot invent a reason nobody handles.
"""

from __future__ import annotations

REASON_CODES: frozenset[str] = frozenset(
    {
        "low_confidence",
        "ambiguous",
        "complaint",
        "legal_threat",
        "representative",
        "minor",
        "special_category",
        "third_party_data",
        "employee",
        "processor_role",
        "contradictory",
        "breach",
        "authority",
        "identity_theft",
        "credit_agency",
        "deceased",
        "distress",
        "unusual_scope",
        "abusive",
        "objection_balancing",
        "automated_decision_review",
    }
)

# Reasons that only say the reading is unsure: the person can settle it in a clarification question
# (`dsr.intents.routing`), and a routine reading (a bounce, a newsletter) outweighs them.
UNCLEAR_CODES: frozenset[str] = frozenset({"ambiguous", "low_confidence"})

# Why a message is no privacy request at all: the positive evidence that lets the pipeline route
# it away without a person (`Classification.non_request`).  Without one of these, a message in
# which no right is recognised goes to a person ("low_confidence"), never silently aside.
ROUTINE_CODES: frozenset[str] = frozenset(
    {
        "order",  # orders, delivery, returns, appointments
        "invoice",  # invoices, payments, dunning, contract matters
        "support",  # product or service support, passwords, technical problems
        "application",  # job applications
        "newsletter",  # newsletters and mass mailings received (not a request to stop them)
        "spam",  # spam, phishing, cold sales offers
        "auto_reply",  # out-of-office, bounces, automatic notifications
        "chat_noise",  # greetings, thanks, test messages without any request
        "business",  # B2B correspondence, partner matters, enquiries about products
        "closed",  # thanks for a request already answered, nothing further asked
    }
)
