"""Werbesperrdatei: idempotent, normalised, per controller."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dsr.store.models import AuditEvent, Suppression
from dsr.store.suppression import is_suppressed, suppress, suppression_key

NOW = datetime(2026, 2, 2, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("  Max.Muster@Example.ORG ", "max.muster@example.org"),
        ("Max Muster <MAX@example.org>", "max@example.org"),
        ("telegram: 4711", "telegram:4711"),
        ("+49 (511) 123-45", "+4951112345"),
    ],
)
def test_suppression_key(raw: str, normalized: str) -> None:
    assert suppression_key(raw) == normalized


def test_suppress_is_idempotent_and_per_controller(session: Session) -> None:
    first = suppress(session, controller="kmb2", address="Max@Example.org", now=NOW)
    again = suppress(session, controller="kmb2", address=" max@example.org", now=NOW)
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(Suppression)) == 1
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "suppressed")) == 1
    assert is_suppressed(session, controller="kmb2", address="MAX@example.org")
    assert not is_suppressed(session, controller="komsa", address="max@example.org")
    assert not is_suppressed(session, controller="kmb2", address="other@example.org")
    assert not is_suppressed(session, controller="kmb2", address="   ")


def test_empty_address_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="empty"):
        suppress(session, controller="kmb2", address="  ", now=NOW)
