"""Fuzzy matching of lexicon patterns against tokens, fast enough for thousands of messages a second.

Everything that can be prepared is prepared when the lexicon loads: term tables for exact words,
stems and suffixes, one fuzzy target list per initial letter, and per pattern the sets of terms
that may fill each slot.  At run time each distinct token is looked up once (and cached): exact,
stem or suffix hits first; only an unknown word of seven letters or more is compared with rapidfuzz
(optimal string alignment distance, 1 edit up to nine letters, 2 from ten), and only against
targets with the same first letter.  A correction is refused when one word merely extends the
other ("Auskunft" vs "Auskunftei" are different words, not a typo) or when the word is in the
protected vocabulary.  This is how "Auskumft", "Wiederspruch" and "Einwiligung" match while
"Bewertung" does not become "Bewerbung".

Per message, a pattern is only looked at when a token fills its indexed slot (its least common
word) and every other slot is filled somewhere; then its occurrences are searched.  Matches come
in lexicon order, so evidence and scores are the same whatever the indexing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA

from dsr.intents.lexicon import Lexicon, Pattern, Rule
from dsr.intents.text import Token

_STEM_ENDINGS = ("", "e", "en", "n", "t", "st", "et", "te", "ten", "s", "es", "er", "ung", "ungen")
_MIN_FUZZY_LENGTH = 7  # shorter words are matched exactly: "sauber" is no "sauer", "Reaktion" no cue
_MIN_COMPOUND_LENGTH = 8
_MAX_FUZZY_LENGTH = 40  # longer "words" (no spaces, pasted data) are never corrected or split
_MIN_COMPOUND_PART = 4  # "kontoloeschung": konto + loeschung; "bewerbung" is never be + werbung
_MIN_COMPOUND_TAIL = 5
# Occurrences kept per pattern and field.  The classifier counts only the first few hits of a
# right rule or cue (`MAX_HITS_PER_RULE`); false friends and `unless` patterns may matter in any
# sentence, so they keep more.  The caps make a message that repeats a trigger word a million
# times cost no more matching than one that says it once.
MAX_HITS_PER_RULE = 3
_MAX_MODIFIER_HITS = 64
_EMPTY: frozenset[int] = frozenset()
# Match(...) without the Python-level __new__ of named tuples (all seven fields always given), as
# `dsr.intents.text.tokenize` builds tokens: a message yields dozens of matches.
_new = tuple.__new__


class Match(NamedTuple):
    """A pattern that matched: rule, token range, tokens that filled slots, weakest fuzzy score.

    A named tuple, like `Token`: a message yields several matches and tuples are much cheaper to
    create than frozen dataclasses.
    """

    rule: Rule
    pattern: Pattern
    first: int
    last: int
    slot_tokens: tuple[int, ...]
    score: float
    unless: bool = False  # True when this is a rule's `unless` pattern


_SINGLE, _ORDERED, _NEAR = 0, 1, 2  # how a compiled pattern is matched


class _Compiled(NamedTuple):
    """A pattern with its slots as sets of term keys (a tuple: unpacked in the hot loop)."""

    rule: Rule
    pattern: Pattern
    slots: tuple[frozenset[int], ...]
    others: tuple[frozenset[int], ...]  # the slots besides the indexed one: each must be present
    first_key: int  # the only term of slot 0, or -1 when it has alternatives
    mode: int  # _SINGLE (one slot), _ORDERED (adjacent, in order) or _NEAR (within a window)
    unless: bool
    limit: int  # occurrences kept (see MAX_HITS_PER_RULE)


class _Entry(NamedTuple):
    """What one folded token contributes: term keys, score, and the patterns it may complete."""

    keys: frozenset[int]
    score: float
    candidates: tuple[int, ...]  # patterns whose indexed slot this token fills


# Every token that matches nothing shares one entry; the cache holds at most CACHE_MAX tokens
# (a request's vocabulary is a few thousand words) of at most CACHED_TOKEN_MAX characters (no
# lexicon word is longer): hostile mail (a 200 KB run of letters is one token, random words by
# the thousand) otherwise kept hundreds of megabytes alive in it.
_NO_MATCH = _Entry(_EMPTY, 100.0, ())
CACHE_MAX = 50_000
CACHED_TOKEN_MAX = 64
# German separable verbs: the particle stands at the end of the clause, the verb earlier ("Bitte
# stellen Sie diese Abfragen ein", "tragen Sie die Nummer ein", "rufen Sie mich nicht mehr an").
# A clause-final particle lends the verb of its clause the terms of the joined word ("einstellen",
# "eintragen", "anrufen"), so every rule written with the infinitive reads the split form too.
SEPARABLE_PARTICLES = frozenset(
    {"ein", "aus", "ab", "an", "auf", "mit", "zu", "zurueck", "um", "weiter", "weg", "raus", "heraus"}
)
_SEPARABLE_REACH = 12  # tokens before the particle searched for its verb


class Matcher:
    """Compiled form of a `Lexicon`; `match(tokens)` returns every pattern occurrence."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._keys: dict[str, int] = {}
        self._exact: dict[str, set[int]] = {}
        self._prefix: dict[str, set[int]] = {}
        self._suffix: dict[str, set[int]] = {}
        self._compiled: list[_Compiled] = []
        self._tables = {"=": self._exact, ">": self._prefix, "<": self._suffix}
        self._slot_keys: dict[tuple[str, ...], frozenset[int]] = {}  # one set per distinct slot
        for rule in lexicon.rules:
            for pattern in rule.patterns:
                self._compile(rule, pattern, unless=False)
            for pattern in rule.unless:
                self._compile(rule, pattern, unless=True)
        self._by_indexed_slot = self._index_patterns()
        self._prefix_lengths = sorted({len(p) for p in self._prefix})
        self._suffix_lengths = sorted({len(s) for s in self._suffix})
        self._protected = frozenset(w for w in lexicon.protected if not w.endswith("*"))
        self._protected_stems = tuple(w[:-1] for w in lexicon.protected if w.endswith("*"))
        self._fuzzy: dict[str, tuple[list[str], list[str]]] = {}
        self._fuzzy_suffixes = tuple(s for s in self._suffix if len(s) >= 7 and s.isalpha())
        self._spelling = dict(lexicon.spelling)
        self._build_fuzzy_targets()
        self._cache: dict[str, _Entry] = {}
        self._joined: dict[str, frozenset[int]] = {}

    def _key(self, term: str) -> int:
        key = self._keys.get(term)
        if key is None:
            key = self._keys[term] = len(self._keys)
            self._tables[term[0]].setdefault(term[1:], set()).add(key)
        return key

    def _slot(self, terms: tuple[str, ...]) -> frozenset[int]:
        """The term keys of one slot; word classes make the same slot recur in many patterns."""
        keys = self._slot_keys.get(terms)
        if keys is None:
            keys = self._slot_keys[terms] = frozenset(self._key(t) for t in terms)
        return keys

    def _compile(self, rule: Rule, pattern: Pattern, *, unless: bool) -> None:
        slots = tuple(self._slot(slot) for slot in pattern.slots)
        first_key = next(iter(slots[0])) if len(slots[0]) == 1 else -1
        mode = _SINGLE if len(slots) == 1 else _ORDERED if pattern.ordered else _NEAR
        limit = MAX_HITS_PER_RULE if rule.kind in ("right", "cue") and not unless else _MAX_MODIFIER_HITS
        self._compiled.append(_Compiled(rule, pattern, slots, slots[1:], first_key, mode, unless, limit))

    def _index_patterns(self) -> dict[int, list[int]]:
        """Index each pattern under one slot's terms; a token filling them makes it a candidate.

        A pattern matches only when every slot is filled, so any slot will do; the one chosen is
        the slot whose terms occur in the fewest patterns, a proxy for rare words: patterns are
        then looked at when their least common word occurs ("melde" in "ich melde sie"), not for
        every "ich".  The others are checked when the candidate is looked at.
        """
        popularity: dict[int, int] = {}
        for compiled in self._compiled:
            for key in set().union(*compiled.slots):
                popularity[key] = popularity.get(key, 0) + 1
        slot_sums: dict[frozenset[int], int] = {}
        for slot in self._slot_keys.values():
            slot_sums[slot] = sum(popularity.get(k, 0) for k in slot)
        index: dict[int, list[int]] = {}
        for number, compiled in enumerate(self._compiled):
            slots = compiled.slots
            chosen = 0  # a single slot is its own index (its `others` are already empty)
            if len(slots) > 1:
                chosen = min(range(len(slots)), key=lambda i: slot_sums[slots[i]])
                self._compiled[number] = compiled._replace(others=slots[:chosen] + slots[chosen + 1 :])
            for key in slots[chosen]:
                index.setdefault(key, []).append(number)
        return index

    def _build_fuzzy_targets(self) -> None:
        targets = {word for word in self._exact if len(word) >= _MIN_FUZZY_LENGTH - 1 and word.isalpha()}
        for stem in self._prefix:
            if len(stem) >= _MIN_FUZZY_LENGTH - 1 and stem.isalpha():
                targets.update([stem + ending for ending in _STEM_ENDINGS])
        for first, words in groupby(sorted(targets), key=itemgetter(0)):
            listed = list(words)
            self._fuzzy[first] = (listed, listed.copy())

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
        if not _MIN_FUZZY_LENGTH <= len(norm) <= _MAX_FUZZY_LENGTH or not norm.isalpha() \
                or self._is_protected(norm):
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

    def compound(self, norm: str) -> tuple[set[int], float] | None:
        """Term keys of a German compound's parts ("datenloeschung" = daten + loeschung,
        "werbeanrufe" = werbe + anrufe), or None.

        The longest tail of five letters or more that is a lexicon word or starts with a lexicon
        stem is the head word; the rest (without a linking s/n/e) adds its terms when it is one
        too.  Only words the lexicon does not know as a whole are split, and never a protected
        word: "Bewerbung" is no "Werbung".
        """
        if not _MIN_COMPOUND_LENGTH <= len(norm) <= _MAX_FUZZY_LENGTH or not norm.isalpha() \
                or self._is_protected(norm):
            return None
        for cut in range(_MIN_COMPOUND_PART, len(norm) - _MIN_COMPOUND_TAIL + 1):
            tail = norm[cut:]
            if self._is_protected(tail):
                continue
            keys = self._whole_word(tail)
            if not keys:
                continue
            head = norm[:cut]
            for candidate in (head, head[:-1] if head[-1:] in "sne" else ""):
                if len(candidate) >= _MIN_COMPOUND_PART:
                    keys = keys | self._whole_word(candidate)
            return keys, 95.0
        return None

    def _whole_word(self, word: str) -> set[int]:
        """Keys of exact words and stems (not suffixes, not citations) that `word` fills."""
        keys = set(self._exact.get(word, _EMPTY))
        for length in self._prefix_lengths:
            if length > len(word):
                break
            keys |= self._prefix.get(word[:length], _EMPTY)
        return keys

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
        entry = self._entry(norm)
        return entry.keys, entry.score

    def _entry(self, norm: str) -> _Entry:
        """`lookup` plus the candidate patterns (indexed under its terms), once per distinct token."""
        cached = self._cache.get(norm)
        if cached is not None:
            return cached
        standard = self._spelling.get(norm)
        keys = self._direct(standard if standard is not None else norm)
        score = 100.0
        if not keys:
            split = self.compound(norm)
            if split is not None:
                keys, score = split
        if not keys:
            corrected = self.correction(norm)
            if corrected is not None:
                keys = self._direct(corrected[0])
                score = corrected[1]
        candidates: set[int] = set()
        for key in keys:
            candidates.update(self._by_indexed_slot.get(key, ()))
        if not keys and score == _NO_MATCH.score:
            entry = _NO_MATCH
        else:
            entry = _Entry(frozenset(keys), score, tuple(sorted(candidates)))
        if len(norm) <= CACHED_TOKEN_MAX:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[norm] = entry
        return entry

    def match(self, tokens: Sequence[Token]) -> list[Match]:
        """Every occurrence of every pattern in `tokens` (one field or scope part).

        Matches come pattern by pattern in lexicon order, each pattern's occurrences left to right.
        """
        cache = self._cache
        entries = [cache.get(token.norm) or self._entry(token.norm) for token in tokens]
        self._join_separable(tokens, entries)
        occurrences: dict[int, list[int]] = {}
        candidates: set[int] = set()
        for i, entry in enumerate(entries):
            if entry.keys:
                for key in entry.keys:
                    if key in occurrences:
                        occurrences[key].append(i)
                    else:
                        occurrences[key] = [i]
                candidates.update(entry.candidates)
        if not candidates:
            return []
        present = occurrences.keys()
        matches: list[Match] = []
        compiled_patterns = self._compiled
        for index in sorted(candidates):
            compiled = compiled_patterns[index]
            rule, pattern, slots, others, first_key, mode, unless, limit = compiled
            if mode == _SINGLE:
                starts = occurrences[first_key] if first_key >= 0 else _positions(slots[0], occurrences)
                for start in starts[:limit]:
                    matches.append(_new(Match, (rule, pattern, start, start, (start,), entries[start].score,
                                                unless)))
                continue
            for slot in others:
                if present.isdisjoint(slot):  # iterates the smaller of the two
                    break
            else:
                starts = occurrences[first_key] if first_key >= 0 else _positions(slots[0], occurrences)
                if mode == _ORDERED:
                    _match_ordered(compiled, starts, entries, matches)
                else:
                    _match_near(compiled, starts, tokens, entries, occurrences, matches)
        return matches

    def _join_separable(self, tokens: Sequence[Token], entries: list[_Entry]) -> None:
        """Give the verb of a split separable verb the terms of the joined word (in place).

        The particle must end its clause (the next token is in another clause, or there is none);
        the verb is the first token of the clause, within `_SEPARABLE_REACH` tokens, that joined
        with the particle is a lexicon word or stem ("stellen" + "ein" = "einstellen").  A token
        whose own reading already holds those terms is left as it is.
        """
        count = len(tokens)
        particles = SEPARABLE_PARTICLES
        for i, token in enumerate(tokens):
            norm = token.norm
            if norm not in particles or (i + 1 < count and tokens[i + 1].clause == token.clause):
                continue
            for j in range(max(0, i - _SEPARABLE_REACH), i):
                if tokens[j].clause != token.clause or len(tokens[j].norm) > CACHED_TOKEN_MAX:
                    continue
                joined = self._joined_keys(norm + tokens[j].norm)
                if joined:
                    entry = entries[j]
                    if not joined <= entry.keys:
                        candidates = set(entry.candidates)
                        for key in joined:
                            candidates.update(self._by_indexed_slot.get(key, ()))
                        entries[j] = _Entry(entry.keys | joined, entry.score, tuple(sorted(candidates)))
                    break

    def _joined_keys(self, word: str) -> frozenset[int]:
        """Exact and stem terms of a joined separable verb ("einstellen"), cached."""
        keys = self._joined.get(word)
        if keys is None:
            keys = frozenset(self._whole_word(word)) if word.isalpha() else _EMPTY
            if len(self._joined) >= CACHE_MAX:
                self._joined.clear()
            self._joined[word] = keys
        return keys


def _positions(slot: frozenset[int], occurrences: dict[int, list[int]]) -> list[int]:
    """Token positions, ascending, that fill `slot` (any of its alternative terms); read only."""
    keys = occurrences.keys() & slot
    if len(keys) == 1:
        return occurrences[keys.pop()]
    found: set[int] = set()
    for key in keys:
        found.update(occurrences[key])
    return sorted(found)


def _match_ordered(compiled: _Compiled, starts: list[int], entries: list[_Entry], out: list[Match]) -> None:
    """Slots filled by consecutive tokens, in order."""
    rest = compiled.slots[1:]
    width = len(rest) + 1
    last_start = len(entries) - width
    found = 0
    for start in starts:
        if start > last_start or found >= compiled.limit:
            break
        score = entries[start].score
        for offset, slot in enumerate(rest, start + 1):
            entry = entries[offset]
            if slot.isdisjoint(entry.keys):
                break
            if entry.score < score:
                score = entry.score
        else:
            out.append(_new(Match, (compiled.rule, compiled.pattern, start, start + width - 1,
                                    tuple(range(start, start + width)), score, compiled.unless)))
            found += 1


def _match_near(compiled: _Compiled, anchors: list[int], tokens: Sequence[Token], entries: list[_Entry],
                occurrences: dict[int, list[int]], out: list[Match]) -> None:
    """Every slot filled within `window` tokens of an anchor in the same sentence, in any order.

    For each further slot the nearest free token wins; on equal distance the earlier one.  The
    positions of a slot are sorted, so the nearest ones are found by bisection and at most
    `2 * window + 1` of them are looked at per anchor: linear in the message, whatever it repeats.
    """
    window = compiled.pattern.window
    across = compiled.pattern.across
    others = [_positions(slot, occurrences) for slot in compiled.slots[1:]]
    found = 0
    for anchor in anchors:
        if found >= compiled.limit:
            break
        sentence = -1 if across else tokens[anchor].sentence
        chosen = [anchor]
        for positions in others:
            best = _nearest(positions, anchor, window, sentence, tokens, chosen)
            if best < 0:
                break
            chosen.append(best)
        else:
            out.append(_new(Match, (compiled.rule, compiled.pattern, min(chosen), max(chosen),
                                    tuple(sorted(chosen)), min(entries[p].score for p in chosen),
                                    compiled.unless)))
            found += 1


def _nearest(positions: list[int], anchor: int, window: int, sentence: int, tokens: Sequence[Token],
             chosen: list[int]) -> int:
    """The position nearest to `anchor` (the earlier on a tie) within `window`, in `sentence`
    (any sentence when it is -1), not yet chosen; -1 when there is none."""
    right = bisect_left(positions, anchor)
    left = right - 1
    count = len(positions)
    while True:
        to_left = anchor - positions[left] if left >= 0 else window + 1
        to_right = positions[right] - anchor if right < count else window + 1
        if to_left > window and to_right > window:
            return -1
        if to_left <= to_right:
            position = positions[left]
            left -= 1
        else:
            position = positions[right]
            right += 1
        if position not in chosen and (sentence < 0 or tokens[position].sentence == sentence):
            return position
