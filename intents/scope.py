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

from intents.text import fold_text

OWN = "own"
FORWARDED = "forwarded"
QUOTED = "quoted"
FORWARD_HEADER = "forward_header"
SIGNATURE = "signature"
DISCLAIMER = "disclaimer"
PRIVACY_NOTICE = "privacy_notice"

_QUOTE_START = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|urspr(?:ü|ue)ngliche nachricht|originalnachricht)\s*-{2,}"
    r"|am\s.{3,120}\sschrieb\s.{0,160}:\s*$"
    r"|on\s.{3,160}\swrote:\s*$"
    r"|(?:von|from):\s.*\s(?:gesendet|sent):\s)",
    re.IGNORECASE,
)
# Cheap test whether a text can contain a quote or forward at all (most messages do not).
_THREAD_HINTS = ("schrieb", "wrote", "--", "von:", "from:", "weitergeleitet", "forwarded", "\n>")
_DISCLAIMER_HINTS = ("vertraulich", "confidential", "geschuetzt", "privileged")
_HEADER_LINE = re.compile(
    r"^\s*(?:von|from|an|to|cc|bcc|datum|date|betreff|subject|gesendet|sent|reply-to|antwort an)\s*:",
    re.IGNORECASE,
)
_FORWARD_START = re.compile(
    r"^\s*(?:-{3,}\s*(?:weitergeleitete nachricht|forwarded message|original-nachricht)\s*-{3,}"
    r"|begin forwarded message:|anfang der weitergeleiteten nachricht:)",
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
_FIRST_PERSON = re.compile(r"\b(?:ich|mir|mich|i|me|my)\b")


@dataclass(frozen=True, slots=True)
class Region:
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


def _lines(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for line in text.split("\n"):
        spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def _is_outlook_header(text: str, spans: list[tuple[int, int]], i: int) -> bool:
    """A "Von:" line followed by "Gesendet:"/"Datum:" lines starts a quoted Outlook reply."""
    start = spans[i][0]
    if text[start : start + 5].strip()[:5].casefold() not in ("von:", "from:"):
        return False
    following = [text[s:e].strip().casefold() for s, e in spans[i + 1 : i + 4]]
    return any(f.startswith(("gesendet:", "sent:", "datum:", "date:")) for f in following)


def _mark_threads(text: str, spans: list[tuple[int, int]], kinds: list[str]) -> None:
    """Quoted replies end the sender's text; forwarded messages become fallback content."""
    state = OWN
    in_header = False
    for i, (s, e) in enumerate(spans):
        line = text[s:e]
        if state == QUOTED:
            kinds[i] = QUOTED
            continue
        quote_starts = _QUOTE_START.match(line) or _is_outlook_header(text, spans, i)
        if quote_starts and (state == OWN or not in_header):
            state = QUOTED
        if state != QUOTED and _FORWARD_START.match(line):
            state, in_header = FORWARDED, True
            kinds[i] = FORWARD_HEADER
            continue
        if state == QUOTED:
            kinds[i] = QUOTED
            continue
        if state == FORWARDED and in_header:
            if _HEADER_LINE.match(line) or not line.strip():
                kinds[i] = FORWARD_HEADER
                if not line.strip():
                    in_header = False
                continue
            in_header = False
        if line.lstrip().startswith(">"):
            kinds[i] = QUOTED
            continue
        kinds[i] = state


def _mark_signatures(text: str, spans: list[tuple[int, int]], kinds: list[str], chat: bool) -> None:
    """After "--" or a closing formula ("Mit freundlichen Grüßen") comes name, address, footer."""
    for part in (OWN, FORWARDED):
        signing = False
        for i, (s, e) in enumerate(spans):
            if kinds[i] != part:
                if kinds[i] in (QUOTED, FORWARD_HEADER) and part == OWN and signing:
                    signing = False
                continue
            line = text[s:e]
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


def _paragraphs(spans: list[tuple[int, int]], text: str) -> list[list[int]]:
    paragraphs: list[list[int]] = [[]]
    for i, (s, e) in enumerate(spans):
        if text[s:e].strip():
            paragraphs[-1].append(i)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _mark_boilerplate(text: str, spans: list[tuple[int, int]], kinds: list[str]) -> None:
    """Disclaimers and pasted privacy notices are text the sender did not write as a request."""
    for para in _paragraphs(spans, text):
        kept = [i for i in para if kinds[i] in (OWN, FORWARDED)]
        if not kept:
            continue
        body = fold_text(" ".join(text[spans[i][0] : spans[i][1]] for i in kept))
        if any(hint in body for hint in _DISCLAIMER_HINTS) and _DISCLAIMER.search(body):
            end = spans[kept[-1]][1]
            first = next(i for i in reversed(kept) if _DISCLAIMER.search(fold_text(text[spans[i][0] : end])))
            for i in kept:
                if i >= first:
                    kinds[i] = DISCLAIMER
            continue
        if not _NOTICE_MARKER.search(body) or _FIRST_PERSON.search(body):
            continue
        if sum(1 for pattern in _RIGHT_NOUNS if pattern.search(body)) >= 3:
            for i in kept:
                kinds[i] = PRIVACY_NOTICE


def scope(text: str, *, chat: bool = False) -> Scope:
    """Classify every line of `text` (plain text, see `intents.text.plain_text`) by origin."""
    if not text:
        return Scope(text, ())
    spans = _lines(text)
    kinds = [OWN] * len(spans)
    lowered = text.casefold()
    if lowered.startswith(">") or any(hint in lowered for hint in _THREAD_HINTS):
        _mark_threads(text, spans, kinds)
    _mark_signatures(text, spans, kinds, chat)
    _mark_boilerplate(text, spans, kinds)
    regions: list[Region] = []
    for (s, e), kind in zip(spans, kinds, strict=True):
        if regions and regions[-1].kind == kind:
            regions[-1] = Region(regions[-1].start, e, kind)
        else:
            regions.append(Region(s, e, kind))
    return Scope(text, tuple(r for r in regions if text[r.start : r.end].strip()))
