"""Golden tests: every reply kind, controller and variant compared as a whole to a stored file.

Dates are frozen in `dsr.replies.samples`.  After an intended template change, regenerate with

    DSR_UPDATE_GOLDEN=1 .venv/bin/pytest tests/replies/test_golden.py

review the diff (`git diff tests/replies/golden`) like any legal text change, and commit it.
Without the variable any difference fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dsr.controllers import load_profile
from dsr.replies.preview import PreviewItem, as_text, preview_items

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DSR_UPDATE_GOLDEN") == "1"


def _cases() -> list[tuple[str, PreviewItem]]:
    return [(c, item) for c in ("kmb2", "komsa") for item in preview_items(load_profile(c))]


CASES = _cases()


def _golden_text(item: PreviewItem) -> str:
    return f"{as_text(item.reply)}\n===== HTML =====\n{item.reply.html}"


@pytest.mark.parametrize(("controller", "item"), CASES, ids=[f"{c}-{i.stem}" for c, i in CASES])
def test_reply_matches_golden_file(controller: str, item: PreviewItem) -> None:
    path = GOLDEN / controller / f"{item.stem}.txt"
    actual = _golden_text(item)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with DSR_UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


def test_every_golden_file_is_still_produced() -> None:
    """A renamed or dropped variant must not leave a stale golden file behind unnoticed."""
    expected = {GOLDEN / c / f"{i.stem}.txt" for c, i in CASES}
    stale = sorted(str(p) for p in GOLDEN.glob("*/*.txt") if p not in expected)
    assert stale == []
