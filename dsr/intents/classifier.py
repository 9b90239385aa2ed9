"""`classify()`: from subject and body to rights, confidence, escalation reasons and evidence.

Steps (each one explainable in the console):
1. plain text (NFC, HTML to text) and scope: the sender's own words, forwarded content, ignored parts;
2. fuzzy pattern matching of the lexicon on subject and own body;
3. every hit checked for negation, false friends, notice text and conditions (`dsr.intents.evaluate`);
4. per right, the weights of the distinct rules that stand are added up; the subject counts less
   than the body, much less when it is a reply subject ("AW: ...") or contradicted by the body;
5. rights at or above the threshold are the labels (legal order), "other" when there is none;
6. escalation reasons from complaints, escalation cues and weak or borderline readings.
If the sender's own words exercise no right, a forwarded message is classified instead.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from dsr.intents.evaluate import FieldView, WordLists, cue_cancelled, evidence_for, suppression
from dsr.intents.lexicon import LEXICON_DIR, Lexicon, load_lexicon
from dsr.intents.matcher import MAX_HITS_PER_RULE, Match, Matcher
from dsr.intents.model import Classification, Evidence
from dsr.intents.reasons import UNCLEAR_CODES
from dsr.intents.rights import Right, legal_sort
from dsr.intents.scope import FORWARDED, OWN, scope
from dsr.intents.secondsignal import CORPUS_DIR, RULE_ID, SecondSignal, disagreement, features
from dsr.intents.text import plain_text, tokenize

logger = logging.getLogger(__name__)

ACCEPT = 0.6  # summed rule weight at which a right counts as requested


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a reading is strong enough to be handled without a person (abstention).

    The defaults are chosen on the labelled training files (`dsr classify --heldout` shows how
    they were chosen and what they give on a file left out); a weaker reading is not dropped but
    escalated with `low_confidence` or `ambiguous`, so the pipeline asks or a person decides.
    """

    strong: float = 1.0  # every label needs this score, else low_confidence
    borderline: float = 0.45  # a rejected right at or above this makes the reading ambiguous
    max_labels: int = 2  # more rights at once: a person checks the reading (ambiguous)
    max_words: int = 400  # a longer own text: a person checks the reading (low_confidence)
    # A right read beside positive evidence of a routine matter (an invoice, an order, a support
    # problem, an application: the hard negatives of LABELS.md) needs this score, else
    # low_confidence: "Auskunft zu den offenen Posten", "mein Zugang ist gesperrt".
    routine_strong: float = 1.0


DEFAULT_THRESHOLDS = Thresholds()
SUBJECT_FACTOR = 0.8
REPLY_SUBJECT_FACTOR = 0.3
AUTO_REPLY_SUBJECT_WORDS = 3  # an auto-reply marker counts among the subject's first words
SUBJECT_ONLY_WORDS = 25  # a body longer than this that reads no right makes a subject reading unsure
ASKED_WORDS = 40  # a question how to exercise a right longer than this is an enquiry, not a request
_RIGHTS = {right.value: right for right in Right}  # Right(label) without the enum call per hit


class _Scored(NamedTuple):
    scores: dict[Right, float]
    evidence: list[Evidence]
    reasons: list[str]
    routine: list[Evidence]  # positive evidence that this is no privacy request
    privacy: bool  # a privacy word outside a false friend's sentence: never route away unseen
    # ... in a sentence where the sender speaks of themselves ("ich", "mein"; word list `speaker`):
    # no matter claims the message
    own_privacy: bool = False
    question: bool = False  # a general question about privacy (`[[question]]` in routine.toml)


_NOTHING = _Scored({}, [], [], [], False)


class Analysis(NamedTuple):
    """What `Classifier.analyse` reads from a message; `Classifier.decide` adds the thresholds.

    Split so that thresholds can be chosen on a corpus without reading every message again
    (`dsr.intents.tuning`).
    """

    labels: tuple[Right, ...]
    scores: dict[Right, float]
    evidence: list[Evidence]
    own_words: int
    routine: bool  # positive evidence of a routine matter (invoice, order, support ...)
    non_request: str
    subject_only: bool
    is_reply: bool
    language: str
    channel: str
    # folded words of subject and own body: the learned second signal's input (`features`)
    words: tuple[Sequence[str], Sequence[str]] = ((), ())
    model: dict[str, float] | None = None  # its probabilities, when computed ahead (`dsr.intents.tuning`)
    asked_about: tuple[Right, ...] = ()  # rights named in a question about the procedure
    mass_mail: bool = False  # a newsletter, a pitch, a bounce: no person's own words
    general_question: bool = False  # a `[[question]]` rule matched (the notice, the DPO ...)

    @property
    def features(self) -> frozenset[str]:
        """The learned second signal's features (`dsr.intents.secondsignal`), built when asked:
        only a reading the rules would answer automatically needs them."""
        return _features(*self.words)


class Classifier:
    """A loaded lexicon with its matcher; thread-safe for reading, reuse one instance."""

    def __init__(self, lexicon: Lexicon, thresholds: Thresholds = DEFAULT_THRESHOLDS,
                 second: SecondSignal | None = None) -> None:
        self.lexicon = lexicon
        self.thresholds = thresholds
        self.second = second  # a learned model that can only send a reading to a person
        self.matcher = Matcher(lexicon)
        self.words = WordLists.from_lexicon(lexicon)
        self.cues = {rule.id: rule for rule in lexicon.rules if rule.kind == "cue"}
        self.routine = {rule.id: rule.label for rule in lexicon.rules if rule.kind == "routine"}
        self.routine_rules = {rule.id: rule for rule in lexicon.rules if rule.kind == "routine"}
        self.asking = frozenset(rule.id for rule in lexicon.rules
                                if rule.kind == "false_friend" and rule.asks)

    def with_thresholds(self, thresholds: Thresholds) -> Classifier:
        """This classifier (same compiled lexicon, shared) with other abstention thresholds."""
        clone = copy.copy(self)
        clone.thresholds = thresholds
        return clone

    def with_second(self, second: SecondSignal | None) -> Classifier:
        """This classifier (same compiled lexicon, shared) with another learned second signal."""
        clone = copy.copy(self)
        clone.second = second
        return clone

    def _view(self, name: str, text: str, ranges: list[tuple[int, int]] | None) -> FieldView:
        tokens = tokenize(text, ranges)
        return FieldView(name, text, tokens, self.matcher.match(tokens), self.words)

    def _score(self, views: list[FieldView], *, auto_reply: bool, factor: dict[str, float],
               grievance: Callable[[], bool]) -> _Scored:
        if not any(view.matches for view in views):
            return _NOTHING
        routine: list[Evidence] = []
        privacy = own_privacy = question = False
        best: dict[tuple[str, str], tuple[Right, float]] = {}
        evidence: list[Evidence] = []
        reasons: list[str] = []
        per_rule: dict[str, int] = {}
        for view in views:
            for match in view.matches:
                rule = match.rule
                if match.unless or rule.kind == "false_friend":
                    continue
                if rule.max_tokens is not None and len(view.tokens) > rule.max_tokens:
                    continue
                if rule.kind == "question":
                    question = True
                    continue
                if rule.kind == "privacy":
                    if not own_privacy:
                        # A false friend's sentence is no privacy matter, but the sender speaking of
                        # their own data in it ("bitte meinen Account nicht löschen, nur sperren")
                        # still forbids any matter to claim the message.
                        sentence = view.tokens[match.first].sentence
                        own_privacy = rule.own or (view.has("speaker", sentence)
                                                   and not view.has("notice_read", sentence))
                    privacy = privacy or not _in_false_friend_sentence(view, match)
                    continue
                if rule.kind == "routine":
                    # Capped per rule (not for all routine rules together): a second, different
                    # mass-mail marker or a matter that claims privacy words must not be crowded
                    # out by three hits of a greeting.
                    per_rule[rule.id] = per_rule.get(rule.id, 0) + 1
                    if per_rule[rule.id] <= MAX_HITS_PER_RULE:
                        routine.append(evidence_for(view, match, weight=0.0, suppressed_by=None,
                                                    label=Right.OTHER))
                    continue
                if rule.kind == "cue" and match.score < 100.0:
                    continue  # cue words are matched exactly: "Reaktion" is no "Redaktion"
                per_rule[rule.id] = per_rule.get(rule.id, 0) + 1
                if per_rule[rule.id] > MAX_HITS_PER_RULE:
                    continue
                if rule.kind == "cue":
                    if not cue_cancelled(view, match):
                        evidence.append(evidence_for(view, match, weight=0.0, suppressed_by=None,
                                                     label=Right.OTHER, reason=rule.label))
                        reasons.append(rule.id)
                    continue
                label = _RIGHTS[rule.label]
                why = suppression(view, match, auto_reply=auto_reply, grievance=grievance)
                weight = rule.weight * factor.get(view.name, 1.0)
                evidence.append(evidence_for(view, match, weight=weight, suppressed_by=why, label=label))
                if why is None:
                    value = weight * match.score / 100.0
                    key = (view.name, rule.id)
                    if key not in best or best[key][1] < value:
                        best[key] = (label, value)
        scores: dict[Right, float] = {}
        for label, value in best.values():
            scores[label] = scores.get(label, 0.0) + value
        return _Scored(scores, evidence, reasons, routine, privacy, own_privacy, question)

    def classify(self, subject: str, body: str, channel: str) -> Classification:
        """Rights, escalation reasons and evidence of one message (see the module docstring)."""
        return self.decide(self.analyse(subject, body, channel))

    def analyse(self, subject: str, body: str, channel: str) -> Analysis:
        """Everything about a message that does not depend on the abstention thresholds."""
        chat = channel.casefold() not in ("email", "e-mail", "mail")
        subject_text = plain_text(subject)
        body_text = plain_text(body)
        body_scope = scope(body_text, chat=chat)
        subject_view = self._view("subject", subject_text, None)
        own_view = self._view("body", body_text, body_scope.ranges(OWN))
        subject_norms = [t.norm for t in subject_view.tokens]
        own_norms = [t.norm for t in own_view.tokens]  # read three times below: built once
        prefixes = self.words.single.get("reply_prefix", frozenset())
        is_reply = bool(subject_norms) and subject_norms[0] in prefixes
        # An auto-reply or a bounce names itself at the start of the subject ("Automatische
        # Antwort: ...", "Undeliverable: ..."); "Ihre Adresse ist unzustellbar" is a person's subject.
        own_subject = list(itertools.dropwhile(prefixes.__contains__, subject_norms))
        auto_reply = self.words.contains("auto_reply", own_subject[:AUTO_REPLY_SUBJECT_WORDS])
        def grievance() -> bool:
            return self.words.contains("grievance", subject_norms + own_norms)

        body_scored = self._score([own_view], auto_reply=auto_reply, factor={}, grievance=grievance)
        forwarded = body_scope.ranges(FORWARDED)
        if not body_scored.scores and forwarded:
            fwd_view = self._view("body", body_text, forwarded)
            fwd_scored = self._score([fwd_view], auto_reply=auto_reply, factor={}, grievance=grievance)
            body_scored = _Scored(fwd_scored.scores, body_scored.evidence + fwd_scored.evidence,
                                  body_scored.reasons + fwd_scored.reasons,
                                  body_scored.routine + fwd_scored.routine,
                                  body_scored.privacy or fwd_scored.privacy,
                                  body_scored.own_privacy or fwd_scored.own_privacy,
                                  body_scored.question or fwd_scored.question)
        factor = REPLY_SUBJECT_FACTOR if is_reply and body_scored.scores else SUBJECT_FACTOR
        subject_scored = self._score([subject_view], auto_reply=auto_reply, factor={"subject": factor},
                                     grievance=grievance)
        scores, evidence, subject_only = _merge(body_scored, subject_scored)
        labels = legal_sort([r for r, v in scores.items() if v >= ACCEPT])
        non_request = ""
        own_words = len(own_view.tokens)
        mass_mail = self._mass_mail(body_scored.routine + subject_scored.routine)
        if mass_mail or self._not_own_request(evidence):
            labels = ()  # a newsletter, a pitch, an authority's letter: the readings stay in `scores`
        if mass_mail:
            labels, non_request = (Right.OTHER,), mass_mail
        elif not labels:
            labels = (Right.OTHER,)
            non_request = self._non_request(body_scored, subject_scored, auto_reply=auto_reply,
                                            words=own_words + len(subject_view.tokens))
        language = self._language(subject_norms + own_norms)
        # A matter that claims privacy words is evidence for setting a message aside, not for doubting
        # a right read beside it (`Thresholds.routine_strong` keeps to the other routine rules).
        routine = any(not self.routine_rules[item.rule].claims
                      for item in body_scored.routine + subject_scored.routine)
        asked_about = legal_sort({e.label for e in evidence if e.suppressed_by in self.asking})
        return Analysis(labels, scores, evidence, own_words, routine, non_request, subject_only, is_reply,
                        language, channel, (subject_norms, own_norms),
                        asked_about=tuple(asked_about), mass_mail=bool(mass_mail),
                        general_question=body_scored.question or subject_scored.question)

    def decide(self, analysis: Analysis) -> Classification:
        """The classification of an analysed message under this classifier's thresholds."""
        labels, scores, evidence, own_words, routine, non_request, subject_only, is_reply, language, \
            channel, _, model, asked_about, mass_mail, general_question = analysis
        reasons = self._reasons(labels, scores, evidence, own_words, routine=routine, asked=bool(asked_about),
                                cues=not mass_mail)
        if self.second is not None and not reasons and labels != (Right.OTHER,):
            # The rules would answer automatically: a learned model that reads otherwise asks first.
            probabilities = model if model is not None else self.second.probabilities(analysis.features)
            against = disagreement(labels, probabilities)
            if against is not None:
                reasons.append("low_confidence")
                evidence = [*evidence, _model_evidence(*against, probabilities)]
        if non_request and reasons and all(r in UNCLEAR_CODES for r in reasons):
            # A bounce or a newsletter quoting "DSGVO": the routine reading stands, the cue's hit
            # stays in the evidence.
            reasons = []
        elif reasons:
            non_request = ""  # a breach report or an authority's letter is never set aside
        if labels == (Right.OTHER,) and not non_request and "low_confidence" not in reasons:
            reasons.append("low_confidence")  # nothing recognised, nothing routine: a person looks
        if subject_only and (own_words > SUBJECT_ONLY_WORDS or is_reply) and "low_confidence" not in reasons:
            # The body says something else, or nothing we read; a reply subject ("AW: Bestätigung
            # der Löschung") is our own earlier text and never decides alone.
            reasons.append("low_confidence")
        confidence = _confidence(labels, scores)
        if labels == (Right.OTHER,) and not non_request:
            confidence = min(confidence, 0.3)
            if asked_about and own_words <= ASKED_WORDS:
                # A short question how to exercise a right ("Wie kann ich meine Daten löschen
                # lassen?") is that question: no right exercised yet (`other`), about the rights it
                # names, which the clarification question offers to carry out; never automatic
                # ("low_confidence" is set above). A long letter naming rights in a question is a
                # study or an enquiry and stays `other`.
                labels = (*asked_about, Right.OTHER)
        logger.debug("classified channel=%s labels=%s reasons=%s", channel, labels, reasons)
        return Classification(
            labels=labels,
            confidence=confidence,
            escalate=bool(reasons),
            reasons=tuple(reasons),
            evidence=tuple(sorted(evidence, key=lambda e: (e.field != "subject", e.start))),
            scores={r.value: round(v, 3) for r, v in scores.items()},
            language=language,
            non_request=non_request,
            asked_about=asked_about if Right.OTHER in labels else (),
            general_question=general_question and Right.OTHER in labels and not non_request
            and not mass_mail,
        )

    def _reasons(self, labels: tuple[Right, ...], scores: dict[Right, float],
                 evidence: list[Evidence], words: int, *, routine: bool, asked: bool = False,
                 cues: bool = True) -> list[str]:
        """Machine-readable escalation reasons, in a stable order.

        `asked`: the sender asks how to exercise a right; a cue that needs a right counts then too
        (a former freelancer asking how to get his data is an HR matter).  Without `cues` (mass
        mail: a trade newsletter reporting a court ruling) cue hits stay evidence only.
        """
        rights_found = labels != (Right.OTHER,)
        found: list[str] = []
        if Right.COMPLAINT in labels:
            found.append("complaint")
        for item in evidence:
            if item.reason is None or not cues:
                continue
            rule = self.cues[item.rule]
            if rule.needs_right and not (rights_found or asked):
                continue
            if rule.requires_label and Right(rule.requires_label) not in labels:
                continue
            if rule.not_with_only and rights_found and {r.value for r in labels} <= set(rule.not_with_only):
                continue
            found.append(item.reason)
        if rights_found:
            limits = self.thresholds
            weakest = min(scores[label] for label in labels)
            if weakest < limits.strong or words > limits.max_words or (
                    routine and weakest < limits.routine_strong):
                found.append("low_confidence")
            if len(labels) > limits.max_labels or any(
                    limits.borderline <= v < ACCEPT for r, v in scores.items() if r not in labels):
                found.append("ambiguous")
        return sorted(set(found), key=found.index)

    def _mass_mail(self, routine: list[Evidence]) -> str:
        """The routine code of mass mail when two different mass-mail markers occur, else ""."""
        rules = {item.rule for item in routine if self.routine_rules[item.rule].mass_mail}
        if len(rules) < 2:
            return ""
        first = next(item for item in routine if item.rule in rules)
        return self.routine[first.rule]

    def _not_own_request(self, evidence: list[Evidence]) -> bool:
        return any(item.reason is not None and self.cues[item.rule].not_own_request for item in evidence)

    def _non_request(self, body: _Scored, subject: _Scored, *, auto_reply: bool, words: int) -> str:
        """The routine code when positive evidence shows that no one asks about their data, else "".

        A privacy word rules out every routine reading except a matter that claims it (`claims`:
        "Position 3 löschen" in an order, "GDPR" in a vendor's checklist, "Danke, erledigt" under
        our confirmation), and no matter claims a privacy word in a sentence where the sender
        speaks of themselves ("ich", "meine", "my") or a right read anywhere.
        """
        if auto_reply:
            return "auto_reply"
        if body.scores or subject.scores:
            return ""
        routine = body.routine + subject.routine
        if body.privacy or subject.privacy:
            if body.own_privacy or subject.own_privacy or any(
                    item.suppressed_by == "negation" for item in body.evidence + subject.evidence):
                return ""  # the sender speaks of their own data, or of a right they do not want
            routine = [item for item in routine if self.routine_rules[item.rule].claims]
        for item in routine:
            return self.routine[item.rule]
        return "chat_noise" if words == 0 else ""

    def _language(self, norms: list[str]) -> str:
        english = self.words.single.get("english", frozenset())
        german = self.words.single.get("german", frozenset())
        en = sum(map(english.__contains__, norms))
        de = sum(map(german.__contains__, norms))
        return "en" if en > de else "de"


def _merge(body: _Scored, subject: _Scored) -> tuple[dict[Right, float], list[Evidence], bool]:
    """Scores and evidence of body and subject; the subject supports a body reading, never overrides it.

    A right read in the subject counts only when the body reads it too (even weakly) or when
    the body reads no right at all; a right the body negates never counts.  Returns whether
    the labels come from the subject alone.
    """
    negated_in_body = {
        e.label for e in body.evidence if e.suppressed_by == "negation" and e.label not in body.scores
    }
    body_reads = any(v >= ACCEPT for v in body.scores.values())
    scores = dict(body.scores)
    evidence = list(body.evidence) + body.routine
    for item in subject.evidence:
        if item.reason is None and item.suppressed_by is None:
            if item.label in negated_in_body:
                item = _suppress(item, "contradicted_by_body")
            elif body_reads and item.label not in body.scores:
                item = _suppress(item, "body_reads_otherwise")
        evidence.append(item)
    evidence.extend(subject.routine)
    for label, value in subject.scores.items():
        if label in negated_in_body or (body_reads and label not in body.scores):
            continue
        scores[label] = scores.get(label, 0.0) + value
    subject_only = not body_reads and any(v >= ACCEPT for v in scores.values())
    return scores, evidence, subject_only


def _in_false_friend_sentence(view: FieldView, match: Match) -> bool:
    """A false friend claims the sentence ("Widerspruch gegen die Rechnung")."""
    sentence = view.tokens[match.first].sentence
    return any(view.tokens[f.first].sentence == sentence and not (f.rule.asks or f.rule.between_rights)
               for f in view.false_friends())


def _features(subject: Sequence[str], body: Sequence[str]) -> frozenset[str]:
    """The second signal's features from the folded words of subject and own body."""
    return features([f"s:{norm}" for norm in subject]) | features(body)


def _model_evidence(right: str, probability: float, probabilities: dict[str, float]) -> Evidence:
    """The model's contribution as evidence: the right it doubts or adds, and its readings."""
    readings = sorted(probabilities.items(), key=lambda kv: -kv[1])[:3]
    text = f"{right} p={probability:.2f}; model reads " + ", ".join(f"{r} {p:.2f}" for r, p in readings)
    return Evidence(_RIGHTS[right], RULE_ID, text, round(100 * probability, 1), 0, 0, "model", 0.0,
                    None, "low_confidence")


def train_second_signal(records: Iterable[dict[str, Any]]) -> SecondSignal:
    """The learned second signal trained on labelled corpus records (features as `analyse` reads them)."""
    return SecondSignal.train((record_features(record), record["labels"], record.get("acceptable", []))
                              for record in records)


def record_features(record: dict[str, Any]) -> frozenset[str]:
    """The model's features of one corpus record: subject and the sender's own words."""
    chat = str(record.get("channel", "email")).casefold() not in ("email", "e-mail", "mail")
    body = plain_text(record.get("body", ""))
    own = tokenize(body, scope(body, chat=chat).ranges(OWN))
    return _features([t.norm for t in tokenize(plain_text(record.get("subject", "")))], [t.norm for t in own])


def _suppress(item: Evidence, why: str) -> Evidence:
    return Evidence(item.label, item.rule, item.matched, item.score, item.start, item.end, item.field,
                    item.weight, why, item.reason)


def _confidence(labels: tuple[Right, ...], scores: dict[Right, float]) -> float:
    """0..1: how clearly the chosen labels stand out from the threshold and from the rest."""
    rejected = [v for r, v in scores.items() if r not in labels]
    doubt = max(rejected, default=0.0) / ACCEPT  # 0 = no competitor, 1 = competitor at threshold
    if labels == (Right.OTHER,):
        return round(max(0.05, 0.95 - 0.6 * doubt), 3)
    weakest = min(scores[label] for label in labels)
    strength = 1.0 - math.exp(-1.8 * weakest)
    return round(max(0.05, min(0.99, strength - 0.25 * doubt)), 3)


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    """The classifier with the built-in lexicon, loaded once per process."""
    classifier = Classifier(load_lexicon(LEXICON_DIR))
    files = sorted(CORPUS_DIR.glob("*.jsonl")) if CORPUS_DIR.is_dir() else []
    if not files:
        logger.warning("no labelled corpus in %s: classifying without the learned second signal", CORPUS_DIR)
        return classifier
    records = [json.loads(line) for path in files for line in path.read_text("utf-8").splitlines()
               if line.strip()]
    return classifier.with_second(train_second_signal(records))


def classify(subject: str, body: str, channel: str) -> Classification:
    """Classify one inbound message: see the module docstring."""
    return default_classifier().classify(subject, body, channel)
