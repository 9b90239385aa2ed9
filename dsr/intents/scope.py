"""Scope: which part of a message the sender wrote now, and which part they merely carried along.

Only what the data subject writes in this message can exercise a right.  Quoted replies, forwarded
headers, signatures, legal disclaimers ("... löschen Sie diese E-Mail") and pasted privacy notices
that list every right would otherwise make every reply look like a bundle of requests.  Scope works
on lines and paragraphs of the plain text and returns ranges into that same text, so evidence spans
stay valid and the console can grey out what was ignored and say why.

A forwarded message is kept apart rather than dropped: when the forwarding person writes no request
of their own ("Könnt ihr das übernehmen?"), the forwarded request is what needs handling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate, compress
from operator import add, ne
from typing import NamedTuple

from dsr.intents.text import fold_text

OWN = "own"
FORWARDED = "forwarded"
QUOTED = "quoted"
FORWARD_HEADER = "forward_header"
SIGNATURE = "signature"
DISCLAIMER = "disclaimer"
PRIVACY_NOTICE = "privacy_notice"

_QUOTE_HEADER = (
    r"-{2,}\s*(?:original message|urspr(?:ü|ue)ngliche nachricht|originalnachricht)\s*-{2,}"
    r"|am\s.{3,120}\sschrieb\s.{0,160}:\s*$"
    r"|on\s.{3,160}\swrote:\s*$"
    r"|(?:von|from):\s.*\s(?:gesendet|sent):\s"
)
_FORWARD_HEADER = (
    r"-{3,}\s*(?:weitergeleitete nachricht|forwarded message|original-nachricht)\s*-{3,}"
    r"|begin forwarded message:|anfang der weitergeleiteten nachricht:"
)
_FORWARD_START = re.compile(rf"^\s*(?:{_FORWARD_HEADER})", re.IGNORECASE)
# Both tests in one pass per line: a quote header wins over a forward header, as when tested one
# after the other (no alternative starts with a blank, so both look at the same position).
# What a quote or forward header can start with, after blanks ("-----", "Am", "On", "Von",
# "From", "Begin", "Anfang"); lines starting otherwise skip the regex.  Only these characters
# match the initials when ignoring case.
_HEADER_INITIALS = frozenset("-aAoOvVfFbB")
_THREAD_LINE = re.compile(
    rf"^\s*(?:(?P<quote>{_QUOTE_HEADER})|(?P<forward>{_FORWARD_HEADER}))", re.IGNORECASE
)
# Cheap test whether a text can contain a quote or forward at all (most messages do not).
_THREAD_HINTS = ("schrieb", "wrote", "--", "von:", "from:", "weitergeleitet", "forwarded", "\n>")
_DISCLAIMER_HINTS = ("vertraulich", "confidential", "geschuetzt", "privileged")
_HEADER_LINE = re.compile(
    r"^\s*(?:von|from|an|to|cc|bcc|datum|date|betreff|subject|gesendet|sent|reply-to|antwort an)\s*:",
    re.IGNORECASE,
)
_SIGNATURE_DELIMITER = re.compile(r"^\s*(?:--|__{3,}|—)\s*$")
_CLOSING = re.compile(
    r"^\s*(?:(?:mit\s+)?(?:freundlichen|freundliche|besten|beste|vielen|viele|herzlichen|herzliche|"
    r"lieben|liebe|sonnige|sch(?:ö|oe)ne|kollegialen)?\s*gr(?:ü|ue|u)(?:ß|ss)(?:e|en)?\b"
    r"|(?:mfg|vg|lg|bg)\b|hochachtungsvoll\b"
    r"|(?:best|kind|warm|many thanks and)?\s*regards\b|(?:yours\s+)?(?:sincerely|faithfully|truly)\b"
    r"|(?:best|cheers|thanks|thank you|danke|vielen dank|danke sch(?:ö|oe)n)[,!. ]*$"
    r"|.{0,40}\bgr(?:ü|ue)(?:ß|ss)en?[,!. ]*$)",
    re.IGNORECASE,
)
_POSTSCRIPT = re.compile(r"^\s*p\.?\s?s\.?\b", re.IGNORECASE)
_DISCLAIMER = re.compile(
    r"(?:vertraulich|confidential|rechtlich gesch(?:ü|ue)tzt|privileged)"
    r".{0,240}(?:irrt(?:ü|ue)mlich|in error|nicht der (?:richtige|beabsichtigte) (?:adressat|empf)|"
    r"not the intended|falsche[nr]? (?:adressat|empf(?:ä|ae)nger)|unbefugte)",
    re.IGNORECASE | re.DOTALL,
)
_RIGHT_NOUNS = (
    re.compile(r"auskunft(?!ei)|\baccess\b"),
    re.compile(r"berichtigung|rectification"),
    re.compile(r"loeschung|erasure|vergessen"),
    re.compile(r"einschraenkung|restriction"),
    re.compile(r"uebertragbarkeit|portability"),
    re.compile(r"widerspruch|\bobject"),
    re.compile(r"widerruf|withdraw"),
    re.compile(r"beschwerde|complaint|aufsichtsbehoerde|supervisory"),
)
_NOTICE_MARKER = re.compile(
    r"sie haben (?:das|ein) recht|haben sie (?:das|ein) recht|koennen sie|nach massgabe|welche rechte"
    r"|ihre rechte|ihnen steht|steht ihnen|sie sind berechtigt|betroffenenrechte|rechte der betroffenen"
    r"|you have the right|your rights|you may|you can|you are entitled|data subject rights"
    r"|informationen zum datenschutz|datenschutzhinweis|datenschutzerklaerung|privacy (?:notice|policy)"
)
# Each alternative of `_NOTICE_MARKER` contains one of these (after folding): a paragraph without
# any of them is no notice, and the regex, tried at nearly every position, is skipped.
_NOTICE_HINTS = ("recht", "koennen", "massgabe", "steht", "you", "right", "datenschutz", "privacy")
_FIRST_PERSON = re.compile(r"\b(?:ich|mir|mich|i|me|my)\b")


class Region(NamedTuple):
    """A range of the plain text with what it is (`OWN`, `QUOTED`, `SIGNATURE` ...)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Scope:
    """The plain text split into the sender's own words, forwarded content and ignored parts."""

    text: str
    regions: tuple[Region, ...]

    def ranges(self, kind: str) -> list[tuple[int, int]]:
        return [(r.start, r.end) for r in self.regions if r.kind == kind]

    @property
    def excluded(self) -> tuple[Region, ...]:
        return tuple(r for r in self.regions if r.kind not in (OWN, FORWARDED))


def _line_starts(lines: list[str]) -> list[int]:
    """Offset in the text of each line of `text.split("\\n")`: earlier lengths plus line breaks."""
    return list(map(add, accumulate(map(len, lines[:-1]), initial=0), range(len(lines))))


def _is_outlook_header(text: str, lines: list[str], starts: list[int], i: int) -> bool:
    """A "Von:" line followed by "Gesendet:"/"Datum:" lines starts a quoted Outlook reply."""
    start = starts[i]
    if text[start : start + 5].strip()[:5].casefold() not in ("von:", "from:"):
        return False
    following = [line.strip().casefold() for line in lines[i + 1 : i + 4]]
    return any(f.startswith(("gesendet:", "sent:", "datum:", "date:")) for f in following)


def _mark_threads(text: str, lowered: str, lines: list[str], starts: list[int], kinds: list[str]) -> int:
    """Quoted replies end the sender's text; forwarded messages become fallback content.

    Everything from the start of a quoted reply on is quoted; returns the index of that line
    (the number of lines when there is none), so later passes can stop there.
    """
    # "von:"/"from:" somewhere in the text is necessary for an Outlook header (casefold works
    # character by character, so a match on a line is a match in the whole text).
    outlook = "von:" in lowered or "from:" in lowered
    state = OWN
    in_header = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        header = _THREAD_LINE.match(line) if stripped[:1] in _HEADER_INITIALS else None
        found = header.lastgroup if header is not None else None
        if (state == OWN or not in_header) and (
            found == "quote" or (outlook and _is_outlook_header(text, lines, starts, i))
        ):
            kinds[i:] = [QUOTED] * (len(lines) - i)
            return i
        if found == "forward" or (found == "quote" and _FORWARD_START.match(line)):
            state, in_header = FORWARDED, True
            kinds[i] = FORWARD_HEADER
            continue
        if state == FORWARDED and in_header:
            blank = not line.strip()
            if blank or _HEADER_LINE.match(line):
                kinds[i] = FORWARD_HEADER
                if blank:
                    in_header = False
                continue
            in_header = False
        if stripped.startswith(">"):
            kinds[i] = QUOTED
            continue
        kinds[i] = state
    return len(lines)


def _mark_signatures(lines: list[str], kinds: list[str], limit: int, chat: bool) -> None:
    """After "--" or a closing formula ("Mit freundlichen Grüßen") comes name, address, footer."""
    for part in (OWN, FORWARDED):
        if part == FORWARDED and FORWARDED not in kinds:
            continue
        signing = False
        for i in range(limit):
            kind = kinds[i]
            if kind != part:
                if signing and part == OWN and kind in (QUOTED, FORWARD_HEADER):
                    signing = False
                continue
            line = lines[i]
            if signing:
                if _POSTSCRIPT.match(line):
                    signing = False
                else:
                    kinds[i] = SIGNATURE
                continue
            closing = not chat and len(line.strip()) <= 60 and _CLOSING.match(line) is not None
            if _SIGNATURE_DELIMITER.match(line) or closing:
                signing = True
                kinds[i] = SIGNATURE


def _kept_paragraphs(lines: list[str], kinds: list[str], limit: int) -> list[list[int]]:
    """Per paragraph (lines between blank lines), the indices of its own or forwarded lines."""
    paragraphs: list[list[int]] = []
    kept: list[int] = []
    for i in range(limit):
        line = lines[i]
        if line and not line.isspace():
            if kinds[i] == OWN or kinds[i] == FORWARDED:
                kept.append(i)
        elif kept:
            paragraphs.append(kept)
            kept = []
    if kept:
        paragraphs.append(kept)
    return paragraphs


def _mark_boilerplate(text: str, lines: list[str], starts: list[int], kinds: list[str], limit: int) -> None:
    """Disclaimers and pasted privacy notices are text the sender did not write as a request."""
    for kept in _kept_paragraphs(lines, kinds, limit):
        body = fold_text(" ".join(lines[i] for i in kept))
        if any(hint in body for hint in _DISCLAIMER_HINTS) and _DISCLAIMER.search(body):
            end = starts[kept[-1]] + len(lines[kept[-1]])
            first = next(i for i in reversed(kept) if _DISCLAIMER.search(fold_text(text[starts[i] : end])))
            for i in kept:
                if i >= first:
                    kinds[i] = DISCLAIMER
            continue
        if not any(hint in body for hint in _NOTICE_HINTS) or not _NOTICE_MARKER.search(body) \
                or _FIRST_PERSON.search(body):
            continue
        if sum(1 for pattern in _RIGHT_NOUNS if pattern.search(body)) >= 3:
            for i in kept:
                kinds[i] = PRIVACY_NOTICE


def _regions(text: str, lines: list[str], starts: list[int], kinds: list[str]) -> tuple[Region, ...]:
    """Runs of lines of one kind as regions; regions holding only blanks are left out."""
    count = len(lines)
    cuts = list(compress(range(1, count), map(ne, kinds[1:], kinds)))  # where the kind changes
    regions: list[Region] = []
    for first, after in zip([0, *cuts], [*cuts, count], strict=True):
        start, end = starts[first], starts[after - 1] + len(lines[after - 1])
        if start < end and not text[start:end].isspace():
            regions.append(Region(start, end, kinds[first]))
    return tuple(regions)


def scope(text: str, *, chat: bool = False) -> Scope:
    """Classify every line of `text` (plain text, see `dsr.intents.text.plain_text`) by origin."""
    if not text:
        return Scope(text, ())
    lines = text.split("\n")
    starts = _line_starts(lines)
    kinds = [OWN] * len(lines)
    limit = len(lines)
    lowered = text.casefold()
    if lowered.startswith(">") or any(hint in lowered for hint in _THREAD_HINTS):
        limit = _mark_threads(text, lowered, lines, starts, kinds)
    _mark_signatures(lines, kinds, limit, chat)
    _mark_boilerplate(text, lines, starts, kinds, limit)
    return Scope(text, _regions(text, lines, starts, kinds))
