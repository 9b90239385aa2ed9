"""Quality figures of the classifier on a labelled corpus (corpus/LABELS.md record format).

The figures a DPO needs before trusting automation: how often the label set is right, how many
cases that need a human are escalated, how many clear cases are escalated needlessly, and how
precise the classifier is on exactly the messages it would handle without a human.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsr.intents.model import Classification
from dsr.intents.rights import Right


@dataclass(frozen=True, slots=True)
class CorpusScores:
    """Figures for one corpus; rates are 0..1."""

    messages: int
    exact: float  # labels ⊆ predicted ⊆ labels ∪ acceptable
    macro_f1: float
    escalation_recall: float  # of the messages that must be escalated
    false_escalation: float  # of the messages that must not be escalated
    auto_precision: float  # of the messages not escalated: right labels and no human needed
    mistakes: tuple[str, ...]  # ids with a wrong label set or a wrong escalation

    def lines(self) -> list[str]:
        return [
            f"messages                      {self.messages}",
            f"exact-set accuracy            {self.exact:.3f}",
            f"macro-F1                      {self.macro_f1:.3f}",
            f"escalation recall             {self.escalation_recall:.3f}",
            f"false-escalation rate         {self.false_escalation:.3f}",
            f"precision without a human     {self.auto_precision:.3f}",
        ]


def read_corpus(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON Lines corpus file, blank lines skipped."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _ratio(numerator: int, denominator: int, empty: float = 1.0) -> float:
    return numerator / denominator if denominator else empty


def score(records: Iterable[dict[str, Any]],
          classify: Callable[[str, str, str], Classification]) -> CorpusScores:
    """Classify every record and compare with its gold labels and escalation."""
    total = exact = 0
    must = must_hit = must_not = must_not_hit = auto = auto_right = 0
    counts = {r.value: [0, 0, 0] for r in Right}  # tp, fp, fn
    mistakes: list[str] = []
    for record in records:
        total += 1
        result = classify(record.get("subject", ""), record.get("body", ""), record.get("channel", "email"))
        predicted = {label.value for label in result.labels}
        gold = set(record["labels"])
        allowed = gold | set(record.get("acceptable", []))
        right = gold <= predicted <= allowed
        exact += right
        for label, cell in counts.items():
            if label in predicted and label in gold:
                cell[0] += 1
            elif label in predicted and label not in allowed:
                cell[1] += 1
            elif label in gold and label not in predicted:
                cell[2] += 1
        wanted = record.get("escalate")
        if wanted is True:
            must += 1
            must_hit += result.escalate
        elif wanted is False:
            must_not += 1
            must_not_hit += result.escalate
        if not result.escalate:
            auto += 1
            auto_right += right and wanted is not True
        if not right or (wanted is not None and wanted != result.escalate):
            mistakes.append(str(record.get("id", total)))
    f1s = []
    for tp, fp, fn in counts.values():
        if tp + fp + fn:
            f1s.append(_ratio(2 * tp, 2 * tp + fp + fn))
    return CorpusScores(
        messages=total,
        exact=_ratio(exact, total),
        macro_f1=sum(f1s) / len(f1s) if f1s else 1.0,
        escalation_recall=_ratio(must_hit, must),
        false_escalation=_ratio(must_not_hit, must_not, empty=0.0),
        auto_precision=_ratio(auto_right, auto),
        mistakes=tuple(mistakes),
    )
