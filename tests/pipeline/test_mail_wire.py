"""`compose_mail` writes its bytes directly; they must equal what the stdlib MIME classes produce.

Two documented deviations are applied to the reference as well: a received Message-ID that is
not usable (`usable_id`: over-long or odd) is not repeated, and an internationalised recipient
address is written as UTF-8 (RFC 6532) instead of as an encoded word.

The reference below is the straightforward construction with `email.mime` and the compat32
generator (what `compose_mail` did before it wrote the bytes itself).  Message-ID and boundary
are random, so the reference takes them from the composed mail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr

from hypothesis import given, settings
from hypothesis import strategies as st

from dsr.mail.compose import (
    _WIRE,
    BERLIN,
    MAX_REFERENCES,
    compose_mail,
    encoded_words,
    is_utf8_address,
    tagged_subject,
    usable_id,
)
from dsr.mail.hygiene import outgoing_msg_ids, safe_msg_id, strip_controls

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
BOUNDARY = re.compile(rb'boundary="([^"]+)"')


def reference_bytes(*, message_id: str, boundary: str, from_address: str, from_name: str, to: str,
                    subject: str, text: str, html: str, reference: str | None, in_reply_to: str | None,
                    references: Sequence[str], auto_submitted: str, language: str) -> bytes:
    # compose_mail cleans what it puts into headers first (dsr.mail.hygiene: no control characters,
    # only well-formed msg-ids); the reference gets the same cleaned values.
    to, subject = strip_controls(to, ""), strip_controls(subject)
    in_reply_to, references = safe_msg_id(in_reply_to), outgoing_msg_ids(references)
    msg = MIMEMultipart("alternative", boundary=boundary)
    msg["From"] = formataddr((from_name, from_address))
    msg["To"] = "UTF8-ADDRESS-PLACEHOLDER" if is_utf8_address(to) else to
    full_subject = tagged_subject(subject, reference)
    msg["Subject"] = full_subject if full_subject.isascii() else encoded_words(full_subject)
    msg["Date"] = format_datetime(NOW.astimezone(BERLIN))
    msg["Message-ID"] = message_id
    if in_reply_to and usable_id(in_reply_to):
        msg["In-Reply-To"] = in_reply_to
        chain = [r for r in references if r != in_reply_to and usable_id(r)][-(MAX_REFERENCES - 1):]
        msg["References"] = "\r\n ".join([*chain, in_reply_to])
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    if reference:
        msg["X-DSR-Reference"] = reference
    msg["Content-Language"] = language
    msg.attach(MIMEText(text if text.endswith("\n") else text + "\n", "plain", "utf-8"))
    msg.attach(MIMEText(html, "html", "utf-8"))
    return msg.as_bytes(policy=_WIRE).replace(b"UTF8-ADDRESS-PLACEHOLDER", to.encode())


def assert_same_as_stdlib(**kwargs: object) -> None:
    mail = compose_mail(now=NOW, **kwargs)  # type: ignore[arg-type]
    found = BOUNDARY.search(mail.payload)
    assert found is not None
    expected = reference_bytes(message_id=mail.message_id, boundary=found.group(1).decode(),
                               **{"reference": None, "in_reply_to": None, "references": (),
                                  "auto_submitted": "auto-replied", "language": "de", **kwargs})  # type: ignore[arg-type]
    assert mail.payload == expected


def test_typical_receipt_confirmation_is_byte_identical() -> None:
    assert_same_as_stdlib(
        from_address="klaus.marwede@kmb2.de", from_name="KMB² Datenschutz", to="erika@example.org",
        subject="[DSR-2026-000001] Eingangsbestätigung Ihrer Datenschutzanfrage",
        text="Sehr geehrte Frau Mustermann,\n\n" + "vielen Dank für Ihre Nachricht. " * 20,
        html="<!DOCTYPE html>\n<p>vielen Dank</p>\n", reference="DSR-2026-000001",
        in_reply_to="<abc@example.org>", references=["<a@b>", "<abc@example.org>"])


def test_dpo_alert_without_thread_headers_is_byte_identical() -> None:
    assert_same_as_stdlib(from_address="info@komsa.com", from_name="KOMSA DSR-Assistent",
                          to="dsb@komsa.com", subject="Eskalation", text="", html="",
                          reference="DSR-2026-000002", auto_submitted="auto-generated")


no_surrogates = st.characters(exclude_categories=["Cs"])
header_text = st.text(no_surrogates, max_size=60)
plain_token = st.from_regex(r"[!-~]{1,20}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(from_name=header_text, to=st.one_of(header_text, plain_token), subject=header_text,
       text=st.text(no_surrogates, max_size=300), html=header_text,
       in_reply_to=st.one_of(st.none(), plain_token, header_text),
       references=st.lists(st.one_of(plain_token, header_text), max_size=25),
       language=st.sampled_from(["de", "en", "d e", " de", "de "]))
def test_any_input_is_byte_identical_to_the_stdlib_generator(
        from_name: str, to: str, subject: str, text: str, html: str, in_reply_to: str | None,
        references: list[str], language: str) -> None:
    assert_same_as_stdlib(from_address="info@komsa.com", from_name=from_name, to=to, subject=subject,
                          text=text, html=html, reference="DSR-2026-000123", in_reply_to=in_reply_to,
                          references=references, language=language)
