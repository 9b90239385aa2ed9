"""Reading the numbers of the clarification question typed in the chat."""

from __future__ import annotations

import pytest

from dsr.pipeline.clarification import reading_numbers


@pytest.mark.parametrize(("text", "expected"), [
    ("1", [1]), ("(2)", [2]), ("2.", [2]), ("1 und 2", [1, 2]), ("1, 2", [1, 2]), ("1 & 2", [1, 2]),
    ("2 1", [2, 1]),
    # Not a choice: out of range, a code or postal code, "or", words around the number.
    ("3", []), ("12", []), ("121212", []), ("26789", []), ("1 oder 2", []), ("1/2", []),
    ("Nummer 1", []), ("", []),
])
def test_numbers_of_two_readings(text: str, expected: list[int]) -> None:
    assert reading_numbers(text, 2) == expected


def test_no_numbers_without_readings() -> None:
    assert reading_numbers("1", 0) == []
