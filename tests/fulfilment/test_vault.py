"""Encryption at rest: round trip, and every way a stored package could be wrong is refused."""

from __future__ import annotations

import io
import os

import pytest

from dsr.fulfilment.vault import CHUNK, EncryptingWriter, VaultError, decrypt_chunks, new_key, parse_key


def _seal(data: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, key)
    for start in range(0, len(data), 10_000):
        writer.write(data[start:start + 10_000])
    writer.close()
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_round_trip(size: int) -> None:
    key = parse_key(new_key())
    data = os.urandom(size)
    sealed = _seal(data, key)
    assert size < 64 or data[:64] not in sealed
    assert b"".join(decrypt_chunks(io.BytesIO(sealed), key)) == data


def test_tampering_truncation_and_wrong_key_are_refused() -> None:
    key = parse_key(new_key())
    sealed = _seal(os.urandom(2 * CHUNK + 5), key)
    flipped = bytearray(sealed)
    flipped[100] ^= 1
    cases = {
        "altered": bytes(flipped),
        "cut off": sealed[: len(sealed) - 40],
        "last chunk dropped": sealed[: 24 + 2 * (4 + 12 + CHUNK + 16)],
        "wrong key": sealed,
    }
    for name, data in cases.items():
        with pytest.raises(VaultError):
            b"".join(decrypt_chunks(io.BytesIO(data), parse_key(new_key()) if name == "wrong key" else key))


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(VaultError, match="32 bytes"):
        parse_key("c2hvcnQ")
