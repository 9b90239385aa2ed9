"""The lexicon: classification rules as data files a DPO can read, review and extend.

Every file in `intents/lexicon/` is TOML.  One file per right (`access.toml` ...) holds `[[rule]]`
tables; `cues.toml` holds escalation cues, `routine.toml` the positive evidence that a message is
no privacy request at all (an order, an invoice, an application ...) and the privacy words that
overrule it, `modifiers.toml` false friends and the word lists for negation, conditions and
notices, `vocabulary.toml` words that fuzzy matching must never "correct".
`frames.toml` names word classes (`@delete`, `@my_data`, `@marketing` ...) that slots use, so a right is
written as a frame (a wish x an action x an object) instead of a list of fixed phrases.
A rule matches either a `phrases` entry (words in this order, next to each other) or all slots of
`all` within `window` words in one sentence, in any order (`across = true`: in neighbouring
sentences too, "Ich bekomme jede Woche Werbung. Das will ich nicht.").  A rule's `unless` phrases
cancel it in their sentence ("Auskunft der CRIF" is a credit report, no request).  Inside a phrase
or slot:

    loesch*          a word starting with "loesch" (löschen, Löschung, löscht ...)
    *sperre          a word ending in "sperre" (Stromsperre, Kontosperre ...)
    konto|account    either word
    Art. 17 DSGVO    a legal citation (matches "Art. 17 Abs. 1 DSGVO" too)

Spelling is folded before comparison (ä = ae, ß = ss, case ignored).  Files are validated when they
are loaded; a mistake raises `LexiconError` naming the file, the line and what is wrong, because a
rule that silently never fires is worse than a service that refuses to start.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsr.intents.reasons import REASON_CODES, ROUTINE_CODES
from dsr.intents.rights import Right
from dsr.intents.text import canonical_citations, fold

LEXICON_DIR = Path(__file__).with_name("lexicon")
RIGHT_FILES = tuple(r.value for r in Right if r is not Right.OTHER)

_RULE_KEYS = {
    "id", "weight", "phrases", "all", "window", "max_tokens", "negatable", "first_person", "note", "lang",
    "across", "unless",
}
_CUE_KEYS = {"id", "reason", "phrases", "all", "window", "needs_right", "requires_label", "note", "unless",
             "not_own_request", "not_with_only"}
_ROUTINE_KEYS = {"id", "reason", "phrases", "all", "window", "max_tokens", "note", "mass_mail", "claims"}
_PRIVACY_KEYS = {"id", "phrases", "all", "window", "max_tokens", "note", "own"}
_FALSE_FRIEND_KEYS = {"id", "suppresses", "phrases", "all", "window", "unless", "note", "asks",
                      "between_rights"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_CITATION_TERM = re.compile(r"^[a-z]+:\d{1,3}(?::\d{1,2}(?::[a-h])?)?$")
_WORD_TERM = re.compile(r"^\*?[a-z0-9']+\*?$")


class LexiconError(ValueError):
    """A lexicon file is invalid; the message names file, line and problem."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Pattern:
    """Slots of alternative terms; `ordered` patterns need the slots adjacent and in order."""

    slots: tuple[tuple[str, ...], ...]
    ordered: bool
    window: int
    source: str
    across: bool = False  # `all` slots may lie in neighbouring sentences (within `window` words)


@dataclass(frozen=True, slots=True)
class Rule:
    """One matching rule: a right rule, an escalation cue or a false friend."""

    id: str  # "access.auskunft", "cue.lawyer", "ff.invoice_objection"
    kind: str  # "right", "cue", "routine" or "false_friend"
    label: str  # the right for "right", the reason code for "cue" and "routine", "" otherwise
    weight: float
    patterns: tuple[Pattern, ...]
    source: Path
    line: int
    max_tokens: int | None = None
    negatable: bool = True
    needs_right: bool = False
    first_person: bool = False  # only counts in a sentence where the sender speaks ("ich", "mein")
    suppresses: tuple[str, ...] = ()
    unless: tuple[Pattern, ...] = ()
    requires_label: str = ""
    note: str = ""
    # cue: the message is no request of the sender's own (an authority's letter): labels `other`
    not_own_request: bool = False
    # cue: does not count when every right read is one of these (the controller's own purposes:
    # an end customer refusing kmb2's surveys is no processor situation)
    not_with_only: tuple[str, ...] = ()
    # routine: a marker of mass mail (newsletter, sales pitch, phishing); two different ones
    # outweigh privacy words and rights read in the text
    mass_mail: bool = False
    # routine: a matter (an order change, a vendor's request, a plain acknowledgement) whose reading
    # stands beside privacy words, unless the sender speaks of themselves in a privacy sentence
    claims: bool = False
    # privacy: the wording is about the sender's own data even without "ich"/"mein" ("bitte in
    # Ihrem System ändern"), so no matter claims it
    own: bool = False
    # false friend: a question about the procedure; its rights do not count, but the sentence
    # stays a privacy matter (never set aside)
    asks: bool = False
    # false friend: chooses between two rights ("delete my data" is no access request); the
    # sentence stays a privacy matter (never set aside)
    between_rights: bool = False


@dataclass(frozen=True, slots=True)
class Lexicon:
    """All rules and word lists, validated and folded."""

    rules: tuple[Rule, ...]
    words: dict[str, frozenset[str]] = field(default_factory=dict)
    protected: frozenset[str] = frozenset()
    spelling: dict[str, str] = field(default_factory=dict)  # folded variant -> folded standard word


@dataclass(slots=True)
class _Folded:
    """Terms and slots already folded and checked, shared by the files of one load: word classes
    expand into every frame that uses them, so the same alternatives recur thousands of times."""

    terms: dict[str, tuple[str, str]] = field(default_factory=dict)  # alternative -> (term, problem)
    slots: dict[str, tuple[str, ...]] = field(default_factory=dict)  # slot text -> its terms


class _Source:
    """A parsed file plus the raw lines, to point errors at the right line."""

    def __init__(self, path: Path, classes: dict[str, tuple[str, ...]] | None = None,
                 folded: _Folded | None = None) -> None:
        self.path = path
        self.classes = classes or {}  # word classes of frames.toml, used as "@name" in slots
        self.folded = _Folded() if folded is None else folded
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LexiconError(path, 0, f"cannot read file: {exc}") from exc
        self.lines = raw.splitlines()
        self._table_lines: dict[str, list[int]] = {}
        try:
            self.data: dict[str, Any] = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"line (\d+)", str(exc))
            raise LexiconError(path, int(found.group(1)) if found else 0, f"TOML syntax: {exc}") from exc

    def table_line(self, array: str, index: int) -> int:
        """The line of the `index`-th `[[array]]` header (0 when there is none); one scan per array."""
        numbers = self._table_lines.get(array)
        if numbers is None:
            header = f"[[{array}]]"
            numbers = [number for number, line in enumerate(self.lines, start=1)
                       if line.strip().replace(" ", "") == header]
            self._table_lines[array] = numbers
        return numbers[index] if index < len(numbers) else 0

    def value_line(self, after: int, value: str) -> int:
        for number in range(max(after, 1), len(self.lines) + 1):
            if value in self.lines[number - 1]:
                return number
        return after

    def error(self, line: int, problem: str) -> LexiconError:
        return LexiconError(self.path, line, problem)


def _term(src: _Source, line: int, where: str, alternative: str) -> str:
    """Fold one alternative into a term key: "=word", ">prefix", "<suffix" or "=art:17"."""
    terms = src.folded.terms
    known = terms.get(alternative)
    if known is None:
        known = terms[alternative] = _folded_term(alternative)
    term, problem = known
    if problem:
        raise src.error(line, f"{where}: {problem}")
    return term


def _folded_term(alternative: str) -> tuple[str, str]:
    """(term key, "") or ("", what is wrong with the alternative)."""
    if _CITATION_TERM.match(alternative):
        return "=" + alternative, ""
    folded = fold(alternative)
    if not _WORD_TERM.match(folded):
        return "", f"{alternative!r} is not a word, stem (word*), suffix (*word) or citation"
    core = folded.strip("*")
    if folded.startswith("*") and folded.endswith("*"):
        return "", f"{alternative!r}: use either word* or *word, not both"
    if folded.endswith("*"):
        if len(core) < 3:
            return "", f"stem {alternative!r} is shorter than 3 letters (too broad)"
        return ">" + core, ""
    if folded.startswith("*"):
        if len(core) < 4:
            return "", f"suffix {alternative!r} is shorter than 4 letters"
        return "<" + core, ""
    return "=" + core, ""


def _slots(src: _Source, line: int, where: str, text: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(text, str) or not text.strip():
        raise src.error(line, f"{where}: empty phrase")
    canonical = canonical_citations(text).replace("-", " ")
    slots: list[tuple[str, ...]] = []
    known = src.folded.slots
    for slot in canonical.split():
        terms = known.get(slot)
        if terms is None:
            terms = known[slot] = _slot_terms(src, line, where, text, slot)
        slots.append(terms)
    if not slots:
        raise src.error(line, f"{where}: {text!r} contains no words")
    return tuple(slots)


def _slot_terms(src: _Source, line: int, where: str, text: str, slot: str) -> tuple[str, ...]:
    """The distinct terms of one slot of `text` (word classes expanded), in order."""
    alternatives = [a for a in slot.strip(".,;!?\"'()").split("|")]
    if any(not a for a in alternatives):
        raise src.error(line, f"{where}: {text!r} has an empty alternative around '|'")
    expanded: list[str] = []
    for alternative in alternatives:
        if alternative.startswith("@"):
            members = src.classes.get(alternative[1:])
            if members is None:
                known = ", ".join(sorted(src.classes)) or "none"
                raise src.error(line, f"{where}: unknown word class {alternative!r} (known: {known})")
            expanded.extend(members)
        else:
            expanded.append(alternative)
    return tuple(dict.fromkeys(_term(src, line, where, a) for a in expanded))


def _patterns(src: _Source, table: dict[str, Any], line: int, where: str) -> tuple[Pattern, ...]:
    phrases = table.get("phrases")
    slots = table.get("all")
    if (phrases is None) == (slots is None):
        raise src.error(line, f"{where}: give exactly one of 'phrases' (list) or 'all' (list of slots)")
    window = table.get("window", 8)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 40:
        raise src.error(line, f"{where}: 'window' must be a whole number from 1 to 40")
    if phrases is not None:
        if not isinstance(phrases, list) or not phrases:
            raise src.error(line, f"{where}: 'phrases' must be a non-empty list of strings")
        out = []
        for phrase in phrases:
            at = src.value_line(line, str(phrase)) if isinstance(phrase, str) else line
            parsed = _slots(src, at, where, phrase)
            out.append(Pattern(parsed, True, len(parsed), phrase))
        return tuple(out)
    if not isinstance(slots, list) or len(slots) < 2 or not all(isinstance(s, str) for s in slots):
        raise src.error(line, f"{where}: 'all' must list at least two slots as strings")
    parsed_slots: list[tuple[str, ...]] = []
    for slot in slots:
        at = src.value_line(line, slot)
        parsed = _slots(src, at, where, slot)
        if len(parsed) != 1:
            raise src.error(at, f"{where}: slot {slot!r} must be one word (use '|' for alternatives)")
        parsed_slots.append(parsed[0])
    if window < len(parsed_slots):
        raise src.error(line, f"{where}: 'window' {window} is smaller than the number of slots")
    across = table.get("across", False)
    if not isinstance(across, bool):
        raise src.error(line, f"{where}: 'across' must be true or false")
    return (Pattern(tuple(parsed_slots), False, window, " + ".join(slots), across),)


def _check_keys(src: _Source, table: Any, allowed: set[str], line: int, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise src.error(line, f"{where}: expected a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        allowed_text = ", ".join(sorted(allowed))
        raise src.error(line, f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {allowed_text}")
    ident = table.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise src.error(line, f"{where}: 'id' must be snake_case text (a-z, 0-9, _)")
    return table


def _unless(src: _Source, table: dict[str, Any], line: int, where: str) -> tuple[Pattern, ...]:
    unless = table.get("unless", [])
    if not isinstance(unless, list) or not all(isinstance(u, str) for u in unless):
        raise src.error(line, f"{where}: 'unless' must be a list of phrases")
    return tuple(Pattern(_slots(src, line, where, u), True, 0, u) for u in unless)


def _right_rules(src: _Source, seen: set[str]) -> list[Rule]:
    label = src.data.get("label")
    if label != src.path.stem or label not in RIGHT_FILES:
        names = ", ".join(RIGHT_FILES)
        raise src.error(1, f"'label' must be {src.path.stem!r}, the file name (one of {names})")
    tables = src.data.get("rule")
    if not isinstance(tables, list) or not tables:
        raise src.error(1, "no [[rule]] tables")
    rules: list[Rule] = []
    for index, raw in enumerate(tables):
        line = src.table_line("rule", index)
        table = _check_keys(src, raw, _RULE_KEYS, line, f"rule #{index + 1}")
        where = f"rule {table['id']!r}"
        rule_id = f"{label}.{table['id']}"
        if rule_id in seen:
            raise src.error(line, f"{where}: duplicate id")
        seen.add(rule_id)
        weight = table.get("weight", 1.0)
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 < weight <= 3:
            raise src.error(line, f"{where}: 'weight' must be a number above 0 and at most 3")
        max_tokens = table.get("max_tokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise src.error(line, f"{where}: 'max_tokens' must be a positive whole number")
        negatable = table.get("negatable", True)
        if not isinstance(negatable, bool):
            raise src.error(line, f"{where}: 'negatable' must be true or false")
        first_person = table.get("first_person", False)
        if not isinstance(first_person, bool):
            raise src.error(line, f"{where}: 'first_person' must be true or false")
        rules.append(
            Rule(rule_id, "right", label, float(weight), _patterns(src, table, line, where), src.path,
                 line, max_tokens, negatable, first_person=first_person,
                 unless=_unless(src, table, line, where), note=str(table.get("note", "")))
        )
    return rules


def _cue_rules(src: _Source, seen: set[str]) -> list[Rule]:
    rules: list[Rule] = []
    for index, raw in enumerate(src.data.get("cue", [])):
        line = src.table_line("cue", index)
        table = _check_keys(src, raw, _CUE_KEYS, line, f"cue #{index + 1}")
        where = f"cue {table['id']!r}"
        reason = table.get("reason")
        if reason not in REASON_CODES:
            raise src.error(line, f"{where}: reason {reason!r} is not an escalation code (ARCHITECTURE.md)")
        requires = table.get("requires_label", "")
        if requires and requires not in (*RIGHT_FILES, Right.OTHER.value):
            raise src.error(line, f"{where}: requires_label {requires!r} is not a label")
        not_with_only = table.get("not_with_only", [])
        if not isinstance(not_with_only, list) or not set(not_with_only) <= set(RIGHT_FILES):
            raise src.error(line, f"{where}: 'not_with_only' must list labels from {', '.join(RIGHT_FILES)}")
        rule_id = f"cue.{table['id']}"
        if rule_id in seen:
            raise src.error(line, f"{where}: duplicate id")
        seen.add(rule_id)
        rules.append(
            Rule(rule_id, "cue", str(reason), 1.0, _patterns(src, table, line, where), src.path, line,
                 needs_right=bool(table.get("needs_right", False)), unless=_unless(src, table, line, where),
                 requires_label=str(requires), note=str(table.get("note", "")),
                 not_own_request=_flag(src, table, "not_own_request", line, where),
                 not_with_only=tuple(not_with_only))
        )
    return rules


def _flag(src: _Source, table: dict[str, Any], key: str, line: int, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise src.error(line, f"{where}: '{key}' must be true or false")
    return value


def _routine_rules(src: _Source, seen: set[str], kind: str) -> list[Rule]:
    """`[[routine]]` (evidence of a non-request, with a reason), `[[privacy]]` (words that
    make a message a privacy matter, so that no routine reading may route it away) or
    `[[question]]` (a general question about privacy: the notice, the DPO)."""
    rules: list[Rule] = []
    for index, raw in enumerate(src.data.get(kind, [])):
        line = src.table_line(kind, index)
        allowed = {"routine": _ROUTINE_KEYS, "privacy": _PRIVACY_KEYS}.get(kind, _PRIVACY_KEYS - {"own"})
        table = _check_keys(src, raw, allowed, line, f"{kind} #{index + 1}")
        where = f"{kind} {table['id']!r}"
        reason = table.get("reason", kind)
        if kind == "routine" and reason not in ROUTINE_CODES:
            codes = ", ".join(sorted(ROUTINE_CODES))
            raise src.error(line, f"{where}: reason {reason!r} is not one of {codes}")
        max_tokens = table.get("max_tokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise src.error(line, f"{where}: 'max_tokens' must be a positive whole number")
        rule_id = f"{kind}.{table['id']}"
        if rule_id in seen:
            raise src.error(line, f"{where}: duplicate id")
        seen.add(rule_id)
        rules.append(
            Rule(rule_id, kind, str(reason), 1.0, _patterns(src, table, line, where), src.path, line,
                 max_tokens, note=str(table.get("note", "")),
                 mass_mail=_flag(src, table, "mass_mail", line, where),
                 claims=_flag(src, table, "claims", line, where), own=_flag(src, table, "own", line, where))
        )
    return rules


def _false_friends(src: _Source, seen: set[str]) -> list[Rule]:
    rules: list[Rule] = []
    for index, raw in enumerate(src.data.get("false_friend", [])):
        line = src.table_line("false_friend", index)
        table = _check_keys(src, raw, _FALSE_FRIEND_KEYS, line, f"false_friend #{index + 1}")
        where = f"false_friend {table['id']!r}"
        suppresses = table.get("suppresses")
        if not isinstance(suppresses, list) or not suppresses or not set(suppresses) <= set(RIGHT_FILES):
            raise src.error(line, f"{where}: 'suppresses' must list labels from {', '.join(RIGHT_FILES)}")
        rule_id = f"false_friend.{table['id']}"
        if rule_id in seen:
            raise src.error(line, f"{where}: duplicate id")
        seen.add(rule_id)
        rules.append(
            Rule(rule_id, "false_friend", "", 1.0, _patterns(src, table, line, where), src.path, line,
                 suppresses=tuple(suppresses), unless=_unless(src, table, line, where),
                 note=str(table.get("note", "")), asks=_flag(src, table, "asks", line, where),
                 between_rights=_flag(src, table, "between_rights", line, where))
        )
    return rules


def _word_lists(src: _Source) -> dict[str, frozenset[str]]:
    lists = src.data.get("words", {})
    if not isinstance(lists, dict):
        raise src.error(1, "[words] must be a table of word lists")
    out: dict[str, frozenset[str]] = {}
    for name, words in lists.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise src.error(src.value_line(1, name), f"words.{name} must be a list of non-empty strings")
        out[name] = frozenset(" ".join(fold(part) for part in w.split()) for w in words)
    return out


def load_lexicon(directory: Path = LEXICON_DIR) -> Lexicon:
    """Read and validate every lexicon file in `directory`."""
    seen: set[str] = set()
    rules: list[Rule] = []
    folded = _Folded()  # the word classes are the same for every file that uses them
    classes = _classes(_Source(directory / "frames.toml", folded=folded))
    for name in RIGHT_FILES:
        path = directory / f"{name}.toml"
        if not path.exists():
            raise LexiconError(path, 0, "missing lexicon file for this right")
        rules.extend(_right_rules(_Source(path, classes, folded), seen))
    cues = _Source(directory / "cues.toml", classes, folded)
    rules.extend(_cue_rules(cues, seen))
    routine = _Source(directory / "routine.toml", classes, folded)
    rules.extend(_routine_rules(routine, seen, "routine"))
    rules.extend(_routine_rules(routine, seen, "privacy"))
    rules.extend(_routine_rules(routine, seen, "question"))
    modifiers = _Source(directory / "modifiers.toml", classes, folded)
    rules.extend(_false_friends(modifiers, seen))
    words = _word_lists(modifiers)
    vocabulary = _Source(directory / "vocabulary.toml")
    protected = _word_lists(vocabulary).get("protected", frozenset())
    return Lexicon(tuple(rules), words, protected, _spelling(vocabulary))


def _classes(src: _Source) -> dict[str, tuple[str, ...]]:
    """`[classes]` of frames.toml: name = "word|stem*|*suffix|..." (used as "@name" in slots)."""
    table = src.data.get("classes", {})
    if not isinstance(table, dict) or not table:
        raise src.error(1, "[classes] must be a table of name = \"alternatives\"")
    out: dict[str, tuple[str, ...]] = {}
    for name, alternatives in table.items():
        line = src.value_line(1, f"{name} =")
        if not _ID.match(name) or not isinstance(alternatives, str) or not alternatives.strip():
            raise src.error(line, f"classes.{name}: a snake_case name and a non-empty string of alternatives")
        members = tuple(a.strip() for a in alternatives.split("|"))
        for member in members:
            _term(src, line, f"classes.{name}", member)  # validated here, folded where used
        out[name] = members
    return out


def _spelling(src: _Source) -> dict[str, str]:
    """`[spelling]`: variant = "standard" (dialect, chat and learner spellings of one word)."""
    table = src.data.get("spelling", {})
    if not isinstance(table, dict):
        raise src.error(1, "[spelling] must be a table of variant = \"standard word\"")
    out: dict[str, str] = {}
    for variant, standard in table.items():
        line = src.value_line(1, f"{variant} =")
        if not isinstance(standard, str) or not _WORD_TERM.match(fold(standard)) or "*" in standard:
            raise src.error(line, f"spelling.{variant}: the standard form must be one plain word")
        if not _WORD_TERM.match(fold(variant)) or "*" in variant:
            raise src.error(line, f"spelling.{variant}: the variant must be one plain word")
        out[fold(variant)] = fold(standard)
    return out
