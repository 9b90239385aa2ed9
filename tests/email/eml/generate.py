"""Writes the hostile .eml corpus next to this file (run: `.venv/bin/python -m tests.email.eml.generate`).

The files are committed; this script documents how each one was built, byte for byte, because
several are deliberately malformed in ways an editor would "fix".  All people and addresses are
fictitious.  The ~20 MB message is not stored; tests build it with `huge_message()`.
"""

from __future__ import annotations

import base64
import random
from pathlib import Path

HERE = Path(__file__).parent
TO = "To: klaus.marwede@kmb2.de\r\n"
DATE = "Date: Mon, 02 Mar 2026 09:15:00 +0100\r\n"
TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcp"
    "LDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAA"
    "AAD/2gAIAQEAAD8AVN//2Q=="
)


def _b64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def corpus() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    head = "From: Erika Mustermann <erika.mustermann@example.org>\r\n" + TO + DATE

    files["broken_boundary.eml"] = (
        head + "Subject: Auskunft nach Art. 15\r\nMessage-ID: <broken-boundary@example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="declared-but-unused"\r\n\r\n'
        "--actually-used\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Ich bitte um Auskunft über meine gespeicherten Daten.\r\n--actually-used--\r\n"
    ).encode()
    files["missing_close_boundary.eml"] = (
        head + "Subject: Loeschung\r\nMessage-ID: <no-close@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nBitte loeschen Sie meine Daten.\r\n"
    ).encode()
    files["header_8bit_utf8.eml"] = (
        "From: Jürgen Müller <Juergen.Mueller@Example.ORG>\r\n"
        + TO
        + DATE
        + "Subject: Auskunft über meine Daten\r\nMessage-ID: <8bit-utf8@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Grüße, ich möchte wissen, welche Daten Sie über mich speichern.\r\n"
    ).encode("utf-8")
    files["header_8bit_latin1.eml"] = (
        "From: Jörg Weiß <joerg@example.org>\r\n"
        + TO
        + DATE
        + "Subject: Löschung meiner Daten\r\nMessage-ID: <8bit-latin1@example.org>\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Bitte löschen Sie alle Daten über mich. Grüße\r\n"
    ).encode("latin-1")
    files["latin1_quoted_printable.eml"] = (
        head
        + "Subject: =?iso-8859-1?q?Widerspruch_gegen_Werbung?=\r\nMessage-ID: <qp-latin1@example.org>\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Ich widerspreche der Nutzung meiner Daten f=FCr Werbezwecke. Stra=DFe 1, M=FCnchen.=\r\n"
        " Danke.\r\n"
    ).encode()
    files["windows1252_mislabelled.eml"] = (
        head + "Subject: Kosten\r\nMessage-ID: <cp1252@example.org>\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Die Auskunft darf nicht 10 \u20ac kosten \u201eoder?\u201c \u2013 Gru\u00df\r\n"
    ).encode("cp1252")
    files["iso2022jp.eml"] = (
        head + "Subject: =?ISO-2022-JP?B?GyRCOEQ/TT5wSnMbKEI=?=\r\nMessage-ID: <jis@example.org>\r\n"
        "Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    ).encode() + "個人情報の開示を請求します。\r\n".encode("iso-2022-jp")
    files["base64_utf8.eml"] = (
        head + "Subject: =?utf-8?b?QXVza3VuZnQgZ2Vtw6TDnyBBcnQuIDE1?=\r\nMessage-ID: <b64@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + _b64(b"Sehr geehrte Damen und Herren, bitte senden Sie mir eine Kopie meiner Daten.")
        + "\r\n"
    ).encode()
    files["base64_broken.eml"] = (
        head + "Subject: kaputt\r\nMessage-ID: <b64-broken@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"Bitte Auskunft erteilen.").decode().rstrip("=")[:-1]
        + "!!\r\n"
    ).encode()
    files["empty.eml"] = b""
    files["whitespace_only.eml"] = b"\r\n\r\n   \r\n"
    files["binary_garbage.eml"] = bytes(random.Random(5).randbytes(4096)).replace(b"\r\n.", b"\r\n-")
    files["html_only.eml"] = (
        head + "Subject: HTML\r\nMessage-ID: <html-only@example.org>\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>Hiermit widerrufe ich meine <b>Einwilligung</b> in den Newsletter.</p>"
        "<ul><li>E-Mail</li><li>Telefon</li></ul><p>Mit freundlichen Gr&uuml;&szlig;en<br>Erika</p>"
        "</body></html>\r\n"
    ).encode()
    files["html_with_empty_plain.eml"] = (
        head + "Subject: Alternative\r\nMessage-ID: <empty-plain@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n \r\n"
        "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<div>Bitte berichtigen Sie meine Adresse.</div>\r\n--alt--\r\n"
    ).encode()
    inner = (
        "From: Max Beispiel <max@example.net>\r\nTo: erika.mustermann@example.org\r\n"
        "Subject: Meine urspruengliche Anfrage\r\nMessage-ID: <inner@example.net>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nIch verlange Auskunft nach Art. 15 DSGVO.\r\n"
    )
    middle = (
        "From: Erika Mustermann <erika.mustermann@example.org>\r\nTo: someone@example.com\r\n"
        "Subject: Fwd: Meine urspruengliche Anfrage\r\nMessage-ID: <middle@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="m2"\r\n\r\n--m2\r\nContent-Type: text/plain\r\n\r\n'
        "Siehe unten.\r\n--m2\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "--m2--\r\n"
    )
    files["nested_forward.eml"] = (
        head + "Subject: Fwd: Fwd: Meine urspruengliche Anfrage\r\nMessage-ID: <outer@example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m1"\r\n\r\n'
        "--m1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Bitte bearbeiten, seit Wochen keine Antwort.\r\n"
        "--m1\r\nContent-Type: message/rfc822\r\n"
        'Content-Disposition: attachment; filename="anfrage.eml"\r\n\r\n' + middle + "--m1--\r\n"
    ).encode()
    files["rfc822_attachment.eml"] = (
        head + "Subject: Anhang\r\nMessage-ID: <rfc822-att@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="r1"\r\n\r\n'
        "--r1\r\nContent-Type: text/plain\r\n\r\nAnbei meine fruehere Mail.\r\n"
        "--r1\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "--r1--\r\n"
    ).encode()
    files["bounce_dsn.eml"] = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: klaus.marwede@kmb2.de\r\n"
        + DATE
        + "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@mx.example.org>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n\r\n'
        "--dsn\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; Erika.Mustermann@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--dsn\r\nContent-Type: message/rfc822\r\n\r\nFrom: klaus.marwede@kmb2.de\r\n"
        "To: erika.mustermann@example.org\r\nSubject: Ihre Anfrage [DSR-2026-000123]\r\n"
        "Message-ID: <dsr-reply-123@kmb2.de>\r\nAuto-Submitted: auto-replied\r\n\r\nEingangsbestaetigung\r\n"
        "--dsn--\r\n"
    ).encode()
    files["auto_reply_ooo.eml"] = (
        head + "Subject: Abwesenheitsnotiz: Ihre Anfrage\r\nMessage-ID: <ooo@example.org>\r\n"
        "Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\nPrecedence: bulk\r\n"
        "In-Reply-To: <dsr-reply-123@kmb2.de>\r\nReferences: <dsr-reply-123@kmb2.de>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nIch bin bis 16.03. nicht im Büro.\r\n"
    ).encode()
    files["mailing_list.eml"] = (
        "From: Newsletter <news@lists.example.com>\r\n"
        + TO
        + DATE
        + "Subject: [liste] Neuigkeiten\r\nMessage-ID: <list-1@lists.example.com>\r\n"
        "List-Id: <liste.lists.example.com>\r\nList-Unsubscribe: <mailto:leave@lists.example.com>\r\n"
        "Precedence: list\r\n\r\nNeuigkeiten der Woche.\r\n"
    ).encode()
    files["missing_message_id.eml"] = (
        head + "Subject: Ohne Message-ID\r\n\r\nIch moechte der Datenverarbeitung widersprechen.\r\n"
    ).encode()
    files["missing_from.eml"] = (
        TO + DATE + "Subject: Wer bin ich\r\nMessage-ID: <no-from@example.org>\r\n\r\nAuskunft bitte.\r\n"
    ).encode()
    files["id_card_attachment.eml"] = (
        head + "Subject: Mein Ausweis\r\nMessage-ID: <id-card@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="id"\r\n\r\n'
        "--id\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei mein Ausweis zur Identifizierung.\r\n"
        '--id\r\nContent-Type: image/jpeg; name="Personalausweis_vorne.jpg"\r\n'
        'Content-Disposition: attachment; filename="Personalausweis_vorne.jpg"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(TINY_JPEG) + "\r\n"
        "--id\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename*=UTF-8''Reisepass%20R%C3%BCckseite.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(b"%PDF-1.4\n%fake\n") + "\r\n"
        '--id\r\nContent-Type: application/pdf; name="Rechnung_2026.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(b"%PDF-1.4\n%invoice\n") + "\r\n--id--\r\n"
    ).encode()
    files["unknown_charset.eml"] = (
        head + "Subject: =?x-klingon?q?Qapla=27?=\r\nMessage-ID: <klingon@example.org>\r\n"
        "Content-Type: text/plain; charset=x-klingon\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Auskunft \u00fcber meine Daten bitte.\r\n"
    ).encode("utf-8")
    files["malformed_encoded_words.eml"] = (
        'From: "=?utf-8?q?M=C3=BCller=2C_Hans?=" <hans@example.org>\r\n'
        + TO
        + DATE
        + "Subject: =?utf-8?b?w6Q=?= =?utf-8?b?w7Y=?= =?UTF-8?B?4oKs?==?utf-8?q?_Auskunft?=\r\n"
        "Message-ID: <encoded-words@example.org>\r\n\r\nBitte um Auskunft.\r\n"
    ).encode()
    files["long_line.eml"] = (
        head + "Subject: Lange Zeile\r\nMessage-ID: <long-line@example.org>\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n<p>" + "Auskunft " * 800 + "</p>\r\n"
    ).encode()
    files["idn_sender.eml"] = (
        "From: Bärbel <Baerbel@Bücher.example>\r\n"
        + TO
        + DATE
        + "Subject: Auskunft\r\nMessage-ID: <idn@xn--bcher-kva.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nIch möchte Auskunft.\r\n"
    ).encode()
    files["headers_only.eml"] = (
        head + "Subject: Nur Betreff: Auskunft\r\nMessage-ID: <hdr-only@example.org>\r\n"
    ).encode()
    files["nul_bytes.eml"] = (
        head + "Subject: Nullbytes\r\nMessage-ID: <nul@example.org>\r\n\r\nAus\x00kunft bitte\x00.\r\n"
    ).encode()
    files["bare_lf.eml"] = (
        "From: erika.mustermann@example.org\n" + TO.strip() + "\nSubject: Unix-Zeilenenden\n"
        "Message-ID: <bare-lf@example.org>\n\nIch bitte um Loeschung.\n"
    ).encode()
    return files


def huge_message(size: int = 20 * 1024 * 1024) -> bytes:
    """A valid message of about `size` bytes: a short request plus a large base64 attachment."""
    payload = _b64(random.Random(20).randbytes(size * 3 // 4))
    return (
        "From: erika.mustermann@example.org\r\n"
        + TO
        + DATE
        + "Subject: Riesig\r\nMessage-ID: <huge@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="h"\r\n\r\n--h\r\nContent-Type: text/plain\r\n\r\n'
        "Auskunft bitte, Scan anbei.\r\n--h\r\nContent-Type: application/octet-stream\r\n"
        'Content-Disposition: attachment; filename="scan.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + payload
        + "\r\n--h--\r\n"
    ).encode()


def main() -> None:
    for name, data in corpus().items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
