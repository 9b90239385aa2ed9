"""The facts an identity request asks for, named in the reply's language.

The verification ladder (`dsr.pipeline.identity`) asks for one or two facts the controller already holds
(EDPB Guidelines 01/2022 §§ 65, 70) and passes their German names in
`ReplyContext.facts_requested`.  An English reply must name them in English (Art. 12(1): clear
and plain language the person understands), so the template layer translates them here.  A fact
without an English name is shown in German and logged: a fact must never be dropped from the
request, or the person could not answer it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from dsr.replies.language import is_english

logger = logging.getLogger(__name__)

# German name (as the ladder and the controller profiles write it) -> English name.
FACT_NAMES_EN: dict[str, str] = {
    "Kundennummer": "customer number",
    "Postleitzahl": "postcode",
    "Postleitzahl der bei uns hinterlegten Anschrift": "postcode of the address we hold for you",
    "Partnernummer": "partner number",
    "Vertragsnummer": "contract number",
    "Rechnungsnummer": "invoice number",
    "Auftragsnummer": "order number",
    "Geburtsdatum": "date of birth",
    "Telefonnummer": "telephone number",
    "Anschrift": "postal address",
}


def fact_name(fact: str, language: str) -> str:
    """The name of one requested fact in `language` ("de" or "en")."""
    if not is_english(language):
        return fact
    english = FACT_NAMES_EN.get(" ".join(fact.split()))
    if english is None:
        logger.warning("no English name for the identity fact %r; shown in German", fact)
        return fact
    return english


def fact_names(facts: Iterable[str], language: str) -> tuple[str, ...]:
    """`fact_name` for each fact, in order."""
    return tuple(fact_name(fact, language) for fact in facts)
