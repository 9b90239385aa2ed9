"""Choosing the abstention thresholds on labelled files, and measuring them on a file left out.

`choose_thresholds` tries every combination of `GRID` on the training records and keeps the one
that lets the most messages be handled without a person while their precision stays at
`TARGET_PRECISION`; when no combination reaches it, the most precise one that still handles at
least `MIN_AUTO_SHARE` of the messages.  `held_out` rotates: thresholds chosen on all files but
one, figures measured on that one.  These are the figures to expect on messages nobody tuned the
classifier to (`dsr classify --heldout`).  The learned second signal (`dsr.intents.secondsignal`)
is trained the same way: for each held-out file only on the other files (and `extra`, e.g. the
dev corpus), never on the file it is scored on.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dsr.intents.classifier import Analysis, Classifier, Thresholds
from dsr.intents.model import Classification
from dsr.intents.scoring import CorpusScores, score
from dsr.intents.secondsignal import SecondSignal

TARGET_PRECISION = 0.97
MIN_AUTO_SHARE = 0.3
GRID: dict[str, tuple[float, ...]] = {
    "strong": (0.75, 1.0, 1.4),
    "max_labels": (2, 3),
    "max_words": (150, 400),
    "routine_strong": (1.0, 2.0, 3.0),
}


@dataclass(frozen=True, slots=True)
class HeldOut:
    """Figures on one file with thresholds chosen on the others."""

    name: str
    thresholds: Thresholds
    training: CorpusScores
    scores: CorpusScores
    model_examples: int = 0  # records the second signal was trained on (0: without it)


Key = tuple[str, str, str]


def _key(record: dict[str, Any]) -> Key:
    return record.get("subject", ""), record.get("body", ""), record.get("channel", "email")


def _analysed(classifier: Classifier, records: Sequence[dict[str, Any]]) -> dict[Key, Analysis]:
    """Each record read once: the thresholds only change `Classifier.decide`."""
    return {key: classifier.analyse(*key) for key in map(_key, records)}


def _scorer(classifier: Classifier,
            analyses: dict[Key, Analysis]) -> Callable[[str, str, str], Classification]:
    def classify(subject: str, body: str, channel: str) -> Classification:
        return classifier.decide(analyses[(subject, body, channel)])
    return classify


def choose_thresholds(classifier: Classifier, records: Sequence[dict[str, Any]],
                      analyses: dict[Key, Analysis] | None = None) -> tuple[Thresholds, CorpusScores]:
    """The thresholds `GRID` offers that suit `records` best (see the module docstring)."""
    analyses = analyses if analyses is not None else _analysed(classifier, records)
    tried: list[tuple[Thresholds, CorpusScores]] = []
    for strong, labels, words, routine in itertools.product(
            GRID["strong"], GRID["max_labels"], GRID["max_words"], GRID["routine_strong"]):
        thresholds = replace(classifier.thresholds, strong=strong, max_labels=int(labels),
                             max_words=int(words), routine_strong=max(strong, routine))
        tuned = classifier.with_thresholds(thresholds)
        tried.append((thresholds, score(records, _scorer(tuned, analyses))))
    reaching = [t for t in tried if t[1].auto_handled_precision >= TARGET_PRECISION and t[1].auto_handled]
    if reaching:
        return max(reaching, key=lambda t: (t[1].auto_handled, t[1].exact))
    enough = [t for t in tried if t[1].auto_handled >= MIN_AUTO_SHARE * len(records)] or tried
    return max(enough, key=lambda t: (round(t[1].auto_handled_precision, 3), t[1].auto_handled))


def train_model(analyses: dict[Key, Analysis], records: Sequence[dict[str, Any]]) -> SecondSignal:
    """The second signal trained on `records` (their features as `Classifier.analyse` read them)."""
    return SecondSignal.train((analyses[_key(r)].features, r["labels"], r.get("acceptable", []))
                              for r in records)


def _out_of_file(analyses: dict[Key, Analysis], files: dict[str, list[dict[str, Any]]],
                 extra: Sequence[dict[str, Any]]) -> dict[Key, Analysis]:
    """Each training record with the readings of a model trained without its file (and with `extra`).

    The thresholds are chosen on these, so that the training figures show what the model does on
    a file it never saw, as on the held-out one: the model trained on all training files reads its
    own training messages almost perfectly (with it, 230-269 automatic answers per 750 training
    messages at precision 0.94-0.95, against 33-43 per 250 held out at 0.94-1.00).
    """
    fitting = dict(analyses)
    for name, records in files.items():
        rest = [r for other, rs in files.items() if other != name for r in rs]
        second = train_model(analyses, [*rest, *extra])
        for key in map(_key, records):
            item = analyses[key]
            fitting[key] = item._replace(model=second.probabilities(item.features))
    return fitting


def held_out(classifier: Classifier, files: dict[str, list[dict[str, Any]]], *,
             extra: Sequence[dict[str, Any]] = (), model: bool = True) -> list[HeldOut]:
    """Tune on all files but one (and `extra`), score that one; once per file.

    With `model`, the second signal is trained for each rotation on the training records only
    (and the thresholds are chosen on its readings of each training file by a model trained
    without that file: `_out_of_file`); without it, the rules are measured alone.
    """
    analyses = _analysed(classifier, [*(r for rs in files.values() for r in rs), *extra])
    results = []
    for name, records in files.items():
        training = [r for other, rs in files.items() if other != name for r in rs]
        second = train_model(analyses, [*training, *extra]) if model else None
        rotation = classifier.with_second(second)
        if second is not None:
            current = {key: item._replace(model=second.probabilities(item.features))
                       for key, item in analyses.items()}
            others = {other: rs for other, rs in files.items() if other != name}
            fitting = _out_of_file(analyses, others, extra) if len(others) > 1 else current
        else:
            current = fitting = analyses
        thresholds, fitted = choose_thresholds(rotation, training, fitting)
        tuned = rotation.with_thresholds(thresholds)
        results.append(HeldOut(name, thresholds, fitted, score(records, _scorer(tuned, current)),
                               second.examples if second is not None else 0))
    return results
