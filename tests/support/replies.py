"""The reference profiles in both forms of address, for the reply template tests."""

from __future__ import annotations

from dsr.controllers import ControllerProfile

CONTROLLERS = ("kmb2", "komsa")


def with_form(profile: ControllerProfile, form: str) -> ControllerProfile:
    return profile.model_copy(update={"address_form": form})
