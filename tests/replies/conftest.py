"""Fixtures for the reply template tests: the two reference profiles in both forms of address."""

from __future__ import annotations

import pytest

from dsr.controllers import ControllerProfile, load_profile

CONTROLLERS = ("kmb2", "komsa")


@pytest.fixture(params=CONTROLLERS)
def profile(request: pytest.FixtureRequest) -> ControllerProfile:
    return load_profile(request.param)


def with_form(profile: ControllerProfile, form: str) -> ControllerProfile:
    return profile.model_copy(update={"address_form": form})
