"""A seeded generator of hostile e-mail (issue 18): what a fuzzing MTA or an attacker sends.

`hostile_messages(count, seed)` yields `(token, kind, raw)`: every message carries its token in
the subject (and so in the raw bytes), so a test can find what became of each one - a ticket, an
ignored message with its reason, or a quarantine entry.  The kinds cover the measured defects:
long runs of letters (quadratic regexes), deep MIME nesting, big HTML, over-long From,
Message-ID, References and To, NUL and control characters, colons in encoded display names,
internationalised addresses, broken encodings, missing headers, machine mail, forged bounces,
thousands of "@", very long header lines and raw 8-bit garbage.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Iterator

KMB2 = "klaus.marwede@kmb2.de"
REQUEST = "Sehr geehrte Damen und Herren, bitte geben Sie mir Auskunft nach Art. 15 DSGVO. Danke."

Maker = Callable[[random.Random, str], bytes]


def _mail(token: str, *, sender: str = "hostile@example.org", subject: str = "", body: str = REQUEST,
          headers: str = "", message_id: str | None = None, content_type: str = "text/plain; charset=utf-8",
          extra_body: bytes = b"") -> bytes:
    mid = message_id if message_id is not None else f"<{token.lower()}@fuzz.example>"
    head = (f"From: {sender}\r\nTo: {KMB2}\r\nSubject: {token} {subject}\r\nMessage-ID: {mid}\r\n"
            f"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n"
            f"{headers}\r\n")
    return head.encode("utf-8", "surrogateescape") + body.encode("utf-8", "surrogateescape") + extra_body


def _letter_run(rng: random.Random, token: str) -> bytes:
    return _mail(token, body=REQUEST + "\r\n\r\n" + "".join(rng.choice("abcdefghij") for _ in range(200_000)))


def _many_ats(rng: random.Random, token: str) -> bytes:
    return _mail(token, body=REQUEST + " " + "a@" * rng.randint(5_000, 50_000))


def _deep_mime(rng: random.Random, token: str) -> bytes:
    depth = rng.choice([40, 300, 1500, 3000])
    opening = "".join(f'--b{i}\r\nContent-Type: multipart/mixed; boundary="b{i + 1}"\r\n\r\n'
                      for i in range(depth))
    closing = "".join(f"--b{i}--\r\n" for i in reversed(range(depth + 1)))
    body = opening + f"--b{depth}\r\nContent-Type: text/plain\r\n\r\n{REQUEST}\r\n" + closing
    return _mail(token, content_type='multipart/mixed; boundary="b0"', body=body)


def _big_html(rng: random.Random, token: str) -> bytes:
    # Tag soup of up to 2.75 MB in lines of 1,000 (a single line over 1 MB is refused with 500
    # "line too long" by design: that is RFC 5321's limit, raised to 1 MB for real clients).
    n = rng.randint(50_000, 250_000)
    html = "<div>" * n + REQUEST + "</div>" * n
    return _mail(token, content_type="text/html; charset=utf-8",
                 body="\r\n".join(html[i:i + 1000] for i in range(0, len(html), 1000)))


def _long_from(rng: random.Random, token: str) -> bytes:
    return _mail(token, sender="x" * rng.randint(330, 2000) + "@example.org")


def _long_ids(rng: random.Random, token: str) -> bytes:
    long_id = f"<{token.lower()}{'m' * rng.randint(1000, 5000)}@fuzz.example>"
    refs = " ".join(f"<r{i}{'z' * 300}@fuzz.example>" for i in range(rng.randint(10, 60)))
    return _mail(token, message_id=long_id, headers=f"In-Reply-To: {long_id}\r\nReferences: {refs}\r\n")


def _long_to(rng: random.Random, token: str) -> bytes:
    others = ", ".join(f"p{i}@example.org" for i in range(rng.randint(500, 3000)))
    return _mail(token, headers=f"Cc: {others}\r\nReply-To: {'y' * 500}@example.org\r\n")


def _nul_and_controls(rng: random.Random, token: str) -> bytes:
    return _mail(token, sender="Jana\x00\x07 <nul@example.org>", subject="Aus\x00kunft\x1b[31m",
                 body=REQUEST.replace("Auskunft", "Aus\x00kunft") + "\x00\x01\x02")


def _colon_display_name(rng: random.Random, token: str) -> bytes:
    return _mail(token, sender=rng.choice(["=?utf-8?q?Dummy:?= heike.dummy@kunden.example?=",
                                           "=?utf-8?q?Heike:_heike.dummy@kunden.example?=",
                                           "=?utf-8?b?SGVpa2U6IER1bW15?= <heike.dummy@kunden.example>"]))


def _utf8_address(rng: random.Random, token: str) -> bytes:
    return _mail(token, sender=rng.choice(["jürgen@beispiel.de", "Jürgen <jürgen@bücher.de>",
                                           "δοκιμή@παράδειγμα.δοκιμή"]))


def _broken_encodings(rng: random.Random, token: str) -> bytes:
    b64 = base64.b64encode(REQUEST.encode()).decode()[: rng.randint(10, 60)] + "!!!"
    return _mail(token, content_type="text/plain; charset=x-unknown-42",
                 headers="Content-Transfer-Encoding: base64\r\n", body=b64 + "\r\n=?utf-8?q?=FF=FE?=")


def _missing_headers(rng: random.Random, token: str) -> bytes:
    return rng.choice([f"Subject: {token} ohne Absender\r\n\r\n{REQUEST}".encode(),
                       f"{token} kein Kopf, nur Text {REQUEST}".encode(),
                       f"From: \r\nSubject: {token}\r\n\r\n{REQUEST}".encode()])


def _machine_mail(rng: random.Random, token: str) -> bytes:
    header = rng.choice(["Auto-Submitted: auto-replied", "Precedence: bulk",
                         "List-Post: <mailto:l@example.org>", "X-Mailing-List: l@example.org",
                         "X-Loop: klaus.marwede@kmb2.de",
                         "X-MS-Exchange-Inbox-Rules-Loop: a@example.org"])
    return _mail(token, headers=header + "\r\n")


def _forged_bounce(rng: random.Random, token: str) -> bytes:
    return _mail(token, sender="MAILER-DAEMON@evil.example", subject="Undelivered [DSR-2026-000001]",
                 body="Delivery failed. Message-ID: <dsr.20260302090000.0123456789abcdef@kmb2.de>")


def _long_header_line(rng: random.Random, token: str) -> bytes:
    return _mail(token, headers=f"X-Long: {'h' * rng.randint(100_000, 300_000)}\r\n")


def _garbage(rng: random.Random, token: str) -> bytes:
    size = rng.randint(100, 20_000)
    return _mail(token, body="", extra_body=bytes(rng.getrandbits(8) for _ in range(size)))


def _plain(rng: random.Random, token: str) -> bytes:
    return _mail(token, sender=f"person{rng.randint(1, 10**9)}@example.org")


KINDS: dict[str, Maker] = {
    "plain": _plain, "letter_run": _letter_run, "many_ats": _many_ats, "deep_mime": _deep_mime,
    "big_html": _big_html, "long_from": _long_from, "long_ids": _long_ids, "long_to": _long_to,
    "nul_and_controls": _nul_and_controls, "colon_display_name": _colon_display_name,
    "utf8_address": _utf8_address, "broken_encodings": _broken_encodings,
    "missing_headers": _missing_headers, "machine_mail": _machine_mail, "forged_bounce": _forged_bounce,
    "long_header_line": _long_header_line, "garbage": _garbage,
}


def hostile_messages(count: int, seed: int) -> Iterator[tuple[str, str, bytes]]:
    """`count` messages, every kind in turn (so a small count still covers all), seeded."""
    rng = random.Random(seed)
    names = list(KINDS)
    for n in range(count):
        kind = names[n % len(names)]
        token = f"HX{seed:03d}N{n:05d}"
        yield token, kind, KINDS[kind](rng, token)
