"""Turning raw pattern matches into evidence: negation, contrast, false friends, notices, conditions.

A keyword is not a request.  "Bitte NICHT löschen" negates, "Widerspruch gegen die Rechnung" is a
billing dispute, "Sie haben das Recht auf Löschung" describes a right, and "Sollten Sie nicht
antworten, werde ich mich beschweren" reserves a step for later.  Each of these keeps the hit as
evidence (so the DPO sees it) but marks it `suppressed_by`, and suppressed evidence never counts.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dsr.intents.lexicon import Lexicon
from dsr.intents.matcher import Match
from dsr.intents.model import Evidence
from dsr.intents.rights import Right
from dsr.intents.text import Token

_CONTRAST = frozenset({"sondern", "but", "aber", "stattdessen", "instead"})
_FORWARD_NEGATION = frozenset({"nicht", "not"})
# A determiner that negates the object after the verb: "Löschen Sie bis zur Klärung keine Unterlagen".
_FORWARD_NEGATION_NEAR = frozenset({"kein", "keine", "keinen", "keinerlei", "no"})
_FORWARD_REACH = 24  # tokens after a hit where a clause-final "nicht" is looked for
# Words that start another thought between a hit and a clause-final "nicht": "... dass das alles
# weg ist, aber es ist ja sein Name, also ich weiß nicht" negates nothing of the hit.
_NEW_THOUGHT = frozenset({"aber", "sondern", "ich", "weil", "dass", "denn", "also", "oder", "but", "i",
                          "because", "ob", "wenn", "if"})
_CONDITION_REACH = 15  # tokens around a hit where its clause's conditional word is looked for
_NO_WORDS: frozenset[str] = frozenset()
_ENUMERATION_NOUNS = 3  # distinct right nouns that make a sentence a list of rights


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
        words = self.single.get(name, _NO_WORDS)
        if not words.isdisjoint(norms):
            return True
        starts = self.multi.get(name)
        if not starts or starts.keys().isdisjoint(norms):
            return False
        for i, norm in enumerate(norms):
            for phrase in starts.get(norm, ()):
                if tuple(norms[i : i + len(phrase)]) == phrase:
                    return True
        return False


class FieldView:
    """One field (subject, own body, forwarded body) with per-sentence helpers, computed lazily.

    A plain class with slots: one or two are built per message, and most helpers are never
    needed (a message without hits asks nothing), so nothing is prepared up front.
    """

    __slots__ = (
        "_false_friends",
        "_has",
        "_negator_positions",
        "_negators",
        "_positions",
        "_sentences",
        "_unless",
        "matches",
        "name",
        "text",
        "tokens",
        "words",
    )

    def __init__(self, name: str, text: str, tokens: list[Token], matches: list[Match],
                 words: WordLists) -> None:
        self.name = name
        self.text = text
        self.tokens = tokens
        self.matches = matches
        self.words = words
        self._sentences: dict[int, list[str]] = {}
        self._positions: dict[int, list[int]] = {}  # sentence -> token indices
        self._has: dict[tuple[str, int], bool] = {}
        self._negators: set[int] | None = None
        self._negator_positions: list[int] = []
        self._false_friends: list[Match] | None = None
        self._unless: frozenset[tuple[str, int]] | None = None

    def sentence_norms(self, sentence: int) -> list[str]:
        if not self._sentences and self.tokens:
            self._index_sentences()
        return self._sentences.get(sentence, [])

    def _index_sentences(self) -> None:
        """Per sentence number: its tokens' norms and positions, in token order."""
        norms = [token.norm for token in self.tokens]
        numbers = [token.sentence for token in self.tokens]
        cuts = [i for i in range(1, len(numbers)) if numbers[i] != numbers[i - 1]]
        for start, end in zip([0, *cuts], [*cuts, len(numbers)], strict=True):
            number = numbers[start]
            if number in self._sentences:  # a sentence interrupted by another (not in order)
                self._sentences[number].extend(norms[start:end])
                self._positions[number].extend(range(start, end))
            else:
                self._sentences[number] = norms[start:end]
                self._positions[number] = list(range(start, end))

    def false_friends(self) -> list[Match]:
        """The false-friend matches of this field (not their `unless` patterns), in match order."""
        if self._false_friends is None:
            self._false_friends = [
                m for m in self.matches if m.rule.kind == "false_friend" and not m.unless
            ]
        return self._false_friends

    def unless_sentences(self) -> frozenset[tuple[str, int]]:
        """(rule id, sentence) of every `unless` match of this field: one pass, not one per hit."""
        if self._unless is None:
            tokens = self.tokens
            self._unless = frozenset((m.rule.id, tokens[m.first].sentence) for m in self.matches if m.unless)
        return self._unless

    def negators(self) -> set[int]:
        """Token positions of negation words not followed by a cessation word ("nicht mehr")."""
        if self._negators is None:
            negation = self.words.single.get("negation", _NO_WORDS)
            cessation = self.words.single.get("cessation", _NO_WORDS)
            tokens = self.tokens
            last = len(tokens) - 1
            self._negator_positions = [
                i for i, token in enumerate(tokens)
                if token.norm in negation and (tokens[i + 1].norm if i < last else "") not in cessation
            ]
            self._negators = set(self._negator_positions)
        return self._negators

    def negator_near(self, low: int, high: int) -> bool:
        """Whether a negator (see `negators`) stands at a token position from `low` to `high`."""
        self.negators()
        positions = self._negator_positions
        found = bisect_left(positions, low)
        return found < len(positions) and positions[found] <= high

    def has(self, name: str, sentence: int) -> bool:
        """The word list `name` occurs in `sentence` (cached per field)."""
        key = (name, sentence)
        found = self._has.get(key)
        if found is None:
            found = self._has[key] = self.words.contains(name, self.sentence_norms(sentence))
        return found

    def has_before(self, name: str, sentence: int, position: int) -> bool:
        """The word list occurs in `sentence` before token `position`."""
        if not self.has(name, sentence):  # cached per sentence: not in the whole, not before a hit
            return False
        norms = self.sentence_norms(sentence)
        before = bisect_left(self._positions.get(sentence, ()), position)
        return before > 0 and self.words.contains(name, norms[:before])


def negated(view: FieldView, match: Match) -> bool:
    """Negation before the hit, inside it (not part of the rule), or "nicht" after it."""
    first, last = match.first, match.last
    if not view.negator_near(first - 3, last + _FORWARD_REACH):  # the farthest places looked at below
        return False
    tokens = view.tokens
    negators = view.negators()
    slots = set(match.slot_tokens)
    for j in range(first - 1, max(first - 4, -1), -1):
        if tokens[j].clause != tokens[first].clause:
            break
        if j in negators:
            return True
    end_clause = tokens[last].clause
    if any(
        j not in slots and tokens[j].clause == end_clause and j in negators
        for j in range(first, last + 1)
    ):
        return True
    sentence = tokens[last].sentence
    for j in range(last + 1, min(last + 1 + _FORWARD_REACH, len(tokens))):
        token = tokens[j]
        if token.sentence != sentence:
            break
        if token.norm in _FORWARD_NEGATION_NEAR and j in negators and token.clause == tokens[last].clause \
                and j - last <= 6:
            return True
        if token.norm in _FORWARD_NEGATION and j in negators and (
                j + 1 == len(tokens) or tokens[j + 1].clause != token.clause) and not any(
                tokens[k].norm in _NEW_THOUGHT for k in range(last + 1, j)):
            return True  # clause-final: "Bitte löschen Sie die Unterlagen (...) vorerst nicht."
        if token.norm in _FORWARD_NEGATION and j in negators:
            after = tokens[j + 1].norm if j + 1 < len(tokens) else ""
            if token.clause == tokens[last].clause and j - last <= 8:
                return True
            if after in _CONTRAST and tokens[j + 1].sentence == sentence:
                return True  # "löschen Sie ... gerade NICHT, sondern bewahren Sie ..."
    return False


def conditional_clause(view: FieldView, match: Match) -> bool:
    """A condition governs the hit: a conditional word in the hit's own clause ("Wenn Sie nicht
    löschen, ...") or, without any conditional word in the sentence, a conditional phrase ("behalte
    ich mir vor").  "Bitte NICHT löschen, auch wenn Ihre Löschfrist abläuft" stays a negation."""
    tokens = view.tokens
    sentence = tokens[match.first].sentence
    if not view.has("conditional", sentence):
        return False
    single = view.words.single.get("conditional", _NO_WORDS)
    first_clause, last_clause = tokens[match.first].clause, tokens[match.last].clause
    low = max(match.first - _CONDITION_REACH, 0)
    high = min(match.last + _CONDITION_REACH, len(tokens) - 1)
    for j in range(low, high + 1):
        token = tokens[j]
        if token.sentence == sentence and token.norm in single and (
                token.clause in (first_clause, last_clause) or match.first <= j <= match.last):
            return True
    return not any(norm in single for norm in view.sentence_norms(sentence))


def false_friend(view: FieldView, match: Match, label: str) -> str | None:
    """The id of a false friend in the same sentence that claims this hit, if any."""
    friends = view.false_friends()
    if not friends:
        return None
    sentence = view.tokens[match.first].sentence
    cancelled: set[str] | None = None
    for other in friends:
        rule = other.rule
        if label not in rule.suppresses or view.tokens[other.first].sentence != sentence:
            continue
        if cancelled is None:
            cancelled = {
                m.rule.id for m in view.matches if m.unless and view.tokens[m.first].sentence == sentence
            }
        if rule.id in cancelled:
            continue
        if not negated(view, other):  # "Ich widerspreche NICHT der Werbung" claims nothing
            return rule.id
    return None


def notice_sentence(view: FieldView, sentence: int) -> bool:
    """The sentence describes rights (a notice) instead of exercising one."""
    if view.has("notice_always", sentence):
        return True
    return view.has("notice", sentence) and not view.has("first_person", sentence)


def rights_enumeration(view: FieldView, sentence: int) -> bool:
    """The sentence lists rights ("die Rechte auf Auskunft, Berichtigung, Löschung ... stehen mir
    zu", "my rights to access, rectification, erasure ...") and asks for none of them."""
    key = ("#rights_enumeration", sentence)
    found = view._has.get(key)
    if found is None:
        nouns = view.words.single.get("right_noun", _NO_WORDS)
        found = (len(nouns.intersection(view.sentence_norms(sentence))) >= _ENUMERATION_NOUNS
                 and view.has("rights_word", sentence) and not view.has("request_word", sentence))
        view._has[key] = found
    return found


def reserved_for_later(view: FieldView, match: Match, sentence: int) -> bool:
    """Under a condition, the right is a step the sender reserves for later, not one taken now:
    named after "werde ich" ("Andernfalls werde ich Auskunft verlangen"), or in a sentence that
    reserves it ("Die Löschung behalte ich mir vor") and asks nothing else."""
    if view.has_before("later_step", sentence, match.first):
        return True
    return view.has("reservation", sentence) and (
        view.has_before("reservation", sentence, match.first) or not view.has("request_word", sentence))


def reported(view: FieldView, match: Match, sentence: int) -> bool:
    """The hit is reported speech ("laut Ihren Hinweisen ...", "er sagte ...").

    A hit spanning sentences (an `across` rule) is the sender's reaction to what the earlier
    sentence reports: "Laut Ihren Hinweisen geben Sie ... weiter. Dem widerspreche ich." Reported
    speech counts there only when it stands in the last sentence of the hit, before its last word.
    """
    last = view.tokens[match.last].sentence
    if last != sentence:
        return view.has_before("reported_speech", last, match.last)
    return view.has_before("reported_speech", sentence, match.first)


def suppression(
    view: FieldView, match: Match, *, auto_reply: bool, grievance: Callable[[], bool]
) -> str | None:
    """Why a right hit must not count, or None when it stands."""
    label = match.rule.label
    if auto_reply:
        return "auto_reply"
    sentence = view.tokens[match.first].sentence
    if match.rule.unless and cue_cancelled(view, match):
        return "unless"  # the rule's own exception: "Auskunft der CRIF" is a credit report, no request
    if match.rule.negatable and negated(view, match) and not conditional_clause(view, match):
        return "negation"  # "Wenn Sie nicht löschen, ..." is a demand under a condition, no negation
    ff = false_friend(view, match, label)
    if ff is not None:
        return ff
    if notice_sentence(view, sentence):
        return "rights_notice"
    if rights_enumeration(view, sentence):
        return "rights_enumeration"
    if view.name != "subject" and match.rule.first_person and not view.has("first_person", sentence):
        return "not_the_sender"
    if reported(view, match, sentence):
        return "reported_speech"
    if view.has("conditional", sentence):
        if label == Right.COMPLAINT.value and not grievance():
            return "conditional_threat"
        if not view.has("first_person", sentence):
            return "conditional"
        if label != Right.COMPLAINT.value and reserved_for_later(view, match, sentence):
            return "reserved_for_later"
    return None


def evidence_for(view: FieldView, match: Match, *, weight: float, suppressed_by: str | None,
                 label: Right, reason: str | None = None) -> Evidence:
    start = view.tokens[match.first].start
    end = view.tokens[match.last].end
    # Positional (label, rule, matched, score, start, end, field, weight, suppressed_by, reason):
    # a keyword call costs noticeably more, and this runs for every hit.
    return Evidence(label, match.rule.id, view.text[start:end], match.score, start, end, view.name,
                    weight, suppressed_by, reason)


def cue_cancelled(view: FieldView, match: Match) -> bool:
    """The rule's own `unless` pattern matched in the same sentence."""
    return (match.rule.id, view.tokens[match.first].sentence) in view.unless_sentences()
