"""The lexicon loader: valid data loads; a mistake names file, line and problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dsr.intents.lexicon import LEXICON_DIR, LexiconError, load_lexicon
from dsr.intents.reasons import REASON_CODES

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "ARCHITECTURE.md"


@pytest.fixture
def lexicon_copy(tmp_path: Path) -> Path:
    target = tmp_path / "lexicon"
    shutil.copytree(LEXICON_DIR, target)
    return target


def _append(path: Path, text: str) -> int:
    """Append `text`; returns the line number where it starts."""
    before = path.read_text(encoding="utf-8")
    path.write_text(before + text, encoding="utf-8")
    return before.count("\n") + 1


def test_builtin_lexicon_loads_with_every_right() -> None:
    lexicon = load_lexicon()
    labels = {r.label for r in lexicon.rules if r.kind == "right"}
    assert labels == {"access", "rectification", "erasure", "restriction", "portability", "objection",
                      "marketing_objection", "consent_withdrawal", "automated_decision", "complaint"}
    assert len({r.id for r in lexicon.rules}) == len(lexicon.rules)
    assert "auskunftei*" in lexicon.protected


def test_reason_codes_match_architecture_doc() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    for code in REASON_CODES:
        assert f"`{code}`" in text


def test_toml_syntax_error_names_line(lexicon_copy: Path) -> None:
    path = lexicon_copy / "access.toml"
    line = _append(path, "\n[[rule]\nid = 'x'\n")
    with pytest.raises(LexiconError) as caught:
        load_lexicon(lexicon_copy)
    assert caught.value.path == path
    assert caught.value.line == line + 1
    assert "TOML syntax" in str(caught.value)


def test_unknown_key_is_reported_with_rule_line(lexicon_copy: Path) -> None:
    path = lexicon_copy / "erasure.toml"
    line = _append(path, '\n[[rule]]\nid = "typo"\nphrases = ["weg damit"]\nwieght = 2\n')
    with pytest.raises(LexiconError) as caught:
        load_lexicon(lexicon_copy)
    assert caught.value.line == line + 1
    assert "unknown key(s) wieght" in caught.value.problem
    assert str(caught.value).startswith(f"{path}:{line + 1}:")


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ('id = "a"\nphrases = ["x|"]', "empty alternative"),
        ('id = "a"\nphrases = ["lo*"]', "shorter than 3"),
        ('id = "a"\nphrases = ["*ab"]', "shorter than 4"),
        ('id = "a"\nphrases = ["$$$"]', "is not a word"),
        ('id = "a"', "exactly one of"),
        ('id = "a"\nphrases = ["x"]\nall = ["a", "b"]', "exactly one of"),
        ('id = "a"\nall = ["a", "b", "c"]\nwindow = 2', "smaller than the number of slots"),
        ('id = "a"\nall = ["zwei worte", "b"]', "must be one word"),
        ('id = "a"\nphrases = ["x"]\nweight = 7', "'weight'"),
        ('id = "Bad Id"\nphrases = ["x"]', "'id' must be snake_case"),
        ('id = "citation"\nphrases = ["x"]', "duplicate id"),
        ('id = "a"\nphrases = ["x"]\nnegatable = "no"', "'negatable'"),
    ],
)
def test_rule_mistakes_are_precise(lexicon_copy: Path, rule: str, problem: str) -> None:
    path = lexicon_copy / "access.toml"
    line = _append(path, f"\n[[rule]]\n{rule}\n")
    with pytest.raises(LexiconError) as caught:
        load_lexicon(lexicon_copy)
    assert caught.value.path == path
    assert problem in caught.value.problem
    assert caught.value.line >= line


def test_bad_phrase_points_at_its_own_line(lexicon_copy: Path) -> None:
    path = lexicon_copy / "access.toml"
    line = _append(path, '\n[[rule]]\nid = "multi"\nphrases = [\n  "gut",\n  "schlecht|",\n]\n')
    with pytest.raises(LexiconError) as caught:
        load_lexicon(lexicon_copy)
    assert caught.value.line == line + 5


def test_label_must_match_file(lexicon_copy: Path) -> None:
    path = lexicon_copy / "access.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('label = "access"', 'label = "acess"'), "utf-8")
    with pytest.raises(LexiconError, match="'label' must be 'access'"):
        load_lexicon(lexicon_copy)


def test_cue_reason_must_be_a_known_code(lexicon_copy: Path) -> None:
    path = lexicon_copy / "cues.toml"
    line = _append(path, '\n[[cue]]\nid = "x"\nreason = "angry"\nphrases = ["wut"]\n')
    with pytest.raises(LexiconError) as caught:
        load_lexicon(lexicon_copy)
    assert caught.value.line == line + 1
    assert "not an escalation code" in caught.value.problem


def test_false_friend_must_suppress_known_labels(lexicon_copy: Path) -> None:
    path = lexicon_copy / "modifiers.toml"
    text = path.read_text(encoding="utf-8").replace(
        "[words]", '[[false_friend]]\nid = "x"\nsuppresses = ["deletion"]\nphrases = ["a b"]\n\n[words]'
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LexiconError, match="'suppresses' must list labels"):
        load_lexicon(lexicon_copy)


def test_missing_file_is_reported(lexicon_copy: Path) -> None:
    (lexicon_copy / "portability.toml").unlink()
    with pytest.raises(LexiconError, match="missing lexicon file"):
        load_lexicon(lexicon_copy)


def test_dpo_can_add_a_rule(lexicon_copy: Path) -> None:
    from dsr.intents.classifier import Classifier

    before = Classifier(load_lexicon(lexicon_copy)).classify("", "Bitte Datenhygiene durchführen", "email")
    assert [r.value for r in before.labels] == ["other"]
    _append(lexicon_copy / "erasure.toml", '\n[[rule]]\nid = "hygiene"\nphrases = ["datenhygiene"]\n')
    after = Classifier(load_lexicon(lexicon_copy)).classify("", "Bitte Datenhygiene durchführen", "email")
    assert [r.value for r in after.labels] == ["erasure"]
    assert after.evidence[0].rule == "erasure.hygiene"


def test_unknown_word_class_is_reported(lexicon_copy: Path) -> None:
    line = _append(lexicon_copy / "erasure.toml", '\n[[rule]]\nid = "x"\nall = ["@wipe_out", "daten"]\n')
    with pytest.raises(LexiconError, match="unknown word class '@wipe_out'") as caught:
        load_lexicon(lexicon_copy)
    assert caught.value.line >= line


def test_a_word_added_to_a_class_reaches_every_frame_using_it(lexicon_copy: Path) -> None:
    from dsr.intents.classifier import Classifier

    body = "Bitte radiert meine Daten aus."
    before = Classifier(load_lexicon(lexicon_copy)).classify("", body, "email")
    assert "erasure" not in [r.value for r in before.labels]
    path = lexicon_copy / "frames.toml"
    text = path.read_text(encoding="utf-8").replace('delete = "', 'delete = "radiert|')
    path.write_text(text, encoding="utf-8")
    after = Classifier(load_lexicon(lexicon_copy)).classify("", body, "email")
    assert "erasure" in [r.value for r in after.labels]
    assert any(e.rule == "erasure.frame_delete_my_data" for e in after.evidence)


def test_routine_reason_must_be_a_routine_code(lexicon_copy: Path) -> None:
    path = lexicon_copy / "routine.toml"
    line = _append(path, '\n[[routine]]\nid = "x"\nreason = "complaint"\nphrases = ["quittung"]\n')
    with pytest.raises(LexiconError, match="is not one of") as caught:
        load_lexicon(lexicon_copy)
    assert caught.value.line == line + 1


def test_spelling_variant_must_be_one_word(lexicon_copy: Path) -> None:
    _append(lexicon_copy / "vocabulary.toml", '"mach weg" = "loeschen"\n')
    with pytest.raises(LexiconError, match="the variant must be one plain word"):
        load_lexicon(lexicon_copy)
