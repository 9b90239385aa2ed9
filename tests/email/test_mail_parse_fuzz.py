"""Property tests: whatever bytes arrive, parsing yields a message or a reasoned quarantine, and
never needs the last-resort "parser error" path (which would hide a bug)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsr.mail.parse import UnparseableMessage, parse_email

CORPUS = [p.read_bytes() for p in sorted((Path(__file__).parent / "eml").glob("*.eml")) if p.stat().st_size]
NOW = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
HEADERISH = st.sampled_from(
    [b"From: ", b"Content-Type: multipart/mixed; boundary=", b"--", b"=?utf-8?b?", b"?=", b"\r\n", b"\n",
     b"Content-Transfer-Encoding: base64\r\n", b"charset=", b"\xff\xfe", b"\x00", b"message/rfc822", b";"]
)  # fmt: skip


def check(raw: bytes) -> None:
    try:
        msg = parse_email(raw, controller="kmb2", recipient="klaus.marwede@kmb2.de", received_at=NOW)
    except UnparseableMessage as exc:
        assert not exc.reason.startswith("parser error"), exc.__cause__
        return
    assert "@" in msg.sender
    assert "\x00" not in msg.body + msg.subject + msg.display_name
    assert msg.dedupe_key.startswith("<") and msg.dedupe_key.endswith(">")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes(raw: bytes) -> None:
    check(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(CORPUS),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 8), HEADERISH | st.binary(max_size=8)), max_size=6),
)
def test_mutated_corpus(base: bytes, edits: list[tuple[float, int, bytes]]) -> None:
    raw = base
    for where, cut, insert in edits:
        at = int(where * len(raw))
        raw = raw[:at] + insert + raw[at + cut :]
    check(raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(HEADERISH | st.binary(max_size=12), max_size=40))
def test_header_soup(chunks: list[bytes]) -> None:
    check(b"".join(chunks))
