"""The two reference profiles, checked fact by fact against the controllers' own privacy notices."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dsr.controllers import ControllerProfile, load_profile

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


def test_profiles_without_the_new_optional_fields_still_load(tmp_path: Path) -> None:
    path = tmp_path / "legacy.toml"
    path.write_text(
        'key = "legacy"\nlegal_name = "Alt GmbH"\nshort_name = "Alt"\ncontact_email = "a@alt.example"\n'
        'request_addresses = ["a@alt.example"]\nstate = "NI"\n'
        '[address]\ncity = "Celle"\n[authority]\nname = "Der Landesbeauftragte für den Datenschutz '
        'Niedersachsen"\n[authority.address]\nstreet = "Prinzenstraße 5"\npostal_code = "30159"\n'
        'city = "Hannover"\n[[purposes]]\npurpose = "Vertrag"\nlegal_basis = "Art. 6 Abs. 1 lit. b DSGVO"\n'
        '[[recipients]]\nname = "X AG"\npurpose = "Versand"\n[[retention]]\ncategory = "alles"\n'
        'period = "3 Jahre"\n',
        encoding="utf-8",
    )
    profile = load_profile(str(path))
    assert profile.recipients[0].named is True and profile.marketing_channels == []
