"""What a consent withdrawal is about: advertising only, or something a person must look at.

Art. 7(3) GDPR: a withdrawal takes effect on receipt, for the future.  What follows from it depends
on what the consent covered.  A consent to advertising (newsletter, e-mail, phone or letter
advertising) is honoured completely by the Werbesperrdatei, so the assistant can do it at once and
confirm it.  Any other consent (longer storage of data, a credit check, photos, tracking, passing
data on) needs a person to find the processing that relied on it, stop it and erase what has no
other legal basis (Art. 17(1)(b)); the letter then says that this is being handled, not that it
is done.

The decision is conservative: "marketing" only when the text names advertising and nothing that
points elsewhere.  The words are data (`MARKETING_WORDS`, `OTHER_WORDS`), matched on folded text
(umlauts spelled out, case-folded) as word prefixes; the result names the words found, so the
DPO can see why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from dsr.intents.rights import Right
from dsr.intents.text import fold_text


class ConsentScope(StrEnum):
    MARKETING = "marketing"  # advertising only: suppression does all that is needed
    REVIEW = "review"  # anything else, or unclear: a task for the DPO


# Word prefixes (folded) that name advertising.
MARKETING_WORDS: tuple[str, ...] = (
    "newsletter", "werbung", "werbe", "werbemail", "marketing", "mailing", "direktwerbung",
    "telefonwerbung", "e-mail-werbung", "emailwerbung", "angebote per", "produktinformation",
    "aktionsangebot", "gewinnspiel", "abmelden", "abbestell", "unsubscribe", "advertis",
    "promotional", "promotion",
)

# Word prefixes (folded) that name a consent beyond advertising; any of them means review.
OTHER_WORDS: tuple[str, ...] = (
    "speicher", "aufbewahr", "bonitaet", "schufa", "auskunftei", "kredit", "score", "scoring",
    "foto", "bild", "video", "gesundheit", "tracking", "cookie", "analyse", "profil",
    "weitergabe", "weiterzugeben", "uebermittl", "drittanbieter", "partner", "standort",
    "bewerbung", "talentpool", "storage", "retain", "credit", "photo", "share", "sharing",
)


@dataclass(frozen=True, slots=True)
class ScopeDecision:
    scope: ConsentScope
    marketing_words: tuple[str, ...]  # the advertising words found
    other_words: tuple[str, ...]  # the words that point beyond advertising

    def to_dict(self) -> dict[str, object]:
        return {"scope": self.scope.value, "marketing_words": list(self.marketing_words),
                "other_words": list(self.other_words)}


def _found(text: str, words: Iterable[str]) -> tuple[str, ...]:
    return tuple(w for w in words if re.search(r"(?<![a-z0-9])" + re.escape(w), text))


def consent_scope(text: str, rights: Iterable[Right] = ()) -> ScopeDecision:
    """Whether the consent withdrawn in `text` is about advertising only.

    A message that also objects to direct marketing (`rights` holds MARKETING_OBJECTION) names
    advertising by definition; a word that points beyond advertising still makes it a review.
    """
    folded = fold_text(text)
    marketing = _found(folded, MARKETING_WORDS)
    other = _found(folded, OTHER_WORDS)
    about_marketing = bool(marketing) or Right.MARKETING_OBJECTION in set(rights)
    scope = ConsentScope.MARKETING if about_marketing and not other else ConsentScope.REVIEW
    return ScopeDecision(scope, marketing, other)
