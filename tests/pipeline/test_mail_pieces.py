"""Pure pieces of the e-mail pipeline: composing our mail, loop checks, bounce parsing, DKIM/DMARC."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from dsr.inbound import InboundMessage
from dsr.logs import mask_address
from dsr.mail.compose import compose_mail, find_reference_tag, is_our_message_id, tagged_subject
from dsr.mail.parse import parse_email
from dsr.pipeline.identity import authentication_passes
from dsr.pipeline.loop_guard import Verdict, check_message, parse_bounce

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
OWN = frozenset({"klaus.marwede@kmb2.de"})
OWN_DOMAINS = frozenset({"kmb2.de"})


def _inbound(headers: dict[str, str], sender: str = "erika@example.org", **extra: object) -> InboundMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "klaus.marwede@kmb2.de"
    msg["Subject"] = "Auskunft"
    msg["Message-ID"] = "<m1@example.org>"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content("Bitte um Auskunft nach Art. 15 DSGVO.")
    envelope = str(extra.get("envelope", sender))
    return parse_email(msg.as_bytes(), controller="kmb2", recipient="klaus.marwede@kmb2.de",
                       received_at=NOW, envelope_sender=envelope)


def test_composed_mail_carries_loop_and_threading_headers() -> None:
    mail = compose_mail(from_address="klaus.marwede@kmb2.de", from_name="kmb2 Datenschutz",
                        to="erika@example.org", subject="Eingangsbestätigung", text="Guten Tag,\n",
                        html="<p>Guten Tag,</p>", now=NOW, reference="DSR-2026-000007",
                        in_reply_to="<m1@example.org>", references=("<m0@example.org>",))
    parsed = message_from_bytes(mail.payload, policy=default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["In-Reply-To"] == "<m1@example.org>"
    assert parsed["References"] == "<m0@example.org> <m1@example.org>"
    assert parsed["Message-ID"] == mail.message_id
    assert mail.message_id.endswith("@kmb2.de>") and is_our_message_id(mail.message_id, OWN_DOMAINS)
    assert parsed["Subject"] == "Eingangsbestätigung [DSR-2026-000007]"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert b"\r\n" in mail.payload and parsed["Date"]


def test_subject_tag_is_added_once_and_found_again() -> None:
    assert tagged_subject("AW: Frage [DSR-2026-000123]", "DSR-2026-000123") == "AW: Frage [DSR-2026-000123]"
    assert tagged_subject("Frage", "DSR-2026-000123") == "Frage [DSR-2026-000123]"
    assert find_reference_tag("WG: AW: Ihre Anfrage [DSR-2026-000123]") == "DSR-2026-000123"
    assert find_reference_tag("DSR-2026-000123 without brackets") is None


@pytest.mark.parametrize(
    ("headers", "sender", "verdict", "reason"),
    [
        ({}, "erika@example.org", Verdict.ANSWER, ""),
        ({"Auto-Submitted": "no"}, "erika@example.org", Verdict.ANSWER, ""),
        ({"Auto-Submitted": "auto-replied"}, "erika@example.org", Verdict.AUTOMATIC, "auto_submitted"),
        ({"Auto-Submitted": "auto-generated; owner-email=x@y"}, "erika@example.org", Verdict.AUTOMATIC,
         "auto_submitted"),
        ({"Precedence": "bulk"}, "erika@example.org", Verdict.AUTOMATIC, "precedence_bulk"),
        ({"Precedence": "junk"}, "erika@example.org", Verdict.AUTOMATIC, "precedence_junk"),
        ({"Precedence": "list"}, "erika@example.org", Verdict.AUTOMATIC, "precedence_list"),
        ({"List-Id": "<news.example.org>"}, "erika@example.org", Verdict.AUTOMATIC, "list_id"),
        ({}, "klaus.marwede@kmb2.de", Verdict.AUTOMATIC, "own_address"),
        ({}, "MAILER-DAEMON@mx.example.org", Verdict.BOUNCE, "bounce_sender"),
        ({}, "postmaster@example.org", Verdict.BOUNCE, "bounce_sender"),
        ({"X-Auto-Response-Suppress": "All"}, "erika@example.org", Verdict.NO_REPLY,
         "auto_response_suppress"),
        ({}, "noreply@shop.example.org", Verdict.NO_REPLY, "noreply_sender"),
    ],
)
def test_loop_guard_layers(headers: dict[str, str], sender: str, verdict: Verdict, reason: str) -> None:
    check = check_message(_inbound(headers, sender), own_addresses=OWN, own_domains=OWN_DOMAINS)
    assert (check.verdict, check.reason) == (verdict, reason)


def test_null_envelope_sender_is_a_bounce() -> None:
    check = check_message(_inbound({}, envelope=""), own_addresses=OWN, own_domains=OWN_DOMAINS)
    assert check.verdict is Verdict.BOUNCE


def test_our_own_message_id_coming_back_is_automatic() -> None:
    msg = _inbound({})
    mine = InboundMessage(**{**{f: getattr(msg, f) for f in msg.__dataclass_fields__},
                             "message_id": "<dsr.20260302.abc@kmb2.de>"})
    assert check_message(mine, own_addresses=OWN, own_domains=OWN_DOMAINS).reason == "own_message_id"


def _dsn(original_id: str, status: str, subject: str = "Eingangsbestätigung [DSR-2026-000042]") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "To: klaus.marwede@kmb2.de\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce1@mx.example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Delivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; erika@example.org\r\nAction: failed\r\nStatus: {status}\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: klaus.marwede@kmb2.de\r\nMessage-ID: {original_id}\r\nSubject: {subject}\r\n"
        "--B--\r\n"
    ).encode()


@pytest.mark.parametrize(("status", "permanent"), [("5.1.1", True), ("4.2.2", False)])
def test_bounce_report_names_the_returned_message(status: str, permanent: bool) -> None:
    raw = _dsn("<dsr.20260302093000.ab@kmb2.de>", status)
    msg = parse_email(raw, controller="kmb2", recipient="klaus.marwede@kmb2.de", received_at=NOW,
                      envelope_sender="")
    report = parse_bounce(msg)
    assert "<dsr.20260302093000.ab@kmb2.de>" in report.message_ids
    assert report.tags == ("DSR-2026-000042",)
    assert (report.status, report.permanent) == (status, permanent)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("mx.kmb2.de; dkim=pass header.d=example.org; dmarc=pass header.from=example.org", True),
        ("mx.kmb2.de 1; dmarc=pass (p=reject) header.from=example.org", True),
        ("mx.kmb2.de; dkim=pass header.d=sub.example.org", True),
        ("mx.kmb2.de; dkim=pass header.d=evil.example.net; dmarc=fail", False),  # not aligned
        ("mx.kmb2.de; spf=pass smtp.mailfrom=example.org", False),  # SPF alone does not count
        ("attacker.example; dmarc=pass header.from=example.org", False),  # untrusted authserv-id
        ("mx.kmb2.de; dmarc=fail header.from=example.org", False),
    ],
)
def test_authentication_results_from_the_trusted_server_only(header: str, expected: bool) -> None:
    ok, _how = authentication_passes([header], "mx.kmb2.de", "erika@example.org")
    assert ok is expected


@pytest.mark.parametrize(
    ("address", "masked"),
    [("max.muster@example.org", "m***@example.org"), ("telegram:123456", "telegram:***56"),
     ("", "<none>"), ("nonsense", "n***")],
)
def test_mask_address(address: str, masked: str) -> None:
    assert mask_address(address) == masked


@pytest.mark.parametrize("subject", [
    "[DSR-2026-000001] Eingangsbestätigung Ihrer Datenschutzanfrage",
    "Ihre Anfrage – Löschung nach Art. 17 DSGVO, Aktenzeichen [DSR-2026-000002], Rückfrage zur Identität 😀",
])
def test_non_ascii_subjects_survive_encoding_and_folding(subject: str) -> None:
    mail = compose_mail(from_address="info@komsa.com", from_name="KOMSA Datenschutz", to="a@example.org",
                        subject=subject, text="Grüße\n", html="<p>Grüße</p>", now=NOW,
                        references=tuple(f"<r{n}@example.org>" for n in range(30)),
                        in_reply_to="<x@example.org>")
    parsed = message_from_bytes(mail.payload, policy=default)
    assert parsed["Subject"] == subject
    assert all(len(line) <= 78 for line in mail.payload.split(b"\r\n"))
    assert len(str(parsed["References"]).split()) == 20  # trimmed, newest kept, ends with In-Reply-To
    assert str(parsed["References"]).split()[-1] == "<x@example.org>"
