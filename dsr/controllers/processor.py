"""Processor mode: is a request about data we process for a client (Art. 28(3)(e) GDPR)?

Where the controller also processes data on behalf of clients (kmb2 bills for craft businesses and
landlords), a request about a client's data is the client's to answer: we forward it, tell the
person neutrally where it went, and do not answer it in our own name.  Which requests concern a
client is decided here from the register in the profile (`processor_clients`, rules as data); the
DPO can always decide otherwise on the ticket.
"""

from __future__ import annotations

import re
import unicodedata

from dsr.controllers.profile import ControllerProfile, ProcessorClient

_UMLAUTS = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"))


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFC", text).casefold()
    for char, spelled in _UMLAUTS:
        folded = folded.replace(char, spelled)
    return " ".join(folded.split())


def _names(folded: str, phrase: str) -> bool:
    return re.search(r"(?<![a-z0-9])" + re.escape(_fold(phrase)) + r"(?![a-z0-9])", folded) is not None


def named_clients(profile: ControllerProfile, text: str) -> list[ProcessorClient]:
    """Every registered client the text names, in register order (empty when processor mode is off)."""
    if not profile.may_act_as_processor or not profile.processor_clients:
        return []
    folded = _fold(text)
    return [client for client in profile.processor_clients
            if any(_names(folded, phrase) for phrase in client.match)]


def matching_client(profile: ControllerProfile, text: str) -> ProcessorClient | None:
    """The one registered client the text names, or None (none, several, or processor mode off).

    Several clients named is a case for a person (the request may have to be split), so it is not
    forwarded automatically.
    """
    found = named_clients(profile, text)
    return found[0] if len(found) == 1 else None
