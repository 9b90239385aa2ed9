"""Escalation reason codes (docs/ARCHITECTURE.md): stable ids the pipeline, store and console share.

Each code names why a careful DPO wants a human to look at a message (LEGAL.md § 5).  The lexicon
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
