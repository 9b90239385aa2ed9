"""What the hostile e-mail corpus (tests/email/eml) must parse to, or be quarantined for."""

from __future__ import annotations

QUARANTINED = {
    "empty.eml": "empty message",
    "whitespace_only.eml": "empty message",
    "binary_garbage.eml": "no headers (not an e-mail message)",
    "missing_from.eml": "no From header",
}


# file -> (sender, text the subject contains, text the body contains)
PARSED = {
    "auto_reply_ooo.eml": ("erika.mustermann@example.org", "Abwesenheitsnotiz", "nicht im Büro"),
    "bare_lf.eml": ("erika.mustermann@example.org", "Unix-Zeilenenden", "Loeschung"),
    "base64_broken.eml": ("erika.mustermann@example.org", "kaputt", "Bitte Auskunft erteilen"),
    "base64_utf8.eml": ("erika.mustermann@example.org", "Auskunft gemäß Art. 15", "Kopie meiner Daten"),
    "bounce_dsn.eml": ("mailer-daemon@mx.example.org", "Undelivered Mail", "could not be delivered"),
    "broken_boundary.eml": ("erika.mustermann@example.org", "Art. 15", "Auskunft über meine gespeicherten"),
    "header_8bit_latin1.eml": ("joerg@example.org", "Löschung meiner Daten", "Bitte löschen Sie"),
    "header_8bit_utf8.eml": ("juergen.mueller@example.org", "Auskunft über meine Daten", "Grüße"),
    "headers_only.eml": ("erika.mustermann@example.org", "Nur Betreff", ""),
    "html_only.eml": ("erika.mustermann@example.org", "HTML", "widerrufe ich meine Einwilligung"),
    "html_with_empty_plain.eml": (
        "erika.mustermann@example.org",
        "Alternative",
        "berichtigen Sie meine Adresse",
    ),
    "id_card_attachment.eml": ("erika.mustermann@example.org", "Mein Ausweis", "Anbei mein Ausweis"),
    "idn_sender.eml": ("baerbel@xn--bcher-kva.example", "Auskunft", "Ich möchte Auskunft."),
    "iso2022jp.eml": ("erika.mustermann@example.org", "個人情報", "個人情報の開示を請求します。"),
    "latin1_quoted_printable.eml": (
        "erika.mustermann@example.org",
        "Widerspruch",
        "für Werbezwecke. Straße 1",
    ),
    "long_line.eml": ("erika.mustermann@example.org", "Lange Zeile", "Auskunft Auskunft"),
    "mailing_list.eml": ("news@lists.example.com", "Neuigkeiten", "Neuigkeiten der Woche"),
    "malformed_encoded_words.eml": ("hans@example.org", "äö€ Auskunft", "Bitte um Auskunft"),
    "missing_close_boundary.eml": ("erika.mustermann@example.org", "Loeschung", "Bitte loeschen Sie"),
    "missing_message_id.eml": ("erika.mustermann@example.org", "Ohne Message-ID", "widersprechen"),
    "nested_forward.eml": ("erika.mustermann@example.org", "Fwd: Fwd:", "Ich verlange Auskunft nach Art. 15"),
    "nul_bytes.eml": ("erika.mustermann@example.org", "Nullbytes", "Auskunft bitte."),
    "rfc822_attachment.eml": ("erika.mustermann@example.org", "Anhang", "Ich verlange Auskunft"),
    "unknown_charset.eml": ("erika.mustermann@example.org", "Qapla'", "Auskunft über meine Daten"),
    "windows1252_mislabelled.eml": ("erika.mustermann@example.org", "Kosten", "10 € kosten „oder?“ – Gruß"),
}
