"""Data subjects: e-mail normalisation and lookup by e-mail (also alternates), Telegram id, number."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from dsr.mail.address import normalize_address
from dsr.store.models import DataSubject, SubjectEmail
from dsr.store.subjects import find_subject

NOW = datetime(2026, 2, 2, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("max@example.org", "max@example.org"),
        ("  Max.Muster@Example.ORG\t", "max.muster@example.org"),
        ("Max Muster <Max@Example.org>", "max@example.org"),
        ("<max@example.org>", "max@example.org"),
        ("mailto:Max@example.org", "max@example.org"),
        # One form for an internationalised domain, however it was written (IDNA, as on the wire).
        ("Max.Muster@Müller.de", "max.muster@xn--mller-kva.de"),
        ("Max <max.muster@MÜLLER.de>", "max.muster@xn--mller-kva.de"),
        ("max.muster@xn--mller-kva.de", "max.muster@xn--mller-kva.de"),
    ],
)
def test_normalize_address(raw: str, normalized: str) -> None:
    assert normalize_address(raw) == normalized


def _subject(session: Session, name: str, *, controller: str = "kmb2", email: str | None = None,
             telegram: int | None = None, number: str | None = None, alternates: tuple[str, ...] = ()
             ) -> DataSubject:
    subject = DataSubject(controller=controller, name=name, email=email, telegram_user_id=telegram,
                          customer_number=number, created_at=NOW, updated_at=NOW)
    subject.emails = [SubjectEmail(controller=controller, email=a) for a in alternates]
    session.add(subject)
    session.flush()
    return subject


def test_find_subject(session: Session) -> None:
    max_ = _subject(session, "Max", email="max@example.org", telegram=11, number="K-1",
                    alternates=("max.privat@example.net",))
    erika = _subject(session, "Erika", email="erika@example.org", number="K-2")
    _subject(session, "Twin A", email="a@example.org", number="K-9")
    _subject(session, "Twin B", email="b@example.org", number="K-9")
    _subject(session, "Max elsewhere", controller="komsa", email="max@example.org")

    assert find_subject(session, "kmb2", email="MAX@example.org") is max_
    assert find_subject(session, "kmb2", email="Max <Max.Privat@example.net>") is max_
    assert find_subject(session, "kmb2", telegram_user_id=11) is max_
    assert find_subject(session, "kmb2", customer_number=" K-2 ") is erika
    # E-mail is the strongest identifier; the others are fallbacks.
    assert find_subject(session, "kmb2", email="erika@example.org", telegram_user_id=11) is erika
    assert find_subject(session, "kmb2", email="unknown@example.org", telegram_user_id=11) is max_
    # A shared customer number is ambiguous: no match rather than the wrong person.
    assert find_subject(session, "kmb2", customer_number="K-9") is None
    assert find_subject(session, "kmb2", email="nobody@example.org") is None
    assert find_subject(session, "kmb2") is None
    assert find_subject(session, "komsa", telegram_user_id=11) is None


def test_telegram_ids_beyond_32_bits(session: Session) -> None:
    """Telegram user ids exceed 2^31; PostgreSQL must store them (BIGINT)."""
    big = 7_412_345_678
    subject = _subject(session, "Chat", email="chat@example.org", telegram=big)
    session.expire_all()
    assert find_subject(session, "kmb2", telegram_user_id=big) is subject
