"""Consent withdrawal scope: advertising only (done at once) or a task for a person (issue 15 no. 6)."""

from __future__ import annotations

import pytest

from dsr.intents.consent_scope import ConsentScope, consent_scope
from dsr.intents.rights import Right


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("Ich widerrufe meine Einwilligung zur längeren Speicherung meiner Daten", ConsentScope.REVIEW),
        ("Ich widerrufe meine Einwilligung.", ConsentScope.REVIEW),  # what it covered is unknown
        ("Einwilligung zur Bonitätsabfrage widerrufen", ConsentScope.REVIEW),
        ("Ich widerrufe die Einwilligung zur Weitergabe an Partner und zu Werbung", ConsentScope.REVIEW),
        ("Hiermit widerrufe ich meine Einwilligung für den Newsletter", ConsentScope.MARKETING),
        ("Einwilligung in Telefonwerbung widerrufen", ConsentScope.MARKETING),
        ("I withdraw my consent to receive promotional e-mails", ConsentScope.MARKETING),
        ("I withdraw my consent to the storage of my data", ConsentScope.REVIEW),
    ],
)
def test_scope(text: str, scope: ConsentScope) -> None:
    assert consent_scope(text).scope is scope


def test_a_marketing_objection_alongside_counts_as_advertising_unless_other_words_appear() -> None:
    assert consent_scope("Ich widerrufe alles.", [Right.MARKETING_OBJECTION]).scope is ConsentScope.MARKETING
    assert consent_scope("Widerruf der Speicherung", [Right.MARKETING_OBJECTION]).scope is ConsentScope.REVIEW


def test_decision_names_the_words_found() -> None:
    found = consent_scope("Newsletter abbestellen und Einwilligung zur Speicherung widerrufen").to_dict()
    assert found == {"scope": "review", "marketing_words": ["newsletter", "abbestell"],
                     "other_words": ["speicher"]}
