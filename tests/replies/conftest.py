"""Fixtures for the reply template tests: the two reference profiles in both forms of address."""

from __future__ import annotations

import pytest

from dsr.controllers import ControllerProfile, load_profile
from tests.support.replies import CONTROLLERS


@pytest.fixture(params=CONTROLLERS)
def profile(request: pytest.FixtureRequest) -> ControllerProfile:
    return load_profile(request.param)
