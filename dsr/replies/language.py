"""Which language a letter (or a copy package) is written in, from a ticket's language code.

One rule for every place a language code decides the language: the primary subtag, whatever its
case or separator ("en", "EN", "en-GB", "en_US" are English); codes we have no texts for, and no
code at all, give German, the legal default.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "de"
SUPPORTED_LANGUAGES = ("de", "en")


def normalise_language(language: str | None) -> str:
    """"en-GB", "en_US", "EN" -> "en"; anything without templates (or None) -> "de"."""
    primary = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def is_english(language: str | None) -> bool:
    return normalise_language(language) == "en"
