"""A general question about privacy ("Wo finde ich Ihre Datenschutzerklärung?") gets a clarification
letter that names the privacy notice and the DPO (or the privacy contact) and offers the rights."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dsr.controllers import load_profile
from dsr.intents.rights import Right
from dsr.replies import ReplyKind, render_reply
from dsr.replies.samples import sample_context
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
