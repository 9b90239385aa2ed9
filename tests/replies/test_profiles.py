"""The two reference profiles, checked fact by fact against the controllers' own privacy notices."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dsr.controllers import ControllerProfile, ProfileError, load_profile

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
ADDRESS_WORDS = re.compile(
    r"\b(Sie|Ihnen|Ihr|Ihre|Ihren|Ihrem|Ihrer|Ihres|Du|Dich|Dir|Dein|Deine|Deinen|Deiner)\b"
)


def _seed(prefix: str) -> str:
    files = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if not files:
        pytest.skip(f"privacy notices not found under {SEEDS}")
    return " ".join(files[0].read_text(encoding="utf-8").split())


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_komsa_facts_are_in_its_notice() -> None:
    notice = _seed("001")
    p = load_profile("komsa")
    for fact in (
        "KOMSA Allee 1",
        "09232 Hartmannsdorf",
        p.phone.removeprefix("+49 "),
        p.contact_email,
        "datenschutz nord GmbH",
        "Kurfürstendamm 212",
        "10719 Berlin",
        "office@datenschutz-nord.de",
        "business-controlling@komsa.de",
        "HubSpot, Inc.",
    ):
        assert fact in notice, fact
    for recipient in p.recipients:
        if recipient.named:
            assert recipient.name in notice, recipient.name
    for company in (*p.group_companies, *p.marketing_companies):
        assert company in notice, company
    for purpose in p.purposes:
        for basis in re.findall(r"Art\. 6 Abs\. 1 lit\. [a-f]", purpose.legal_basis):
            assert basis in notice
    for factor in p.automated_decisions[1].factors:
        assert factor.split()[0] in notice


def test_kmb2_facts_are_in_its_notice() -> None:
    notice = _seed("000")
    p = load_profile("kmb2")
    for fact in (
        p.legal_name,
        p.contact_email,
        "Klaus Marwede",
        "Braunschweig",
        "www.kmb2.de",
        "Handwerkspartnern (Subunternehmer)",
    ):
        assert fact in notice, fact
    assert p.dpo is None and p.address.street == ""  # the notice names neither


@pytest.mark.parametrize(
    ("name", "authority", "street", "city"),
    [
        ("kmb2", "Der Landesbeauftragte für den Datenschutz Niedersachsen", "Prinzenstraße 5", "Hannover"),
        ("komsa", "Die Sächsische Datenschutz- und Transparenzbeauftragte", "Postfach 11 01 32", "Dresden"),
    ],
)
def test_authority_is_current(name: str, authority: str, street: str, city: str) -> None:
    p = load_profile(name)
    assert (p.authority.name, p.authority.address.street, p.authority.address.city) == (
        authority,
        street,
        city,
    )


def test_profile_texts_use_no_form_of_address(profile: ControllerProfile) -> None:
    """Profile texts appear in Sie and Du replies alike, so they must address nobody."""
    texts = _strings(profile.model_dump(exclude={"address_form"}))
    offending = [s for s in texts if ADDRESS_WORDS.search(s)]
    assert offending == []


LEGACY = (
    'key = "legacy"\nlegal_name = "Alt GmbH"\nshort_name = "Alt"\ncontact_email = "a@alt.example"\n'
    'request_addresses = ["a@alt.example"]\nstate = "NI"\n'
    '[address]\ncity = "Celle"\n[authority]\nname = "Der Landesbeauftragte für den Datenschutz '
    'Niedersachsen"\n[authority.address]\nstreet = "Prinzenstraße 5"\npostal_code = "30159"\n'
    'city = "Hannover"\n[[purposes]]\nkey = "contract"\npurpose = "Vertrag"\npurpose_en = "Contract"\n'
    'legal_basis = "Art. 6 Abs. 1 lit. b DSGVO"\nlegal_basis_en = "Art. 6(1)(b) GDPR"\n'
    '[[recipients]]\nkey = "x"\nname = "X AG"\npurpose = "Versand"\npurpose_en = "Shipping"\n'
    '[[retention]]\nkey = "all"\ncategory = "alles"\ncategory_en = "everything"\n'
    'period = "3 Jahre"\nperiod_en = "3 years"\n'
)


def test_profiles_without_the_optional_fields_load(tmp_path: Path) -> None:
    path = tmp_path / "legacy.toml"
    path.write_text(LEGACY, encoding="utf-8")
    profile = load_profile(str(path))
    assert profile.recipients[0].named is True and profile.marketing_channels == []
    assert profile.relationships == [] and profile.assumed_facts == []


@pytest.mark.parametrize(
    ("drop", "field"),
    [('purpose_en = "Contract"\n', "purpose_en"), ('period_en = "3 years"\n', "period_en"),
     ('purpose_en = "Shipping"\n', "purpose_en")],
)
def test_a_missing_english_text_is_a_profile_error(tmp_path: Path, drop: str, field: str) -> None:
    """Issue 15 no. 4: every text an English letter quotes has an English version (Art. 12(1))."""
    path = tmp_path / "profile.toml"
    path.write_text(LEGACY.replace(drop, ""), encoding="utf-8")
    with pytest.raises(ProfileError, match=field):
        load_profile(str(path))


def test_a_missing_english_list_entry_or_category_name_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text('data_categories = ["Namen", "Anschriften"]\ndata_categories_en = ["names"]\n' + LEGACY,
                    encoding="utf-8")
    with pytest.raises(ProfileError, match="data_categories_en"):
        load_profile(str(path))
    path.write_text(LEGACY.replace('purpose_en = "Shipping"\n', 'purpose_en = "Shipping"\nnamed = false\n'),
                    encoding="utf-8")
    with pytest.raises(ProfileError, match="name_en"):
        load_profile(str(path))


def test_every_quoted_text_of_the_reference_profiles_has_its_english(profile: ControllerProfile) -> None:
    data = profile.model_dump()

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                company = key == "name" and value.get("named") is True  # a company's name needs none
                if f"{key}_en" in value and item and not company:
                    assert value[f"{key}_en"], f"{where}.{key}"
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")

    walk(data, profile.key)
    for rel in profile.relationships:
        assert rel.name_en and len(rel.sources_en) == len(rel.sources)


def test_relationships_refer_to_the_profiles_own_items(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(LEGACY + '[[relationships]]\nkey = "customer"\nname = "Kunde"\nname_en = "Customer"\n'
                    'purposes = ["contract", "newsletter"]\ndata_categories = ["Namen"]\n'
                    'retention = ["all"]\n', encoding="utf-8")
    with pytest.raises(ProfileError, match=r"relationships\.customer\.purposes: unknown 'newsletter'"):
        load_profile(str(path))


def test_assumed_facts_name_known_facts(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text('assumed_facts = ["purpose.contract.legal_basis", "retention.everything"]\n' + LEGACY,
                    encoding="utf-8")
    with pytest.raises(ProfileError, match=r"unknown fact 'retention\.everything'"):
        load_profile(str(path))


def test_facts_the_notices_do_not_contain_are_assumed() -> None:
    """Issue 15 no. 15: kmb2's notice names no legal basis and no storage period, neither notice says
    that no automated decision is made, that no data leave the EU (kmb2) or how long request
    records are kept."""
    kmb2, komsa = load_profile("kmb2"), load_profile("komsa")
    for purpose in kmb2.purposes:
        assert kmb2.is_assumed(f"purpose.{purpose.key}.legal_basis")
    for item in kmb2.retention:
        assert kmb2.is_assumed(f"retention.{item.key}")
    for fact in ("automated_decisions.none", "third_country_transfers.none", "dsr_record_retention"):
        assert kmb2.is_assumed(fact)
    assert komsa.assumed_facts == ["dsr_record_retention"]
    assert kmb2.facts_confirmed_by and komsa.facts_confirmed_by
    assert kmb2.privacy_notice_url == "" and komsa.privacy_notice_url == ""  # neither notice names its URL


def test_relationships_cover_what_the_notices_describe() -> None:
    komsa, kmb2 = load_profile("komsa"), load_profile("kmb2")
    assert {r.key for r in komsa.relationships} == {"partner-applicant", "partner", "training-user",
                                                    "advertising"}
    assert {r.key for r in kmb2.relationships} >= {"customer", "end-customer", "marketing", "website-visitor"}
    for profile in (komsa, kmb2):
        used = {p for r in profile.relationships for p in r.purposes}
        assert used == {p.key for p in profile.purposes}, profile.key
