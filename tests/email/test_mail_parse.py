"""Parsing: table tests over small hand-made messages, then the hostile .eml corpus."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsr.inbound import InboundMessage
from dsr.mail.parse import (
    UnparseableMessage,
    looks_like_id_document,
    normalize_address,
    parse_email,
    recipient_candidates,
    synthetic_message_id,
)
from dsr.mail.text import decode_header_text, html_to_text
from tests.support.mail import PARSED, QUARANTINED

EML = Path(__file__).parent / "eml"
RECEIVED = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


def parse(raw: bytes, *, envelope_sender: str | None = None) -> InboundMessage:
    return parse_email(
        raw,
        controller="kmb2",
        recipient="Klaus.Marwede@KMB2.de",
        received_at=RECEIVED,
        envelope_sender=envelope_sender,
    )


def eml(name: str) -> bytes:
    return (EML / name).read_bytes()


# --- table tests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sender", "display", "subject"),
    [
        (b"From: a@b.de\r\n\r\nx", "a@b.de", "", ""),
        (b'From: "Max Muster" <Max.Muster@Example.ORG>\r\nSubject: Hallo\r\n\r\nx',
         "max.muster@example.org", "Max Muster", "Hallo"),
        ("From: Jörg <j@BÜCHER.de>\r\n\r\nx".encode(), "j@xn--bcher-kva.de", "Jörg", ""),
        (b"From: =?utf-8?q?M=C3=BCller=2C_Hans?= <h@x.de>\r\n\r\nx", "h@x.de", "Müller, Hans", ""),
        (b"From: broken <<h@x.de\r\n\r\nx", "h@x.de", "", ""),
        (b"From: nobody\r\nSender: real@x.de\r\n\r\nx", "real@x.de", "", ""),
        (b"From: a@b.de\r\nSubject: =?utf-8?q?Auskunft_nach?=\r\n =?utf-8?q?_Art=2E_15?=\r\n\r\nx",
         "a@b.de", "", "Auskunft nach Art. 15"),
        (b"From: a@b.de\r\nSubject: Zeile\r\n\tzwei\r\n\r\nx", "a@b.de", "", "Zeile zwei"),
    ],
)  # fmt: skip
def test_sender_display_name_and_subject(raw: bytes, sender: str, display: str, subject: str) -> None:
    msg = parse(raw)
    assert (msg.sender, msg.display_name, msg.subject) == (sender, display, subject)
    assert msg.recipient == "klaus.marwede@kmb2.de"
    assert msg.channel == "email" and msg.controller == "kmb2" and msg.received_at == RECEIVED


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"\r\n \r\n", "empty message"),
        (b"Subject: x\r\nTo: a@b.de\r\n\r\nbody", "no From header"),
        (b"From: undisclosed recipients\r\n\r\nbody", "From header contains no address"),
        (bytes(range(256)) * 4, "no headers (not an e-mail message)"),
    ],
)
def test_unparseable_only_when_no_sender(raw: bytes, reason: str) -> None:
    with pytest.raises(UnparseableMessage) as caught:
        parse(raw)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("content_type", "cte", "body", "expected"),
    [
        ("text/plain; charset=utf-8", "8bit", "Grüße €".encode(), "Grüße €"),
        ("text/plain; charset=iso-8859-1", "8bit", "Grüße".encode("latin-1"), "Grüße"),
        ("text/plain; charset=iso-8859-1", "8bit", "10 € „x“".encode("cp1252"), "10 € „x“"),
        ("text/plain; charset=iso-8859-15", "8bit", "10 €".encode("iso-8859-15"), "10 €"),
        ("text/plain; charset=koi8-r", "8bit", "Привет".encode("koi8-r"), "Привет"),
        ("text/plain; charset=iso-2022-jp", "7bit", "開示".encode("iso-2022-jp"), "開示"),
        ("text/plain; charset=shift_jis", "8bit", "開示".encode("shift_jis"), "開示"),
        ("text/plain; charset=utf-8", "quoted-printable", b"Gr=C3=BC=C3=9Fe=\r\n weiter", "Grüße weiter"),
        ("text/plain; charset=utf-8", "base64", b"R3LDvMOfZQ==", "Grüße"),
        ("text/plain", "8bit", "undeclared ü".encode(), "undeclared ü"),
        ("text/plain", "8bit", "undeclared ü".encode("cp1252"), "undeclared ü"),
        ("text/plain; charset=x-unknown-thing", "8bit", "ü".encode(), "ü"),
        ("text/plain; charset=utf-8", "8bit", b"fast richtig \xfc", "fast richtig \ufffd"),
        ("text/plain; charset=base64", "8bit", b"not a text codec", "not a text codec"),
        ("text/plain; charset=utf-8", "x-uuencode", b"begin 644 a\n$4F5S=```\n`\nend\n", "Rest"),
        ("text/html; charset=utf-8", "8bit", b"<p>A&amp;B</p><p>C<br>D</p>", "A&B\n\nC\nD"),
        ("text/html", "8bit", b'<meta charset="iso-8859-1"><p>Gr\xfc\xdfe</p>', "Grüße"),
    ],
)
def test_charsets_and_transfer_encodings(content_type: str, cte: str, body: bytes, expected: str) -> None:
    raw = f"From: a@b.de\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n".encode()
    assert parse(raw + body).body == expected


def test_plain_preferred_over_html() -> None:
    raw = (
        b'From: a@b.de\r\nContent-Type: multipart/alternative; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
        b"--x\r\nContent-Type: text/html\r\n\r\n<p>html text</p>\r\n--x--\r\n"
    )
    msg = parse(raw)
    assert msg.body == "plain text"
    assert msg.attachments == ()  # the HTML alternative is not an attachment


def test_kept_headers_are_lower_case_and_decoded() -> None:
    raw = (
        b"From: a@b.de\r\nTo: =?utf-8?q?K=C3=B6nig?= <k@x.de>\r\nAuto-Submitted: auto-replied\r\n"
        b"Precedence: bulk\r\nList-Id: <l.x.de>\r\nX-Auto-Response-Suppress: All\r\nReply-To: other@x.de\r\n"
        b"Authentication-Results: mx.kmb2.de; dmarc=pass\r\nAuthentication-Results: evil; dkim=pass\r\n"
        b"X-Dsr-Defects: forged\r\nX-Secret: not kept\r\nMessage-ID: <m1@b.de>\r\n\r\nx"
    )
    msg = parse(raw)
    headers = msg.headers
    assert headers["to"] == "König <k@x.de>"
    assert headers["auto-submitted"] == "auto-replied"
    assert headers["precedence"] == "bulk"
    assert headers["list-id"] == "<l.x.de>"
    assert headers["x-auto-response-suppress"] == "All"
    assert headers["reply-to"] == "other@x.de"
    assert headers["authentication-results"] == "mx.kmb2.de; dmarc=pass\nevil; dkim=pass"
    assert "x-secret" not in headers
    assert "x-dsr-defects" not in headers and msg.defects == ()  # a sender cannot forge what we found
    assert msg.authentication_results == ("mx.kmb2.de; dmarc=pass", "evil; dkim=pass")
    assert msg.returned is None  # not a bounce


def test_envelope_sender_replaces_return_path() -> None:
    raw = b"From: a@b.de\r\nReturn-Path: <forged@x.de>\r\n\r\nx"
    assert parse(raw).headers["return-path"] == "<forged@x.de>"
    assert parse(raw, envelope_sender="").headers["return-path"] == "<>"
    assert parse(raw, envelope_sender="a@b.de").headers["return-path"] == "<a@b.de>"


def test_threading_headers() -> None:
    raw = (
        b"From: a@b.de\r\nMessage-ID:   <abc@b.de>  \r\nIn-Reply-To: Re <r1@kmb2.de> (comment)\r\n"
        b"References: <r0@kmb2.de>\r\n <r1@kmb2.de>\r\n\r\nx"
    )
    msg = parse(raw)
    assert (msg.message_id, msg.dedupe_key) == ("<abc@b.de>", "<abc@b.de>")
    assert msg.in_reply_to == "<r1@kmb2.de>"
    assert msg.references == ("<r0@kmb2.de>", "<r1@kmb2.de>")


def test_missing_message_id_is_stable_across_redelivery() -> None:
    raw = b"From: a@b.de\r\nSubject: x\r\n\r\nbody\r\n"
    redelivered = b"Received: from relay2 by mx; Tue, 3 Mar 2026\r\nReturn-Path: <a@b.de>\r\n" + raw
    first, second = parse(raw), parse(redelivered)
    assert first.dedupe_key == second.dedupe_key == synthetic_message_id(raw)
    assert first.dedupe_key.endswith("@synthetic.dsr.invalid>")
    assert parse(raw.replace(b"body", b"other")).dedupe_key != first.dedupe_key
    assert "MissingMessageId" in first.defects


@pytest.mark.parametrize(
    ("name", "content_type", "flagged"),
    [
        ("Personalausweis.jpg", "image/jpeg", True),
        ("ausweis_rueckseite.png", "image/png", True),
        ("MeinAusweisVorne.heic", "application/octet-stream", True),
        ("Reisepass.pdf", "application/pdf", True),
        ("passport scan.PDF", "application/pdf", True),
        ("ID.jpg", "image/jpeg", True),
        ("scan_id_front.jpg", "image/jpeg", True),
        ("Perso.jpeg", "image/jpeg", True),
        ("Führerschein.jpg", "image/jpeg", True),
        ("Ausweis.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", False),
        ("Rechnung.pdf", "application/pdf", False),
        ("video.jpg", "image/jpeg", False),
        ("Passwort.txt", "text/plain", False),
        ("Urlaub.jpg", "image/jpeg", False),
    ],
)
def test_id_document_detection(name: str, content_type: str, flagged: bool) -> None:
    assert looks_like_id_document(name, content_type) is flagged


def test_attachments_recorded_without_content() -> None:
    raw = (
        b'From: a@b.de\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: text/plain\r\n\r\nAnbei\r\n"
        b"--x\r\nContent-Type: image/jpeg\r\n"
        b'Content-Disposition: attachment; filename="../../Ausweis.jpg"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--x--\r\n"
    )
    (attachment,) = parse(raw).attachments
    assert attachment.name == "Ausweis.jpg"  # no path components
    assert (attachment.content_type, attachment.size) == ("image/jpeg", 4)
    assert attachment.sha256 == "054edec1d0211f624fed0cbca9d4f9400b0e491c43742af2c5b0abebf0c990d8"
    assert attachment.looks_like_id_document


def test_recipient_candidates_prefer_delivery_headers() -> None:
    raw = (
        b"Delivered-To: Info@KOMSA.com\r\nX-Original-To: info@komsa.com\r\n"
        b"To: Someone <x@y.de>, business-controlling@komsa.de\r\nCc: c@d.de\r\nFrom: a@b.de\r\n\r\n"
    )
    assert recipient_candidates(raw) == [
        "info@komsa.com",
        "x@y.de",
        "business-controlling@komsa.de",
        "c@d.de",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
        ("=?utf-8?q?a?= plain =?utf-8?q?b?=", "a plain b"),
        ("=?utf-8?b?4oI=?==?utf-8?b?rA==?=", "€"),  # a character split over two words
        ('"=?utf-8?q?M=C3=BCller?=" <m@x.de>', '"Müller" <m@x.de>'),
        ("=?x-unknown?q?caf=C3=A9?=", "café"),
        ("=?utf-8*de?q?Stra=C3=9Fe?=", "Straße"),
        ("=?utf-8?b?w7w?=", "ü"),  # padding missing
        ("no encoding here", "no encoding here"),
        ("line\r\n folded", "line folded"),
    ],
)
def test_header_decoding(raw: str, expected: str) -> None:
    assert decode_header_text(raw) == expected


def test_html_to_text_drops_scripts_and_keeps_structure() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body><script>x()</script>"
        "<h1>Antrag</h1><p>Zeile&nbsp;1<br/>Zeile 2</p><table><tr><td>a</td><td>b</td></tr></table>"
        "<pre>  genau\n  so</pre><p>Ende"
    )
    assert html_to_text(html) == "Antrag\n\nZeile 1\nZeile 2\n\na b\n\ngenau\nso\n\nEnde"


@pytest.mark.parametrize(
    ("address", "expected"),
    [(" <Max@Example.ORG> ", "max@example.org"), ("a@münchen.de", "a@xn--mnchen-3ya.de"), ("bad", "bad")],
)
def test_normalize_address(address: str, expected: str) -> None:
    assert normalize_address(address) == expected


def test_naive_received_at_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_email(
            b"From: a@b.de\r\n\r\nx", controller="k", recipient="r@x.de", received_at=datetime(2026, 1, 1)
        )


def test_body_is_capped_but_kept_raw() -> None:
    raw = b"From: a@b.de\r\n\r\n" + b"x" * 5000
    msg = parse_email(raw, controller="k", recipient="r@x.de", received_at=RECEIVED, max_body_chars=1000)
    assert len(msg.body) == 1000 + len("\n[…]") and msg.raw == raw
    assert "BodyTruncated" in msg.defects


# --- the hostile corpus -----------------------------------------------------------------------



def test_corpus_tables_cover_every_file() -> None:
    assert sorted(QUARANTINED | PARSED) == sorted(p.name for p in EML.glob("*.eml"))


@pytest.mark.parametrize("name", sorted(PARSED))
def test_corpus_file_is_parsed(name: str) -> None:
    sender, subject, body = PARSED[name]
    msg = parse(eml(name))
    assert msg.sender == sender
    assert subject in msg.subject
    assert body in msg.body
    assert "\x00" not in msg.body + msg.subject  # PostgreSQL text refuses NUL
    assert msg.dedupe_key.startswith("<") and msg.dedupe_key.endswith(">")


@pytest.mark.parametrize("name", sorted(QUARANTINED))
def test_corpus_file_is_unparseable(name: str) -> None:
    with pytest.raises(UnparseableMessage) as caught:
        parse(eml(name))
    assert caught.value.reason == QUARANTINED[name]


def test_corpus_bounce_details() -> None:
    msg = parse(eml("bounce_dsn.eml"), envelope_sender="")
    assert msg.headers["content-type"].startswith("multipart/report")
    assert msg.headers["return-path"] == "<>"
    assert dict(msg.delivery_status) == {
        "action": "failed", "status": "5.1.1", "final-recipient": "erika.mustermann@example.org"}
    assert msg.returned is not None and "5.1.1" in msg.returned.status_codes
    assert msg.references == ("<dsr-reply-123@kmb2.de>",)  # threads the bounce to the ticket
    assert "Eingangsbestaetigung" not in msg.body  # our own quoted reply is not the sender's text


def test_corpus_auto_reply_headers() -> None:
    msg = parse(eml("auto_reply_ooo.eml"))
    assert msg.headers["auto-submitted"] == "auto-replied"
    assert msg.headers["x-auto-response-suppress"] == "All"
    assert msg.in_reply_to == "<dsr-reply-123@kmb2.de>"


def test_corpus_id_card_attachments() -> None:
    flagged = {a.name: a.looks_like_id_document for a in parse(eml("id_card_attachment.eml")).attachments}
    assert flagged == {
        "Personalausweis_vorne.jpg": True,
        "Reisepass Rückseite.pdf": True,
        "Rechnung_2026.pdf": False,
    }


def test_corpus_nested_forward_keeps_both_layers() -> None:
    msg = parse(eml("nested_forward.eml"))
    assert msg.body.count("---------- Forwarded message ----------") == 2
    assert msg.body.index("Siehe unten.") < msg.body.index("Ich verlange Auskunft")
    assert [a.content_type for a in msg.attachments] == ["message/rfc822", "message/rfc822"]


def test_corpus_defects_are_recorded() -> None:
    assert "BoundaryRecovered" in parse(eml("broken_boundary.eml")).defects
    assert "CloseBoundaryNotFoundDefect" in parse(eml("missing_close_boundary.eml")).defects
    assert "UnknownCharset" in parse(eml("unknown_charset.eml")).defects
    assert parse(eml("base64_utf8.eml")).defects == ()
