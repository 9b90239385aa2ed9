"""The one address normaliser: every e-mail address is compared and stored in this form.

The mail parser, the data subjects (lookup, CSV import), the suppression list and its API all
call `normalize_address`, so `Max.Muster@Müller.de` written by a person, typed into a CSV file
or asked about by the marketing system is the same key everywhere: lower case, the domain in its
IDNA ASCII form (`max.muster@xn--mller-kva.de`), the form mail servers use on the wire.
"""

from __future__ import annotations

import contextlib
from email.utils import parseaddr


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
