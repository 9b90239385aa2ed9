"""The one address normaliser: every e-mail address is compared and stored in this form.

The mail parser, the data subjects (lookup, CSV import), the suppression list and its API all
call `normalize_address`, so `Max.Muster@Müller.de` written by a person, typed into a CSV file
or asked about by the marketing system is the same key everywhere: lower case, the domain in its
IDNA ASCII form (`max.muster@xn--mller-kva.de`), the form mail servers use on the wire.
"""

from __future__ import annotations

import contextlib
import re
from email.utils import parseaddr

# What an address must look like before we answer it or send a code to it: a local part without
# spaces or specials, a domain of dot-separated labels (Unicode letters allowed, IDNA).  Matched
# from a fixed start it runs in linear time: the local part is capped, and a label cannot contain
# the dot that ends it, so there is only one way to split a domain (a 4,096-character chat message
# or header takes well under a millisecond; the chat's earlier `[^@\s]+@[^@\s]+\.[^@\s]+` was quadratic).
VALID_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"@\\]{1,320}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}")


def is_address(text: str) -> bool:
    """`text` (surrounding white space aside) is one e-mail address and nothing else."""
    return VALID_ADDRESS.fullmatch(text.strip()) is not None


def normalize_address(address: str) -> str:
    """Trimmed, lower-case address with an IDNA (ASCII) domain.

    "Name <a@b>", "<a@b>" and "mailto:a@b" are reduced to the address.  Lower-casing the local
    part is technically lossy (RFC 5321 2.4) but matches how every mail provider our controllers'
    customers use treats addresses, and how people type them.  A domain that is not valid IDNA
    is kept in Unicode rather than lost.
    """
    value = address.strip()
    if "<" in value and ">" in value:
        value = parseaddr(value)[1] or value
    value = value.strip().strip("<>").strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:"):].strip()
    value = value.lower()
    local, sep, domain = value.rpartition("@")
    if not sep or not domain:
        return value
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"
