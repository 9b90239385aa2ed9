"""The identity request names the requested facts in the reply's language."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dsr.controllers import ControllerProfile
from dsr.pipeline.identity import FACTS_REQUESTED
from dsr.replies import ReplyKind, render_reply
from dsr.replies.facts import FACT_NAMES_EN, fact_name, fact_names
from dsr.replies.samples import sample_context


def _identity_request(profile: ControllerProfile, language: str, facts: tuple[str, ...]) -> str:
    ctx = replace(sample_context(ReplyKind.IDENTITY_REQUEST, profile.key, language), facts_requested=facts)
    reply = render_reply(ReplyKind.IDENTITY_REQUEST, ctx, profile, language=language)
    return " ".join(f"{reply.subject}\n{reply.text}\n{reply.html}\n{reply.chat}".split())


def test_every_fact_the_ladder_asks_for_has_an_english_name() -> None:
    samples = sample_context(ReplyKind.IDENTITY_REQUEST, "kmb2", "de").facts_requested
    for fact in (*FACTS_REQUESTED, *samples):
        assert fact in FACT_NAMES_EN, fact


def test_english_identity_request_names_the_facts_in_english(profile: ControllerProfile) -> None:
    text = _identity_request(profile, "en", FACTS_REQUESTED)
    assert "Kundennummer" not in text and "Postleitzahl" not in text
    assert "Customer number" in text and "Postcode" in text  # the list in the letter
    assert "Please tell us: customer number and postcode." in text  # the chat sentence


def test_german_identity_request_keeps_the_german_names(profile: ControllerProfile) -> None:
    text = _identity_request(profile, "de", FACTS_REQUESTED)
    assert "Kundennummer und Postleitzahl" in text and "customer number" not in text


def test_a_fact_without_an_english_name_is_shown_in_german_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="dsr.replies.facts"):
        assert fact_names(("Kundennummer", "Lieblingsfarbe"), "en") == ("customer number", "Lieblingsfarbe")
    assert "Lieblingsfarbe" in caplog.text


def test_whitespace_in_a_fact_name_does_not_matter() -> None:
    assert fact_name(" Postleitzahl der bei uns\nhinterlegten Anschrift ", "en") == (
        "postcode of the address we hold for you")
    assert fact_name("Kundennummer", "de") == "Kundennummer"
