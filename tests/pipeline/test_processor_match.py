"""Which requests concern a client we process for (processor register, rules as data)."""

from __future__ import annotations

from dsr.controllers import load_profile
from dsr.controllers.processor import matching_client
from dsr.controllers.profile import ControllerProfile, ProcessorClient


def _with_clients(*, processor: bool = True) -> ControllerProfile:
    clients = [
        ProcessorClient(key="hv-muster", name="Hausverwaltung Muster GmbH", forward_to="dsb@hv.example",
                        data="Mieterdaten", match=["Hausverwaltung Muster", "HV Muster"]),
        ProcessorClient(key="elektro-sommer", name="Elektro Sommer GmbH", forward_to="info@sommer.example",
                        may_be_named=True, data="Kundendaten", match=["Elektro Sommer"]),
    ]
    return load_profile("kmb2").model_copy(update={"processor_clients": clients,
                                                   "may_act_as_processor": processor})


def test_a_named_client_is_found_whatever_the_case_and_umlaut_spelling() -> None:
    profile = _with_clients()
    found = matching_client(profile, "Abrechnung der HAUSVERWALTUNG muster – bitte Auskunft")
    assert found is not None and found.key == "hv-muster"
    assert matching_client(profile, "Auftrag von elektro   sommer") is not None


def test_no_client_several_clients_or_processor_mode_off_is_not_forwarded() -> None:
    profile = _with_clients()
    assert matching_client(profile, "Bitte Auskunft über meine Daten") is None
    # Two clients named: a person splits the request.
    assert matching_client(profile, "HV Muster und Elektro Sommer haben meine Daten") is None
    assert matching_client(profile, "Hausverwaltung Mustermann") is None  # whole words only
    assert matching_client(_with_clients(processor=False), "Hausverwaltung Muster") is None
