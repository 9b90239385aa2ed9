"""A postal answer as a printable PDF: address window, date, reference, the approved text.

Written directly as PDF 1.4 with the standard Helvetica font in WinAnsi encoding (the German
letters, quotes and the euro sign are in it), so no rendering library is needed.  Layout follows
DIN 5008 loosely: the recipient block sits where a window envelope shows it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
LEFT = 70
FONT_SIZE = 10.5
LEADING = 14
WRAP = 88  # characters per line at this size (Helvetica's average width)
FIRST_BODY_Y = 560
BOTTOM = 70


@dataclass(frozen=True, slots=True)
class Letter:
    sender_line: str  # small line above the address window
    recipient: Sequence[str]  # address lines
    place_date: str  # e.g. "Hannover, 07.12.2026"
    reference: str
    subject: str
    text: str


def _escape(line: str) -> bytes:
    data = line.encode("cp1252", errors="replace")
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _wrap(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").split("\n"):
        lines.extend(textwrap.wrap(paragraph, WRAP, break_long_words=True) or [""])
    return lines


def _text_op(x: float, y: float, line: str, size: float = FONT_SIZE, bold: bool = False) -> bytes:
    font = b"/F2" if bold else b"/F1"
    return b"BT %s %.1f Tf %.1f %.1f Td (%s) Tj ET\n" % (font, size, x, y, _escape(line))


def _pages(letter: Letter) -> list[bytes]:
    first = bytearray()
    first += _text_op(LEFT, 720, letter.sender_line, size=7.5)
    y = 700.0
    for line in letter.recipient:
        first += _text_op(LEFT, y, line)
        y -= LEADING
    first += _text_op(380, 620, letter.place_date)
    first += _text_op(380, 606, f"Aktenzeichen: {letter.reference}")
    first += _text_op(LEFT, 590, letter.subject, bold=True)
    pages = [first]
    y = FIRST_BODY_Y
    for line in _wrap(letter.text):
        if y < BOTTOM:
            pages.append(bytearray())
            y = PAGE_HEIGHT - 80
        pages[-1] += _text_op(LEFT, y, line)
        y -= LEADING
    total = len(pages)
    if total > 1:
        for number, page in enumerate(pages, start=1):
            page += _text_op(PAGE_WIDTH - 130, 40, f"Seite {number} von {total}", size=8)
    return [bytes(p) for p in pages]


def render_pdf(letter: Letter) -> bytes:
    contents = _pages(letter)
    objects: list[bytes] = []
    # 1 catalog, 2 pages, 3 and 4 fonts, then page/content pairs.
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(len(contents)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(contents)} >>".encode())
    for base in (b"Helvetica", b"Helvetica-Bold"):
        font = b"<< /Type /Font /Subtype /Type1 /BaseFont /" + base + b" /Encoding /WinAnsiEncoding >>"
        objects.append(font)
    for i, content in enumerate(contents):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {6 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
