"""Corpus floors: the classifier's figures on every labelled file may not fall below these.

The figures are regression floors (a little below what the classifier reaches today), not the
targets of issue 13: README.md ("Classification quality") has the held-out figures and the
targets.  Files: `corpus_hard.jsonl` (our own), and in `corpus/` the shared dev corpus and the
four training files of issue 13 (copied from the label team's set, unchanged; see LABELS.md).

The earlier floors here (exact ≥ 0.95, false escalation ≤ 0.08 on dev and hard) held a
classifier that called every message without a recognised right `other` and set it aside;
since issue 13 such a message goes to a person unless there is positive evidence that it is
no request, which costs false escalations on these two files by design.

The shipped classifier carries the learned second signal (`dsr.intents.secondsignal`), trained on
every shipped file: its per-file figures (FLOORS) are therefore in-sample for the model; the
held-out figures (HELD_OUT_FLOORS) train it for each rotation on the other files and dev.jsonl only.

Escalation recall and false escalation count what the DPO sees at once (`dsr.intents.routing`:
an escalation or the triage queue); a clarification question to the sender is neither.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsr.intents import classify, tuning
from dsr.intents.classifier import default_classifier
from dsr.intents.scoring import CorpusScores, read_corpus, score
from dsr.intents.secondsignal import CORPUS_DIR
from dsr.intents.tuning import HeldOut, held_out

HERE = Path(__file__).parent
HARD_CORPUS = HERE / "corpus_hard.jsonl"



# file -> (exact ≥, requests ignored ≤, auto-handled precision ≥, escalation recall ≥, false escalation ≤)
# A requests-ignored floor of 0.005 allows none on a file of about 190 requests.
FLOORS: dict[str, tuple[float, float, float, float, float]] = {
    "corpus_hard.jsonl": (0.94, 0.00, 0.98, 0.98, 0.10),
    "dev.jsonl": (0.97, 0.00, 0.98, 0.98, 0.13),
    "mail-de.jsonl": (0.85, 0.005, 0.92, 0.96, 0.10),
    "chat-and-dialect.jsonl": (0.84, 0.005, 0.87, 0.90, 0.12),
    "formal-and-english.jsonl": (0.85, 0.005, 0.95, 0.98, 0.15),
    "business-cases.jsonl": (0.86, 0.005, 0.90, 0.93, 0.17),
    # Chat probe (153 short messages, written without reading the training files; its errors were
    # then read for rules, so these floors are in-sample for the rules; the model never sees it).
    "probes/chat.jsonl": (0.90, 0.005, 0.97, 0.95, 0.04),
    # probes/business.jsonl (145, the two controllers' business; 0.731 exact before its fixes); 0.890 after
    # business2 (separable verbs, objection after reported speech)
    "probes/business.jsonl": (0.88, 0.01, 0.93, 0.74, 0.29),
    # probes/letters.jsonl (122 formal letters: generator-style, lawyers, heirs, authorities, English;
    # written and labelled without the training files; 0.820 exact, 0.833 automatic precision
    # before its fixes, 0.918 / 0.973 (36 of 37) / 0.920 / 0.061 after; its errors were then read,
    # so these floors are in-sample for the rules)
    "probes/letters.jsonl": (0.90, 0.005, 0.95, 0.90, 0.08),
    # probes/unseen.jsonl (161: e-mail and chat of every kind, ~60 % requests, ~25 % escalation
    # cases, ~15 % noise), written and labelled without reading the lexicon, the classifier or any
    # other corpus, scored once: 0.789 exact, 0 of 130 requests ignored, 0.974 (38 of 39)
    # automatic precision, 0.892 escalation recall, 0.103 false escalation. NEVER TUNED ON: do not
    # read it for rules; it is the only honest estimate for unseen messages we have.
    "probes/unseen.jsonl": (0.76, 0.01, 0.94, 0.86, 0.13),
}
# Held out (issue 13): thresholds chosen on the other three training files, figures on this one
# (`dsr classify --heldout`, README "Classification quality"); same columns as FLOORS.
HELD_OUT_FLOORS: dict[str, tuple[float, float, float, float, float]] = {
    "mail-de.jsonl": (0.87, 0.005, 0.96, 0.96, 0.075),
    "chat-and-dialect.jsonl": (0.855, 0.005, 0.96, 0.90, 0.08),
    "formal-and-english.jsonl": (0.85, 0.005, 0.97, 0.98, 0.12),
    "business-cases.jsonl": (0.86, 0.005, 0.95, 0.95, 0.15),
}
# Held out: share of messages answered with a clarification question, at most (today 0.412, 0.368,
# 0.376, 0.372; before the thresholds were chosen on out-of-file model readings 0.412, 0.368,
# 0.384, 0.388). formal-and-english 0.38 -> 0.39: general questions about the privacy notice or
# the DPO (t3-020, t3-042, t3-228) get a clarification question instead of the triage queue.
HELD_OUT_ASKED: dict[str, float] = {
    "mail-de.jsonl": 0.42,
    "chat-and-dialect.jsonl": 0.38,
    "formal-and-english.jsonl": 0.39,
    "business-cases.jsonl": 0.38,
}


def _path(name: str) -> Path:
    if name.startswith("probes/"):
        return HERE / name
    return HARD_CORPUS if name == HARD_CORPUS.name else CORPUS_DIR / name


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_corpus_figures_hold_their_floors(name: str) -> None:
    records = read_corpus(_path(name))
    assert len(records) >= 80
    _assert_floors(score(records, classify), FLOORS[name])


def _assert_floors(result: CorpusScores, floors: tuple[float, float, float, float, float]) -> None:
    exact, ignored, precision, recall, false_escalation = floors
    figures = "\n".join(result.lines())
    assert result.exact >= exact, figures
    assert result.ignored_share <= ignored, (figures, result.ignored_ids)
    assert result.auto_handled_precision >= precision, figures
    assert result.escalation_recall >= recall, figures
    assert result.false_escalation <= false_escalation, figures


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_corpus_records_are_well_formed(name: str) -> None:
    records = read_corpus(_path(name))
    assert len({r["id"] for r in records}) == len(records)
    for record in records:
        assert isinstance(record["labels"], list) and record["labels"], record["id"]
        assert record["channel"] in ("email", "telegram"), record["id"]
        assert record["escalate"] in (True, False, None), record["id"]


@pytest.fixture(scope="module")
def rotated() -> dict[str, HeldOut]:
    files = {name: read_corpus(CORPUS_DIR / name) for name in HELD_OUT_FLOORS}
    dev = read_corpus(CORPUS_DIR / "dev.jsonl")  # trains the second signal too, as `dsr classify --heldout`
    return {item.name: item for item in held_out(default_classifier(), files, extra=dev)}


@pytest.mark.parametrize("name", sorted(HELD_OUT_FLOORS))
def test_held_out_figures_hold_their_floors(rotated: dict[str, HeldOut], name: str) -> None:
    _assert_floors(rotated[name].scores, HELD_OUT_FLOORS[name])
    assert rotated[name].scores.asked_share <= HELD_OUT_ASKED[name], "\n".join(rotated[name].scores.lines())


def test_thresholds_are_chosen_without_the_held_out_file(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {name: read_corpus(CORPUS_DIR / name)[:40] for name in HELD_OUT_FLOORS}
    seen: list[set[str]] = []
    choose = tuning.choose_thresholds

    def spy(*args: object, **kwargs: object) -> object:
        seen.append({r["id"] for r in args[1]})  # type: ignore[attr-defined]
        return choose(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tuning, "choose_thresholds", spy)
    results = held_out(default_classifier(), files)
    assert [item.name for item in results] == list(files)
    for item, training in zip(results, seen, strict=True):
        held = {r["id"] for r in files[item.name]}
        assert not training & held, item.name
        assert training == {r["id"] for name, rs in files.items() if name != item.name for r in rs}
