"""Text recovery for e-mail: charsets, RFC 2047 encoded words, 8-bit headers, HTML to text.

Kept apart from `mail_parse` so the MIME walk stays readable.  Every function here is total: it
returns the best readable text it can and never raises on hostile input, because a data
subject's request must reach a human even when their mail client got the encoding wrong.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import re
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from html.parser import HTMLParser

# Labels seen in real mail that Python does not know or that mean something broader in practice
# (the WHATWG encoding standard maps ISO-8859-1 and ASCII to windows-1252 for the same reason).
CHARSET_ALIASES: dict[str, str | None] = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "us-ascii": None, "ascii": None, "ansi_x3.4-1968": None,
    "ks_c_5601-1987": "cp949", "iso-8859-8-i": "iso-8859-8", "windows-874": "cp874",
    "gb2312": "gb18030", "gbk": "gb18030", "unicode-1-1-utf-7": "utf-7", "utf8": "utf-8",
    "x-unknown": None, "unknown-8bit": None, "unknown": None, "x-user-defined": None, "default": None,
}  # fmt: skip
# Codecs that are not character sets (transforms a sender could name to make us do odd work).
_NOT_CHARSETS = frozenset({"idna", "punycode", "raw_unicode_escape", "unicode_escape", "undefined", "mbcs"})
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_SURROGATES = re.compile("[\udc80-\udcff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


class _StructuralHeaderCache(HeaderRegistry):
    """The modern policy's header factory, memoised for the MIME structure headers of one message.

    The stdlib parser re-parses Content-Type and friends several times per part (most of
    the parsing time).  Header objects are immutable, so sharing them is safe.  The cache
    lives only as long as one parse (file names in these headers are personal data)."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        lowered = name.lower()
        if lowered not in _STRUCTURE_HEADERS:
            return super().__call__(name, value)
        key = (lowered, value)
        header = self._cache.get(key)
        if header is None:
            header = self._cache[key] = super().__call__(name, value)
        return header


_STRUCTURE_HEADERS = frozenset({"content-type", "content-transfer-encoding", "content-disposition"})


def parse_policy() -> EmailPolicy[EmailMessage]:
    """`policy.default` with a fresh per-message header cache; otherwise identical."""
    return policy.default.clone(header_factory=_StructuralHeaderCache())


def charset_codec(label: str | None) -> str | None:
    """Python codec name for a MIME charset label, or None when it is unknown or unusable."""
    if not label:
        return None
    label = _label(label)
    if label in CHARSET_ALIASES:
        return CHARSET_ALIASES[label]
    try:
        name = codecs.lookup(label).name
        with contextlib.suppress(UnicodeDecodeError):
            b"a".decode(name)  # LookupError for bytes-to-bytes codecs such as base64 or zlib
    except (LookupError, ValueError):  # ValueError: a NUL inside the label
        return None
    return None if name in _NOT_CHARSETS else name


def decode_bytes(data: bytes, label: str | None, defects: set[str] | None = None) -> str:
    """Decode with the declared charset; undeclared or wrong labels fall back to UTF-8, then
    windows-1252 (the two encodings behind nearly all mislabelled German mail)."""
    noted = defects if defects is not None else set()
    codec = charset_codec(label)
    if label and codec is None and _label(label) not in CHARSET_ALIASES:
        noted.add("UnknownCharset")
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            noted.add("CharsetMismatch")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec == "utf-8":  # declared UTF-8 with a few stray bytes: keep it, mark the damage
        lenient = data.decode("utf-8", errors="replace")
        if lenient.count("\ufffd") <= 3:
            return lenient
    if codec not in (None, "utf-8", "cp1252"):
        return data.decode(codec, errors="replace")
    return data.decode("cp1252", errors="replace")


def _label(label: str) -> str:
    return label.strip().strip("\"'").lower().split("*", 1)[0]


def recover_8bit(value: str, charset: str | None) -> str:
    """Undo the surrogate escapes the stdlib parser leaves for raw 8-bit header bytes."""
    if not _SURROGATES.search(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return decode_bytes(data, charset)


def decode_header_text(value: str, charset: str | None = "utf-8") -> str:
    """A header value as readable text: 8-bit bytes recovered, folding undone, encoded words
    decoded (also the malformed ones the stdlib refuses: inside quotes, unknown charsets, split
    multi-byte characters), control characters removed."""
    text = recover_8bit(value, charset)
    text = re.sub(r"\r?\n(?=[ \t])", "", text)
    return _CONTROL.sub("", _decode_encoded_words(text)).strip()


def _decode_encoded_words(text: str) -> str:
    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode_bytes(bytes(pending), pending_charset))
        pending, pending_charset = bytearray(), ""

    for match in _ENCODED_WORD.finditer(text):
        gap = text[pos : match.start()]
        if gap and not (pending and gap.isspace()):  # whitespace between encoded words vanishes
            flush()
            out.append(gap)
        charset, encoding, payload = match.group(1), match.group(2).lower(), match.group(3)
        if pending and charset.lower() != pending_charset.lower():
            flush()
        pending += _word_bytes(encoding, payload)
        pending_charset = charset
        pos = match.end()
    flush()
    out.append(text[pos:])
    return "".join(out)


def _word_bytes(encoding: str, payload: str) -> bytes:
    try:
        if encoding == "b":
            payload = payload.rstrip("=")
            if len(payload) % 4 == 1:
                payload = payload[:-1]
            return base64.b64decode(payload + "=" * (-len(payload) % 4))
        return binascii.a2b_qp(payload.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return payload.encode("ascii", "replace")


def raw_header(part: Message, name: str) -> str | None:
    """The first raw value of header `name`.  Deliberately bypasses the modern policy's header
    objects: building them is costly, and a message is inspected dozens of times."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def content_type(part: Message) -> str:
    """`part.get_content_type()` semantics (invalid -> text/plain, absent -> the default type)."""
    value = raw_header(part, "content-type")
    if value is None:
        return part.get_default_type()
    ctype = "".join(value.split(";", 1)[0].split()).lower()
    maintype, sep, subtype = ctype.partition("/")
    valid = sep and maintype and subtype and "/" not in subtype and ctype.isascii()
    return ctype if valid else "text/plain"


def header_param(part: Message, header: str, param: str) -> str | None:
    """A simple parameter such as `charset` (no RFC 2231 continuation needed for these)."""
    value = raw_header(part, header)
    if value is None:
        return None
    match = re.search(rf"(?:^|;)\s*{param}\s*=\s*(?:\"([^\"]*)\"|([^;\s]*))", value, re.IGNORECASE)
    return (match.group(1) or match.group(2) or None) if match else None


def subparts(part: Message) -> list[Message]:
    """Child parts (of a multipart or message/*), without the stdlib's decoding of text payloads
    (which raises on hostile charset labels)."""
    if not part.is_multipart():
        return []
    payload = part.get_payload()
    return [sub for sub in payload if isinstance(sub, Message)] if isinstance(payload, list) else []


def decode_part_text(part: Message, defects: set[str]) -> str:
    """The decoded text of a leaf part (any transfer encoding, any charset)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        defects.add("UndecodablePayload")
        payload = None
    if not isinstance(payload, bytes):
        payload = b""  # a multipart, or a payload the stdlib cannot even return undecoded
    label = header_param(part, "content-type", "charset")
    if label is None and content_type(part) == "text/html":
        meta = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_.:-]+)", payload[:4096], re.IGNORECASE)
        label = meta.group(1).decode("ascii") if meta else None
    text = decode_bytes(payload, label, defects).replace("\r\n", "\n").replace("\r", "\n")
    # NUL and other control characters: meaningless in text, and PostgreSQL refuses NUL.
    return _CONTROL.sub("", text)


_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
})  # fmt: skip
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template", "svg"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "pre":
            self._pre_depth += 1
        if tag == "li":
            self.chunks.append("\n- ")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr", "p", "div"):
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        self.chunks.append(data if self._pre_depth else re.sub(r"\s+", " ", data))


# HTML beyond this is not read: a written request does not need more, and the stdlib HTML parser
# takes about a second per 200,000 tags (a 25 MB tag soup would take minutes).  The limit keeps
# the worst case near half a second; the parser notes "HtmlTruncated" in the defects.
MAX_HTML_CHARS = 400_000


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML mail body (blocks become lines, scripts and styles go)."""
    html = html[:MAX_HTML_CHARS]
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:
        return re.sub(r"<[^>]*>", " ", html)
    lines = [line.strip() for line in "".join(extractor.chunks).replace("\xa0", " ").splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
