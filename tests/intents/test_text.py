"""Normalisation and tokenisation: folding, HTML, citations kept intact."""

from __future__ import annotations

import pytest

from dsr.intents.text import fold, plain_text, tokenize


@pytest.mark.parametrize(
    ("word", "folded"),
    [("Löschung", "loeschung"), ("LOESCHUNG", "loeschung"), ("Straße", "strasse"), ("Grüße", "gruesse"),
     ("Wiśniewski", "wisniewski"), ("ÄNDERUNG", "aenderung"), ("sakladığınızı", "sakladiginizi"),
     ("usunięcie", "usuniecie"), ("Łódź", "lodz")],
)
def test_fold_spells_out_umlauts_and_case(word: str, folded: str) -> None:
    assert fold(word) == folded


def test_plain_text_decomposed_umlauts_become_nfc() -> None:
    assert plain_text("Lo\u0308schung") == "Löschung"


def test_html_becomes_text_with_entities_and_breaks() -> None:
    text = plain_text("<p>Sehr geehrte Damen,</p><p>M&uuml;ller&nbsp;hier<br>Zeile 2</p><style>p{}</style>")
    assert "Müller hier" in text
    assert "Zeile 2" in text.splitlines()[-1]
    assert "<" not in text and "{" not in text


def test_whitespace_is_collapsed() -> None:
    assert plain_text("a\r\n\r\n\r\n\r\nb\t\t c") == "a\n\nb c"


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("gem. Art. 17 DSGVO", "art:17"),
        ("Art. 21 Abs. 2 DS-GVO", "art:21:2"),
        ("Article 15(3) GDPR", "art:15:3"),
        ("Art. 18 Abs. 1 lit. d DSGVO", "art:18:1:d"),
        ("§ 34 BDSG", "bdsg:34"),
        ("Artikel 20", "art:20"),
        ("Art 15", "art:15"),
    ],
)
def test_citations_are_single_tokens(text: str, token: str) -> None:
    assert token in [t.norm for t in tokenize(text)]


def test_word_art_without_number_is_a_word() -> None:
    assert [t.norm for t in tokenize("jede Art von Daten")] == ["jede", "art", "von", "daten"]


def test_spans_point_into_the_text() -> None:
    text = "Bitte Löschung nach Art. 17 DSGVO"
    words = [t for t in tokenize(text) if ":" not in t.norm]
    assert [t.norm for t in words] == ["bitte", "loeschung", "nach"]
    assert [fold(text[t.start : t.end]) for t in words] == [t.norm for t in words]
    citation = next(t for t in tokenize(text) if t.norm == "art:17")
    assert text[citation.start : citation.end] == "Art. 17 DSGVO"


def test_addresses_and_links_are_not_words() -> None:
    norms = [t.norm for t in tokenize("an kanzlei@steuer.de oder https://x.de/loeschen schreiben")]
    assert norms == ["an", "oder", "schreiben"]


def test_bare_domains_are_not_words() -> None:
    """A cue word inside a domain ("Ihr Update von mein-support.com") is no support matter."""
    norms = [t.norm for t in tokenize("Ihr Update von mein-support.com und shop.beispiel.de/abmelden heute")]
    assert norms == ["ihr", "update", "von", "und", "heute"]


@pytest.mark.parametrize(("text", "norms"), [
    ("Ich will raus.Es reicht", ["ich", "will", "raus", "es", "reicht"]),
    ("meine Daten.Bitte löschen", ["meine", "daten", "bitte", "loeschen"]),
])
def test_words_run_together_at_a_full_stop_stay_words(text: str, norms: list[str]) -> None:
    """Only a short list of top-level domains in lower case makes a domain: "raus.Es" keeps its words."""
    assert [t.norm for t in tokenize(text)] == norms


def test_sentences_and_clauses() -> None:
    tokens = tokenize("Bitte nicht löschen, nur ändern. Danke")
    assert tokens[0].sentence == tokens[3].sentence != tokens[-1].sentence
    assert tokens[2].clause != tokens[4].clause


@pytest.mark.parametrize(
    "text",
    [
        "Ich widerspreche gemäß Art. 21 Abs. 1 lit. f DSGVO der Verarbeitung meiner Daten.",
        "Am 3. Oktober bat ich z. B. Herrn Dr. K. Braun um Auskunft.",
        "Meine Kundennr. lautet 4471, Vertrag Nr. 12 ggf. auch bzw. 13.",
    ],
)
def test_abbreviations_dates_and_citations_end_no_sentence(text: str) -> None:
    assert {token.sentence for token in tokenize(text)} == {0}


def test_a_period_after_a_number_or_word_still_ends_a_sentence() -> None:
    tokens = tokenize("Mein Auftrag war 4471. Bitte löschen Sie alles. Danke")
    assert [t.sentence for t in tokens if t.norm in ("4471", "bitte", "danke")] == [0, 1, 2]
