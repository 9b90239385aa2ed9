"""Issue 13: the learned second signal can only move a message towards a person, with evidence.

The models here are trained on a few records written for the test, so that they agree or
disagree with the rules on purpose; the shipped one is trained on the corpus files.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsr.intents import tuning
from dsr.intents.classifier import Classifier, default_classifier, train_second_signal
from dsr.intents.lexicon import load_lexicon
from dsr.intents.rights import Right
from dsr.intents.routing import Route, decide
from dsr.intents.scoring import read_corpus, score
from dsr.intents.secondsignal import CORPUS_DIR, RULE_ID, SecondSignal

HELD_OUT = ("mail-de.jsonl", "chat-and-dialect.jsonl", "formal-and-english.jsonl", "business-cases.jsonl")
ERASURE = "Bitte löschen Sie alle meine Daten bei Ihnen."
INVOICE = "Vielen Dank für Ihre Rechnung vom 3. März, ich habe sie heute überwiesen."


@pytest.fixture(scope="module")
def rules() -> Classifier:
    return Classifier(load_lexicon())


def _trained(labels: list[str]) -> SecondSignal:
    records: list[dict[str, Any]] = [
        {"subject": "", "body": ERASURE, "labels": labels},
        {"subject": "", "body": INVOICE, "labels": labels},
        {"subject": "", "body": "Welche Daten haben Sie über mich gespeichert?", "labels": ["access"]},
        {"subject": "", "body": "Schicken Sie mir keine Werbung mehr.", "labels": ["marketing_objection"]},
    ]
    return train_second_signal(records)


def test_rules_alone_answer_the_erasure_request_automatically(rules: Classifier) -> None:
    result = rules.classify("", ERASURE, "email")
    assert result.labels == (Right.ERASURE,)
    assert decide(result).route is Route.HANDLE


def test_a_disagreeing_model_turns_an_automatic_answer_into_a_question(rules: Classifier) -> None:
    model = _trained(["marketing_objection"])
    result = rules.with_second(model).classify("", ERASURE, "email")
    assert result.labels == (Right.ERASURE,)  # the rule reading stays; the model only doubts it
    assert "low_confidence" in result.reasons
    decision = decide(result)
    assert decision.route is Route.CLARIFY
    assert Right.ERASURE in decision.readings
    [item] = [e for e in result.evidence if e.rule == RULE_ID]
    assert item.field == "model" and item.reason == "low_confidence"
    assert "model reads marketing_objection" in item.matched


def test_an_agreeing_model_changes_nothing(rules: Classifier) -> None:
    model = _trained(["erasure"])
    result = rules.with_second(model).classify("", ERASURE, "email")
    assert decide(result).route is Route.HANDLE
    assert not [e for e in result.evidence if e.rule == RULE_ID]


def test_the_model_never_answers_alone(rules: Classifier) -> None:
    """A model that reads erasure in an invoice mail adds no right: the rules' reading decides."""
    model = _trained(["erasure"])
    assert model.probabilities(rules.analyse("", INVOICE, "email").features)["erasure"] >= 0.5
    plain = rules.classify("", INVOICE, "email")
    result = rules.with_second(model).classify("", INVOICE, "email")
    assert result.labels == plain.labels and Right.ERASURE not in result.labels
    assert Right.ERASURE not in decide(result).labels


def test_the_shipped_classifier_carries_a_model_trained_on_every_shipped_file() -> None:
    second = default_classifier().second
    assert second is not None
    shipped = sum(len(read_corpus(path)) for path in CORPUS_DIR.glob("*.jsonl"))
    assert second.examples == shipped


def test_the_held_out_model_never_sees_the_held_out_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per rotation: the model scored on the held-out file and the models whose readings choose the
    thresholds (one per training file, trained without it) never see the held-out file."""
    files = {name: read_corpus(CORPUS_DIR / name)[:30] for name in HELD_OUT}
    dev = read_corpus(CORPUS_DIR / "dev.jsonl")[:20]
    seen: list[set[str]] = []
    train = tuning.train_model

    def spy(analyses: dict[tuning.Key, Any], records: list[dict[str, Any]]) -> SecondSignal:
        seen.append({r["id"] for r in records})
        return train(analyses, records)

    monkeypatch.setattr(tuning, "train_model", spy)
    results = tuning.held_out(default_classifier(), files, extra=dev)
    per_rotation = 1 + (len(files) - 1)  # the rotation's model, then one per training file
    assert len(seen) == len(files) * per_rotation
    dev_ids = {r["id"] for r in dev}
    for index, item in enumerate(results):
        held = {r["id"] for r in files[item.name]}
        others = {name: {r["id"] for r in rs} for name, rs in files.items() if name != item.name}
        full, *folds = seen[index * per_rotation:(index + 1) * per_rotation]
        assert full == set().union(*others.values()) | dev_ids
        assert item.model_examples == len(full)
        for trained in folds:
            assert not trained & held, item.name
            left_out = [name for name, ids in others.items() if not trained & ids]
            assert len(left_out) == 1, item.name  # exactly one training file left out
            rest = (ids for name, ids in others.items() if name != left_out[0])
            assert trained == set().union(*rest) | dev_ids


def test_thresholds_are_chosen_on_readings_of_a_model_that_never_saw_the_file(rules: Classifier) -> None:
    """A training file's messages reach the threshold choice with the readings of a model trained
    without that file: a model trained on an erasure request labelled otherwise doubts it, the
    in-sample model would not."""
    other = [{"id": "a", "subject": "", "body": ERASURE, "labels": ["marketing_objection"]},
             {"id": "b", "subject": "", "body": INVOICE, "labels": ["other"]}]
    mine = [{"id": "c", "subject": "", "body": ERASURE, "labels": ["erasure"]},
            {"id": "d", "subject": "", "body": "Bitte löschen Sie mein Konto.", "labels": ["erasure"]}]
    analyses = tuning._analysed(rules, [*other, *mine])
    fitting = tuning._out_of_file(analyses, {"other": other, "mine": mine}, [])
    read = fitting[tuning._key(mine[1])].model
    assert read is not None
    feats = analyses[tuning._key(mine[1])].features
    in_sample = tuning.train_model(analyses, [*other, *mine]).probabilities(feats)
    assert in_sample["erasure"] > read["erasure"]


def test_score_counts_the_questions_the_model_caused(rules: Classifier) -> None:
    """`dsr classify --score`/`--heldout` split clarification questions by cause (model or rules)
    and count those put on a reading that was right."""
    records: list[dict[str, Any]] = [
        {"id": "m", "subject": "", "body": ERASURE, "labels": ["erasure"], "escalate": False},
        {"id": "r", "subject": "", "body": "Hallo, bitte nehmen Sie mich aus Ihrem System. Danke",
         "labels": ["erasure"], "escalate": False},
    ]
    doubting = rules.with_second(_trained(["marketing_objection"]))
    weak = rules.classify("", records[1]["body"], "email")
    assert decide(weak).route is Route.CLARIFY  # a weak rule reading
    result = score(records, doubting.classify)
    counts = (result.asked, result.asked_by_model, result.asked_by_model_right, result.asked_right)
    assert counts == (2, 1, 1, 2)
    assert "caused by the second signal 1 (1 on a right reading), by the rules 1 (1 on a right reading)" in \
        "\n".join(result.lines())
    alone = score(records, rules.classify)
    assert (alone.asked, alone.asked_by_model) == (1, 0)
