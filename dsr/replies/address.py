"""Form of address ("Sie" or "Du") for German replies, without a second copy of every template.

Templates write the formal text and mark each spot that changes: pronouns through attributes
named after their formal form (`a.Ihnen` -> "Ihnen" / "Dir", `a.Ihre` -> "Ihre" / "Deine"), and
whole phrases where the verb changes through a call (`a("Bitte antworten Sie", "Bitte antworte")`).
The informal pronouns are capitalised as in letters (permitted since the 2006 spelling reform and
used by KOMSA's own notice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AddressFormName = Literal["Sie", "Du"]

_DU_FORMS: dict[str, str] = {
    "Sie": "Du",  # nominative
    "Sie_akk": "Dich",  # accusative ("für Sie" -> "für Dich")
    "Ihnen": "Dir",
    "Ihr": "Dein",
    "Ihre": "Deine",
    "Ihren": "Deinen",
    "Ihrem": "Deinem",
    "Ihrer": "Deiner",
    "Ihres": "Deines",
}


@dataclass(frozen=True, slots=True)
class AddressForm:
    """The controller's form of address, callable in templates as `a(formal, informal)`."""

    form: AddressFormName = "Sie"

    @property
    def is_du(self) -> bool:
        return self.form == "Du"

    def __call__(self, sie: str, du: str) -> str:
        return du if self.is_du else sie

    def _pick(self, formal: str) -> str:
        return _DU_FORMS[formal] if self.is_du else formal.removesuffix("_akk")

    @property
    def Sie(self) -> str:  # noqa: N802 - named after the word it stands for
        return self._pick("Sie")

    @property
    def Sie_akk(self) -> str:  # noqa: N802
        return self._pick("Sie_akk")

    @property
    def Ihnen(self) -> str:  # noqa: N802
        return self._pick("Ihnen")

    @property
    def Ihr(self) -> str:  # noqa: N802
        return self._pick("Ihr")

    @property
    def Ihre(self) -> str:  # noqa: N802
        return self._pick("Ihre")

    @property
    def Ihren(self) -> str:  # noqa: N802
        return self._pick("Ihren")

    @property
    def Ihrem(self) -> str:  # noqa: N802
        return self._pick("Ihrem")

    @property
    def Ihrer(self) -> str:  # noqa: N802
        return self._pick("Ihrer")

    @property
    def Ihres(self) -> str:  # noqa: N802
        return self._pick("Ihres")
