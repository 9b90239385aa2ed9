"""Issue 13: no silent `other`, the subject never overrides the body, exact cue words, special intake.

A message is set aside (`other`, no escalation) only with positive evidence that it is no
privacy request (`non_request` names it); everything else a person wrote reaches a person.
"""

from __future__ import annotations

import pytest

from dsr.intents import classify
from dsr.intents.reasons import ROUTINE_CODES
from dsr.intents.rights import Right
from dsr.intents.routing import GENERAL_READINGS, Route, decide


def _set_aside(subject: str, body: str, channel: str = "email") -> bool:
    result = classify(subject, body, channel)
    return result.labels == (Right.OTHER,) and not result.escalate


@pytest.mark.parametrize(("subject", "body", "channel"), [
    ("", "Hallo, bitte nehmen Sie mich aus Ihrem System. Danke", "email"),
    ("", "Ich will raus aus Ihrer Kartei.", "email"),
    ("", "moin, macht ma meine daten wech bei euch, alles. danke", "email"),
    ("", "ey macht mal alles wech was ihr von mir habt", "telegram"),
    ("", "Ich habe heute mit Ihrer Post die Rechnung eines anderen Kunden bekommen, mit Name und Adresse.",
     "email"),
    ("Ihr Zeichen", "Bei uns ist eine Beschwerde über Sie eingegangen (Aktenzeichen 12-345/24). Wir bitten "
     "um Ihre Stellungnahme bis zum 15.12.\n\nDie Landesbeauftragte für den Datenschutz", "email"),
    ("", "hä? was soll das denn jetzt", "telegram"),
    ("", "Können Sie mir bitte sagen, wie das bei Ihnen gehandhabt wird?", "email"),
])
def test_the_issues_examples_are_never_set_aside(subject: str, body: str, channel: str) -> None:
    assert not _set_aside(subject, body, channel)


@pytest.mark.parametrize(("body", "channel"), [
    ("moin, macht ma meine daten wech bei euch, alles. danke", "email"),
    ("ey macht mal alles wech was ihr von mir habt", "telegram"),
])
def test_dialect_deletion_reads_as_erasure_not_access(body: str, channel: str) -> None:
    assert classify("", body, channel).labels == (Right.ERASURE,)


def test_unrecognised_message_is_low_confidence_not_other_silently() -> None:
    result = classify("", "hä? was soll das denn jetzt", "telegram")
    assert result.labels == (Right.OTHER,)
    assert result.escalate and "low_confidence" in result.reasons
    assert result.non_request == ""


@pytest.mark.parametrize(("subject", "body", "code"), [
    ("Rechnung 4711", "Anbei die Rechnung für Juli. Bitte überweisen Sie den Betrag bis zum 30.", "invoice"),
    ("", "wo bleibt meine bestellung? sollte gestern kommen", "order"),
    ("Bewerbung", "Hiermit bewerbe ich mich als Fachinformatiker. Lebenslauf anbei.", "application"),
    ("", "danke!", "chat_noise"),
])
def test_routine_messages_are_set_aside_with_the_reason(subject: str, body: str, code: str) -> None:
    result = classify(subject, body, "email")
    assert result.labels == (Right.OTHER,) and not result.escalate
    assert result.non_request == code and code in ROUTINE_CODES
    assert result.to_dict()["non_request"] == code
    assert any(e.rule.startswith("routine.") for e in result.evidence) or code == "chat_noise"


def test_a_privacy_word_forbids_setting_a_routine_message_aside() -> None:
    result = classify("Rechnung 4711", "Zur Rechnung: woher haben Sie eigentlich meine Daten?", "email")
    assert not (result.labels == (Right.OTHER,) and not result.escalate)


@pytest.mark.parametrize(("subject", "body", "code"), [
    ("Auftrag 5512 – Nachtrag", "Hallo, bitte bei der Bestellung Artikel 2 löschen und dafür "
     "5 Stück zusätzlich liefern. Rechnung wie immer.", "order"),
    ("", "Bitte löschen Sie den Termin mit dem Monteur am Freitag, wir sind verreist.", "order"),
    ("AW: Ihre Datenschutzanfrage vom 3. März", "Danke, erledigt.\n\nGruß\nK. Brandt", "closed"),
    ("Lieferantenbewertung 2025", "Guten Tag, für unsere Lieferantenbewertung benötigen wir die Kontaktdaten "
     "Ihres Datenschutzbeauftragten und Ihre aktuellen TOMs.", "business"),
    ("Bewerbung als Elektroniker", "Hiermit bewerbe ich mich bei Ihnen. Lebenslauf anbei. Die "
     "Datenschutzerklärung für Bewerber habe ich gelesen.", "application"),
])
def test_a_matter_claims_the_privacy_words_inside_it(subject: str, body: str, code: str) -> None:
    """An order line deleted, a vendor's checklist, a plain acknowledgement under our confirmation:
    positive evidence of no request although a privacy word occurs (old code: the DPO's triage)."""
    result = classify(subject, body, "email")
    assert result.labels == (Right.OTHER,) and not result.escalate
    assert result.non_request == code
    assert any(e.rule.startswith("routine.") for e in result.evidence)


@pytest.mark.parametrize(("subject", "body"), [
    ("Auftrag 5512 – Korrektur", "Bitte Artikel 2 streichen. Und ich möchte, dass Sie meine Telefonnummer "
     "aus dem Kundenkonto löschen."),
    ("Termin", "Den Termin mit dem Monteur bitte absagen. Meine Handynummer geben Sie bitte niemandem mehr."),
    ("AW: Bestätigung", "Danke, erledigt. Aber warum habt ihr meine Daten überhaupt gespeichert?"),
    ("Re: Ihr Update von mein-support.com", "Ganz ehrlich: bitte ab sofort keine mehr davon."),
    ("Lernplattform-Daten", "Die Zertifikate brauche ich für Bewerbungen. Löschen Sie meinen Zugang bitte "
     "noch nicht, sperren Sie ihn nur."),
])
def test_no_matter_claims_a_person_speaking_of_their_own_data(subject: str, body: str) -> None:
    """The sender speaks of their own data beside the matter (or a domain names the matter): a person or
    a question, never set aside."""
    assert not _set_aside(subject, body)


@pytest.mark.parametrize(("subject", "body"), [
    ("", "Wo finde ich eigentlich Ihre Datenschutzerklärung?"),
    ("DSB", "Haben Sie einen Datenschutzbeauftragten benannt? Wie erreiche ich ihn?"),
    ("", "Which cookies does your website set?"),
])
def test_a_general_privacy_question_is_a_clarification_not_triage(subject: str, body: str) -> None:
    """No right exercised: the person is asked, the rights offered (old code: the DPO's triage queue)."""
    result = classify(subject, body, "email")
    assert result.general_question and result.labels == (Right.OTHER,)
    decision = decide(result)
    assert decision.route is Route.CLARIFY and decision.readings == GENERAL_READINGS


@pytest.mark.parametrize(("body", "route"), [
    ("Wo finde ich Ihre Datenschutzerklärung? Und löschen Sie bitte sofort alle meine Daten.", None),
    ("Ihr Datenschutzbeauftragter hat meine Beschwerde ignoriert, ich gehe zur Aufsichtsbehörde.",
     Route.ESCALATE),
])
def test_a_right_or_a_cue_beside_the_question_wins(body: str, route: Route | None) -> None:
    result = classify("", body, "email")
    assert not result.general_question
    if route is not None:
        assert decide(result).route is route


def test_breach_report_is_escalated_as_breach_and_never_set_aside() -> None:
    body = "Guten Tag, ich habe heute die Rechnung eines anderen Kunden bekommen, mit Name und Adresse."
    result = classify("Falsche Rechnung", body, "email")
    assert result.escalate and "breach" in result.reasons
    assert result.non_request == ""


def test_authority_letter_goes_to_a_person() -> None:
    body = ("Sehr geehrte Damen und Herren,\n\nbei uns ist eine Beschwerde eingegangen (Aktenzeichen "
            "LfD-1234/24). Wir bitten Sie um Stellungnahme bis zum 15.12.2024.\n\nDie Landesbeauftragte "
            "für den Datenschutz")
    result = classify("Beschwerdeverfahren", body, "email")
    assert result.escalate and "authority" in result.reasons


def test_processor_situation_is_escalated() -> None:
    body = "Unsere Kundin Frau Berg möchte, dass ihre Daten gelöscht werden. Bitte löschen Sie alles."
    result = classify("Löschung", body, "email")
    assert Right.ERASURE in result.labels and "processor_role" in result.reasons


def test_subject_abmeldung_does_not_override_an_erasure_body() -> None:
    result = classify("Abmeldung", "Bitte löschen Sie alle meine Daten und mein Kundenkonto.", "email")
    assert Right.ERASURE in result.labels
    assert result.labels != (Right.MARKETING_OBJECTION,)


def test_subject_meine_daten_does_not_make_access() -> None:
    body = "Guten Tag, meine neue Adresse lautet Lindenweg 3. Bitte ändern Sie das in Ihren Unterlagen."
    result = classify("Meine Daten", body, "email")
    assert Right.ACCESS not in result.labels
    assert Right.RECTIFICATION in result.labels


def test_subject_alone_over_a_long_unrelated_body_is_not_confident() -> None:
    body = " ".join(["Wir haben am Samstag unser Sommerfest im Garten gefeiert und viel gelacht."] * 4)
    result = classify("Auskunft nach Art. 15 DSGVO", body, "email")
    assert result.labels == (Right.ACCESS,) and "low_confidence" in result.reasons


def test_cue_words_match_exactly_not_fuzzily() -> None:
    result = classify("", "Danke für die schnelle Reaktion, bitte löschen Sie meine Daten.", "email")
    assert "authority" not in result.reasons
    assert not any(e.rule == "cue.authority_or_press" for e in result.evidence)
    press = classify("", "Ich bin Redakteurin und bitte um Auskunft über meine Daten.", "email")
    assert "authority" in press.reasons


@pytest.mark.parametrize("word", ["Datenlöschung", "Kontolöschung"])
def test_compounds_are_split(word: str) -> None:
    assert Right.ERASURE in classify("", f"Ich beantrage die {word}.", "email").labels


def test_compound_split_never_reads_bewerbung_as_werbung() -> None:
    result = classify("", "Keine Bewerbung mehr von mir, ich habe eine andere Stelle.", "email")
    assert Right.MARKETING_OBJECTION not in result.labels


def test_english_and_mixed_frames() -> None:
    assert Right.ERASURE in classify("", "Can you please delete my number from your list? Thanks",
                                     "telegram").labels
    assert Right.ERASURE in classify("", "keine ahnung wie das geht but i want all my data deleted",
                                     "telegram").labels
