"""Controller profile schema and loader.

A profile is a TOML file (built-in ones live in `controllers/profiles/`).  Everything a reply,
a deadline or a channel needs to know about the controller comes from here: legal name,
contacts, the Land (for public holidays), the competent supervisory authority, form of address
and the Art. 15(1)(a)-(h) content of an access answer.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError

PROFILE_DIR = Path(__file__).parent / "profiles"

Land = Literal["BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH"]


class ProfileError(Exception):
    """A profile could not be found or is invalid; the message names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class Purpose(_Strict):
    """Art. 15(1)(a): a purpose with its legal basis and the data categories it uses."""

    purpose: str
    legal_basis: str
    data_categories: list[str] = Field(default_factory=list)
    # Where the basis is Art. 6(1)(f): the legitimate interest pursued, as the notice words it.
    legitimate_interest: str = ""


class Recipient(_Strict):
    """Art. 15(1)(c): a named recipient (C-154/21) with what it receives and why."""

    name: str
    purpose: str
    country: str = "Deutschland"
    is_processor: bool = False
    # False where the notice gives only a category (e.g. "Hosting-Dienstleister"); the access
    # answer then says so, and the individual recipients come from the case (C-154/21).
    named: bool = True
    data: str = ""  # which data this recipient receives, where the notice says so


class Retention(_Strict):
    """Art. 15(1)(d): storage period or the criteria for it."""

    category: str
    period: str
    legal_basis: str = ""


class AutomatedDecision(_Strict):
    """Art. 15(1)(h) / Art. 22: a decision taken solely by automated means."""

    name: str
    logic: str
    significance: str
    contest_contact: str = ""
    # The Art. 22(2) exception that permits the solely automated decision (e.g. "Art. 22 Abs. 2
    # lit. a DSGVO (Abschluss des Vertrags)"), once the DPO has confirmed it.  Empty: not
    # confirmed, and no letter names a legal ground for the decision (a legitimate interest under
    # Art. 6(1)(f) permits processing, never a solely automated decision).
    art22_exception: str = ""
    # Kept for profiles written before art22_exception; never printed as the ground of the decision.
    legal_basis: str = ""
    # The criteria that feed the decision (C-203/22: the procedure and principles actually applied).
    factors: list[str] = Field(default_factory=list)


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


class ThirdCountryTransfer(_Strict):
    """Art. 15(2): transfer to a third country and its Art. 46 safeguard."""

    recipient: str
    country: str
    safeguard: str
    # True where the notice offers a copy of the safeguard (Art. 13(1)(f), 15(2)).
    copy_on_request: bool = False


class ControllerProfile(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    legal_name: str
    short_name: str
    address: PostalAddress
    phone: str = ""
    contact_email: EmailStr
    # Addresses the SMTP endpoint accepts mail for (RCPT TO); the first is our From address.
    request_addresses: list[EmailStr] = Field(min_length=1)
    privacy_notice_url: str = ""
    # The named data protection officer, where the notice names one; else the privacy contact.
    dpo: DataProtectionOfficer | None = None
    privacy_contact: str = ""  # who handles privacy questions, e.g. "Geschäftsführer Klaus Marwede"
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
    data_categories: list[str] = Field(default_factory=list)
    purposes: list[Purpose] = Field(min_length=1)
    recipients: list[Recipient] = Field(default_factory=list)
    retention: list[Retention] = Field(min_length=1)
    automated_decisions: list[AutomatedDecision] = Field(default_factory=list)
    third_country_transfers: list[ThirdCountryTransfer] = Field(default_factory=list)
    group_companies: list[str] = Field(default_factory=list)
    # Direct marketing (Art. 21(2)): the channels used and the companies advertising with the data;
    # the objection confirmation names them all.  Empty: the notice does not say.
    marketing_channels: list[str] = Field(default_factory=list)
    marketing_companies: list[str] = Field(default_factory=list)
    signature: str = ""

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
