"""Content checks per reply kind: what the law requires to be in (or out of) each reply."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from dsr.controllers import ControllerProfile, load_profile
from dsr.intents.rights import RIGHTS, Right
from dsr.replies import KIND_SPECS, RenderedReply, ReplyKind, RetainedItem, render_reply
from dsr.replies.context import CaseRecipient, PersonRelationship
from dsr.replies.kinds import ReplyDataError
from dsr.replies.preview import PreviewItem, preview_items
from dsr.replies.reasons import ESCALATION_REASONS_DE
from dsr.replies.samples import NAME, sample_context, unverified_receipt
from tests.support.replies import with_form

AUTHORITIES = {
    "kmb2": ("Der Landesbeauftragte für den Datenschutz Niedersachsen", "Prinzenstraße 5", "30159 Hannover"),
    "komsa": ("Die Sächsische Datenschutz- und Transparenzbeauftragte", "Postfach 11 01 32", "01330 Dresden"),
}
OUTDATED = (
    "Die Landesbeauftragte für den Datenschutz",
    "Der Sächsische Datenschutzbeauftragte",
    "Devrientstraße",
    "Postfach 12 00 16",
    "01001 Dresden",
    "saechsdsb",
    "Postfach 221",
    "NdsDSG",
)
SIE_WORDS = re.compile(r"\b(Sie|Ihnen|Ihr|Ihre|Ihren|Ihrem|Ihrer|Ihres)\b")
DU_WORDS = re.compile(r"\b(Du|Dich|Dir|Dein|Deine|Deinen|Deinem|Deiner|Deines)\b")
TICKET_TAG = re.compile(r"^\[DSR-\d{4}-\d{6}\] \S")

ALL = [(c, item) for c in ("kmb2", "komsa") for item in preview_items(load_profile(c))]
IDS = [f"{c}-{i.stem}" for c, i in ALL]


def _all_parts(reply: RenderedReply) -> str:
    return "\n".join((reply.subject, reply.text, reply.html, reply.chat))


def _items(kind: ReplyKind) -> list[tuple[str, PreviewItem]]:
    return [(c, i) for c, i in ALL if i.kind is kind]


@pytest.mark.parametrize(("controller", "item"), ALL, ids=IDS)
def test_no_gap_where_a_value_was_missing(controller: str, item: PreviewItem) -> None:
    reply = item.reply
    for part in (reply.subject, reply.text, reply.chat):
        for bad in ("{{", "{%", "None", "[]", "()", "\n\n\n", " ,", " .", "..", "– –", "::"):
            assert bad not in part, f"{bad!r} in {item.stem}"
        assert not re.search(r"\S {2,}\S", part), f"double space in {item.stem}"
        assert not re.search(r":\s*$", part.split("\n\n")[-1]), "ends with a dangling label"
    assert not re.search(r"^\s*-\s*$", reply.text, re.M), "empty bullet"
    for bad in ("<p></p>", "<li></li>", "{{", "None", "[]"):
        assert bad not in reply.html, f"{bad!r} in HTML of {item.stem}"


@pytest.mark.parametrize(("controller", "item"), ALL, ids=IDS)
def test_form_of_address_is_consistent(controller: str, item: PreviewItem) -> None:
    text = _all_parts(item.reply)
    if item.variant.startswith("de-Du"):
        assert SIE_WORDS.findall(text) == []
        assert DU_WORDS.search(text) or KIND_SPECS[item.kind].internal
    elif item.variant.startswith("de-Sie") and not KIND_SPECS[item.kind].internal:
        assert DU_WORDS.findall(text) == []
        assert SIE_WORDS.search(text)


@pytest.mark.parametrize(("controller", "item"), ALL, ids=IDS)
def test_every_data_subject_subject_carries_the_ticket_tag(controller: str, item: PreviewItem) -> None:
    if KIND_SPECS[item.kind].internal:
        return
    assert TICKET_TAG.match(item.reply.subject), item.reply.subject
    assert "DSR-2026-000123" in item.reply.chat or not item.reply.chat  # no chat form: never sent there


@pytest.mark.parametrize(
    ("controller", "item"),
    _items(ReplyKind.ACCESS_ANSWER),
    ids=[i.stem for _, i in _items(ReplyKind.ACCESS_ANSWER)],
)
def test_access_answer_has_every_art15_item(controller: str, item: PreviewItem) -> None:
    profile = load_profile(controller)
    english = item.variant == "en"
    ctx = sample_context(ReplyKind.ACCESS_ANSWER, controller, "en" if english else "de")
    person = profile.selection(r.key for r in ctx.relationships or ())
    for part in (item.reply.text, item.reply.html):
        flat = " ".join(part.replace("&amp;", "&").replace("&#39;", "'").split())
        for line in AUTHORITIES[controller]:
            assert line in flat
        for outdated in OUTDATED:
            assert outdated not in flat
        for letter in "abcdefgh":
            assert f"lit. {letter} DSGVO" in flat or f"15(1)({letter})" in flat
        assert "15 Abs. 2" in flat or "15(2)" in flat
        assert "Art. 77" in flat
        for purpose in person.purposes:
            assert (purpose.legal_basis_en if english else purpose.legal_basis) in flat
        for recipient in person.recipients:
            assert (recipient.purpose_en if english else recipient.purpose) in flat
        for retention in person.retention:
            assert (retention.period_en if english else retention.period) in flat
        for decision in person.automated_decisions:
            assert (decision.logic_en if english else decision.logic) in flat
        for transfer in person.third_country_transfers:
            assert (transfer.safeguard_en if english else transfer.safeguard) in flat


def _without_gaps(text: str) -> str:
    return re.sub(r"⟦[^⟧]*⟧", "", text)


@pytest.mark.parametrize("language", ["de", "en"])
def test_access_answer_states_only_the_persons_relationships(
        profile: ControllerProfile, language: str) -> None:
    """Issue 15 no. 3: a newsletter subscriber does not read about the credit check or the training
    platform; every relationship's own items appear, nobody else's."""
    base = sample_context(ReplyKind.ACCESS_ANSWER, profile.key, language)
    for rel in profile.relationships:
        ctx = replace(base, relationships=(PersonRelationship(rel.key),), case_recipients=(),
                      automated_logic_applied=() if rel.automated_decisions else None)
        flat = _flat(render_reply(ReplyKind.ACCESS_ANSWER, ctx, profile, language=language).text)
        chosen = profile.selection([rel.key])
        assert (rel.name if language == "de" else rel.name_en) in flat
        for purpose in profile.purposes:
            text = purpose.purpose if language == "de" else purpose.purpose_en
            assert (text in flat) == (purpose in chosen.purposes), (rel.key, purpose.key)
        for recipient in profile.recipients:
            text = recipient.purpose if language == "de" else recipient.purpose_en
            assert (text in flat) == any(r.purpose == recipient.purpose for r in chosen.recipients)
        for decision in profile.automated_decisions:
            text = decision.logic if language == "de" else decision.logic_en
            assert (text in flat) == (decision in chosen.automated_decisions), (rel.key, decision.key)
        for german, english in chosen.sources:
            assert (german if language == "de" else english[1:]) in flat  # English list items capitalised


@pytest.mark.parametrize("language", ["de", "en"])
def test_review_outcome_explains_only_the_persons_automated_decisions(language: str) -> None:
    """Brief gap 1: the Art. 22(3) outcome explains the decisions of this person's relationships
    (an applicant reads about the credit decision, not the group scoring of partners; a training
    user reads about none), with the logic as applied to this person, never the whole notice."""
    komsa = load_profile("komsa")
    base = sample_context(ReplyKind.AUTOMATED_DECISION_OUTCOME, "komsa", language)
    for rel in komsa.relationships:
        applied = ("Angewendet: Schwelle 350",) if rel.automated_decisions else None
        ctx = replace(base, relationships=(PersonRelationship(rel.key),), automated_logic_applied=applied)
        flat = _flat(render_reply(ReplyKind.AUTOMATED_DECISION_OUTCOME, ctx, komsa, language=language).text)
        for decision in komsa.automated_decisions:
            text = decision.logic if language == "de" else decision.logic_en
            assert (text in flat) == (decision.key in rel.automated_decisions), (rel.key, decision.key)
        assert ("Angewendet: Schwelle 350" in flat) == bool(rel.automated_decisions)
    applicant = _flat(render_reply(ReplyKind.AUTOMATED_DECISION_OUTCOME, base, komsa, language=language).text)
    assert "410" in applicant  # the sample's logic as applied to this applicant
    with pytest.raises(ReplyDataError, match="C-203/22"):
        render_reply(ReplyKind.AUTOMATED_DECISION_OUTCOME, replace(base, automated_logic_applied=None), komsa)
    for missing in (None, ()):
        with pytest.raises(ReplyDataError, match="relationships is missing"):
            render_reply(ReplyKind.AUTOMATED_DECISION_OUTCOME, replace(base, relationships=missing), komsa)


def test_access_answer_needs_the_persons_relationships(profile: ControllerProfile) -> None:
    """No relationship chosen and nothing found: no letter printing the whole notice."""
    ctx = sample_context(ReplyKind.ACCESS_ANSWER, profile.key)
    for missing in (None, ()):
        with pytest.raises(ReplyDataError, match="relationships is missing"):
            render_reply(ReplyKind.ACCESS_ANSWER, replace(ctx, relationships=missing), profile)
    with pytest.raises(ReplyDataError, match="unknown relationship"):
        render_reply(ReplyKind.ACCESS_ANSWER, replace(ctx, relationships=(PersonRelationship("nope"),)),
                     profile)


def test_access_answer_marks_where_a_relationship_was_found() -> None:
    profile = load_profile("komsa")
    ctx = sample_context(ReplyKind.ACCESS_ANSWER, "komsa")
    flat = _flat(render_reply(ReplyKind.ACCESS_ANSWER, ctx, profile).text)
    assert ("Einwilligung in Werbung (Newsletter, Werbung per Brief und Telefon) (gespeichert in "
            "unseren Unterlagen: Newsletter-Abonnements)") in flat
    en_ctx = sample_context(ReplyKind.ACCESS_ANSWER, "komsa", "en")
    english = _flat(render_reply(ReplyKind.ACCESS_ANSWER, en_ctx, profile, language="en").text)
    assert "(held in our records: Newsletter subscriptions)" in english


@pytest.mark.parametrize("language", ["de", "en"])
def test_assumed_facts_are_never_stated_as_facts(language: str) -> None:
    """Issue 15 no. 15: kmb2's legal bases, storage periods, "no automated decisions", "no transfer
    to third countries" and the record retention are not in its notice; the draft shows each only
    as a gap the DPO must confirm or delete (the console refuses to send a text with a gap)."""
    profile = load_profile("kmb2")
    ctx = replace(sample_context(ReplyKind.ACCESS_ANSWER, "kmb2", language),
                  relationships=tuple(PersonRelationship(r.key) for r in profile.relationships))
    text = _flat(render_reply(ReplyKind.ACCESS_ANSWER, ctx, profile, language=language).text)
    stated = _without_gaps(text)
    en = language == "en"
    for purpose in profile.purposes:
        basis = purpose.legal_basis_en if en else purpose.legal_basis
        assert basis in text and f"{basis}." not in stated, purpose.key
    for item in profile.retention:
        period = item.period_en if en else item.period
        assert period in text and period not in stated
    for statement in ("findet bei uns nicht statt", "nicht in Länder außerhalb",
                      "We do not use automated", "We do not transfer your data"):
        assert statement not in stated
    erasure_ctx = sample_context(ReplyKind.ERASURE_DONE, "kmb2", language)
    erasure = _flat(render_reply(ReplyKind.ERASURE_DONE, erasure_ctx, profile, language=language).text)
    assert "Kalenderjahres nach" not in _without_gaps(erasure)
    assert "calendar year after" not in _without_gaps(erasure)
    # Once a DPO confirmed them, the same letters state them.
    confirmed = profile.with_confirmed(f.fact_id for f in profile.facts())
    assert confirmed.assumed_facts == []
    text = _flat(render_reply(ReplyKind.ACCESS_ANSWER, ctx, confirmed, language=language).text)
    assert "⟦" not in text
    for purpose in profile.purposes:
        assert (purpose.legal_basis_en if en else purpose.legal_basis) in text


def test_access_answer_names_case_recipients_or_says_none(profile: ControllerProfile) -> None:
    base = sample_context(ReplyKind.ACCESS_ANSWER, profile.key)
    dach = (CaseRecipient("Dach & Fach KG"),)
    named = render_reply(ReplyKind.ACCESS_ANSWER, replace(base, case_recipients=dach), profile)
    none = render_reply(ReplyKind.ACCESS_ANSWER, replace(base, case_recipients=()), profile)
    assert "Dach & Fach KG" in named.text and "Dach &amp; Fach KG" in named.html
    assert "kein Empfänger aus diesen Gruppen" in none.text


@pytest.mark.parametrize("language", ["de", "en"])
def test_case_recipients_are_said_to_be_from_the_groups_only_when_each_is(language: str) -> None:
    """Brief i15b no. 2: "aus diesen Gruppen" only when every recipient the DPO named was placed in
    a group the letter lists (then each line names its group); otherwise the sentence is neutral."""
    profile = load_profile("kmb2")
    base = sample_context(ReplyKind.ACCESS_ANSWER, "kmb2", language)
    phrase = "aus diesen Gruppen folgende" if language == "de" else "recipients from these groups"
    neutral = ("In Ihrem Fall haben folgende Empfänger Ihre Daten erhalten" if language == "de"
               else "In your case, the following recipients received your data")
    group = "Handwerkspartner (Subunternehmer)" if language == "de" else "craft partners (subcontractors)"
    sommer = CaseRecipient("Elektro Sommer GmbH", group="craft-partners")
    cases = {
        (sommer,): True,
        (sommer, CaseRecipient("Dach & Fach KG")): False,  # one not placed in a group
        (sommer, CaseRecipient("Dach & Fach KG", group="hosting")): False,  # not a group of this letter
        (CaseRecipient("Dach & Fach KG", group="heinemann"),): False,  # no such group at all
    }
    for recipients, grouped in cases.items():
        reply = render_reply(ReplyKind.ACCESS_ANSWER, replace(base, case_recipients=recipients), profile,
                             language=language)
        for part in (reply.text, reply.html):
            flat = _flat(part)
            assert (phrase in flat) is grouped, (recipients, part)
            assert (neutral in flat) is not grouped
            assert (f"Elektro Sommer GmbH – {group}" in flat) is grouped
            assert "Dach & Fach KG –" not in flat and "Dach &amp; Fach KG –" not in flat


@pytest.mark.parametrize(
    ("kind", "ctx_update"),
    [
        (ReplyKind.REFUSAL_NOTICE, {}),
        (ReplyKind.IDENTITY_FAILED, {}),
        (ReplyKind.OBJECTION_OUTCOME, {"request_granted": False}),
        (ReplyKind.AUTOMATED_DECISION_OUTCOME, {"request_granted": None}),
        (ReplyKind.ERASURE_DONE, {}),
    ],
)
@pytest.mark.parametrize("language", ["de", "en"])
def test_every_refusal_names_complaint_and_court(
    profile: ControllerProfile, kind: ReplyKind, ctx_update: dict[str, object], language: str
) -> None:
    ctx = replace(sample_context(kind, profile.key, language), **ctx_update)  # type: ignore[arg-type]
    reply = render_reply(kind, ctx, profile, language=language)
    flat = " ".join(reply.text.split())
    gdpr = "DSGVO" if language == "de" else "GDPR"
    assert f"Art. 77 {gdpr}" in flat and f"Art. 79 {gdpr}" in flat
    assert AUTHORITIES[profile.key][0] in flat and AUTHORITIES[profile.key][2] in flat


def test_granted_outcome_carries_no_remedies_notice(profile: ControllerProfile) -> None:
    ctx = replace(sample_context(ReplyKind.OBJECTION_OUTCOME, profile.key), request_granted=True)
    assert "Art. 79" not in render_reply(ReplyKind.OBJECTION_OUTCOME, ctx, profile).text


@pytest.mark.parametrize("language", ["de", "en"])
def test_extension_states_reasons_and_new_date(profile: ControllerProfile, language: str) -> None:
    ctx = sample_context(ReplyKind.EXTENSION_NOTICE, profile.key, language)
    reply = render_reply(ReplyKind.EXTENSION_NOTICE, ctx, profile, language=language)
    flat = " ".join(reply.text.split())
    new_date = "30. April 2026" if language == "de" else "30 April 2026"
    assert new_date in reply.subject and new_date in flat and new_date in reply.chat
    assert ("2. März 2026" if language == "de" else "2 March 2026") in flat
    for reason in ctx.extension_reasons:
        assert reason in flat
    assert "12 Abs. 3" in flat or "12(3)" in flat


UNVERIFIED_KINDS = [k for k, s in KIND_SPECS.items() if not s.internal and not s.requires_verified]


@pytest.mark.parametrize("kind", UNVERIFIED_KINDS)
@pytest.mark.parametrize("language", ["de", "en"])
def test_unverified_sender_reply_contains_no_personal_data(
    profile: ControllerProfile, kind: ReplyKind, language: str
) -> None:
    secret = ("Jana Beispiel", "j***@beispiel-handel.de", "Lindenweg 4", "Elektro Sommer", "K-4711")
    ctx = replace(
        sample_context(kind, profile.key, language),
        verified=False,
        recipient_name=secret[0],
        code_sent_to_masked=secret[1],
        changes=(secret[2],),
        case_recipients=(CaseRecipient(secret[3]),),
        notified_recipients=(secret[3],),
        erased=(secret[4],),
        retained=(RetainedItem(secret[4], "§ 147 AO", sample_context(kind, profile.key).received_date),),
    )
    text = _all_parts(render_reply(kind, ctx, profile, language=language))
    for value in secret:
        assert value not in text


def test_neutral_receipt_to_unverified_sender(profile: ControllerProfile) -> None:
    reply = render_reply(ReplyKind.RECEIPT_CONFIRMATION, unverified_receipt(), profile)
    assert NAME not in _all_parts(reply)
    assert reply.text.startswith("Guten Tag,\n")
    assert "Ausweiskopie benötigen wir dafür nicht" in " ".join(reply.text.split())


def test_receipt_states_rights_due_date_and_next_steps(profile: ControllerProfile) -> None:
    ctx = replace(sample_context(ReplyKind.RECEIPT_CONFIRMATION, profile.key), rights=tuple(Right))
    flat = " ".join(render_reply(ReplyKind.RECEIPT_CONFIRMATION, ctx, profile).text.split())
    for right, info in RIGHTS.items():
        if right not in (Right.COMPLAINT, Right.OTHER):
            assert f"{info.name_de} ({info.article})" in flat
    assert "spätestens am 2. März 2026" in flat and "31. Januar 2026" in flat
    assert "Als Nächstes" in flat
    assert "Den Werbewiderspruch und den Widerruf der Einwilligung setzen wir sofort" in flat


def test_identity_request_is_proportionate(profile: ControllerProfile) -> None:
    for facts in ((), ("Kundennummer",), ("Kundennummer", "Postleitzahl")):
        ctx = replace(sample_context(ReplyKind.IDENTITY_REQUEST, profile.key), facts_requested=facts)
        flat = " ".join(render_reply(ReplyKind.IDENTITY_REQUEST, ctx, profile).text.split())
        assert "Personalausweises benötigen wir nicht" in flat
        assert all(fact in flat for fact in facts)
        assert ("Bestätigungscode" in flat) == (not facts)


def test_marketing_objection_is_immediate_all_channels_and_keeps_suppression(
    profile: ControllerProfile,
) -> None:
    ctx = sample_context(ReplyKind.MARKETING_OBJECTION_CONFIRMATION, profile.key)
    flat = " ".join(render_reply(ReplyKind.MARKETING_OBJECTION_CONFIRMATION, ctx, profile).text.split())
    assert "sofort umgesetzt" in flat and "Werbesperrliste" in flat and "Profiling" in flat
    assert "für alle Werbekanäle" in flat
    for company in profile.marketing_companies if len(profile.marketing_companies) > 1 else ():
        assert company in flat


def test_consent_withdrawal_future_effect_and_lawfulness(profile: ControllerProfile) -> None:
    ctx = sample_context(ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION, profile.key)
    flat = " ".join(render_reply(ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION, ctx, profile).text.split())
    assert "für die Zukunft" in flat and "Rechtmäßigkeit der Verarbeitung bis zum Widerruf" in flat


def test_portability_names_machine_readable_format(profile: ControllerProfile) -> None:
    ctx = sample_context(ReplyKind.PORTABILITY_ANSWER, profile.key)
    flat = " ".join(render_reply(ReplyKind.PORTABILITY_ANSWER, ctx, profile).text.split())
    assert "strukturierten, gängigen und maschinenlesbaren Format (JSON)" in flat
    assert "Art. 20 Abs. 2" in flat


def test_erasure_names_retention_basis_end_date_and_restriction(profile: ControllerProfile) -> None:
    ctx = sample_context(ReplyKind.ERASURE_DONE, profile.key)
    flat = " ".join(render_reply(ReplyKind.ERASURE_DONE, ctx, profile).text.split())
    for item in ctx.retained:
        assert item.legal_basis in flat and item.category in flat
    # Statutory retention (AO, HGB, UStG) is Art. 17(3)(b), not Art. 18 / § 35(3) BDSG (issue 15).
    assert "31. Dezember 2032" in flat and "Art. 17 Abs. 3 lit. b DSGVO" in flat
    assert "§ 35 Abs. 3 BDSG" not in flat and "(Art. 18 DSGVO" not in flat


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("language", ["de", "en"])
def test_erasure_never_claims_everything_was_erased_or_no_recipients_by_default(
    profile: ControllerProfile, language: str
) -> None:
    """Issue 15 no. 8: the DPO states what was erased, kept and told; nothing is assumed."""
    ctx = replace(sample_context(ReplyKind.ERASURE_DONE, profile.key), retained=(), notified_recipients=())
    flat = _flat(render_reply(ReplyKind.ERASURE_DONE, ctx, profile, language=language).text)
    assert "alle personenbezogenen Daten" not in flat and "all personal data" not in flat
    for item in ctx.erased:
        assert item in flat
    for missing in ({"erased": ()}, {"retained": None}, {"notified_recipients": None}):
        with pytest.raises(ReplyDataError):
            render_reply(ReplyKind.ERASURE_DONE, replace(ctx, **missing), profile,  # type: ignore[arg-type]
                         language=language)


@pytest.mark.parametrize("channel", ["email", "telegram"])
@pytest.mark.parametrize("language", ["de", "en"])
def test_access_answer_promises_no_attachment_that_is_not_sent(
    profile: ControllerProfile, channel: str, language: str
) -> None:
    """Issue 15 no. 1: "in der Anlage" / "als Datei in diesem Chat" only when a file really goes."""
    bare = replace(sample_context(ReplyKind.ACCESS_ANSWER, profile.key), channel=channel,
                   attachment_names=(), copy_link=None)
    out = render_reply(ReplyKind.ACCESS_ANSWER, bare, profile, language=language)
    for text in (_flat(out.text), _flat(out.chat)):
        for claim in ("in der Anlage", "als Datei in diesem Chat", "is attached", "in this chat as a file",
                      "herunterladen", "download"):
            assert claim not in text
    assert ("nicht beigefügt" if language == "de" else "not part of this letter") in _flat(out.text)
    attached = replace(bare, attachment_names=("Kopie.json",))
    text = _flat(render_reply(ReplyKind.ACCESS_ANSWER, attached, profile, language=language).text)
    wanted = {("de", "email"): "in der Anlage", ("de", "telegram"): "als Datei in diesem Chat",
              ("en", "email"): "is attached", ("en", "telegram"): "in this chat as a file"}
    assert wanted[language, channel] in text and "Kopie.json" in text
    linked = replace(bare, copy_link="https://example.org/k/1", copy_link_expires=date(2026, 3, 1))
    text = _flat(render_reply(ReplyKind.ACCESS_ANSWER, linked, profile, language=language).text)
    assert "https://example.org/k/1" in text and ("1. März 2026" in text or "1 March 2026" in text)
    separate = replace(bare, copy_link_sent_separately=True, copy_link_expires=date(2026, 3, 1))
    text = _flat(render_reply(ReplyKind.ACCESS_ANSWER, separate, profile, language=language).text)
    assert ("gesonderten Nachricht geschickt" in text or "sent you in a separate message" in text)
    assert "nicht beigefügt" not in text and "not part of this letter" not in text


@pytest.mark.parametrize("language", ["de", "en"])
def test_consent_withdrawal_confirms_only_what_was_done(profile: ControllerProfile, language: str) -> None:
    """Issue 15 no. 6: an advertising consent is done at once; anything else is being handled."""
    ctx = sample_context(ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION, profile.key)
    review = render_reply(ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION, replace(ctx, withdrawal_scope="review"),
                          profile, language=language)
    marketing = render_reply(ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION,
                             replace(ctx, withdrawal_scope="marketing"), profile, language=language)
    for text in (_flat(review.text), _flat(review.chat)):
        for claim in ("haben wir eingestellt", "Erledigt", "löschen wir.", "we have stopped", "Done"):
            assert claim not in text
        assert ("prüf" if language == "de" else "checking") in text
    assert ("Werbesperrliste" if language == "de" else "suppression list") in _flat(marketing.text)
    assert ("Erledigt" if language == "de" else "Done") in _flat(marketing.chat)


@pytest.mark.parametrize(
    "kind", [ReplyKind.RECTIFICATION_DONE, ReplyKind.ERASURE_DONE, ReplyKind.RESTRICTION_DONE]
)
def test_completion_notices_carry_art19(profile: ControllerProfile, kind: ReplyKind) -> None:
    ctx = sample_context(kind, profile.key)
    flat = " ".join(render_reply(kind, ctx, profile).text.split())
    assert "Art. 19 DSGVO" in flat
    assert all(name in flat for name in ctx.notified_recipients)


def test_restriction_explains_effect_and_notice_before_lifting(profile: ControllerProfile) -> None:
    flat = " ".join(
        render_reply(
            ReplyKind.RESTRICTION_DONE, sample_context(ReplyKind.RESTRICTION_DONE, profile.key), profile
        ).text.split()
    )
    assert "Art. 18 Abs. 2" in flat and "Art. 18 Abs. 3" in flat


def test_objection_and_automated_decision_acknowledgements(profile: ControllerProfile) -> None:
    objection = " ".join(
        render_reply(
            ReplyKind.OBJECTION_ACK, sample_context(ReplyKind.OBJECTION_ACK, profile.key), profile
        ).text.split()
    )
    assert "zwingende schutzwürdige Gründe" in objection and "Art. 18 Abs. 1 lit. d" in objection
    review = " ".join(
        render_reply(
            ReplyKind.AUTOMATED_DECISION_ACK,
            sample_context(ReplyKind.AUTOMATED_DECISION_ACK, profile.key),
            profile,
        ).text.split()
    )
    assert (
        "Art. 22 Abs. 3 DSGVO" in review and "Standpunkt" in review and "nicht erneut automatisch" in review
    )
    assert "spätestens am 2. März 2026" in review


def test_escalation_notice_keeps_the_date_and_names_the_right_office(profile: ControllerProfile) -> None:
    ctx = sample_context(ReplyKind.ESCALATION_NOTICE, profile.key)
    text = render_reply(ReplyKind.ESCALATION_NOTICE, ctx, profile).text
    flat = " ".join(text.split())
    assert "spätestens am 2. März 2026" in flat and "legal_threat" not in text
    assert ("Datenschutzbeauftragten" in flat) == (profile.dpo is not None)


def test_clarification_lists_every_reading(profile: ControllerProfile) -> None:
    ctx = replace(
        sample_context(ReplyKind.CLARIFICATION, profile.key),
        readings=(Right.ACCESS, Right.OBJECTION, Right.ERASURE),
    )
    reply = render_reply(ReplyKind.CLARIFICATION, ctx, profile)
    for n, right in enumerate(ctx.readings, 1):
        assert f"({n}) {RIGHTS[right].name_de} ({RIGHTS[right].article})" in reply.text
        assert f"({n}) {RIGHTS[right].name_de}" in reply.chat


def test_dpo_alert_explains_every_reason_code(profile: ControllerProfile) -> None:
    ctx = replace(
        sample_context(ReplyKind.DPO_ESCALATION_ALERT, profile.key),
        escalation_reasons=tuple(ESCALATION_REASONS_DE),
    )
    flat = " ".join(render_reply(ReplyKind.DPO_ESCALATION_ALERT, ctx, profile).text.split())
    for code, explanation in ESCALATION_REASONS_DE.items():
        assert f"{explanation} [{code}]" in flat


@pytest.mark.parametrize(
    "kind", [ReplyKind.DPO_ESCALATION_ALERT, ReplyKind.DEADLINE_REMINDER, ReplyKind.WEEKLY_DIGEST]
)
def test_internal_mails_carry_metadata_only(profile: ControllerProfile, kind: ReplyKind) -> None:
    ctx = replace(sample_context(kind, profile.key), recipient_name=NAME)
    reply = render_reply(kind, ctx, profile)
    assert NAME not in _all_parts(reply) and "@" not in reply.text and reply.chat == ""


def test_digest_counts_and_orders_by_deadline(profile: ControllerProfile) -> None:
    text = render_reply(
        ReplyKind.WEEKLY_DIGEST, sample_context(ReplyKind.WEEKLY_DIGEST, profile.key), profile
    ).text
    assert "Offene Vorgänge: 3" in text and "Frist überschritten: 1" in text
    assert text.index("DSR-2026-000101") < text.index("DSR-2026-000123") < text.index("DSR-2026-000131")
    empty = replace(sample_context(ReplyKind.WEEKLY_DIGEST, profile.key), digest_rows=())
    assert "Es gibt keine offenen Vorgänge." in render_reply(ReplyKind.WEEKLY_DIGEST, empty, profile).text


@pytest.mark.parametrize("days_before", [-3, 0, 7])
def test_deadline_reminder_wording_follows_days_left(profile: ControllerProfile, days_before: int) -> None:
    from datetime import timedelta

    base = sample_context(ReplyKind.DEADLINE_REMINDER, profile.key)
    assert base.due_date is not None
    ctx = replace(base, as_of=base.due_date - timedelta(days=days_before))
    subject = render_reply(ReplyKind.DEADLINE_REMINDER, ctx, profile).subject
    expected = {-3: "Frist überschritten", 0: "Frist endet heute", 7: "Fristerinnerung"}[days_before]
    assert expected in subject


def test_du_profile_switches_every_reply(profile: ControllerProfile) -> None:
    du = with_form(profile, "Du")
    reply = render_reply(
        ReplyKind.RECEIPT_CONFIRMATION, sample_context(ReplyKind.RECEIPT_CONFIRMATION, profile.key), du
    )
    # Du: the first name ("Hallo Jana Beispiel" was issue 15 no. 14).
    assert reply.text.startswith("Hallo Jana,") and "Viele Grüße" in reply.text


# "Du hast das Recht, sich … zu beschweren": an infinitive clause about the reader that kept the
# formal reflexive "sich" (Du form: "Dich").  Third-person "sich" ("lässt sich öffnen", "die sich
# aus … ergeben", "meldet sich") does not open a clause after a comma and is not matched.
READER_REFLEXIVE_SICH = re.compile(r"(?:^|[,–(]\s*)sich\b[^.,;:]*?\bzu \w+", re.M)


def test_reflexive_check_finds_the_formal_sich_in_a_du_sentence() -> None:
    find = READER_REFLEXIVE_SICH.search
    assert find("Du hast das Recht, sich bei einer Aufsichtsbehörde zu beschweren")
    assert not find("Du hast das Recht, Dich bei einer Aufsichtsbehörde zu beschweren")
    assert not find("Die Datei lässt sich mit üblicher Software öffnen, um sie zu lesen")


@pytest.mark.parametrize("channel", ["email", "telegram"])
@pytest.mark.parametrize("kind", [k for k, s in KIND_SPECS.items() if not s.internal], ids=str)
def test_du_texts_use_dich_where_the_reader_is_meant(
        profile: ControllerProfile, kind: ReplyKind, channel: str) -> None:
    ctx = replace(sample_context(kind, profile.key, "de"), channel=channel)
    reply = render_reply(kind, ctx, with_form(profile, "Du"), language="de")
    text = _all_parts(reply)
    found = READER_REFLEXIVE_SICH.findall(text)
    assert found == [], f"{kind}: formal reflexive in a Du text: {found}"
    assert SIE_WORDS.findall(text) == []


def test_remedies_name_the_court_of_the_habitual_residence(profile: ControllerProfile) -> None:
    """Issue 15 no. 10: § 44 BDSG, not only "die Gerichte an unserem Sitz"."""
    ctx = sample_context(ReplyKind.REFUSAL_NOTICE, profile.key)
    de = _flat(render_reply(ReplyKind.REFUSAL_NOTICE, ctx, profile).text)
    en = _flat(render_reply(ReplyKind.REFUSAL_NOTICE, ctx, profile, language="en").text)
    assert "gewöhnlichen Aufenthalt haben (§ 44 Abs. 1 BDSG)" in de
    assert "habitual residence (section 44(1)" in en


def test_objection_outcome_puts_the_burden_on_the_controller(profile: ControllerProfile) -> None:
    """Issue 15 no. 10: Art. 21(1) needs compelling legitimate grounds the controller demonstrates."""
    ctx = sample_context(ReplyKind.OBJECTION_OUTCOME, profile.key)
    de = _flat(render_reply(ReplyKind.OBJECTION_OUTCOME, ctx, profile).text)
    assert "zwingende schutzwürdige Gründe nachweisen" in de and "diesen Nachweis müssen wir führen" in de
    en = _flat(render_reply(ReplyKind.OBJECTION_OUTCOME, ctx, profile, language="en").text)
    assert "demonstrate compelling legitimate grounds" in en


def test_escalation_notice_does_not_call_the_dpo_the_controller(profile: ControllerProfile) -> None:
    """Issue 15 no. 12: "die für den Datenschutz verantwortliche Stelle" is the pre-GDPR controller."""
    ctx = sample_context(ReplyKind.ESCALATION_NOTICE, profile.key)
    for language in ("de", "en"):
        out = render_reply(ReplyKind.ESCALATION_NOTICE, ctx, profile, language=language)
        assert "verantwortliche Stelle" not in out.text and "person responsible" not in out.text
    de = _flat(render_reply(ReplyKind.ESCALATION_NOTICE, ctx, profile).text)
    assert ("Datenschutzbeauftragten" if profile.dpo else "für den Datenschutz zuständig") in de


def test_automated_rejection_states_no_art_6_ground_and_the_logic_for_this_person() -> None:
    """Issue 15 no. 5: a solely automated decision needs Art. 22(2); C-203/22 logic for this person."""
    komsa = load_profile("komsa")
    ctx = sample_context(ReplyKind.ACCESS_ANSWER, "komsa")
    text = _flat(render_reply(ReplyKind.ACCESS_ANSWER, ctx, komsa).text)
    section = text[text.index("8. Automatisierte"):text.index("9. Übermittlung")]
    assert "Art. 6 Abs. 1 lit. f" not in section and "Rechtsgrundlage" not in section
    assert "in Ihrem Fall angewendet" in section and "Bonitätsindex 410" in section
    none_applied = _flat(render_reply(ReplyKind.ACCESS_ANSWER, replace(ctx, automated_logic_applied=()),
                                      komsa).text)
    assert "keine solche automatisierte Entscheidung getroffen" in none_applied
    with pytest.raises(ReplyDataError, match="C-203/22"):
        render_reply(ReplyKind.ACCESS_ANSWER, replace(ctx, automated_logic_applied=None), komsa)
    exception = {"art22_exception": "Art. 22 Abs. 2 lit. a DSGVO"}
    confirmed = komsa.model_copy(update={"automated_decisions": [
        d.model_copy(update=exception) for d in komsa.automated_decisions]})
    assert "Zulässig ist die Entscheidung nach Art. 22 Abs. 2 lit. a DSGVO" in _flat(
        render_reply(ReplyKind.ACCESS_ANSWER, ctx, confirmed).text)


def test_access_answer_names_the_recipients_of_this_person(profile: ControllerProfile) -> None:
    """Issue 15 no. 2 (C-154/21): no "nennen wir auf Wunsch"; the answer names or says none."""
    ctx = sample_context(ReplyKind.ACCESS_ANSWER, profile.key)
    text = _flat(render_reply(ReplyKind.ACCESS_ANSWER, ctx, profile).text)
    assert "auf Wunsch" not in text
    for recipient in ctx.case_recipients or ():
        assert recipient.name in text
    if any(not r.named for r in profile.recipients):
        with pytest.raises(ReplyDataError, match="C-154/21"):
            render_reply(ReplyKind.ACCESS_ANSWER, replace(ctx, case_recipients=None), profile)


@pytest.mark.parametrize("language", ["de", "en"])
def test_footer_links_the_privacy_notice_or_nothing(language: str) -> None:
    """Issue 15 no. 13: the footer names the privacy notice itself; a profile without its address
    names no web address at all (no "Website:" home page presented instead)."""
    ctx = sample_context(ReplyKind.RECEIPT_CONFIRMATION, "kmb2")
    label = "Datenschutzhinweise: " if language == "de" else "Privacy notice: "
    without = render_reply(ReplyKind.RECEIPT_CONFIRMATION, ctx, load_profile("kmb2"), language=language).text
    footer = without.split("Mit freundlichen Grüßen")[-1].split("Kind regards")[-1]
    assert "Website:" not in footer and label not in footer and "www.kmb2.de" not in footer
    url = "https://www.kmb2.de/datenschutz"
    profile = load_profile("kmb2").model_copy(update={"privacy_notice_url": url})
    with_url = render_reply(ReplyKind.RECEIPT_CONFIRMATION, ctx, profile, language=language).text
    assert f"{label}{url}" in with_url


def test_language_fixes_of_issue_15() -> None:
    """Issue 15 no. 14."""
    du = load_profile("komsa").model_copy(update={"address_form": "Du"})
    ack = _flat(render_reply(ReplyKind.AUTOMATED_DECISION_ACK,
                             sample_context(ReplyKind.AUTOMATED_DECISION_ACK, "komsa"), du).chat)
    assert "bekommst Du" in ack and "bekommen Du" not in ack
    access = render_reply(ReplyKind.ACCESS_ANSWER, sample_context(ReplyKind.ACCESS_ANSWER, "komsa"),
                          load_profile("komsa")).text
    assert ") ;" not in access and "uns gegenüber" in access and "gegenüber uns" not in access
    portability = render_reply(ReplyKind.PORTABILITY_ANSWER,
                               sample_context(ReplyKind.PORTABILITY_ANSWER, "kmb2"), load_profile("kmb2"))
    assert "zum Mitnehmen" not in portability.subject
    withdrawal = render_reply(ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION,
                              sample_context(ReplyKind.CONSENT_WITHDRAWAL_CONFIRMATION, "kmb2"),
                              load_profile("kmb2")).text
    assert "Ihr Widerruf Ihrer Einwilligung" not in withdrawal


def test_review_set_shows_the_chat_text_actually_sent() -> None:
    """Issue 15 no. 13: the Telegram letter (the whole answer) is reviewed, not an unsent short form."""
    items = {i.stem: i for i in preview_items(load_profile("komsa"))}
    access = items["access_answer.de-Sie"].reply
    assert "8. Automatisierte Entscheidungen" in access.chat  # the whole letter goes into the chat
    assert "per E-Mail an die bei uns hinterlegte Adresse" not in access.chat  # never sent to anyone
    assert "in der Anlage" not in access.text
    assert items["verification_code.de-Sie"].reply.chat == ""  # the code goes by e-mail only
    assert items["dpo_escalation_alert.de-Sie"].reply.chat == ""
