"""The package as an encrypted mail attachment, its password sent by a second channel.

Why an AES-256 ZIP (WinZip AE-2, written with pyzipper) and not a password-protected PDF: the
package is several files (the readable copy, the Art. 20 data as JSON and CSV per category, the
manifest with its hashes), and Art. 20 wants the data machine-readable; a PDF would carry only the
readable copy.  The legacy ZIP password ("ZipCrypto") is never used: it is broken.  An AES ZIP
opens in 7-Zip, WinZip, Keka and the Linux archive tools, but not in the ZIP support built into
Windows Explorer or the macOS Finder; the cover mail says so.

The password (20 characters from an alphabet without look-alikes, about 115 bits) goes by the
other verified channel: the Telegram chat bound to the person when there is one, otherwise a
separate mail to the verified address, or (the DPO's choice) by phone: then it is shown once to
the DPO and sent nowhere.  It is never stored or logged.
"""

from __future__ import annotations

import io
import secrets
import zipfile
from collections.abc import Iterable
from enum import StrEnum

import pyzipper

from dsr.mail.compose import Attachment

# Letters and digits without look-alikes (0/O, 1/l/I), as the person may have to type them.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
PASSWORD_GROUPS = 4  # of 5 characters, joined by "-"


class PasswordRoute(StrEnum):
    CHAT = "chat"  # the Telegram chat bound to the person
    MAIL = "mail"  # a separate mail to the verified address
    PHONE = "phone"  # the DPO tells it by phone (shown once in the console)


def new_password() -> str:
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(5))
                    for _ in range(PASSWORD_GROUPS))


def password_route(*, bound_chat: str | None, by_phone: bool) -> PasswordRoute:
    """By phone when the DPO chose it, else the bound chat, else a separate mail."""
    if by_phone:
        return PasswordRoute.PHONE
    return PasswordRoute.CHAT if bound_chat else PasswordRoute.MAIL


def seal(plain: Iterable[bytes], *, name: str, password: str) -> Attachment:
    """The plain package ZIP (its chunks) re-packed as an AES-256 ZIP named `name`."""
    inner = zipfile.ZipFile(io.BytesIO(b"".join(plain)))
    out = io.BytesIO()
    with pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as sealed:
        sealed.setpassword(password.encode())
        sealed.setencryption(pyzipper.WZ_AES, nbits=256)
        for info in inner.infolist():
            sealed.writestr(info.filename, inner.read(info))
    return Attachment(name, "application/zip", out.getvalue())
