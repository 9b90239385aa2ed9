"""A chat ticket never gets an e-mail: its chat text must carry the legally required content itself.

The console and the pipeline send a Telegram ticket only the chat variant (`RenderedReply.chat`),
so a chat text that points to "our e-mail" would leave the person without the reasons, the new
date or the remedies the law requires (Art. 12(3), 12(4), 15, 17, 19, 21, 22).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from dsr.controllers import ControllerProfile
from dsr.replies import KIND_SPECS, ReplyContext, ReplyKind, format_date_de, format_date_en, render_reply
from dsr.replies.samples import sample_context
from tests.support.replies import with_form

VARIANTS = [("de", "Sie"), ("de", "Du"), ("en", "Sie")]
POINTERS = ("per E-Mail an die bei uns hinterlegte", "in unserer E-Mail", "in our e-mail",
            "by e-mail to the address on file")
SUBJECT_KINDS = [k for k, spec in KIND_SPECS.items() if not spec.internal]

Needs = Callable[[ReplyContext, ControllerProfile, str], list[str]]


def _date(day: object, language: str) -> str:
    assert day is not None
    return format_date_de(day) if language == "de" else format_date_en(day)  # type: ignore[arg-type]


def _remedies(ctx: ReplyContext, profile: ControllerProfile, language: str) -> list[str]:
    return [profile.authority.name, "Art. 77", "Art. 79"]


def _outcome(ctx: ReplyContext, profile: ControllerProfile, language: str) -> list[str]:
    granted = ctx.request_granted is True
    return [ctx.outcome_text] + ([] if granted else _remedies(ctx, profile, language))


# What each kind must say in the chat itself, from the sample context.
REQUIRED: dict[ReplyKind, Needs] = {
    ReplyKind.REFUSAL_NOTICE: lambda ctx, p, lang: [ctx.refusal_reasons, *_remedies(ctx, p, lang)],
    ReplyKind.EXTENSION_NOTICE: lambda ctx, p, lang: [
        *ctx.extension_reasons, _date(ctx.extended_due_date, lang), _date(ctx.due_date, lang),
        p.authority.name],
    ReplyKind.ACCESS_ANSWER: lambda ctx, p, lang: [
        *ctx.attachment_names, p.authority.name, "Art. 77",
        *(item.legal_basis if lang == "de" else item.legal_basis_en
          for item in p.selection(r.key for r in ctx.relationships or ()).purposes)],
    ReplyKind.PORTABILITY_ANSWER: lambda ctx, p, lang: [*ctx.attachment_names, ctx.export_format],
    ReplyKind.ERASURE_DONE: lambda ctx, p, lang: [
        *(item.category for item in ctx.retained), *(item.legal_basis for item in ctx.retained),
        *ctx.notified_recipients, *(_remedies(ctx, p, lang) if ctx.retained else [])],
    ReplyKind.RECTIFICATION_DONE: lambda ctx, p, lang: [*ctx.changes, *ctx.notified_recipients],
    ReplyKind.RESTRICTION_DONE: lambda ctx, p, lang: [*ctx.restricted, *ctx.notified_recipients],
    ReplyKind.OBJECTION_OUTCOME: _outcome,
    ReplyKind.AUTOMATED_DECISION_OUTCOME: _outcome,
}


def _chat(kind: ReplyKind, profile: ControllerProfile, language: str, form: str,
          **changes: object) -> tuple[ReplyContext, str]:
    ctx = replace(sample_context(kind, profile.key, language), channel="telegram", **changes)  # type: ignore[arg-type]
    reply = render_reply(kind, ctx, with_form(profile, form), language=language)
    return ctx, " ".join(reply.chat.split())


@pytest.mark.parametrize("kind", SUBJECT_KINDS, ids=str)
@pytest.mark.parametrize(("language", "form"), VARIANTS)
def test_chat_text_of_a_chat_ticket_points_to_no_e_mail(
        profile: ControllerProfile, kind: ReplyKind, language: str, form: str) -> None:
    ctx = replace(sample_context(kind, profile.key, language), channel="telegram")
    raw = render_reply(kind, ctx, with_form(profile, form), language=language).chat
    chat = " ".join(raw.split())
    for pointer in POINTERS:
        assert pointer not in chat, f"{kind} ({language}-{form}) sends the person to an e-mail"
    for gap in ("{{", "{%", "None", "[]", "\n\n\n", " ,", " ."):
        assert gap not in raw, f"{gap!r} in the chat text of {kind}"
    assert raw.rstrip().endswith(ctx.reference)


@pytest.mark.parametrize("kind", sorted(REQUIRED), ids=str)
@pytest.mark.parametrize(("language", "form"), VARIANTS)
def test_chat_text_of_a_chat_ticket_carries_the_required_content(
        profile: ControllerProfile, kind: ReplyKind, language: str, form: str) -> None:
    ctx, chat = _chat(kind, profile, language, form)
    for needed in REQUIRED[kind](ctx, profile, language):
        assert " ".join(needed.split()) in chat, f"{kind} ({language}-{form}) lacks {needed!r}"


@pytest.mark.parametrize("kind", [ReplyKind.OBJECTION_OUTCOME, ReplyKind.AUTOMATED_DECISION_OUTCOME], ids=str)
def test_a_refused_objection_or_review_names_the_remedies_in_the_chat(
        profile: ControllerProfile, kind: ReplyKind) -> None:
    _ctx, chat = _chat(kind, profile, "de", "Sie", request_granted=False)
    assert profile.authority.name in chat and "Art. 77" in chat and "Art. 79" in chat


def test_e_mail_tickets_keep_the_short_chat_text(profile: ControllerProfile) -> None:
    """The full letter goes into the chat only for a chat ticket; an e-mail ticket's chat text is short."""
    ctx = sample_context(ReplyKind.REFUSAL_NOTICE, profile.key, "de")
    reply = render_reply(ReplyKind.REFUSAL_NOTICE, ctx, profile, language="de")
    assert profile.authority.name not in reply.chat and profile.authority.name in reply.text
