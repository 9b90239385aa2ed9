"""Quality targets on the shared dev corpus and on our own hard corpus (issue 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsr.intents import classify
from dsr.intents.scoring import CorpusScores, read_corpus, score
from tests.conftest import missing_server

REPO = Path(__file__).resolve().parents[2]
DEV_CORPUS = REPO.parent / "shared" / "corpus" / "dev.jsonl"
HARD_CORPUS = Path(__file__).with_name("corpus_hard.jsonl")


def _assert_targets(result: CorpusScores) -> None:
    assert result.exact >= 0.95, result.mistakes
    assert result.escalation_recall >= 0.95, result.mistakes
    assert result.false_escalation <= 0.08, result.mistakes
    assert result.auto_precision >= 0.98, result.mistakes


def test_dev_corpus_meets_targets() -> None:
    if not DEV_CORPUS.exists():
        missing_server(f"shared dev corpus {DEV_CORPUS}")
    records = read_corpus(DEV_CORPUS)
    assert len(records) >= 100
    _assert_targets(score(records, classify))


def test_own_hard_corpus_meets_targets() -> None:
    records = read_corpus(HARD_CORPUS)
    assert len(records) >= 80
    assert len({r["id"] for r in records}) == len(records)
    _assert_targets(score(records, classify))


@pytest.mark.parametrize("record", read_corpus(HARD_CORPUS), ids=lambda r: r["id"])
def test_hard_corpus_records_are_well_formed(record: dict[str, object]) -> None:
    labels = record["labels"]
    assert isinstance(labels, list) and labels
    assert record["channel"] in ("email", "telegram")
    assert record["escalate"] in (True, False, None)
