"""Packages encrypted at rest: AES-256-GCM in chunks, key from the environment (DSR_PACKAGE_KEY).

File format: the magic `DSRPKG1\\n`, a random 16-byte file id, then chunks of
`length (4 bytes, big endian) | nonce (12) | ciphertext + tag`.  Each chunk authenticates the file
id, its index and whether it is the last one, so chunks can be neither reordered, mixed between
files nor cut off.  Writing and reading hold one chunk (64 KiB) in memory, whatever the size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"DSRPKG1\n"
CHUNK = 64 * 1024
NONCE = 12


class VaultError(Exception):
    """A key that is not a key, or a file that was altered, cut off or encrypted with another key."""


def parse_key(value: str) -> bytes:
    """DSR_PACKAGE_KEY: 32 random bytes in URL-safe base64 (`dsr datamap keygen` prints one)."""
    try:
        key = base64.urlsafe_b64decode(value.strip().encode() + b"=" * (-len(value.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise VaultError("DSR_PACKAGE_KEY is not URL-safe base64") from exc
    if len(key) != 32:
        raise VaultError(f"DSR_PACKAGE_KEY must encode 32 bytes (AES-256), got {len(key)}")
    return key


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def _aad(file_id: bytes, index: int, last: bool) -> bytes:
    return file_id + struct.pack(">Q?", index, last)


class EncryptingWriter:
    """A write-only binary stream that encrypts into `out`; also hashes and counts the plain bytes."""

    def __init__(self, out: BinaryIO, key: bytes) -> None:
        self._out = out
        self._aes = AESGCM(key)
        self._file_id = os.urandom(16)
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        self.sha256 = hashlib.sha256()
        self.size = 0
        out.write(MAGIC + self._file_id)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("not seekable")  # zipfile then writes a streamable archive

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = bytes(data)
        self.sha256.update(view)
        self.size += len(view)
        self._buffer += view
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(view)

    def flush(self) -> None:
        self._out.flush()

    def _emit(self, plain: bytes, *, last: bool) -> None:
        nonce = os.urandom(NONCE)
        sealed = self._aes.encrypt(nonce, plain, _aad(self._file_id, self._index, last))
        self._out.write(struct.pack(">I", len(sealed)) + nonce + sealed)
        self._index += 1

    def close(self) -> None:
        if not self._closed:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._closed = True
            self._out.flush()

    @property
    def closed(self) -> bool:
        return self._closed


def decrypt_chunks(source: BinaryIO, key: bytes) -> Iterator[bytes]:
    """The plain bytes of an encrypted file, chunk by chunk; VaultError if anything is wrong."""
    aes = AESGCM(key)
    head = source.read(len(MAGIC) + 16)
    if len(head) != len(MAGIC) + 16 or not head.startswith(MAGIC):
        raise VaultError("not a package file")
    file_id = head[len(MAGIC):]
    index = 0
    while True:
        size_bytes = source.read(4)
        if len(size_bytes) != 4:
            raise VaultError("package file is cut off")
        (size,) = struct.unpack(">I", size_bytes)
        nonce = source.read(NONCE)
        sealed = source.read(size)
        if len(nonce) != NONCE or len(sealed) != size:
            raise VaultError("package file is cut off")
        for last in (False, True):
            try:
                plain = aes.decrypt(nonce, sealed, _aad(file_id, index, last))
            except InvalidTag:
                continue
            break
        else:
            raise VaultError("package file was altered or the key is wrong")
        index += 1
        if plain:
            yield plain
        if last:
            if source.read(1):
                raise VaultError("data after the last chunk")
            return
