"""A one-time code is never stored in clear (`dsr.pipeline.codes.mask`, used for every chat text
kept for the DPO).  The substitution used to take a four-letter word before the code as the start
of the shape ("code KMNP" / "Here KMNP") and then skip the code itself: stored in clear."""

from __future__ import annotations

import pytest

from dsr.pipeline import codes


@pytest.mark.parametrize(("typed", "stored"), [
    ("KMNP-4679", "••••-••••"),
    ("my code KMNP-4679", "my code ••••-••••"),
    ("Here KMNP 4679, thanks", "Here ••••-••••, thanks"),
    ("Mein Code: kmnp4679", "Mein Code: ••••-••••"),
    ("Code KMNP-4679 oder WJ3J-W746?", "Code ••••-•••• oder ••••-••••?"),
    ("AAAA-7777 CCCC", "••••-••••"),  # overlapping codes hidden together
    ("Kundennummer K-10023, PLZ 26789", "Kundennummer K-10023, PLZ 26789"),  # not code-shaped
    ("Ich warte seit Stunden", "Ich warte seit Stunden"),
])
def test_every_code_is_masked_wherever_it_stands(typed: str, stored: str) -> None:
    masked = codes.mask(typed)
    assert masked == stored
    assert codes.candidates(masked) == []  # nothing left that a code check would accept
