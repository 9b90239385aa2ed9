"""The test databases (the PostgreSQL admin URL) and the missing-server policy (fail in CI, else skip)."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


PG_ADMIN_URL = os.environ.get("DSR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def missing_server(what: str) -> None:
    """A server the tests need is not there: a failure in CI, a skip on a developer machine."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI=true) but is not available")
    pytest.skip(f"{what} not available")
