"""The outbox's "Zustellung seit ..." reason agrees in number with its count ("1 Minute", not "1 Minuten")."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dsr.replies.labels import counted
from dsr.store.outbox import _duration_de


@pytest.mark.parametrize(("span", "text"), [
    (timedelta(seconds=30), "0 Minuten"),
    (timedelta(minutes=1, seconds=59), "1 Minute"),
    (timedelta(minutes=2), "2 Minuten"),
    (timedelta(hours=1, minutes=5), "1 Stunde"),
    (timedelta(hours=47), "47 Stunden"),
    (timedelta(hours=49), "2 Tagen"),
])
def test_duration_agrees_in_number(span: timedelta, text: str) -> None:
    assert _duration_de(span) == text


def test_counted_singular_only_for_one() -> None:
    assert [counted(n, "Eintrag", "Einträge") for n in (0, 1, 2, -1)] == [
        "0 Einträge", "1 Eintrag", "2 Einträge", "-1 Eintrag"]
