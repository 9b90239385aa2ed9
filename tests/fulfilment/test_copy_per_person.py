"""The copy in the package (Art. 15(3)) states this person's relationships in the person's language
(brief gap 2): not the purposes of the whole privacy notice, not German to an English requester,
and no assumed profile fact as a fact."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest

from dsr.controllers import load_profile
from dsr.datamap import load_datamap_for
from dsr.fulfilment.package import Source, build_package, person_info
from dsr.fulfilment.texts import code_message, copy_labels, link_message, sealed_message

KOMSA = load_profile("komsa")
KOMSA_MAP = load_datamap_for("komsa")


def _found(*categories: str) -> list[Source]:
    assert KOMSA_MAP is not None
    system = KOMSA_MAP.system("partner-crm")
    return [Source(system, system.category(key), (1,)) for key in categories]


def _purpose(key: str, lang: str) -> str:
    purpose = next(p for p in KOMSA.purposes if p.key == key)
    return purpose.purpose if lang == "de" else purpose.purpose_en[:1].upper() + purpose.purpose_en[1:]


@pytest.mark.parametrize("lang", ["de", "en"])
def test_a_newsletter_subscriber_reads_only_about_advertising(lang: str) -> None:
    assert KOMSA_MAP is not None
    info = person_info(KOMSA, KOMSA_MAP, _found("newsletter"), relationships=(), lang=lang,
                       labels=copy_labels(lang))
    advertising = next(r for r in KOMSA.relationships if r.key == "advertising")
    assert info.relationships == [advertising.name if lang == "de" else advertising.name_en]
    assert any(p.startswith(_purpose("advertising", lang)) for p in info.purposes)
    everything = " ".join(info.purposes + info.recipients + info.retention + info.automated)
    for other in ("credit-check", "training", "group-scoring", "application"):
        assert _purpose(other, lang) not in everything, other
    assert "CRIF" not in everything and info.automated == [] and info.no_automated
    if lang == "en":
        for german in ("Einwilligung", "Werbung", "Rechtsgrundlage"):
            assert german not in everything, german


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_dpos_choice_wins_over_the_data_found(lang: str) -> None:
    assert KOMSA_MAP is not None
    info = person_info(KOMSA, KOMSA_MAP, _found("newsletter", "applications"),
                       relationships=("training-user",), lang=lang, labels=copy_labels(lang))
    assert len(info.purposes) == 1 and info.purposes[0].startswith(_purpose("training", lang))


def test_a_partner_applicant_reads_the_credit_decision_in_english() -> None:
    assert KOMSA_MAP is not None
    info = person_info(KOMSA, KOMSA_MAP, _found("applications", "credit-checks"),
                       relationships=("partner-applicant",), lang="en", labels=copy_labels("en"))
    decision = next(d for d in KOMSA.automated_decisions if d.key == "credit-decision")
    group = next(d for d in KOMSA.automated_decisions if d.key == "group-scoring")
    assert any(decision.logic_en in line for line in info.automated)
    assert not any(group.logic_en in line for line in info.automated)


def test_assumed_facts_are_left_out_of_the_copy() -> None:
    """kmb2's legal bases, storage periods and "no automated decisions" are not in its notice."""
    kmb2 = load_profile("kmb2")
    kmb2_map = load_datamap_for("kmb2")
    assert kmb2_map is not None
    system = kmb2_map.systems[0]
    found = [Source(system, category, (1,)) for category in system.categories]
    info = person_info(kmb2, kmb2_map, found, relationships=("customer",), lang="de",
                       labels=copy_labels("de"))
    assert info.purposes and not info.no_automated
    for purpose in kmb2.purposes:
        if kmb2.is_assumed(f"purpose.{purpose.key}.legal_basis"):
            assert not any(purpose.legal_basis in line for line in info.purposes), purpose.key
    confirmed = kmb2.with_confirmed(["automated_decisions.none"])
    assert person_info(confirmed, kmb2_map, found, relationships=("customer",), lang="de",
                       labels=copy_labels("de")).no_automated


@pytest.mark.parametrize(("code", "english"), [
    ("en", True), ("EN", True), ("en-GB", True), ("en_US", True), ("En-us", True),
    ("de", False), ("de-AT", False), ("fr", False), ("", False),
])
def test_every_english_language_code_gets_the_english_package_and_messages(code: str, english: bool) -> None:
    """Brief i15b no. 3: "en-GB", "en_US", "EN" are English too, in the package and its messages."""
    assert KOMSA_MAP is not None
    out = io.BytesIO()
    build_package(out, reference="DSR-2026-000123", profile=KOMSA, datamap=KOMSA_MAP, sources=[],
                  connectors={}, language=code, now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
                  relationships=("advertising",))
    names = zipfile.ZipFile(io.BytesIO(out.getvalue())).namelist()
    assert ("copy_of_your_data.html" in names) is english
    assert ("Kopie_Ihrer_Daten.html" in names) is not english
    assert copy_labels(code) == copy_labels("en" if english else "de")
    expires = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    link_subject, _ = link_message(lang=code, du=False, reference="DSR-2026-000123", url="https://x.example/d",
                                   expires_at=expires, max_uses=3)
    code_subject, _ = code_message(lang=code, du=False, reference="DSR-2026-000123", code="123456",
                                   minutes=15)
    sealed_subject, _ = sealed_message(lang=code, du=False, reference="DSR-2026-000123", file_name="a.zip",
                                       route="chat")
    for subject in (link_subject, code_subject, sealed_subject):
        assert subject.startswith("Your ") is english, subject
