"""Normalisation and tokenisation: the text every rule sees, with spans back into what was sent.

A DPO must be able to see *where* a decision came from, so tokens keep their character span in
the plain text of the message (after HTML to text and Unicode NFC).  Matching happens on a folded
form of each token (case-folded, umlauts and ß spelled out, other accents dropped), so "Löschung",
"LOESCHUNG" and "loeschung" are the same word.  Legal citations ("Art. 17 DSGVO", "§ 34 BDSG",
"Art. 21 Abs. 2", "Article 15(3) GDPR") become one token each ("art:17", "bdsg:34", "art:21:2"),
because a citation names a right as precisely as any keyword does.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

# Umlauts and ß spelled out, typographic apostrophes made plain, and the letters NFKD would
# leave (Turkish dotless ı, Polish ł, Danish ø) spelled plain (str.replace per character is
# much faster than str.translate on non-ASCII text; no replacement creates another's character).
_UMLAUT_SPELLINGS = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("’", "'"), ("‘", "'"),
                     ("ı", "i"), ("ł", "l"), ("ø", "o"), ("đ", "d"))
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")

_HTML_HINT = re.compile(r"<(?:/?[a-zA-Z][a-zA-Z0-9]*\b[^>]*|!--)>?|&(?:[a-zA-Z]{2,8}|#\d{2,5});")
_HTML_DROP = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_HTML_BREAK = re.compile(r"<\s*(?:br|/p|/div|/tr|/li|/h[1-6]|/table|hr|p|div|li|tr|h[1-6])\b[^>]*>", re.I)
_HTML_TAG = re.compile(r"<[^>]*>")
_BLANKS = "\t\u00a0\u2000-\u200b\u202f\u205f\u3000"
_SPACES = re.compile(f"[{_BLANKS}][ {_BLANKS}]*| {{2,}}")
_WIDE_BLANKS = "\u00a0\u202f\u205f\u3000" + "".join(chr(c) for c in range(0x2000, 0x200C))
_MANY_NEWLINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")

LAWS_ABSORBED = {"dsgvo": "art", "ds-gvo": "art", "gdpr": "art", "eu-dsgvo": "art", "dsg-vo": "art"}
_CITATION = (
    r"(?<![\w§])(?P<kind>artikel|article|art\.?|§§?)\s*(?P<num>\d{1,3})(?![\d.,]\d)"
    r"(?:\s*(?:abs(?:atz|\.)?|para(?:graph|\.)?)\s*(?P<abs>\d{1,2})|\s*\((?P<abs2>\d{1,2})\))?"
    r"(?:\s*(?:s(?:atz|\.)|uabs\.?|unterabs(?:atz|\.))\s*\d{1,2})?"
    r"(?:\s*(?:lit(?:era|\.)?|buchst(?:abe|\.)?)\s*(?P<lit>[a-h])\b\)?|\s*\((?P<lit2>[a-h])\))?"
    r"(?:\s*(?P<law>eu-dsgvo|ds-?gvo|dsg-vo|gdpr|bdsg|uwg|bgb|tdddg|ttdsg)\b)?"
)
CITATION_RE = re.compile(_CITATION, re.IGNORECASE)
# E-mail addresses, links and bare domains are skipped: "kanzlei@steuerbuero.de" is no lawyer,
# "Ihr Update von w-support.com" no support matter.  A bare domain needs a top-level domain in
# lower case from a short list without words of their own ("es", "it", "no", "at" are left out),
# so that "raus.Es reicht" typed without a space keeps its words.
_TLDS = "de|com|net|org|eu|info|biz|io|ch|nl|fr|pl|uk|app|dev|shop|online|store|email|cloud"
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_DOMAIN = rf"(?<![\w.@-])[^\W_][\w-]*(?:\.[\w-]+)*\.(?-i:{_TLDS})(?![\w-])(?:/\S*)?"
_LINK = r"(?:https?://|hxxps?://|www\.)\S+|" + _DOMAIN
_DOMAIN_HINT = re.compile(rf"[^\W_]\.(?:{_TLDS})(?![\w-])")
_WORD_OR_DIGITS = r"(?P<word>[^\W\d_]+(?:'[^\W\d_]+)*)|(?P<digits>\d+)"


@lru_cache(maxsize=8)
def _token_pattern(emails: bool, links: bool, citations: bool) -> re.Pattern[str]:
    """The token regex: skipped addresses and links, citations, words, numbers (in this order).

    Alternatives that cannot occur in a text are left out (see `_special_tokens`): the regex
    then finds exactly the same tokens, only faster, because plain words are by far the most
    common case and every alternative is otherwise tried at every word.
    """
    skips = [part for part, wanted in ((_EMAIL, emails), (_LINK, links)) if wanted]
    parts = [f"(?P<skip>{'|'.join(skips)})"] if skips else []
    if citations:
        parts.append(_CITATION)
    parts.append(_WORD_OR_DIGITS)
    return re.compile("|".join(parts), re.IGNORECASE)


_PLAIN_SPLIT = re.compile(r"([^\W\d_]+(?:'[^\W\d_]+)*)|(\d+)")  # words, numbers as split groups


def _special_tokens(segment: str) -> tuple[bool, bool, bool]:
    """Whether `segment` may hold an address, a link, a citation (arguments of `_token_pattern`).

    Each test is a necessary condition of its alternative: an address needs "@", a link "://",
    "www." or a letter or digit, a dot and a top-level domain; a citation "§" or "art" ("Art.",
    "Artikel", "Article"); the regex matches these letters ignoring case, and no other
    characters than A, R, T, W fold to them.
    """
    lowered = segment.lower()
    links = "://" in segment or "www." in lowered or (
        "." in segment and _DOMAIN_HINT.search(segment) is not None)
    return "@" in segment, links, "§" in segment or "art" in lowered


# A sentence ends at . ! ? followed by space, at a blank line, or before a list item.  Written
# to start with one character class (". ! ? or line break") so the regex engine can skip ahead
# to candidates instead of trying every alternative at every position.
_SENTENCE_BREAK = re.compile(
    r"[.!?\n](?:(?<=[.!?])[.!?]*(?=[\s\"')\]]|$)"
    r"|(?<=\n)(?:[ \t]*\n|(?=[ \t]*(?:[-*•>]|\d+(?:\.\d+)*[.)]?\s))))"
)
# A clause also ends at commas, colons, semicolons and dashes (" - " between spaces).
_CLAUSE_BREAK = re.compile(r"[,:;–—\s](?:(?<=[,:;–—])|(?<=\s)-\s)")
_CONJUNCTIONS = frozenset(
    {"und", "oder", "aber", "sondern", "sowie", "jedoch", "doch", "and", "but", "or", "whereas"}
)


class Token(NamedTuple):
    """One word, number or citation: its folded form and its span in the plain text.

    A named tuple rather than a dataclass: messages have hundreds of tokens and tuples are
    several times cheaper to create, which matters for the throughput target.
    """

    norm: str
    start: int
    end: int
    sentence: int
    clause: int


def fold(word: str) -> str:
    """Case-fold and spell out umlauts so that every spelling of a word compares equal.

    Words up to FOLD_CACHED_MAX characters are cached; a longer "word" is hostile or garbage (a
    200 KB run of letters is one) and kept in the cache it would hold its text twice, for good."""
    return _fold_cached(word) if len(word) <= FOLD_CACHED_MAX else fold_text(word)


def fold_text(text: str) -> str:
    """`fold` for longer text (not cached): paragraphs, whole lines."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    for char, spelled in _UMLAUT_SPELLINGS:
        if char in folded:
            folded = folded.replace(char, spelled)
    if not folded.isascii():
        decomposed = unicodedata.normalize("NFKD", folded)
        folded = decomposed if decomposed.isascii() else _NON_ASCII_RUN.sub(_without_marks, decomposed)
    return folded


def _without_marks(run: re.Match[str]) -> str:
    """A run of non-ASCII characters without its combining marks (the accents of "é", "ñ" ...)."""
    return "".join(c for c in run.group() if not unicodedata.combining(c))


FOLD_CACHED_MAX = 64
_fold_cached = lru_cache(maxsize=65536)(fold_text)


def looks_like_html(text: str) -> bool:
    """A tag, comment or entity somewhere in `text` (or a numeric character reference)."""
    tag = text.find("<")
    if tag >= 0:
        # Every hint starts with "<" or "&": the regex needs to look only from the first of them.
        entity = text.find("&", 0, tag)
        if _HTML_HINT.search(text, entity if entity >= 0 else tag) is not None:
            return True
    return "&#" in text


def html_to_text(markup: str) -> str:
    """Reduce an HTML body to text: block elements become line breaks, entities are decoded."""
    text = _HTML_DROP.sub(" ", markup)
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    return html.unescape(text)


def _has_odd_spaces(text: str) -> bool:
    """Whether `_SPACES` has anything to do; a substring test is far cheaper than the regex scan."""
    if "  " in text or "\t" in text:
        return True
    return not text.isascii() and any(blank in text for blank in _WIDE_BLANKS)


def plain_text(raw: str) -> str:
    """Unicode NFC, HTML to text, uniform line ends and spaces; the text all spans refer to."""
    if not raw:
        return ""
    text = raw if unicodedata.is_normalized("NFC", raw) else unicodedata.normalize("NFC", raw)
    if "<" in text or "&" in text:
        if looks_like_html(text):
            text = html_to_text(text)
        elif "&" in text:
            text = html.unescape(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _has_odd_spaces(text):
        text = _SPACES.sub(" ", text)
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def citation_token(match: re.Match[str]) -> str:
    """The canonical form of a citation match, e.g. "art:21:2" or "bdsg:34"."""
    kind = match.group("kind").casefold()
    num = match.group("num")
    para = match.group("abs") or match.group("abs2")
    lit = match.group("lit") or match.group("lit2")
    law = (match.group("law") or "").casefold()
    if kind.startswith("§"):
        prefix = law if law and law not in LAWS_ABSORBED else "par"
    else:
        prefix = "art" if not law or law in LAWS_ABSORBED else law
    parts = [prefix, num]
    if para:
        parts.append(para)
        if lit:
            parts.append(lit.casefold())
    return ":".join(parts)


def _break_positions(text: str, pattern: re.Pattern[str], ranges: Sequence[tuple[int, int]]) -> list[int]:
    return [m.start() for start, end in ranges for m in pattern.finditer(text, start, end)]


def _line_breaks(text: str, ranges: Sequence[tuple[int, int]]) -> list[int]:
    """Single line breaks end a sentence unless the line looks hard-wrapped (long, mid-sentence)."""
    positions: list[int] = []
    for range_start, range_end in ranges:
        start = text.rfind("\n", 0, range_start) + 1
        while True:
            nl = text.find("\n", start, range_end)
            if nl < 0:
                break
            line = text[start:nl].rstrip()
            if len(line) < 60 or not (line[-1:].isalpha() or line[-1:] in ",-"):
                positions.append(nl)
            start = nl + 1
    return positions


# A period after these words ends no sentence: "gemäß Art. 15 Abs. 1 lit. h DSGVO", "z. B.",
# "Nr. 4471", "Kundennr. 4471", "Herr Dr. M. Schulz".  One letter before the period is always an
# abbreviation or an initial.  Periods inside a citation ("Art. 21 Abs. 1 DSGVO") end none either.
_ABBREVIATIONS = frozenset({
    "abs", "art", "lit", "nr", "bzw", "ggf", "vgl", "evtl", "ca", "dr", "hr", "fr", "str", "inkl",
    "bspw", "sog", "gem", "lt", "ziff", "tel", "geb", "prof", "mr", "mrs", "ms", "st", "ff", "usw",
})
# "am 12. Oktober", "bis zum 3. Juli": a date's ordinal, followed by a month name.
_MONTHS = frozenset({
    "januar", "jaenner", "februar", "maerz", "april", "mai", "juni", "juli", "august", "september",
    "oktober", "november", "dezember", "jan", "feb", "mrz", "apr", "jun", "jul", "aug", "sep",
    "sept", "okt", "nov", "dez",
})
_WORD_BEFORE = re.compile(r"([^\W\d_]+|\d+)$")
_WORD_AFTER = re.compile(r"\s*([^\W\d_]+)")


def _no_sentence_end(text: str, position: int, citations: list[tuple[int, int]]) -> bool:
    """The period at `position` belongs to an abbreviation, a date or a citation (`citations`:
    spans in text order, which do not overlap)."""
    if text[position] != "." or position == 0:
        return False
    if citations:
        inside = bisect_right(citations, (position, len(text))) - 1  # last citation starting here or before
        if inside >= 0 and position < citations[inside][1]:
            return True
    last = text[position - 1]
    if last.isdigit():
        after = _WORD_AFTER.match(text, position + 1, position + 16)
        return after is not None and fold(after.group(1)) in _MONTHS
    if not last.isalpha():
        return False
    if position == 1 or not text[position - 2].isalpha():
        return True  # one letter: "z. B.", "Herr M. Schulz"
    before = _WORD_BEFORE.search(text, max(position - 12, 0), position)
    folded = fold(before.group(1)) if before is not None else ""
    return folded in _ABBREVIATIONS or folded.endswith("nr")  # "Kundennr. 4471"


def _sentence_breaks(text: str, ranges: Sequence[tuple[int, int]]) -> list[int]:
    breaks = _break_positions(text, _SENTENCE_BREAK, ranges)
    if not breaks:
        return breaks
    citations = [m.span() for start, end in ranges if any(_special_tokens(text[start:end])[2:])
                 for m in CITATION_RE.finditer(text, start, end)]
    return [p for p in breaks if not _no_sentence_end(text, p, citations)]


def tokenize(text: str, ranges: Sequence[tuple[int, int]] | None = None) -> list[Token]:
    """Split plain text into tokens with sentence and clause numbers (for negation scope).

    With `ranges`, only tokens inside those character ranges are returned; sentence numbers are
    still counted over the whole text, so spans and sentences agree with the full message.
    """
    if not text:
        return []
    if ranges is None:
        ranges = [(0, len(text))]
    sentence_breaks = sorted(_sentence_breaks(text, ranges) + _line_breaks(text, ranges))
    clause_breaks = sorted(sentence_breaks + _break_positions(text, _CLAUSE_BREAK, ranges))
    tokens: list[Token] = []
    append = tokens.append
    make = tuple.__new__  # Token(...) without the Python-level __new__ of named tuples
    conj_offset = 0
    conjunctions = _CONJUNCTIONS
    folded = _fold_cached
    # Token starts only grow within a range, so the number of breaks at or before a start (what
    # bisect_right gives) is counted on from the previous token; the sentinels end each walk.
    sentences = [*sentence_breaks, len(text) + 1]
    clauses = [*clause_breaks, len(text) + 1]
    for start_at, end_at in ranges:
        sentence = bisect_right(sentence_breaks, start_at)
        clause = bisect_right(clause_breaks, start_at)
        segment = text[start_at:end_at]
        specials = _special_tokens(segment)
        if not any(specials):
            # Words and numbers only: str.split with the same regex yields [gap, word, number,
            # gap, ...] without a match object per token, and spans follow from the lengths.
            parts = _PLAIN_SPLIT.split(segment)
            start = start_at + len(parts[0])
            for i in range(1, len(parts), 3):
                word = parts[i]
                if word is None:
                    word = norm = parts[i + 1]
                else:
                    norm = folded(word) if len(word) <= FOLD_CACHED_MAX else fold_text(word)
                    if norm in conjunctions:
                        conj_offset += 1
                while sentences[sentence] <= start:
                    sentence += 1
                while clauses[clause] <= start:
                    clause += 1
                end = start + len(word)
                append(make(Token, (norm, start, end, sentence, clause + conj_offset)))
                start = end + len(parts[i + 2])
            continue
        for m in _token_pattern(*specials).finditer(text, start_at, end_at):
            kind = m.lastgroup
            if kind == "word":
                norm = fold(m.group())
                if norm in conjunctions:
                    conj_offset += 1
            elif kind == "digits":
                norm = m.group()
            elif kind == "skip":
                continue
            else:
                norm = citation_token(m)
            start, end = m.span()
            while sentences[sentence] <= start:
                sentence += 1
            while clauses[clause] <= start:
                clause += 1
            append(make(Token, (norm, start, end, sentence, clause + conj_offset)))
    return tokens


def canonical_citations(phrase: str) -> str:
    """Replace every citation in a lexicon phrase by its token form ("Art. 17 DSGVO" -> "art:17")."""
    return CITATION_RE.sub(citation_token, phrase)
