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

import logging
import math
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from dsr.intents.evaluate import FieldView, WordLists, cue_cancelled, evidence_for, suppression
from dsr.intents.lexicon import LEXICON_DIR, Lexicon, load_lexicon
from dsr.intents.matcher import MAX_HITS_PER_RULE, Matcher
from dsr.intents.model import Classification, Evidence
from dsr.intents.rights import Right, legal_sort
from dsr.intents.scope import FORWARDED, OWN, scope
from dsr.intents.text import plain_text, tokenize

logger = logging.getLogger(__name__)

ACCEPT = 0.6  # summed rule weight at which a right counts as requested
STRONG = 0.75  # when even the strongest right is below this, the reading is weak -> low_confidence
BORDERLINE = 0.45  # a rejected right at or above this makes the reading ambiguous
SUBJECT_FACTOR = 0.8
REPLY_SUBJECT_FACTOR = 0.3
_RIGHTS = {right.value: right for right in Right}  # Right(label) without the enum call per hit


class _Scored(NamedTuple):
    scores: dict[Right, float]
    evidence: list[Evidence]
    reasons: list[str]


class Classifier:
    """A loaded lexicon with its matcher; thread-safe for reading, reuse one instance."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.matcher = Matcher(lexicon)
        self.words = WordLists.from_lexicon(lexicon)
        self.cues = {rule.id: rule for rule in lexicon.rules if rule.kind == "cue"}

    def _view(self, name: str, text: str, ranges: list[tuple[int, int]] | None) -> FieldView:
        tokens = tokenize(text, ranges)
        return FieldView(name, text, tokens, self.matcher.match(tokens), self.words)

    def _score(self, views: list[FieldView], *, auto_reply: bool, factor: dict[str, float],
               grievance: Callable[[], bool]) -> _Scored:
        if not any(view.matches for view in views):
            return _Scored({}, [], [])
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
        return _Scored(scores, evidence, reasons)

    def classify(self, subject: str, body: str, channel: str) -> Classification:
        chat = channel.casefold() not in ("email", "e-mail", "mail")
        subject_text = plain_text(subject)
        body_text = plain_text(body)
        body_scope = scope(body_text, chat=chat)
        subject_view = self._view("subject", subject_text, None)
        own_view = self._view("body", body_text, body_scope.ranges(OWN))
        subject_norms = [t.norm for t in subject_view.tokens]
        auto_reply = self.words.contains("auto_reply", subject_norms)
        is_reply = bool(subject_norms) and subject_norms[0] in self.words.single.get("reply_prefix", ())
        def grievance() -> bool:
            return self.words.contains("grievance", subject_norms + [t.norm for t in own_view.tokens])

        body_scored = self._score([own_view], auto_reply=auto_reply, factor={}, grievance=grievance)
        forwarded = body_scope.ranges(FORWARDED)
        if not body_scored.scores and forwarded:
            fwd_view = self._view("body", body_text, forwarded)
            fwd_scored = self._score([fwd_view], auto_reply=auto_reply, factor={}, grievance=grievance)
            body_scored = _Scored(fwd_scored.scores, body_scored.evidence + fwd_scored.evidence,
                                  body_scored.reasons + fwd_scored.reasons)
        factor = REPLY_SUBJECT_FACTOR if is_reply and body_scored.scores else SUBJECT_FACTOR
        subject_scored = self._score([subject_view], auto_reply=auto_reply, factor={"subject": factor},
                                     grievance=grievance)
        negated_in_body = {
            e.label for e in body_scored.evidence
            if e.suppressed_by == "negation" and e.label not in body_scored.scores
        }
        scores = dict(body_scored.scores)
        evidence = list(body_scored.evidence)
        for item in subject_scored.evidence:
            if item.reason is None and item.suppressed_by is None and item.label in negated_in_body:
                item = _suppress(item, "contradicted_by_body")
            evidence.append(item)
        for label, value in subject_scored.scores.items():
            if label not in negated_in_body:
                scores[label] = scores.get(label, 0.0) + value
        labels = legal_sort([r for r, v in scores.items() if v >= ACCEPT]) or (Right.OTHER,)
        reasons = self._reasons(labels, scores, evidence)
        confidence = _confidence(labels, scores)
        language = self._language(subject_norms + [t.norm for t in own_view.tokens])
        logger.debug("classified channel=%s labels=%s reasons=%s", channel, labels, reasons)
        return Classification(
            labels=labels,
            confidence=confidence,
            escalate=bool(reasons),
            reasons=tuple(reasons),
            evidence=tuple(sorted(evidence, key=lambda e: (e.field != "subject", e.start))),
            scores={r.value: round(v, 3) for r, v in scores.items()},
            language=language,
        )

    def _reasons(self, labels: tuple[Right, ...], scores: dict[Right, float],
                 evidence: list[Evidence]) -> list[str]:
        """Machine-readable escalation reasons, in a stable order."""
        rights_found = labels != (Right.OTHER,)
        found: list[str] = []
        if Right.COMPLAINT in labels:
            found.append("complaint")
        for item in evidence:
            if item.reason is None:
                continue
            rule = self.cues[item.rule]
            if rule.needs_right and not rights_found:
                continue
            if rule.requires_label and Right(rule.requires_label) not in labels:
                continue
            found.append(item.reason)
        if rights_found:
            strongest = max(scores[label] for label in labels)
            if strongest < STRONG:
                found.append("low_confidence")
            if any(BORDERLINE <= v < ACCEPT for r, v in scores.items() if r not in labels):
                found.append("ambiguous")
        return sorted(set(found), key=found.index)

    def _language(self, norms: list[str]) -> str:
        english = self.words.single.get("english", frozenset())
        german = self.words.single.get("german", frozenset())
        en = sum(map(english.__contains__, norms))
        de = sum(map(german.__contains__, norms))
        return "en" if en > de else "de"


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
    return Classifier(load_lexicon(LEXICON_DIR))


def classify(subject: str, body: str, channel: str) -> Classification:
    """Classify one inbound message: see the module docstring."""
    return default_classifier().classify(subject, body, channel)
