"""A learned second signal beside the rules: it can only move a message towards a person.

A small naive Bayes model (one yes/no model per right, each word counted once per message) over
the classifier's own folded tokens and adjacent token pairs, trained from labelled corpus records
(the files shipped in `dsr/intents/corpus`), never from downloaded weights.  It never decides
alone: when the rules would answer a message automatically but the model disagrees (it reads
none of the rule's rights, or its likeliest right is another one; see `disagreement`), the classifier
asks the sender instead (`low_confidence`) and shows the model's reading in the evidence
(`model.disagrees`), so the DPO sees why.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dsr.intents.rights import Right

RULE_ID = "model.disagrees"
AGREE = 0.5  # the model reads a right when its probability is at least this (not tuned)
SMOOTHING = 1.0
MAX_TOKENS = 2000  # features of a longer text: its first tokens (keeps a huge body linear and cheap)
RIGHTS: tuple[str, ...] = tuple(r.value for r in Right if r is not Right.OTHER)
# The labelled files shipped inside the package (package data, so an installed service trains the
# same model as a source checkout); `dsr classify --heldout` trains one per rotation.
CORPUS_DIR = Path(__file__).resolve().parent / "corpus"


def features(norms: Sequence[str]) -> frozenset[str]:
    """Folded tokens and adjacent pairs, each once."""
    norms = norms[:MAX_TOKENS]
    pairs = (f"{a}_{b}" for a, b in itertools.pairwise(norms))
    return frozenset((*norms, *pairs))


@dataclass(frozen=True, slots=True)
class SecondSignal:
    """Per right: prior log-odds and per-feature log-odds (feature present vs. absent class)."""

    prior: tuple[float, ...]  # per right in `RIGHTS`
    weights: dict[str, tuple[float, ...]]  # feature -> log-odds contribution per right
    examples: int

    @classmethod
    def train(cls, examples: Iterable[tuple[frozenset[str], Sequence[str], Sequence[str]]]) -> SecondSignal:
        """Train on (features, gold labels, acceptable labels); a merely acceptable right counts
        for neither side of that right's model."""
        items = list(examples)
        pos_docs = [0] * len(RIGHTS)
        counts: dict[str, list[list[int]]] = {}  # feature -> [positive counts, negative counts]
        totals = [[0] * len(RIGHTS), [0] * len(RIGHTS)]
        neg_docs = [0] * len(RIGHTS)
        for feats, labels, acceptable in items:
            gold, maybe = set(labels), set(acceptable) - set(labels)
            sides = [(i, 0 if right in gold else 1) for i, right in enumerate(RIGHTS) if right not in maybe]
            for index, side in sides:
                pos_docs[index] += side == 0
                neg_docs[index] += side == 1
                totals[side][index] += len(feats)
            for feat in feats:
                cell = counts.setdefault(feat, [[0] * len(RIGHTS), [0] * len(RIGHTS)])
                for index, side in sides:
                    cell[side][index] += 1
        vocabulary = len(counts) + 1
        n = len(items)
        prior = tuple(math.log((p + SMOOTHING) / (q + SMOOTHING))
                      for p, q in zip(pos_docs, neg_docs, strict=True))
        weights = {
            feat: tuple(
                math.log((cell[0][i] + SMOOTHING) / (totals[0][i] + SMOOTHING * vocabulary))
                - math.log((cell[1][i] + SMOOTHING) / (totals[1][i] + SMOOTHING * vocabulary))
                for i in range(len(RIGHTS)))
            for feat, cell in counts.items()
        }
        return cls(prior, weights, n)

    def probabilities(self, feats: Iterable[str]) -> dict[str, float]:
        """Right -> probability that the message asks for it (features never seen are skipped)."""
        sums = list(self.prior)
        for feat in feats:
            row = self.weights.get(feat)
            if row is not None:
                for index, value in enumerate(row):
                    sums[index] += value
        return {right: _sigmoid(total) for right, total in zip(RIGHTS, sums, strict=True)}


def disagreement(labels: Sequence[Right], probabilities: dict[str, float]) -> tuple[str, float] | None:
    """The model's reading that contradicts the rule `labels` (a right and its probability), or None.

    The model disagrees when it reads none of the rule's rights (each below `AGREE`; the model's
    likeliest right is returned) or when its likeliest right, at `AGREE` or more, is not among
    them.  A rule reading with one more or one less right than the model's is no disagreement.
    """
    rule = {label.value for label in labels}
    top_p, top = max((p, right) for right, p in probabilities.items())
    if max((probabilities.get(right, 0.0) for right in rule), default=0.0) < AGREE or (
            top not in rule and top_p >= AGREE):
        return top, top_p
    return None


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)
