"""Fuzzy matching of lexicon patterns against tokens, fast enough for thousands of messages a second.

Everything that can be prepared is prepared when the lexicon loads: term tables for exact words,
stems and suffixes, one fuzzy target list per initial letter, and per pattern the sets of terms
that may fill each slot.  At run time each distinct token is looked up once (and cached): exact,
stem or suffix hits first; only an unknown word of six letters or more is compared with rapidfuzz
(optimal string alignment distance, 1 edit up to nine letters, 2 from ten), and only against
targets with the same first letter.  A correction is refused when one word merely extends the
other ("Auskunft" vs "Auskunftei" are different words, not a typo) or when the word is in the
protected vocabulary.  This is how "Auskumft", "Wiederspruch" and "Einwiligung" match while
"Bewertung" does not become "Bewerbung".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from intents.lexicon import Lexicon, Pattern, Rule
from intents.text import Token

_STEM_ENDINGS = ("", "e", "en", "n", "t", "st", "et", "te", "ten", "s", "es", "er", "ung", "ungen")
_MIN_FUZZY_LENGTH = 6
_EMPTY: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Match:
    """A pattern that matched: rule, token range, tokens that filled slots, weakest fuzzy score."""

    rule: Rule
    pattern: Pattern
    first: int
    last: int
    slot_tokens: tuple[int, ...]
    score: float
    unless: bool = False  # True when this is a rule's `unless` pattern


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    pattern: Pattern
    slots: tuple[frozenset[int], ...]
    unless: bool


class Matcher:
    """Compiled form of a `Lexicon`; `match(tokens)` returns every pattern occurrence."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._keys: dict[str, int] = {}
        self._exact: dict[str, set[int]] = {}
        self._prefix: dict[str, set[int]] = {}
        self._suffix: dict[str, set[int]] = {}
        self._compiled: list[_Compiled] = []
        self._by_first_slot: dict[int, list[int]] = {}
        for rule in lexicon.rules:
            for pattern in rule.patterns:
                self._compile(rule, pattern, unless=False)
            for pattern in rule.unless:
                self._compile(rule, pattern, unless=True)
        self._prefix_lengths = sorted({len(p) for p in self._prefix})
        self._suffix_lengths = sorted({len(s) for s in self._suffix})
        self._protected = frozenset(w for w in lexicon.protected if not w.endswith("*"))
        self._protected_stems = tuple(w[:-1] for w in lexicon.protected if w.endswith("*"))
        self._fuzzy: dict[str, tuple[list[str], list[str]]] = {}
        self._fuzzy_suffixes = tuple(s for s in self._suffix if len(s) >= 7 and s.isalpha())
        self._build_fuzzy_targets()
        self._cache: dict[str, tuple[frozenset[int], float]] = {}

    def _key(self, term: str) -> int:
        if term not in self._keys:
            key = len(self._keys)
            self._keys[term] = key
            table = {"=": self._exact, ">": self._prefix, "<": self._suffix}[term[0]]
            table.setdefault(term[1:], set()).add(key)
        return self._keys[term]

    def _compile(self, rule: Rule, pattern: Pattern, *, unless: bool) -> None:
        slots = tuple(frozenset(self._key(t) for t in slot) for slot in pattern.slots)
        index = len(self._compiled)
        self._compiled.append(_Compiled(rule, pattern, slots, unless))
        for key in slots[0]:
            self._by_first_slot.setdefault(key, []).append(index)

    def _build_fuzzy_targets(self) -> None:
        targets: dict[str, str] = {}
        for word in self._exact:
            if len(word) >= _MIN_FUZZY_LENGTH - 1 and word.isalpha():
                targets.setdefault(word, word)
        for stem in self._prefix:
            if len(stem) >= _MIN_FUZZY_LENGTH - 1 and stem.isalpha():
                for ending in _STEM_ENDINGS:
                    targets.setdefault(stem + ending, stem + ending)
        for word in sorted(targets):
            bucket = self._fuzzy.setdefault(word[0], ([], []))
            bucket[0].append(word)
            bucket[1].append(targets[word])

    def _direct(self, norm: str) -> set[int]:
        keys: set[int] = set()
        if ":" in norm:  # a citation also matches its shorter forms: art:21:2 -> art:21
            parts = norm.split(":")
            for end in range(2, len(parts) + 1):
                keys |= self._exact.get(":".join(parts[:end]), _EMPTY)
            return keys
        keys |= self._exact.get(norm, _EMPTY)
        for length in self._prefix_lengths:
            if length > len(norm):
                break
            keys |= self._prefix.get(norm[:length], _EMPTY)
        for length in self._suffix_lengths:
            if length >= len(norm):
                break
            keys |= self._suffix.get(norm[-length:], _EMPTY)
        return keys

    def _is_protected(self, norm: str) -> bool:
        return norm in self._protected or norm.startswith(self._protected_stems)

    def correction(self, norm: str) -> tuple[str, float] | None:
        """The lexicon word a misspelt token stands for, with a 0..100 similarity, or None."""
        if len(norm) < _MIN_FUZZY_LENGTH or not norm.isalpha() or self._is_protected(norm):
            return None
        bucket = self._fuzzy.get(norm[0])
        if bucket is None:
            return None
        limit = 1 if len(norm) < 10 else 2
        found = process.extractOne(norm, bucket[0], scorer=OSA.distance, score_cutoff=limit)
        if found is None:
            return self._suffix_correction(norm)
        target, distance = found[0], int(found[1])
        if distance == 0 or target.startswith(norm) or norm.startswith(target):
            return None
        return target, 100.0 * (1.0 - distance / max(len(norm), len(target)))

    def _suffix_correction(self, norm: str) -> tuple[str, float] | None:
        """A misspelt compound ending ("Datenlöschunk"): compare the tail with suffix terms."""
        for suffix in self._fuzzy_suffixes:
            for width in (len(suffix) - 1, len(suffix), len(suffix) + 1):
                if width >= len(norm):
                    continue
                tail = norm[-width:]
                distance = OSA.distance(tail, suffix, score_cutoff=1)
                if distance == 1:
                    return norm[:-width] + suffix, 100.0 * (1.0 - 1 / len(suffix))
        return None

    def lookup(self, norm: str) -> tuple[frozenset[int], float]:
        """Term keys a folded token fills, and the match score (100 unless fuzzily corrected)."""
        cached = self._cache.get(norm)
        if cached is not None:
            return cached
        keys = self._direct(norm)
        score = 100.0
        if not keys:
            corrected = self.correction(norm)
            if corrected is not None:
                keys = self._direct(corrected[0])
                score = corrected[1]
        result = (frozenset(keys), score)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[norm] = result
        return result

    def match(self, tokens: Sequence[Token]) -> list[Match]:
        """Every occurrence of every pattern in `tokens` (one field or scope part)."""
        token_keys: list[frozenset[int]] = []
        scores: list[float] = []
        occurrences: dict[int, list[int]] = {}
        cache = self._cache
        for i, token in enumerate(tokens):
            found = cache.get(token.norm)
            keys, score = found if found is not None else self.lookup(token.norm)
            token_keys.append(keys)
            scores.append(score)
            for key in keys:
                if key in occurrences:
                    occurrences[key].append(i)
                else:
                    occurrences[key] = [i]
        candidates: set[int] = set()
        by_first = self._by_first_slot
        for key in occurrences:
            if key in by_first:
                candidates.update(by_first[key])
        present = set(occurrences)
        matches: list[Match] = []
        for index in sorted(candidates):
            compiled = self._compiled[index]
            if any(slot.isdisjoint(present) for slot in compiled.slots[1:]):
                continue
            if compiled.pattern.ordered:
                self._match_ordered(compiled, tokens, token_keys, scores, occurrences, matches)
            else:
                self._match_near(compiled, tokens, scores, occurrences, matches)
        return matches

    @staticmethod
    def _positions(slot: frozenset[int], occurrences: dict[int, list[int]]) -> list[int]:
        found: set[int] = set()
        for key in slot:
            found.update(occurrences.get(key, ()))
        return sorted(found)

    def _match_ordered(self, compiled: _Compiled, tokens: Sequence[Token], token_keys: list[frozenset[int]],
                       scores: list[float], occurrences: dict[int, list[int]], out: list[Match]) -> None:
        slots = compiled.slots
        width = len(slots)
        for start in self._positions(slots[0], occurrences):
            end = start + width - 1
            if end >= len(tokens):
                break
            if all(not slots[j].isdisjoint(token_keys[start + j]) for j in range(1, width)):
                positions = tuple(range(start, end + 1))
                out.append(Match(compiled.rule, compiled.pattern, start, end, positions,
                                 min(scores[p] for p in positions), compiled.unless))

    def _match_near(self, compiled: _Compiled, tokens: Sequence[Token], scores: list[float],
                    occurrences: dict[int, list[int]], out: list[Match]) -> None:
        slots = compiled.slots
        window = compiled.pattern.window
        others = [self._positions(slot, occurrences) for slot in slots[1:]]
        for anchor in self._positions(slots[0], occurrences):
            sentence = tokens[anchor].sentence
            chosen = [anchor]
            for positions in others:
                best = None
                for p in positions:
                    near = p not in chosen and abs(p - anchor) <= window and tokens[p].sentence == sentence
                    if near and (best is None or abs(p - anchor) < abs(best - anchor)):
                        best = p
                if best is None:
                    break
                chosen.append(best)
            else:
                out.append(Match(compiled.rule, compiled.pattern, min(chosen), max(chosen),
                                 tuple(sorted(chosen)), min(scores[p] for p in chosen), compiled.unless))
