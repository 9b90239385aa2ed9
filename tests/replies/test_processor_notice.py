"""The neutral processor-mode note when only part of a request was forwarded (a split): it names that
part and says that we answer the rest ourselves, in Sie, Du, English and the chat text."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dsr.controllers import load_profile
from dsr.intents.rights import Right
from dsr.replies import ReplyKind, render_reply
from dsr.replies.samples import sample_context
from tests.support.replies import with_form

KMB2 = load_profile("kmb2")
PART = replace(sample_context(ReplyKind.PROCESSOR_NOTICE, "kmb2"), rights=(Right.ACCESS,),
               forwarded_part=True)


@pytest.mark.parametrize(
    ("form", "language", "expected"),
    [
        ("Sie", "de", ("Ein Teil davon (Auskunft (Art. 15 DSGVO))", "diesen Teil Ihrer Anfrage am",
                       "Den übrigen Teil Ihrer Anfrage beantworten wir selbst.",
                       "Die Antwort auf diesen Teil erhalten Sie")),
        ("Du", "de", ("diesen Teil Deiner Anfrage am",
                      "Den übrigen Teil Deiner Anfrage beantworten wir selbst.",
                      "Die Antwort auf diesen Teil erhältst Du")),
        ("Sie", "en", ("Part of it (", "We forwarded this part of your request there",
                       "We will answer the rest of your request ourselves.")),
    ],
)
def test_a_split_off_part_is_named_and_the_rest_is_ours(form: str, language: str,
                                                        expected: tuple[str, ...]) -> None:
    reply = render_reply(ReplyKind.PROCESSOR_NOTICE, PART, with_form(KMB2, form), language=language)
    text = " ".join(reply.text.split())
    for phrase in expected:
        assert phrase in text, phrase
    assert ("übrigen Teil" if language == "de" else "the rest") in " ".join(reply.chat.split())


def test_the_whole_request_forwarded_says_nothing_about_a_rest() -> None:
    reply = render_reply(ReplyKind.PROCESSOR_NOTICE, replace(PART, forwarded_part=False), KMB2)
    assert "übrigen Teil" not in reply.text and "Die Nachricht betrifft Daten" in " ".join(reply.text.split())


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_forwarding_taken_back_tells_the_person_only_what_happened(language: str) -> None:
    """Brief gap 3: the correction names the client as told only when it was, and our date (or,
    once passed, that we answer at once); every form (text, chat) alike."""
    base = sample_context(ReplyKind.PROCESSOR_TAKEN_BACK, "kmb2", language)
    told = "haben wir darüber informiert" if language == "de" else "We have told"
    for client_told in (True, False):
        reply = render_reply(ReplyKind.PROCESSOR_TAKEN_BACK, replace(base, client_told=client_told), KMB2,
                             language=language)
        for part in (reply.text, reply.chat):
            flat = " ".join(part.split())
            assert (told in flat) is client_told
            assert ("2. März 2026" if language == "de" else "2 March 2026") in flat
    assert base.due_date is not None
    late = render_reply(ReplyKind.PROCESSOR_TAKEN_BACK, replace(base, as_of=base.due_date.replace(day=3)),
                        KMB2, language=language)
    flat = " ".join(late.text.split())
    assert ("spätestens am" not in flat) and ("at the latest" not in flat)
    assert ("unverzüglich" if language == "de" else "without any further delay") in flat
