"""One-time verification codes: how they look, how they are found in a reply, how they are stored.

A code is eight characters from an alphabet without look-alikes (no 0/O/Q/D, 1/I/L, 2/Z, 5/S,
6/G, 8/B, U/V), written as two groups of four ("K7MX-3RTA"), with at least one letter and one
digit so that no German word and no postal code or phone number can look like one.  Twenty
symbols and eight places give 20^8 (about 2.6 * 10^10) codes: with the attempt limits of
`dsr.pipeline.attempts` guessing is hopeless, and the code may live for hours (long enough for
e-mail).  Only a salted HMAC of a code is stored.

`candidates` returns every distinct code-shaped token of a reply.  The callers count each of
them as an attempt and check a reply only when it holds exactly one: a message can never test
more than one code (the review's "140,000 codes in one mail").
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

ALPHABET = "ACEFHJKMNPRTWXY34679"
LENGTH = 8
_DIGITS = frozenset(c for c in ALPHABET if c.isdigit())
_LETTERS = frozenset(c for c in ALPHABET if c.isalpha())
# Two groups of four alphanumerics, optionally split by a hyphen or a space, standing alone.
_SHAPE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z0-9]{4})[- ]?([A-Za-z0-9]{4})(?![A-Za-z0-9])")


def new_code() -> str:
    """A fresh code "XXXX-XXXX" from `secrets`, with at least one letter and one digit."""
    while True:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if _DIGITS.intersection(raw) and _LETTERS.intersection(raw):
            return f"{raw[:4]}-{raw[4:]}"


def normalize(code: str) -> str:
    """The canonical form of a typed code: upper case, no separator."""
    return re.sub(r"[\s-]", "", code).upper()


def _is_code(token: str) -> bool:
    return (len(token) == LENGTH and set(token) <= set(ALPHABET)
            and bool(_DIGITS.intersection(token)) and bool(_LETTERS.intersection(token)))


def candidates(text: str) -> list[str]:
    """Every distinct code-shaped token in `text`, normalised, in order of appearance.

    Overlapping shapes are all counted ("AAAA-7777 CCCC" holds two): the caller treats each as an
    attempt, so hiding extra guesses in a run of characters does not help.
    """
    found: dict[str, None] = {}
    for start in range(len(text)):
        match = _SHAPE.match(text, start)
        if match is None:
            continue
        token = normalize(match.group(1) + match.group(2))
        if _is_code(token):
            found.setdefault(token, None)
    return list(found)


def mask(text: str) -> str:
    """`text` with every code-shaped token hidden ("••••-••••"): a code is never stored in clear.

    Found like `candidates`, at every position: a left-to-right substitution took "code KMNP"
    as the shape, skipped the code after it and stored "code KMNP-4679" in clear.  Overlapping
    codes are hidden together.
    """
    spans: list[list[int]] = []
    for start in range(len(text)):
        match = _SHAPE.match(text, start)
        if match is None or not _is_code(normalize(match.group(1) + match.group(2))):
            continue
        if spans and match.start() <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], match.end())
        else:
            spans.append([match.start(), match.end()])
    out, last = [], 0
    for begin, end in spans:
        out.append(text[last:begin])
        out.append("••••-••••")
        last = end
    out.append(text[last:])
    return "".join(out)


def hash_code(code: str, *, salt: str | None = None) -> str:
    """Salted HMAC-SHA256 of the normalised code: "sha256$salt$digest"."""
    salt = salt or secrets.token_hex(8)
    digest = hmac.new(salt.encode(), normalize(code).encode(), hashlib.sha256).hexdigest()
    return f"sha256${salt}${digest}"


def code_matches(code: str, stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 3:
        return False
    return hmac.compare_digest(hash_code(code, salt=parts[1]), stored)
