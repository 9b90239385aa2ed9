"""The renderer: loud failures, overrides with fallback, language selection, escaping, dates."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from dsr.controllers import ControllerProfile, load_profile
from dsr.intents.reasons import REASON_CODES
from dsr.intents.rights import Right
from dsr.replies import (
    ReplyDataError,
    ReplyKind,
    ReplyTemplateError,
    UnverifiedDisclosureError,
    format_date_de,
    render_reply,
)
from dsr.replies.address import AddressForm
from dsr.replies.dates import format_date_en, format_datetime_de
from dsr.replies.facts import fact_name
from dsr.replies.language import is_english, normalise_language
from dsr.replies.reasons import ESCALATION_REASONS_DE, STATE_LABELS_DE
from dsr.replies.samples import sample_context
from dsr.store.models import TicketState

KOMSA = load_profile("komsa")


def _override(root: Path, name: str, body: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return root


def test_german_and_english_dates() -> None:
    assert format_date_de(date(2026, 3, 2)) == "2. März 2026"
    assert format_date_en(date(2026, 3, 2)) == "2 March 2026"
    assert (
        format_datetime_de(datetime.fromisoformat("2026-07-01T08:05:00+00:00")) == "1. Juli 2026, 10:05 Uhr"
    )
    with pytest.raises(ValueError, match="naive"):
        format_datetime_de(datetime(2026, 7, 1, 8, 5))


def test_address_form_helper() -> None:
    sie, du = AddressForm("Sie"), AddressForm("Du")
    assert (sie.Ihnen, sie.Sie_akk, sie.Ihres) == ("Ihnen", "Sie", "Ihres")
    assert (du.Ihnen, du.Sie_akk, du.Ihres, du.Sie) == ("Dir", "Dich", "Deines", "Du")
    assert du("Sie haben", "Du hast") == "Du hast" and sie("Sie haben", "Du hast") == "Sie haben"


def test_missing_variable_in_a_template_is_an_error_naming_it(tmp_path: Path) -> None:
    overrides = _override(tmp_path, "de/blocks/greeting.j2", "Hallo {{ ctx.customer_number }},")
    ctx = sample_context(ReplyKind.RECEIPT_CONFIRMATION, "komsa")
    with pytest.raises(ReplyTemplateError, match="customer_number"):
        render_reply(ReplyKind.RECEIPT_CONFIRMATION, ctx, KOMSA, overrides_dir=overrides)
    overrides = _override(tmp_path, "de/blocks/greeting.j2", "Hallo {{ kundenname }},")
    with pytest.raises(ReplyTemplateError, match=r"'kundenname' is undefined"):
        render_reply(ReplyKind.RECEIPT_CONFIRMATION, ctx, KOMSA, overrides_dir=overrides)


def test_missing_template_is_an_error_naming_it(tmp_path: Path) -> None:
    overrides = _override(tmp_path, "de/blocks/greeting.j2", '{% include "de/blocks/anrede_fehlt.j2" %}')
    ctx = sample_context(ReplyKind.RECEIPT_CONFIRMATION, "komsa")
    with pytest.raises(ReplyTemplateError, match=r"anrede_fehlt\.j2"):
        render_reply(ReplyKind.RECEIPT_CONFIRMATION, ctx, KOMSA, overrides_dir=overrides)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    overrides = _override(
        tmp_path, "de/no_data.j2", '{% extends "de/_layout.j2" %}\n{% block body %}{% if %}'
    )
    ctx = sample_context(ReplyKind.NO_DATA, "komsa")
    with pytest.raises(ReplyTemplateError, match=r"no_data\.j2:2"):
        render_reply(ReplyKind.NO_DATA, ctx, KOMSA, overrides_dir=overrides)


def test_override_of_a_text_block_falls_back_for_everything_else(tmp_path: Path) -> None:
    overrides = _override(
        tmp_path,
        "de/blocks/closing.j2",
        '{{ f.lines(["Herzliche Grüße aus Hartmannsdorf", "Ihr KOMSA-Datenschutzteam"]) -}}',
    )
    ctx = sample_context(ReplyKind.ACCESS_ANSWER, "komsa")
    default = render_reply(ReplyKind.ACCESS_ANSWER, ctx, KOMSA)
    custom = render_reply(ReplyKind.ACCESS_ANSWER, ctx, KOMSA, overrides_dir=overrides)
    assert "Herzliche Grüße aus Hartmannsdorf" in custom.text
    assert "Herzliche Grüße aus Hartmannsdorf" in custom.html
    assert "Mit freundlichen Grüßen" not in custom.text
    head = default.text.split("Bei Fragen antworten")[0]
    assert custom.text.startswith(head)  # everything before the closing is the default text
    en = render_reply(
        ReplyKind.ACCESS_ANSWER,
        sample_context(ReplyKind.ACCESS_ANSWER, "komsa", "en"),
        KOMSA,
        language="en",
        overrides_dir=overrides,
    )
    assert "Kind regards" in en.text  # the English closing was not overridden


def test_override_may_extend_the_default_and_replace_one_block(tmp_path: Path) -> None:
    overrides = _override(
        tmp_path,
        "de/access_answer.j2",
        (
            '{% extends "default:de/access_answer.j2" %}\n'
            '{% block sources %}{{ f.h("7. Herkunft der Daten") -}}'
            "{% call f.p() %}Alle Daten stammen aus dem Partnerportal.{% endcall %}{% endblock %}\n"
        ),
    )
    ctx = sample_context(ReplyKind.ACCESS_ANSWER, "komsa")
    reply = render_reply(ReplyKind.ACCESS_ANSWER, ctx, KOMSA, overrides_dir=overrides)
    assert "Alle Daten stammen aus dem Partnerportal." in reply.text
    assert "Ratingagenturen (Bonitätsindex)" not in reply.text  # the replaced block
    assert "Die Sächsische Datenschutz- und Transparenzbeauftragte" in reply.text  # the rest is default
    assert "Postfach 11 01 32" in reply.html


def test_override_of_another_controller_does_not_leak(tmp_path: Path) -> None:
    overrides = _override(
        tmp_path, "de/no_data.j2", '{% extends "de/_layout.j2" %}{% block subject %}X{% endblock %}'
    )
    ctx = sample_context(ReplyKind.NO_DATA, "komsa")
    assert render_reply(ReplyKind.NO_DATA, ctx, KOMSA, overrides_dir=overrides).subject.endswith("] X")
    assert "Keine Daten" in render_reply(ReplyKind.NO_DATA, ctx, KOMSA).subject


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("de", "de"),
        ("en", "en"),
        ("en-GB", "en"),
        ("EN_us", "en"),
        ("fr", "de"),
        ("", "de"),
    ],
)
def test_language_normalisation(language: str, expected: str) -> None:
    assert normalise_language(language) == expected


def test_english_variant_is_selected_for_english_requests() -> None:
    ctx = sample_context(ReplyKind.RECEIPT_CONFIRMATION, "komsa", "en")
    assert (
        "Confirmation of receipt"
        in render_reply(ReplyKind.RECEIPT_CONFIRMATION, ctx, KOMSA, language="en-GB").subject
    )
    assert (
        "Eingangsbestätigung"
        in render_reply(ReplyKind.RECEIPT_CONFIRMATION, ctx, KOMSA, language="fr").subject
    )
    internal = sample_context(ReplyKind.DEADLINE_REMINDER, "komsa")
    reminder = render_reply(ReplyKind.DEADLINE_REMINDER, internal, KOMSA, language="en")
    assert "Fristerinnerung" in reminder.subject


def test_html_is_autoescaped_and_text_is_not() -> None:
    ctx = replace(
        sample_context(ReplyKind.RECEIPT_CONFIRMATION, "komsa"), recipient_name="<script>x</script>"
    )
    reply = render_reply(ReplyKind.RECEIPT_CONFIRMATION, ctx, KOMSA)
    assert "&lt;script&gt;x&lt;/script&gt;" in reply.html and "<script>" not in reply.html
    assert "<script>x</script>" in reply.text


@pytest.mark.parametrize(
    ("kind", "update", "message"),
    [
        (ReplyKind.EXTENSION_NOTICE, {"extension_reasons": ()}, "extension_reasons"),
        (ReplyKind.EXTENSION_NOTICE, {"extended_due_date": None}, "extended_due_date"),
        (ReplyKind.EXTENSION_NOTICE, {"as_of": date(2026, 3, 3)}, "first month"),
        (ReplyKind.REFUSAL_NOTICE, {"refusal_reasons": ""}, "refusal_reasons"),
        (ReplyKind.PORTABILITY_ANSWER, {"export_format": "pdf"}, "machine-readable"),
        (ReplyKind.IDENTITY_REQUEST, {"facts_requested": ("a", "b", "c")}, "at most 2"),
        (ReplyKind.VERIFICATION_CODE, {"verification_code": None}, "verification_code"),
        (ReplyKind.PORTABILITY_ANSWER, {"attachment_names": (), "copy_link": None}, "no file is attached"),
        (ReplyKind.ERASURE_DONE, {"erased": ()}, "what was erased"),
        (ReplyKind.ERASURE_DONE, {"retained": None}, "Art. 17\\(3\\)"),
        (ReplyKind.ERASURE_DONE, {"notified_recipients": None}, "Art. 19"),
        (ReplyKind.RECTIFICATION_DONE, {"notified_recipients": None}, "Art. 19"),
        (ReplyKind.RESTRICTION_DONE, {"notified_recipients": None}, "Art. 19"),
        (ReplyKind.RECEIPT_CONFIRMATION, {"due_date": None}, "due_date"),
        (ReplyKind.RECEIPT_CONFIRMATION, {"reference": ""}, "ticket tag"),
        (ReplyKind.CLARIFICATION, {"readings": ()}, "readings"),
        (ReplyKind.DEADLINE_REMINDER, {"as_of": None}, "as_of"),
    ],
)
def test_missing_legal_content_is_refused(kind: ReplyKind, update: dict[str, object], message: str) -> None:
    ctx = replace(sample_context(kind, "komsa"), **update)  # type: ignore[arg-type]
    with pytest.raises(ReplyDataError, match=message):
        render_reply(kind, ctx, KOMSA)


@pytest.mark.parametrize(
    "kind",
    [
        ReplyKind.ACCESS_ANSWER,
        ReplyKind.PORTABILITY_ANSWER,
        ReplyKind.RECTIFICATION_DONE,
        ReplyKind.ERASURE_DONE,
        ReplyKind.RESTRICTION_DONE,
        ReplyKind.OBJECTION_OUTCOME,
        ReplyKind.AUTOMATED_DECISION_OUTCOME,
    ],
)
def test_disclosing_reply_to_unverified_sender_is_refused(kind: ReplyKind) -> None:
    ctx = replace(sample_context(kind, "komsa"), verified=False)
    with pytest.raises(UnverifiedDisclosureError, match="not verified"):
        render_reply(kind, ctx, KOMSA)


def test_every_ticket_state_and_reason_code_has_german_text() -> None:
    assert {s.value for s in TicketState} <= set(STATE_LABELS_DE)
    # The classifier's catalogue plus the codes the service itself sets (tests/console/
    # test_reason_labels.py traces every emitted code to its source).
    service_codes = {"delivery_bounced", "delivery_delayed", "delivery_failed", "identity_unverified",
                     "subject_says_not_a_request", "consent_withdrawal_review", "unrecognised",
                     "several_clients"}
    documented = set(REASON_CODES) | service_codes
    assert documented == set(ESCALATION_REASONS_DE)


def test_unknown_reason_code_is_shown_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    ctx = replace(sample_context(ReplyKind.DPO_ESCALATION_ALERT, "komsa"), escalation_reasons=("new_code",))
    text = render_reply(ReplyKind.DPO_ESCALATION_ALERT, ctx, KOMSA).text
    assert "„new_code“" in " ".join(text.split())
    assert "new_code" in caplog.text


def test_text_lines_are_wrapped_for_mail_clients(profile: ControllerProfile) -> None:
    ctx = sample_context(ReplyKind.ACCESS_ANSWER, profile.key)
    text = render_reply(ReplyKind.ACCESS_ANSWER, ctx, profile).text
    long_lines = [line for line in text.splitlines() if len(line) > 76]
    # Only the numbered Art. 15 headings may be longer (headings are never wrapped).
    assert all(re.match(r"\d\. ", line) for line in long_lines), long_lines


def test_controller_subfolder_of_a_shared_override_root_wins(tmp_path: Path) -> None:
    _override(tmp_path, "de/blocks/greeting.j2", "Hallo zusammen,")
    _override(tmp_path, "komsa/de/blocks/greeting.j2", "Guten Tag aus Hartmannsdorf,")
    ctx = sample_context(ReplyKind.NO_DATA, "komsa")
    komsa = render_reply(ReplyKind.NO_DATA, ctx, KOMSA, overrides_dir=tmp_path)
    kmb2 = render_reply(ReplyKind.NO_DATA, ctx, load_profile("kmb2"), overrides_dir=tmp_path)
    assert komsa.text.startswith("Guten Tag aus Hartmannsdorf,")
    assert kmb2.text.startswith("Hallo zusammen,")


@pytest.mark.parametrize("kind", [ReplyKind.RECEIPT_CONFIRMATION, ReplyKind.ACCESS_ANSWER,
                                  ReplyKind.DPO_ESCALATION_ALERT])
def test_rendering_one_channel_gives_that_channels_forms_unchanged(kind: ReplyKind) -> None:
    ctx = sample_context(kind, "komsa")
    full = render_reply(kind, ctx, KOMSA)
    mail = render_reply(kind, ctx, KOMSA, only="mail")
    chat = render_reply(kind, ctx, KOMSA, only="chat")
    assert (mail.subject, mail.text, mail.html, mail.chat) == (full.subject, full.text, full.html, "")
    assert (chat.subject, chat.text, chat.html, chat.chat) == ("", "", "", full.chat)
    assert full.text and full.html and full.subject


def test_dpo_alert_names_the_tickets_identity_status_like_the_console() -> None:
    """The alert carries no personal data (verified=False), yet states the ticket's identity level."""
    ctx = replace(sample_context(ReplyKind.DPO_ESCALATION_ALERT, "komsa"), verified=False)
    assert "Identität: nicht bestätigt" in render_reply(ReplyKind.DPO_ESCALATION_ALERT, ctx, KOMSA).text
    on_file = replace(ctx, identity_level="contact_on_file")
    text = render_reply(ReplyKind.DPO_ESCALATION_ALERT, on_file, KOMSA).text
    assert "Identität: Kontakt aus dem Bestand" in text and "nicht bestätigt" not in text


@pytest.mark.parametrize("code", ["en", "EN", "en-GB", "en_US"])
def test_every_english_code_gets_the_english_letter_rights_and_fact_names(code: str) -> None:
    """Brief i15b no. 3: the language code decides alike wherever it is read: the template, the
    names of the rights (`rights_phrase`) and of the identity facts asked for."""
    profile = load_profile("kmb2")
    notice = replace(sample_context(ReplyKind.PROCESSOR_NOTICE, "kmb2", code), forwarded_part=True,
                     rights=(Right.ACCESS, Right.ERASURE))
    text = " ".join(render_reply(ReplyKind.PROCESSOR_NOTICE, notice, profile, language=code).text.split())
    assert "Part of it (" in text and " and " in text and "Auskunft" not in text
    assert fact_name("Kundennummer", code) == "customer number"
    assert fact_name("Kundennummer", "de-AT") == "Kundennummer"
    assert is_english(code) and normalise_language(code) == "en"
