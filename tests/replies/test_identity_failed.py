"""The identity-failed notice says what really happens next: a person, not another code.

After the allowed attempts the pipeline escalates the ticket (`identity_unverified`) and sends no
new code, so the notice must not invite the person to ask for one; it says that the
data-protection team gets in touch and that the statutory date keeps running (Art. 12(3)).
"""

from __future__ import annotations

import pytest

from dsr.controllers import ControllerProfile
from dsr.replies import ReplyKind, format_date_de, render_reply
from dsr.replies.samples import sample_context
from tests.support.replies import with_form


@pytest.mark.parametrize(("language", "form"), [("de", "Sie"), ("de", "Du"), ("en", "Sie")])
def test_identity_failed_promises_a_person_and_the_date_not_a_new_code(
        profile: ControllerProfile, language: str, form: str) -> None:
    ctx = sample_context(ReplyKind.IDENTITY_FAILED, profile.key, language)
    assert ctx.due_date is not None
    reply = render_reply(ReplyKind.IDENTITY_FAILED, ctx, with_form(profile, form), language=language)
    for part in (" ".join(reply.text.split()), " ".join(reply.chat.split())):
        if language == "de":
            assert "Datenschutz-Team meldet sich" in part
            assert format_date_de(ctx.due_date) in part and "Frist" in part
            assert "neuen" not in part and "Antworte hier" not in part and "Antworten Sie hier" not in part
        else:
            assert "data protection team will contact you" in part
            assert f"{ctx.due_date.day} {ctx.due_date:%B %Y}" in part and "keeps running" in part
            assert "new code" not in part and "new confirmation code" not in part
        assert "Art. 77" in part and "Art. 79" in part
    assert ("in unserer E-Mail" if language == "de" else "in our e-mail") not in reply.chat
