"""A general question about privacy ("Wo finde ich Ihre Datenschutzerklärung?") gets a clarification
letter that names the privacy notice and the DPO (or the privacy contact) and offers the rights."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dsr.controllers import load_profile
from dsr.intents.rights import Right
from dsr.replies import ReplyKind, render_reply
from dsr.replies.samples import general_question, sample_context
from tests.support.replies import with_form

READINGS = (Right.ACCESS, Right.RECTIFICATION, Right.ERASURE)


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("controller", ["kmb2", "komsa"])
def test_general_question_names_notice_and_dpo_and_offers_rights(controller: str, language: str) -> None:
    profile = load_profile(controller)
    if not profile.privacy_notice_url:
        profile = profile.model_copy(update={"privacy_notice_url": "https://example.org/datenschutz"})
    ctx = replace(sample_context(ReplyKind.CLARIFICATION, controller, language), readings=READINGS,
                  marketing_applied=False, general_question=True)
    reply = render_reply(ReplyKind.CLARIFICATION, ctx, profile, language=language)
    body = " ".join(reply.text.split(profile.legal_name + ",")[0].split())  # before the footer, unwrapped
    assert profile.privacy_notice_url in body and profile.privacy_notice_url in reply.chat
    if profile.dpo is not None:
        assert profile.dpo.name in body and profile.dpo.name in reply.chat
    else:
        assert str(profile.contact_email) in body and str(profile.contact_email) in reply.chat
    assert "(3)" in body and "(3)" in reply.chat
    assert ("Werbesperrliste" not in body) and ("suppression list" not in body)


def test_general_question_in_du_form() -> None:
    profile = with_form(load_profile("komsa"), "Du")
    ctx = replace(sample_context(ReplyKind.CLARIFICATION, "komsa"), readings=READINGS,
                  marketing_applied=False, general_question=True)
    text = " ".join(render_reply(ReplyKind.CLARIFICATION, ctx, profile).text.split())
    assert "erreichst Du" in text and "Möchtest Du" in text


def test_ordinary_clarification_says_nothing_of_the_notice() -> None:
    profile = load_profile("komsa")
    ctx = replace(sample_context(ReplyKind.CLARIFICATION, "komsa"), readings=READINGS,
                  marketing_applied=False)
    assert profile.dpo is not None
    assert profile.dpo.name not in " ".join(render_reply(ReplyKind.CLARIFICATION, ctx, profile).text.split())


# The question each form asks right before the numbered list (mail and chat, de and en).
QUESTIONS = {"Sie": ("Geht es Ihnen um Folgendes?", "Geht es um:"),
             "Du": ("Geht es Dir um Folgendes?", "Geht es um:"),
             "en": ("Is it about the following?", "Is it about:")}


def _before_list(text: str) -> tuple[str, str]:
    """The text before the numbered list and the paragraph that leads into it, both unwrapped."""
    head = text[:text.index("(1)")].rstrip(" \n-•")
    return " ".join(head.split()), " ".join(head.split("\n\n")[-1].split())


@pytest.mark.parametrize("form", ["Sie", "Du", "en"])
@pytest.mark.parametrize("controller", ["kmb2", "komsa"])
def test_the_notice_and_the_dpo_come_before_the_question_that_leads_into_the_list(
        controller: str, form: str) -> None:
    """Not between "Geht es Ihnen um Folgendes?" and the list it asks about (mail and chat)."""
    language = "en" if form == "en" else "de"
    profile = with_form(load_profile(controller), "Sie" if form == "en" else form).model_copy(
        update={"privacy_notice_url": "https://example.org/datenschutz"})
    reply = render_reply(ReplyKind.CLARIFICATION, general_question(controller, language), profile,
                         language=language)
    contact = profile.dpo.name if profile.dpo is not None else str(profile.contact_email)
    for text, question in zip((reply.text, reply.chat), QUESTIONS[form], strict=True):
        head, lead = _before_list(text)
        assert lead.endswith(question), lead
        assert profile.privacy_notice_url not in lead and contact not in lead
        assert head.index(profile.privacy_notice_url) < head.index(contact) < head.rindex(question)
