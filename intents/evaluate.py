"""Turning raw pattern matches into evidence: negation, contrast, false friends, notices, conditions.

A keyword is not a request.  "Bitte NICHT löschen" negates, "Widerspruch gegen die Rechnung" is a
billing dispute, "Sie haben das Recht auf Löschung" describes a right, and "Sollten Sie nicht
antworten, werde ich mich beschweren" reserves a step for later.  Each of these keeps the hit as
evidence (so the DPO sees it) but marks it `suppressed_by`, and suppressed evidence never counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from intents.lexicon import Lexicon
from intents.matcher import Match
from intents.model import Evidence
from intents.rights import Right
from intents.text import Token

_CONTRAST = frozenset({"sondern", "but", "aber", "stattdessen", "instead"})
_FORWARD_NEGATION = frozenset({"nicht", "not"})


@dataclass(frozen=True, slots=True)
class WordLists:
    """The `[words]` lists of modifiers.toml, split into single words and multi-word phrases."""

    single: dict[str, frozenset[str]]
    multi: dict[str, dict[str, tuple[tuple[str, ...], ...]]]  # list -> first word -> phrases

    @classmethod
    def from_lexicon(cls, lexicon: Lexicon) -> WordLists:
        single: dict[str, frozenset[str]] = {}
        multi: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {}
        for name, entries in lexicon.words.items():
            single[name] = frozenset(e for e in entries if " " not in e)
            by_first: dict[str, list[tuple[str, ...]]] = {}
            for entry in entries:
                if " " in entry:
                    words = tuple(entry.split())
                    by_first.setdefault(words[0], []).append(words)
            multi[name] = {first: tuple(phrases) for first, phrases in by_first.items()}
        return cls(single, multi)

    def contains(self, name: str, norms: Sequence[str]) -> bool:
        words = self.single.get(name, frozenset())
        if not words.isdisjoint(norms):
            return True
        starts = self.multi.get(name)
        if not starts:
            return False
        for i, norm in enumerate(norms):
            for phrase in starts.get(norm, ()):
                if tuple(norms[i : i + len(phrase)]) == phrase:
                    return True
        return False


@dataclass
class FieldView:
    """One field (subject, own body, forwarded body) with per-sentence helpers, computed lazily."""

    name: str
    text: str
    tokens: list[Token]
    matches: list[Match]
    words: WordLists
    _sentences: dict[int, list[str]] = field(default_factory=dict)
    _has: dict[tuple[str, int], bool] = field(default_factory=dict)

    def sentence_norms(self, sentence: int) -> list[str]:
        if not self._sentences:
            for token in self.tokens:
                self._sentences.setdefault(token.sentence, []).append(token.norm)
        return self._sentences.get(sentence, [])

    def has(self, name: str, sentence: int) -> bool:
        key = (name, sentence)
        if key not in self._has:
            self._has[key] = self.words.contains(name, self.sentence_norms(sentence))
        return self._has[key]

    def has_before(self, name: str, sentence: int, position: int) -> bool:
        """The word list occurs in `sentence` before token `position`."""
        norms = [t.norm for t in self.tokens[:position] if t.sentence == sentence]
        return bool(norms) and self.words.contains(name, norms)


def _is_negator(view: FieldView, i: int) -> bool:
    tokens = view.tokens
    if tokens[i].norm not in view.words.single.get("negation", frozenset()):
        return False
    nxt = tokens[i + 1].norm if i + 1 < len(tokens) else ""
    return nxt not in view.words.single.get("cessation", frozenset())


def negated(view: FieldView, match: Match) -> bool:
    """Negation before the hit, inside it (not part of the rule), or "nicht" after it."""
    tokens = view.tokens
    first, last = match.first, match.last
    slots = set(match.slot_tokens)
    for j in range(first - 1, max(first - 4, -1), -1):
        if tokens[j].clause != tokens[first].clause:
            break
        if _is_negator(view, j):
            return True
    end_clause = tokens[last].clause
    if any(
        j not in slots and tokens[j].clause == end_clause and _is_negator(view, j)
        for j in range(first, last + 1)
    ):
        return True
    sentence = tokens[last].sentence
    for j in range(last + 1, min(last + 16, len(tokens))):
        token = tokens[j]
        if token.sentence != sentence:
            break
        if token.norm in _FORWARD_NEGATION and _is_negator(view, j):
            after = tokens[j + 1].norm if j + 1 < len(tokens) else ""
            if token.clause == tokens[last].clause and j - last <= 8:
                return True
            if after in _CONTRAST and tokens[j + 1].sentence == sentence:
                return True  # "löschen Sie ... gerade NICHT, sondern bewahren Sie ..."
    return False


def false_friend(view: FieldView, match: Match, label: str) -> str | None:
    """The id of a false friend in the same sentence that claims this hit, if any."""
    sentence = view.tokens[match.first].sentence
    cancelled = {
        m.rule.id for m in view.matches if m.unless and view.tokens[m.first].sentence == sentence
    }
    for other in view.matches:
        rule = other.rule
        if rule.kind != "false_friend" or other.unless or label not in rule.suppresses:
            continue
        if view.tokens[other.first].sentence != sentence or rule.id in cancelled:
            continue
        if not negated(view, other):  # "Ich widerspreche NICHT der Werbung" claims nothing
            return rule.id
    return None


def notice_sentence(view: FieldView, sentence: int) -> bool:
    """The sentence describes rights (a notice) instead of exercising one."""
    if view.has("notice_always", sentence):
        return True
    return view.has("notice", sentence) and not view.has("first_person", sentence)


def suppression(
    view: FieldView, match: Match, *, auto_reply: bool, grievance: Callable[[], bool]
) -> str | None:
    """Why a right hit must not count, or None when it stands."""
    label = match.rule.label
    if auto_reply:
        return "auto_reply"
    sentence = view.tokens[match.first].sentence
    if match.rule.negatable and negated(view, match) and not view.has("conditional", sentence):
        return "negation"  # "Wenn Sie nicht löschen, ..." is a demand under a condition, no negation
    ff = false_friend(view, match, label)
    if ff is not None:
        return ff
    if notice_sentence(view, sentence):
        return "rights_notice"
    if view.name != "subject" and match.rule.first_person and not view.has("first_person", sentence):
        return "not_the_sender"
    if view.has_before("reported_speech", sentence, match.first):
        return "reported_speech"
    if view.has("conditional", sentence):
        if label == Right.COMPLAINT.value and not grievance():
            return "conditional_threat"
        if not view.has("first_person", sentence):
            return "conditional"
    return None


def evidence_for(view: FieldView, match: Match, *, weight: float, suppressed_by: str | None,
                 label: Right, reason: str | None = None) -> Evidence:
    start = view.tokens[match.first].start
    end = view.tokens[match.last].end
    return Evidence(
        label=label,
        rule=match.rule.id,
        matched=view.text[start:end],
        score=match.score,
        start=start,
        end=end,
        field=view.name,
        weight=weight,
        suppressed_by=suppressed_by,
        reason=reason,
    )


def cue_cancelled(view: FieldView, match: Match) -> bool:
    sentence = view.tokens[match.first].sentence
    return any(
        m.unless and m.rule.id == match.rule.id and view.tokens[m.first].sentence == sentence
        for m in view.matches
    )
