"""Scope stripping: only what the sender wrote now can exercise a right."""

from __future__ import annotations

from dsr.intents.scope import DISCLAIMER, FORWARDED, OWN, PRIVACY_NOTICE, QUOTED, SIGNATURE, scope


def _own(text: str, *, chat: bool = False) -> str:
    result = scope(text, chat=chat)
    return "\n".join(text[s:e] for s, e in result.ranges(OWN))


def _kinds(text: str) -> set[str]:
    return {r.kind for r in scope(text).regions}


def test_quoted_lines_are_excluded() -> None:
    text = "Bitte löschen.\n\n> Ihre Auskunft\n> zum Tarif"
    assert "Auskunft" not in _own(text)
    assert QUOTED in _kinds(text)


def test_am_schrieb_and_original_message_start_a_quote() -> None:
    for header in ("Am 12.03.2024 um 10:00 schrieb Service <s@x.de>:", "-----Original Message-----",
                   "-----Ursprüngliche Nachricht-----", "On Tue, 5 Mar 2024, Anna wrote:"):
        text = f"Danke, erledigt.\n\n{header}\nIhre Löschung wurde durchgeführt."
        assert "Löschung" not in _own(text), header


def test_outlook_header_block_starts_a_quote() -> None:
    text = "Passt.\n\nVon: Datenschutz\nGesendet: Montag\nBetreff: X\n\nWir haben gelöscht."
    assert "gelöscht" not in _own(text)


def test_forwarded_message_is_kept_apart() -> None:
    text = ("Bitte übernehmen.\n\n-------- Weitergeleitete Nachricht --------\nBetreff: Daten\n"
            "Von: A <a@b.de>\n\nBitte löschen Sie meine Daten.")
    result = scope(text)
    forwarded = " ".join(text[s:e] for s, e in result.ranges(FORWARDED))
    assert "löschen" in forwarded
    assert "Von:" not in forwarded and "löschen" not in _own(text)


def test_signature_after_closing_and_delimiter() -> None:
    text = "Bitte Auskunft.\n\nMit freundlichen Grüßen\nMax Muster\nLöschweg 1"
    assert _own(text) == "Bitte Auskunft.\n"
    assert SIGNATURE in _kinds(text)
    assert "Sperr" not in _own("Hallo\n-- \nSperrvermerk GmbH")


def test_postscript_after_signature_counts_again() -> None:
    text = "Bitte Auskunft.\n\nViele Grüße\nMax\nPS: Bitte auch meine Daten löschen."
    assert "löschen" in _own(text)


def test_disclaimer_paragraph_is_excluded() -> None:
    text = ("Bitte Adresse ändern.\n\nDiese E-Mail ist vertraulich. Wenn Sie nicht der richtige Adressat "
            "sind, löschen Sie diese E-Mail.")
    assert "löschen" not in _own(text)
    assert DISCLAIMER in _kinds(text)


def test_pasted_privacy_notice_is_excluded_but_own_request_stays() -> None:
    text = ("Ich möchte Auskunft.\n\n8. Welche Rechte haben Sie?\n8.1 Auskunft\n8.2 Berichtigung\n"
            "8.3 Löschung\nNach Maßgabe von Art. 17 DSGVO haben Sie das Recht auf Löschung.\n8.4 Widerspruch")
    own = _own(text)
    assert "Ich möchte Auskunft." in own and "Berichtigung" not in own
    assert PRIVACY_NOTICE in _kinds(text)


def test_chat_keeps_a_short_closing_line() -> None:
    assert "danke" in _own("löschen\ndanke", chat=True)
