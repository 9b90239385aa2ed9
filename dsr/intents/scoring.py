"""Quality figures of the classifier on a labelled corpus (JSONL records with the gold labels).

The figures a DPO needs before trusting automation:

- exact-set accuracy: labels ⊆ predicted ⊆ labels ∪ acceptable;
- requests ignored: messages whose gold labels name a right but that the pipeline would set
  aside as "not a request" (`dsr.intents.routing`: route `ignore`);
- auto-handled precision: of the messages answered without a person (route `handle`), the share
  with the right label set that did not need a person;
- escalation recall and false escalation, against the `escalate` field ("a careful DPO wants a
  human to look"): a message counts as escalated when the DPO sees it at once (route `escalate`
  or `triage`, or a consent withdrawal beyond advertising, which the pipeline hands to a person).
  A clarification question (route `clarify`) is put to the sender, not to a person at the
  controller, so it counts as neither; `asked` is its share of all messages, split by cause:
  `asked_by_model` were readings the rules alone would have answered automatically but the
  learned second signal doubted (evidence `model.disagrees`), the rest come from the rules'
  own weak or ambiguous readings; `asked_right` / `asked_by_model_right` count the questions
  put on a reading that was exactly right and needed no person (questions nobody needed).  The figures that
  count a clarification question as an escalation (the classifier's `escalate` flag, used until
  2026-12-07) are kept beside them as `escalation_recall_any` / `false_escalation_any`;
- per label precision and recall, and a confusion table (gold label -> predicted labels);
- per escalation reason: how often the route carried it, how often the DPO saw the message at
  once because of it, and how often the label agreed (`escalate` true) or not (false).

Records exported by `dsr corpus export-corrections` have the same format and are read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsr.intents.consent_scope import ConsentScope, consent_scope
from dsr.intents.model import Classification
from dsr.intents.rights import Right
from dsr.intents.routing import Decision, Route, decide, reaches_person
from dsr.intents.secondsignal import RULE_ID as MODEL_RULE_ID

LABELS: tuple[str, ...] = tuple(r.value for r in Right)
MISSED = "-"  # confusion column: a gold label the prediction lacks


@dataclass(frozen=True, slots=True)
class LabelScores:
    """Precision and recall of one label; `support` = messages carrying it in gold."""

    label: str
    precision: float
    recall: float
    support: int
    predicted: int


@dataclass(frozen=True, slots=True)
class ReasonScores:
    """How one escalation reason fared: carried by the route, sent to a person, label agreement."""

    reason: str
    fired: int  # messages whose route carries the reason (escalation, triage or clarification)
    to_person: int  # of those, the DPO saw at once
    agreed: int  # of those sent to a person, the label says escalate (true)
    disagreed: int  # of those sent to a person, the label says do not escalate (false)

    @property
    def agreement(self) -> float:
        return _ratio(self.agreed, self.agreed + self.disagreed)


@dataclass(frozen=True, slots=True)
class CorpusScores:
    """Figures for one corpus; rates are 0..1."""

    messages: int
    exact: float  # labels ⊆ predicted ⊆ labels ∪ acceptable
    macro_f1: float
    escalation_recall: float  # of the messages that must be escalated: the DPO sees them at once
    false_escalation: float  # of the messages that must not be escalated: the DPO sees them at once
    auto_precision: float  # of the messages handled or set aside unseen: right labels, no human needed
    mistakes: tuple[str, ...]  # ids with a wrong label set or a wrong escalation
    requests: int = 0  # messages whose gold labels name a right
    ignored: int = 0  # of those, read as `other` and not sent to a person
    auto_handled: int = 0  # messages answered without a person (a right predicted, no escalation)
    auto_handled_right: int = 0
    per_label: tuple[LabelScores, ...] = ()
    confusion: dict[str, dict[str, int]] | None = None  # gold label -> predicted label (or "-") -> n
    ignored_ids: tuple[str, ...] = ()
    asked: int = 0  # messages answered with a clarification question to the sender
    escalation_recall_any: float = 1.0  # as escalation_recall, a clarification question counted as escalation
    false_escalation_any: float = 0.0  # as false_escalation, a clarification question counted as escalation
    per_reason: tuple[ReasonScores, ...] = ()  # most often fired first
    asked_by_model: int = 0  # clarification questions the learned second signal caused
    asked_right: int = 0  # clarification questions on a reading that was right and needed no person
    asked_by_model_right: int = 0  # of `asked_by_model`, on a right reading

    @property
    def ignored_share(self) -> float:
        return _ratio(self.ignored, self.requests, empty=0.0)

    @property
    def asked_share(self) -> float:
        return _ratio(self.asked, self.messages, empty=0.0)

    @property
    def asked_by_model_share(self) -> float:
        return _ratio(self.asked_by_model, self.messages, empty=0.0)

    @property
    def auto_handled_precision(self) -> float:
        return _ratio(self.auto_handled_right, self.auto_handled)

    def lines(self) -> list[str]:
        return [
            f"messages                      {self.messages}",
            f"exact-set accuracy            {self.exact:.3f}",
            f"macro-F1                      {self.macro_f1:.3f}",
            f"requests ignored              {self.ignored_share:.3f} ({self.ignored} of {self.requests})",
            f"auto-handled precision        {self.auto_handled_precision:.3f} "
            f"({self.auto_handled_right} of {self.auto_handled})",
            f"escalation recall             {self.escalation_recall:.3f} (DPO sees it at once)",
            f"false-escalation rate         {self.false_escalation:.3f} (DPO sees it at once)",
            f"clarification questions       {self.asked_share:.3f} ({self.asked} of {self.messages})",
            f"  caused by the second signal {self.asked_by_model} ({self.asked_by_model_right} on a right "
            f"reading), by the rules {self.asked - self.asked_by_model} "
            f"({self.asked_right - self.asked_by_model_right} on a right reading)",
            f"  counting a question as escalation: recall {self.escalation_recall_any:.3f}, "
            f"false escalation {self.false_escalation_any:.3f}",
            f"precision without a human     {self.auto_precision:.3f}",
        ]

    def label_lines(self) -> list[str]:
        out = [f"{'label':<22} {'precision':>9} {'recall':>7} {'gold':>5} {'predicted':>9}"]
        for item in self.per_label:
            out.append(f"{item.label:<22} {item.precision:>9.3f} {item.recall:>7.3f} {item.support:>5} "
                       f"{item.predicted:>9}")
        return out

    def reason_lines(self) -> list[str]:
        """Per escalation reason: fired, sent to the DPO at once, and whether the labels agreed."""
        out = [f"{'escalation reason':<26} {'fired':>5} {'to DPO':>6} {'label yes':>9} {'label no':>8} "
               f"{'agreement':>9}"]
        for item in self.per_reason:
            out.append(f"{item.reason:<26} {item.fired:>5} {item.to_person:>6} {item.agreed:>9} "
                       f"{item.disagreed:>8} {item.agreement:>9.3f}")
        return out

    def confusion_lines(self) -> list[str]:
        """Rows: gold labels; columns: predicted labels (abbreviated), "-" = gold label missed."""
        if not self.confusion:
            return []
        columns = [*LABELS, MISSED]
        heads = [_short(c) for c in columns]
        out = ["gold \\ predicted      " + " ".join(f"{h:>5}" for h in heads)]
        for label in LABELS:
            row = self.confusion.get(label, {})
            if not any(row.values()):
                continue
            out.append(f"{label:<22} " + " ".join(f"{row.get(c, 0) or '.':>5}" for c in columns))
        out.append("columns: " + ", ".join(f"{_short(c)}={c}" for c in LABELS) + ", -=label missed")
        return out


def _short(label: str) -> str:
    if label == MISSED:
        return MISSED
    parts = label.split("_")
    return "".join(p[:3] for p in parts)[:5] if len(parts) > 1 else label[:5]


def read_corpus(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON Lines corpus file, blank lines skipped."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _pipeline_route(decision: Decision, record: dict[str, Any]) -> Decision:
    """The route as the pipeline takes it: a consent withdrawal that is not only about advertising
    is handed to a person on receipt (`dsr.pipeline.steps`, Art. 7(3) with 17(1)(b))."""
    labels = decision.labels
    if (decision.route is Route.HANDLE and Right.CONSENT_WITHDRAWAL in labels
            and Right.MARKETING_OBJECTION not in labels):
        text = f"{record.get('subject', '')}\n{record.get('body', '')}"
        if consent_scope(text, labels).scope is ConsentScope.REVIEW:
            return Decision(Route.ESCALATE, labels=labels, reasons=("consent_withdrawal_review",))
    return decision


def _ratio(numerator: int, denominator: int, empty: float = 1.0) -> float:
    return numerator / denominator if denominator else empty


def score(records: Iterable[dict[str, Any]],
          classify: Callable[[str, str, str], Classification]) -> CorpusScores:
    """Classify every record and compare with its gold labels and escalation."""
    total = exact = 0
    must = must_hit = must_not = must_not_hit = auto = auto_right = 0
    must_any = must_not_any = asked = 0
    asked_by_model = asked_right = asked_by_model_right = 0
    requests = ignored = handled = handled_right = 0
    counts = {label: [0, 0, 0, 0] for label in LABELS}  # tp, fp, fn, predicted
    confusion: dict[str, dict[str, int]] = {label: {} for label in LABELS}
    mistakes: list[str] = []
    ignored_ids: list[str] = []
    reason_counts: dict[str, list[int]] = {}  # reason -> fired, to person, agreed, disagreed
    for record in records:
        total += 1
        ident = str(record.get("id", total))
        result = classify(record.get("subject", ""), record.get("body", ""), record.get("channel", "email"))
        predicted = {label.value for label in result.labels}
        gold = set(record["labels"])
        allowed = gold | set(record.get("acceptable", []))
        right = gold <= predicted <= allowed
        exact += right
        for label, cell in counts.items():
            if label in predicted:
                cell[3] += 1
            if label in predicted and label in gold:
                cell[0] += 1
            elif label in predicted and label not in allowed:
                cell[1] += 1
            elif label in gold and label not in predicted:
                cell[2] += 1
        for label in gold & set(LABELS):
            row = confusion[label]
            for column in predicted or {MISSED}:
                row[column] = row.get(column, 0) + 1
            if label not in predicted:
                row[MISSED] = row.get(MISSED, 0) + 1
        decision = _pipeline_route(decide(result), record)
        to_person = reaches_person(decision)
        wanted = record.get("escalate")
        if decision.route is Route.CLARIFY:
            by_model = any(item.rule == MODEL_RULE_ID for item in result.evidence)
            needless = right and wanted is not True
            asked += 1
            asked_by_model += by_model
            asked_right += needless
            asked_by_model_right += by_model and needless
        for reason in dict.fromkeys(decision.reasons):
            cell = reason_counts.setdefault(reason, [0, 0, 0, 0])
            cell[0] += 1
            cell[1] += to_person
            cell[2] += to_person and wanted is True
            cell[3] += to_person and wanted is False
        if wanted is True:
            must += 1
            must_hit += to_person
            must_any += result.escalate
        elif wanted is False:
            must_not += 1
            must_not_hit += to_person
            must_not_any += result.escalate
        if decision.route in (Route.HANDLE, Route.IGNORE):
            auto += 1
            auto_right += right and wanted is not True
        if gold - {Right.OTHER.value}:
            requests += 1
            if decision.route is Route.IGNORE:
                ignored += 1
                ignored_ids.append(ident)
        if decision.route is Route.HANDLE:
            handled += 1
            handled_right += right and wanted is not True
        if not right or (wanted is not None and wanted != to_person):
            mistakes.append(ident)
    f1s = []
    per_label = []
    for label, (tp, fp, fn, made) in counts.items():
        if tp + fp + fn:
            f1s.append(_ratio(2 * tp, 2 * tp + fp + fn))
        if tp + fn or made:
            per_label.append(LabelScores(label, _ratio(tp, tp + fp), _ratio(tp, tp + fn), tp + fn, made))
    return CorpusScores(
        messages=total,
        exact=_ratio(exact, total),
        macro_f1=sum(f1s) / len(f1s) if f1s else 1.0,
        escalation_recall=_ratio(must_hit, must),
        false_escalation=_ratio(must_not_hit, must_not, empty=0.0),
        auto_precision=_ratio(auto_right, auto),
        mistakes=tuple(mistakes),
        requests=requests,
        ignored=ignored,
        auto_handled=handled,
        auto_handled_right=handled_right,
        per_label=tuple(per_label),
        confusion=confusion,
        ignored_ids=tuple(ignored_ids),
        asked=asked,
        asked_by_model=asked_by_model,
        asked_right=asked_right,
        asked_by_model_right=asked_by_model_right,
        escalation_recall_any=_ratio(must_any, must),
        false_escalation_any=_ratio(must_not_any, must_not, empty=0.0),
        per_reason=tuple(ReasonScores(reason, *cell) for reason, cell in
                         sorted(reason_counts.items(), key=lambda kv: (-kv[1][0], kv[0]))),
    )
