"""Controller profile schema and loader.

A profile is a TOML file (built-in ones live in `controllers/profiles/`).  Everything a reply,
a deadline or a channel needs to know about the controller comes from here: legal name,
contacts, the Land (for public holidays), the competent supervisory authority, form of address
and the Art. 15(1)(a)-(h) content of an access answer.

Every text a letter quotes has an English version beside it (`<field>_en`; Art. 12(1): a person
writing in English gets an answer they understand): a missing one is a validation error.  The
relationships a person can have with the controller (partner applicant, newsletter subscriber,
craft customer ...) name their purposes, categories, recipients, retention and sources, so an
access answer states what concerns this person, not the whole privacy notice.  Each fact the
notice does not contain is listed in `assumed_facts` until a DPO confirms it; letters never state
an assumed fact as a fact.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

PROFILE_DIR = Path(__file__).parent / "profiles"

Land = Literal["BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH"]


class ProfileError(Exception):
    """A profile could not be found or is invalid; the message names file and field."""


KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Bilingual(_Strict):
    """A model whose quoted texts have an English version in `<field>_en` (Art. 12(1) GDPR).

    A German text without its English version, or a list whose English list differs in length,
    fails validation naming the field: an English letter never quotes German profile text.
    """

    # English fields checked by the model itself instead (e.g. only where a condition holds).
    optional_en: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _english_present(self) -> Self:
        for name in type(self).model_fields:
            if not name.endswith("_en") or name in self.optional_en:
                continue
            german, english = getattr(self, name.removesuffix("_en")), getattr(self, name)
            if isinstance(german, str):
                if german.strip() and not english.strip():
                    raise ValueError(f"{name}: English text missing for {german[:60]!r}")
            elif len(german) != len(english) or not all(e.strip() for e in english):
                raise ValueError(f"{name}: needs one English text for each of {len(german)} German texts")
        return self


class PostalAddress(_Strict):
    street: str = ""  # may be empty where the notice gives none (kmb2)
    postal_code: str = ""
    city: str
    country: str = "Deutschland"

    def lines(self) -> list[str]:
        city = f"{self.postal_code} {self.city}".strip()
        return [line for line in (self.street, city) if line]


class Authority(_Strict):
    """The competent supervisory authority (docs/LEGAL-NOTES.md 4.4); current name and postal address."""

    name: str
    address: PostalAddress
    visitor_address: PostalAddress | None = None
    phone: str = ""
    email: str = ""
    web: str = ""


class DataProtectionOfficer(_Strict):
    name: str
    address: PostalAddress | None = None
    email: str = ""
    phone: str = ""


class Purpose(_Bilingual):
    """Art. 15(1)(a): a purpose with its legal basis and the data categories it uses."""

    key: str = Field(pattern=KEY_PATTERN)
    purpose: str
    purpose_en: str = ""
    legal_basis: str
    legal_basis_en: str = ""
    data_categories: list[str] = Field(default_factory=list)
    data_categories_en: list[str] = Field(default_factory=list)
    # Where the basis is Art. 6(1)(f): the legitimate interest pursued, as the notice words it.
    legitimate_interest: str = ""
    legitimate_interest_en: str = ""


class Recipient(_Bilingual):
    """Art. 15(1)(c): a named recipient (C-154/21) with what it receives and why."""

    optional_en: ClassVar[frozenset[str]] = frozenset({"name_en"})

    key: str = Field(pattern=KEY_PATTERN)
    name: str
    # English name of a category of recipients (a company's name needs none).
    name_en: str = ""
    purpose: str
    purpose_en: str = ""
    country: str = "Deutschland"
    is_processor: bool = False
    # False where the notice gives only a category (e.g. "Hosting-Dienstleister"); the access
    # answer then says so, and the individual recipients come from the case (C-154/21).
    named: bool = True
    data: str = ""  # which data this recipient receives, where the notice says so
    data_en: str = ""

    @model_validator(mode="after")
    def _category_named_in_english(self) -> Self:
        if not self.named and not self.name_en.strip():
            raise ValueError(f"name_en: English name missing for the recipient category {self.name!r}")
        return self

    @property
    def display_name_en(self) -> str:
        return self.name_en or self.name


class Retention(_Bilingual):
    """Art. 15(1)(d): storage period or the criteria for it."""

    key: str = Field(pattern=KEY_PATTERN)
    category: str
    category_en: str = ""
    period: str
    period_en: str = ""
    legal_basis: str = ""
    legal_basis_en: str = ""


class AutomatedDecision(_Bilingual):
    """Art. 15(1)(h) / Art. 22: a decision taken solely by automated means."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str
    name_en: str = ""
    logic: str
    logic_en: str = ""
    significance: str
    significance_en: str = ""
    contest_contact: str = ""
    # The Art. 22(2) exception that permits the solely automated decision (e.g. "Art. 22 Abs. 2
    # lit. a DSGVO (Abschluss des Vertrags)"), once the DPO has confirmed it.  Empty: not
    # confirmed, and no letter names a legal ground for the decision (a legitimate interest under
    # Art. 6(1)(f) permits processing, never a solely automated decision).
    art22_exception: str = ""
    art22_exception_en: str = ""
    # Kept for profiles written before art22_exception; never printed as the ground of the decision.
    legal_basis: str = ""
    # The criteria that feed the decision (C-203/22: the procedure and principles actually applied).
    factors: list[str] = Field(default_factory=list)
    factors_en: list[str] = Field(default_factory=list)


class ProcessorClient(_Strict):
    """A client for whom this controller processes data as a processor (Art. 28 GDPR).

    A request about the client's data is the client's to answer: it is forwarded there with its
    receipt date and an offer of support (Art. 28(3)(e)).  `match` lists words or phrases that
    identify such a request (the client's name, its properties, its customer numbers' prefix),
    compared without regard to case and umlaut spelling.
    """

    key: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    forward_to: EmailStr  # where requests are forwarded (the client's privacy contact)
    may_be_named: bool = False  # whether the person may be told the client's name
    data: str  # which data we process for the client, e.g. "Verbrauchs- und Abrechnungsdaten der Mieter"
    match: list[str] = Field(min_length=1)


class ThirdCountryTransfer(_Bilingual):
    """Art. 15(2): transfer to a third country and its Art. 46 safeguard."""

    recipient: str
    country: str
    country_en: str = ""
    safeguard: str
    safeguard_en: str = ""
    # True where the notice offers a copy of the safeguard (Art. 13(1)(f), 15(2)).
    copy_on_request: bool = False


class Relationship(_Bilingual):
    """A relationship a person can have with the controller (customer, partner applicant ...).

    It names, by key, the purposes, recipients, storage rules and automated decisions that apply
    to people in it, the profile's data categories it uses, and where data come from other than
    the person (Art. 15(1)(g)).  The access answer for a person contains only the items of the
    relationships chosen for them (by the DPO, or proposed from what discovery found).
    """

    key: str = Field(pattern=KEY_PATTERN)
    name: str  # e.g. "Bewerberin oder Bewerber um eine KOMSA-Partnerschaft"
    name_en: str = ""
    purposes: list[str] = Field(min_length=1)
    data_categories: list[str] = Field(min_length=1)
    recipients: list[str] = Field(default_factory=list)
    retention: list[str] = Field(min_length=1)
    automated_decisions: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    sources_en: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProfileFact:
    """A statement of fact a letter may make from the profile (legal basis, storage, none-such).

    `fact_id` is stable (`purpose.<key>.legal_basis`, `retention.<key>`, `automated_decisions.none`,
    `third_country_transfers.none`, `dsr_record_retention`); `label` and `statement` are German,
    for the DPO who confirms it.
    """

    fact_id: str
    label: str
    statement: str


@dataclass(frozen=True, slots=True)
class Selection:
    """The profile's items for a person's relationships, in profile order (German and English)."""

    relationships: tuple[Relationship, ...]
    purposes: tuple[Purpose, ...]
    data_categories: tuple[tuple[str, str], ...]  # (German, English)
    recipients: tuple[Recipient, ...]
    retention: tuple[Retention, ...]
    automated_decisions: tuple[AutomatedDecision, ...]
    sources: tuple[tuple[str, str], ...]  # (German, English)
    third_country_transfers: tuple[ThirdCountryTransfer, ...]

    @property
    def group_recipients(self) -> bool:
        """Whether a recipient is named only by its category (C-154/21: the case names it)."""
        return any(not r.named for r in self.recipients)


class ControllerProfile(_Bilingual):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    legal_name: str
    short_name: str
    address: PostalAddress
    phone: str = ""
    contact_email: EmailStr
    # Addresses the SMTP endpoint accepts mail for (RCPT TO); the first is our From address.
    request_addresses: list[EmailStr] = Field(min_length=1)
    # The privacy notice itself (the footer links it); empty where the notice names no URL: the
    # footer then names no web address at all.
    privacy_notice_url: str = ""
    # The named data protection officer, where the notice names one; else the privacy contact.
    dpo: DataProtectionOfficer | None = None
    privacy_contact: str = ""  # who handles privacy questions, e.g. "Geschäftsführer Klaus Marwede"
    privacy_contact_en: str = ""
    # Internal recipients of the deadline reminders and the weekly digest (metadata only).  Empty:
    # the DPO's e-mail address, else `contact_email` (see `notification_recipients`).
    notification_addresses: list[EmailStr] = Field(default_factory=list)
    state: Land
    authority: Authority
    address_form: Literal["Sie", "Du"] = "Sie"
    # How long records of handled requests are kept (accountability, Art. 5(2)).
    dsr_record_retention_years: int = Field(default=3, ge=1, le=30)
    # Internal target: this many working days before the legal due date.
    internal_target_working_days: int = Field(default=10, ge=0, le=20)
    # Whether the DPO allows pausing the clock while identity is genuinely in doubt (docs/LEGAL-NOTES.md 2.4).
    allow_identity_pause: bool = False
    # True where the controller often acts as a processor for others (Art. 28(3)(e)).
    may_act_as_processor: bool = False
    # The register of clients for whom it processes (read only when may_act_as_processor).
    processor_clients: list[ProcessorClient] = Field(default_factory=list)
    # Days after forwarding a request to a client until the DPO is reminded to check that the
    # client has confirmed it (never later than the client's statutory date).
    processor_follow_up_days: int = Field(default=14, ge=1, le=31)
    data_sources: list[str] = Field(default_factory=list)
    data_sources_en: list[str] = Field(default_factory=list)
    data_categories: list[str] = Field(default_factory=list)
    data_categories_en: list[str] = Field(default_factory=list)
    purposes: list[Purpose] = Field(min_length=1)
    recipients: list[Recipient] = Field(default_factory=list)
    retention: list[Retention] = Field(min_length=1)
    automated_decisions: list[AutomatedDecision] = Field(default_factory=list)
    third_country_transfers: list[ThirdCountryTransfer] = Field(default_factory=list)
    group_companies: list[str] = Field(default_factory=list)
    # Direct marketing (Art. 21(2)): the channels used and the companies advertising with the data;
    # the objection confirmation names them all.  Empty: the notice does not say.
    marketing_channels: list[str] = Field(default_factory=list)
    marketing_channels_en: list[str] = Field(default_factory=list)
    marketing_companies: list[str] = Field(default_factory=list)
    signature: str = ""
    signature_en: str = ""
    relationships: list[Relationship] = Field(default_factory=list)
    # Facts a letter may state (see `facts()`) that the notice does not contain: assumed until a DPO
    # confirms them (the confirmations are kept in the database, `with_confirmed`).  Every other
    # fact was confirmed by `facts_confirmed_by` on `facts_confirmed_on` (e.g. the published notice).
    assumed_facts: list[str] = Field(default_factory=list)
    facts_confirmed_by: str = ""
    facts_confirmed_on: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for kind, items in (("purposes", self.purposes), ("recipients", self.recipients),
                            ("retention", self.retention), ("automated_decisions", self.automated_decisions),
                            ("relationships", self.relationships)):
            keys = [item.key for item in items]
            if len(set(keys)) != len(keys):
                raise ValueError(f"{kind}: keys must be unique")
        known = {
            "purposes": {p.key for p in self.purposes}, "recipients": {r.key for r in self.recipients},
            "retention": {r.key for r in self.retention},
            "automated_decisions": {d.key for d in self.automated_decisions},
            "data_categories": set(self.data_categories),
        }
        for rel in self.relationships:
            for kind, valid in known.items():
                unknown = [k for k in getattr(rel, kind) if k not in valid]
                if unknown:
                    raise ValueError(f"relationships.{rel.key}.{kind}: unknown {unknown[0]!r}")
        fact_ids = {f.fact_id for f in self.facts()}
        unknown_facts = [f for f in self.assumed_facts if f not in fact_ids]
        if unknown_facts:
            raise ValueError(f"assumed_facts: unknown fact {unknown_facts[0]!r}")
        return self

    def facts(self) -> list[ProfileFact]:
        """Every statement of fact a letter may make from this profile, with its stable id."""
        facts = [ProfileFact(f"purpose.{p.key}.legal_basis", f"Rechtsgrundlage: {p.purpose}",
                             p.legal_basis + (f"; berechtigtes Interesse: {p.legitimate_interest}"
                                              if p.legitimate_interest else ""))
                 for p in self.purposes]
        facts += [ProfileFact(f"retention.{r.key}", f"Speicherdauer: {r.category}",
                              r.period + (f" ({r.legal_basis})" if r.legal_basis else ""))
                  for r in self.retention]
        if not self.automated_decisions:
            facts.append(ProfileFact("automated_decisions.none", "Keine automatisierten Entscheidungen",
                                     "Eine automatisierte Entscheidungsfindung einschließlich Profiling "
                                     "im Sinne von Art. 22 Abs. 1 und 4 DSGVO findet nicht statt."))
        if not self.third_country_transfers:
            facts.append(ProfileFact("third_country_transfers.none", "Keine Drittlandübermittlung",
                                     "Personenbezogene Daten werden nicht in Länder außerhalb der EU "
                                     "und des EWR übermittelt."))
        facts.append(ProfileFact("dsr_record_retention", "Aufbewahrung der Unterlagen zu Anfragen",
                                 f"bis zum Ende des {self.dsr_record_retention_years}. Kalenderjahres "
                                 "nach Abschluss des Vorgangs"))
        return facts

    def is_assumed(self, fact_id: str) -> bool:
        """True where the fact is not confirmed: a letter must not state it as a fact."""
        return fact_id in self.assumed_facts

    def with_confirmed(self, fact_ids: Iterable[str]) -> ControllerProfile:
        """This profile with the facts a DPO confirmed (kept in the database) no longer assumed."""
        confirmed = set(fact_ids)
        remaining = [f for f in self.assumed_facts if f not in confirmed]
        if remaining == self.assumed_facts:
            return self
        return self.model_copy(update={"assumed_facts": remaining})

    def relationship(self, key: str) -> Relationship | None:
        return next((r for r in self.relationships if r.key == key), None)

    def proposed_relationships(self, found_categories: Iterable[str]) -> list[Relationship]:
        """The relationships whose data categories include one of `found_categories`.

        Discovery reports, per record found, the profile data categories of its data map category
        (`profile_categories`); a relationship using one of them is proposed to the DPO.
        """
        found = set(found_categories)
        return [r for r in self.relationships if found & set(r.data_categories)]

    def selection(self, keys: Iterable[str]) -> Selection:
        """The items of the relationships `keys` (unknown keys are ignored), in profile order."""
        wanted = set(keys)
        rels = tuple(r for r in self.relationships if r.key in wanted)

        def used(kind: str) -> set[str]:
            return {k for r in rels for k in getattr(r, kind)}

        purposes, recipients = used("purposes"), used("recipients")
        chosen_recipients = tuple(r for r in self.recipients if r.key in recipients)
        names = {r.name for r in chosen_recipients}
        categories = used("data_categories")
        sources: dict[str, str] = {}
        for rel in rels:
            for german, english in zip(rel.sources, rel.sources_en, strict=True):
                sources.setdefault(german, english)
        return Selection(
            relationships=rels,
            purposes=tuple(p for p in self.purposes if p.key in purposes),
            data_categories=tuple((de, en) for de, en in zip(self.data_categories, self.data_categories_en,
                                                              strict=True) if de in categories),
            recipients=chosen_recipients,
            retention=tuple(r for r in self.retention if r.key in used("retention")),
            automated_decisions=tuple(d for d in self.automated_decisions
                                      if d.key in used("automated_decisions")),
            sources=tuple(sources.items()),
            third_country_transfers=tuple(t for t in self.third_country_transfers if t.recipient in names),
        )

    def processor_client(self, key: str) -> ProcessorClient | None:
        """The registered client `key`, or None."""
        return next((c for c in self.processor_clients if c.key == key), None)

    @property
    def from_address(self) -> str:
        return str(self.request_addresses[0])

    @property
    def notification_recipients(self) -> list[str]:
        """Who gets internal notifications: `notification_addresses`, else the DPO, else the contact.

        Internal mails carry only ticket metadata, but they still reach the people accountable for
        the deadlines (Art. 5(2), 12(3) GDPR); without an explicit list that is the named DPO, and
        where the notice names none, the privacy contact address.
        """
        if self.notification_addresses:
            unique: dict[str, str] = {}
            for address in self.notification_addresses:
                unique.setdefault(str(address).lower(), str(address))
            return list(unique.values())
        if self.dpo is not None and self.dpo.email:
            return [self.dpo.email]
        return [str(self.contact_email)]


def profile_names() -> list[str]:
    """Names of the built-in profiles."""
    # `<name>.datamap.toml` beside a profile is its data map (dsr.datamap), not a profile.
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml") if "." not in p.stem)


def load_profile(name_or_path: str) -> ControllerProfile:
    """Load a built-in profile by name or a profile file by path; raise ProfileError on problems."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" and path.exists()):
        path = PROFILE_DIR / f"{name_or_path}.toml"
        if not path.exists():
            known = ", ".join(profile_names())
            raise ProfileError(f"unknown controller profile {name_or_path!r} (built-in: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return ControllerProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ProfileError(f"{path}: field {where}: {first['msg']}") from exc
