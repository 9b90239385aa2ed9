"""What people read: the copy's headings, the download and code messages, Art. 19 notices.

German by default (formal "Sie", or "Du" where the profile says so for the person-facing
messages), English for English requesters ("en", "EN", "en-GB", "en_US": `dsr.replies.language`).
Art. 19 notices go to businesses: always German.
"""

from __future__ import annotations

import html
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dsr.replies.language import is_english, normalise_language

BERLIN = ZoneInfo("Europe/Berlin")

_COPY = {
    "de": {
        "title": "Kopie Ihrer personenbezogenen Daten",
        "intro": "Diese Datei enthält die Auskunft nach Art. 15 DSGVO und eine Kopie der Daten, die wir "
                 "über Sie verarbeiten. Die Daten liegen zusätzlich maschinenlesbar als JSON und CSV bei "
                 "(Art. 20 DSGVO); manifest.json nennt die SHA-256-Prüfsumme jeder Datei.",
        "controller": "Verantwortlicher", "reference": "Aktenzeichen", "created": "Erstellt am",
        "contents": "Inhalt", "info": "Informationen nach Art. 15 Abs. 1 und 2 DSGVO",
        "data": "Ihre Daten", "purposes": "Zwecke und Rechtsgrundlagen", "interest": "berechtigtes Interesse",
        "categories": "Kategorien der Daten, die wir über Sie gefunden haben", "records": "Einträge",
        "recipients": "Empfänger", "no_recipients": "Keine Empfänger.",
        "transfers": "Übermittlung in Drittländer und Garantien", "storage": "Speicherdauer",
        "years": "Jahre ab Ende des Kalenderjahres", "source": "Herkunft der Daten",
        "automated": "Automatisierte Entscheidungen", "no_automated":
            "Bei diesen Verarbeitungen findet keine automatisierte Entscheidungsfindung einschließlich "
            "Profiling im Sinne von Art. 22 Abs. 1 und 4 DSGVO statt.",
        "relationships": "Ihre Beziehungen zu uns, auf die sich diese Angaben beziehen",
        "no_relationships": "Die Angaben nach Art. 15 Abs. 1 und 2 DSGVO (Zwecke, Empfänger, "
                            "Speicherdauer, Herkunft) zu Ihren Daten enthält unser Antwortschreiben.",
        "rights": "Ihre Rechte", "rights_text":
            "Sie haben das Recht auf Berichtigung (Art. 16), Löschung (Art. 17), Einschränkung der "
            "Verarbeitung (Art. 18), Datenübertragbarkeit (Art. 20) und Widerspruch (Art. 21 DSGVO).",
        "complaint": "Beschwerderecht bei der Aufsichtsbehörde (Art. 77 DSGVO)",
        "excluded": "Nicht enthaltene Einträge",
        "excluded_text": "Einzelne Einträge sind nicht enthalten, weil ihre Herausgabe die Rechte und "
                         "Freiheiten anderer Personen beeinträchtigen würde (Art. 15 Abs. 4 DSGVO):",
        "data_text": "Je Kategorie eine Tabelle; dieselben Daten stehen im Ordner data/ als JSON und CSV.",
    },
    "en": {
        "title": "Copy of your personal data",
        "intro": "This file contains the information under Art. 15 GDPR and a copy of the data we process "
                 "about you. The data is also enclosed in machine-readable form as JSON and CSV (Art. 20 "
                 "GDPR); manifest.json lists the SHA-256 checksum of every file.",
        "controller": "Controller", "reference": "Reference", "created": "Created",
        "contents": "Contents", "info": "Information under Art. 15(1) and (2) GDPR",
        "data": "Your data", "purposes": "Purposes and legal bases", "interest": "legitimate interest",
        "categories": "Categories of data we found about you", "records": "records",
        "recipients": "Recipients", "no_recipients": "No recipients.",
        "transfers": "Transfers to third countries and safeguards", "storage": "Storage period",
        "years": "years from the end of the calendar year", "source": "Source of the data",
        "automated": "Automated decisions", "no_automated":
            "No automated decision-making, including profiling, within the meaning of Art. 22(1) and "
            "(4) GDPR takes place in this processing.",
        "relationships": "Your relationships with us to which this information refers",
        "no_relationships": "The information under Art. 15(1) and (2) GDPR (purposes, recipients, "
                            "storage, source) about your data is in our letter.",
        "rights": "Your rights", "rights_text":
            "You have the right to rectification (Art. 16), erasure (Art. 17), restriction of processing "
            "(Art. 18), data portability (Art. 20) and to object (Art. 21 GDPR).",
        "complaint": "Right to lodge a complaint with the supervisory authority (Art. 77 GDPR)",
        "excluded": "Records not included",
        "excluded_text": "Some records are not included because handing them out would adversely affect "
                         "the rights and freedoms of others (Art. 15(4) GDPR):",
        "data_text": "One table per category; the same data is in the data/ folder as JSON and CSV.",
    },
}


def copy_labels(lang: str) -> dict[str, str]:
    return _COPY[normalise_language(lang)]


def _day(value: datetime | date) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(BERLIN).date()
    return value.strftime("%d.%m.%Y")


def link_message(*, lang: str, du: bool, reference: str, url: str, expires_at: datetime,
                 max_uses: int, file_name: str = "") -> tuple[str, str]:
    """(subject, text) of the message with the download link (`file_name`: a file the DPO made)."""
    if is_english(lang):
        what = (f"the file \u201c{file_name}\u201d for your request {reference} is" if file_name
                else f"the copy of your data for your request {reference} is")
        content = ("" if file_name else
                   "The file is a ZIP archive with a readable copy (HTML) and the data as JSON and CSV.\n")
        return (f"Your data: download link [{reference}]",
                f"Hello,\n\n{what} ready:\n\n{url}\n\n"
                f"The link works until {_day(expires_at)} and for {max_uses} downloads. Before the download "
                "starts we send a one-time code to this address (or this chat); only you can use it.\n\n"
                + content)
    sie = "Du" if du else "Sie"
    ihre = "Deine" if du else "Ihre"
    ihrer = "Deiner" if du else "Ihrer"
    what = (f"die Datei \u201e{file_name}\u201c zu {ihrer} Anfrage {reference}" if file_name
            else f"die Kopie {ihrer} Daten zu {ihrer} Anfrage {reference}")
    content = ("" if file_name else
               "Die Datei ist ein ZIP-Archiv mit einer lesbaren Kopie (HTML) und den Daten als JSON und "
               "CSV.\n")
    return (f"{ihre} Daten: Download-Link [{reference}]",
            f"Guten Tag,\n\n{what} liegt bereit:\n\n{url}\n\n"
            f"Der Link gilt bis zum {_day(expires_at)} und für {max_uses} Downloads. Bevor der Download "
            f"beginnt, senden wir einen Einmal-Code an diese Adresse (bzw. in diesen Chat); nur {sie} "
            f"{'kannst' if du else 'können'} ihn verwenden.\n\n{content}")


def attachment_message(*, lang: str, du: bool, reference: str, file_name: str,
                       note: str = "") -> tuple[str, str]:
    """(subject, text) of the message that carries the DPO's file as an attachment (`note`: the DPO's
    own words, put before the standard text)."""
    own = f"{note.strip()}\n\n" if note.strip() else ""
    if is_english(lang):
        return (f"Your request: file attached [{reference}]",
                f"Hello,\n\n{own}attached is the file \u201c{file_name}\u201d for your request "
                f"{reference}.\n")
    ihrer = "Deiner" if du else "Ihrer"
    return (f"{'Deine' if du else 'Ihre'} Anfrage: Datei anbei [{reference}]",
            f"Guten Tag,\n\n{own}anbei {'erhältst Du' if du else 'erhalten Sie'} die Datei "
            f"\u201e{file_name}\u201c zu {ihrer} Anfrage {reference}.\n")


_ROUTE_DE = {
    "chat": "getrennt per Telegram in den Chat, der mit {ihrem} Konto verbunden ist",
    "mail": "in einer gesonderten E-Mail an diese Adresse",
    "phone": "nicht per E-Mail: wir teilen es {ihnen} telefonisch mit",
}
_ROUTE_EN = {
    "chat": "separately by Telegram, to the chat bound to your account",
    "mail": "in a separate e-mail to this address",
    "phone": "not by e-mail: we will tell you by phone",
}


def sealed_message(*, lang: str, du: bool, reference: str, file_name: str, route: str) -> tuple[str, str]:
    """(subject, text) of the mail that carries the package as an AES-256 ZIP; `route` says truthfully
    how the password travels (`PasswordRoute`)."""
    if is_english(lang):
        return (f"Your data: encrypted copy attached [{reference}]",
                f"Hello,\n\nattached is the copy of your data for your request {reference} as the "
                f"encrypted ZIP file \u201c{file_name}\u201d (AES-256). We send the password "
                f"{_ROUTE_EN[route]}.\n\nThe file holds a readable copy (HTML) and your data as JSON and "
                "CSV. To open it you need a program that opens AES-encrypted ZIP files, e.g. 7-Zip "
                "(Windows), Keka (macOS) or the file manager on Linux; the ZIP support built into "
                "Windows and macOS cannot open this encryption.\n")
    ihrer, ihrem, ihnen = ("Deiner", "Deinem", "Dir") if du else ("Ihrer", "Ihrem", "Ihnen")
    route_text = _ROUTE_DE[route].format(ihrem=ihrem, ihnen=ihnen)
    return (f"{'Deine' if du else 'Ihre'} Daten: verschlüsselte Kopie anbei [{reference}]",
            f"Guten Tag,\n\nanbei {'erhältst Du' if du else 'erhalten Sie'} die Kopie {ihrer} Daten zu "
            f"{ihrer} Anfrage {reference} als verschlüsselte ZIP-Datei \u201e{file_name}\u201c (AES-256). "
            f"Das Passwort senden wir {route_text}.\n\n"
            f"Die Datei enthält eine lesbare Kopie (HTML) und {'Deine' if du else 'Ihre'} Daten als "
            f"JSON und CSV. Zum Öffnen {'brauchst Du' if du else 'benötigen Sie'} ein Programm, das "
            "AES-verschlüsselte ZIP-Dateien öffnen kann, z. B. 7-Zip (Windows), Keka (macOS) oder den "
            "Dateimanager unter Linux; die in Windows und macOS eingebaute ZIP-Funktion kann diese "
            "Verschlüsselung nicht öffnen.\n")


def password_message(*, lang: str, du: bool, reference: str, file_name: str,
                     password: str) -> tuple[str, str]:
    """(subject, text) of the separate message with the password of the encrypted attachment."""
    if is_english(lang):
        return (f"Password for your encrypted file [{reference}]",
                f"Hello,\n\nthe password for the encrypted ZIP file \u201c{file_name}\u201d that we sent "
                f"you in a separate e-mail for your request {reference} is:\n\n{password}\n\n"
                "Please do not keep it together with the file.\n")
    ihrer = "Deiner" if du else "Ihrer"
    return (f"Passwort zu {'Deiner' if du else 'Ihrer'} verschlüsselten Datei [{reference}]",
            f"Guten Tag,\n\ndas Passwort für die verschlüsselte ZIP-Datei \u201e{file_name}\u201c, die wir "
            f"{'Dir' if du else 'Ihnen'} in einer gesonderten E-Mail zu {ihrer} Anfrage {reference} "
            f"gesandt haben, lautet:\n\n{password}\n\n"
            f"Bitte {'bewahre es' if du else 'bewahren Sie es'} nicht zusammen mit der Datei auf.\n")


def code_message(*, lang: str, du: bool, reference: str, code: str, minutes: int) -> tuple[str, str]:
    if is_english(lang):
        return (f"Your download code [{reference}]",
                f"Your one-time code for the download of your data ({reference}):\n\n{code}\n\n"
                f"It is valid for {minutes} minutes. If you did not ask for it, ignore this message.\n")
    ihre = "Dein" if du else "Ihr"
    return (f"{ihre} Download-Code [{reference}]",
            f"{ihre} Einmal-Code für den Download {'Deiner' if du else 'Ihrer'} Daten "
            f"({reference}):\n\n{code}\n\n"
            f"Er gilt {minutes} Minuten. Wenn {'Du' if du else 'Sie'} ihn nicht angefordert "
            f"{'hast' if du else 'haben'}, ignorieren {'Du' if du else 'Sie'} diese Nachricht bitte.\n")


def art19_notice(*, controller: str, recipient: str, reference: str, action_lines: list[str],
                 identification: str) -> tuple[str, str]:
    """(subject, text) of a notification to a recipient under Art. 19 GDPR (German, business)."""
    lines = "\n".join(f"- {line}" for line in action_lines)
    return (f"Mitteilung nach Art. 19 DSGVO [{reference}]",
            f"Sehr geehrte Damen und Herren ({recipient}),\n\n"
            f"{controller} hat auf Verlangen der betroffenen Person ({identification}) Folgendes "
            f"umgesetzt:\n\n{lines}\n\n"
            "Nach Art. 19 DSGVO teilen wir Ihnen dies mit, weil Sie diese Daten von uns erhalten haben. "
            "Bitte setzen Sie die Löschung, Einschränkung bzw. Berichtigung auch in Ihren Systemen um "
            f"und bestätigen Sie uns dies unter Angabe des Aktenzeichens {reference}.\n\n"
            f"Mit freundlichen Grüßen\n{controller}\n")


def plain_html(text: str) -> str:
    """The HTML part of a mail whose text part is `text` (paragraphs, escaped)."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    body = "".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs)
    head = '<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8"></head><body>\n'
    return f"{head}{body}</body></html>\n"
