"""What the DPO's own words in a letter to the person may contain (the extension reasons).

Art. 12(3) s. 3 GDPR: the person must be told why the answer takes longer.  The DPO writes that
reason in free text, and it goes out as written, also in the neutral notice to a contact that is
not verified.  A DPO expects the console to catch the slips that cannot be taken back once the
letter is sent:

* a placeholder left in (⟦…⟧, "XXX", "TODO", "[…]", "[Name]", "<Name>", "{{ }}", "???", "Lorem ipsum");
* contact or account details: an e-mail address, a phone, customer, account or IBAN number (a run
  of five or more digits, spaces, slashes and hyphens between them allowed; the ticket's own
  reference is fine).  The reason is about the work, never about people, so such details are
  either the person's own (not for the neutral notice) or somebody else's (never);
* words at all: at least `MIN_WORDS` different words of three or more letters, at most
  `MAX_CHARS` characters (a reason, not a copy of the file).

Names of other persons cannot be told apart from ordinary nouns by a rule; the dialog says so.
"""

from __future__ import annotations

import re

from dsr.console.outgoing import PLACEHOLDER_CLOSE, PLACEHOLDER_OPEN

MIN_WORDS = 4
MAX_CHARS = 1000
_PLACEHOLDER = re.compile(
    r"\bx{3,}\b|\btodo\b|\btbd\b|\blorem ipsum\b|\[[^\[\]\n]{0,40}\]|<[^<>\n]{1,40}>|\{\{|\}\}|\?{3,}",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"\+?\d(?:[ /-]?\d){4,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,}", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{3,}")


def placeholder_problem(text: str) -> str | None:
    if PLACEHOLDER_OPEN in text or PLACEHOLDER_CLOSE in text or _PLACEHOLDER.search(text):
        return ("Die Begründung enthält noch einen Platzhalter (z. B. ⟦…⟧, XXX, TODO, […], <Name>); "
                "bitte ersetzen.")
    return None


def personal_data_problem(text: str, *, reference: str = "") -> str | None:
    """Why `text` looks like it carries contact or account details (German), or None."""
    checked = text.replace(reference, " ") if reference else text
    if _EMAIL.search(checked) or _IBAN.search(checked) or _NUMBER.search(checked):
        return ("Die Begründung geht an die Person: bitte keine E-Mail-Adressen, Telefon-, Kunden- oder "
                "Kontonummern hineinschreiben, weder ihre noch die anderer Personen.")
    return None


def reason_problem(text: str, *, reference: str = "", min_words: int = MIN_WORDS) -> str | None:
    """The first reason why the DPO's free-text reason cannot go out (German), or None."""
    if len(text) > MAX_CHARS:
        return f"Die Begründung ist zu lang (höchstens {MAX_CHARS} Zeichen)."
    problem = placeholder_problem(text) or personal_data_problem(text, reference=reference)
    if problem is not None:
        return problem
    if len({w.casefold() for w in _WORD.findall(text)}) < min_words:
        return f"Bitte den Grund in ganzen Worten beschreiben (mindestens {min_words} verschiedene Wörter)."
    return None
