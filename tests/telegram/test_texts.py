"""The conversation's own short texts: complete in every form, German grammar of the confirmation."""

from __future__ import annotations

import re

import pytest

from dsr.channels.telegram.conversation import texts as t
from dsr.intents.rights import Right

FORMS: tuple[t.Form, ...] = ("sie", "du", "en")


@pytest.mark.parametrize("key", sorted(t._TEXTS))
def test_every_text_exists_in_all_three_forms_with_the_same_placeholders(key: str) -> None:
    variants = t._TEXTS[key]
    placeholders = [set(re.findall(r"{(\w+)}", v)) for v in variants]
    assert len(variants) == 3 and all(v.strip() for v in variants)
    assert placeholders[0] == placeholders[1] == placeholders[2]


def test_du_texts_do_not_address_the_person_formally() -> None:
    for sie, du, _en in t._TEXTS.values():
        if sie != du:
            assert not re.search(r"\b(Sie|Ihre?[mnrs]?)\b", du.replace("Ihre Anfrage", "")), du


@pytest.mark.parametrize(("rights", "form", "expected"), [
    ((Right.ERASURE,), "sie", "Ihre Nachricht ist als Anfrage DSR-2026-000001 eingegangen. "
     "Sie möchten, dass wir Ihre Daten löschen (Art. 17 DSGVO). Stimmt das?"),
    ((Right.ACCESS,), "du", "Deine Nachricht ist als Anfrage DSR-2026-000001 eingegangen. "
     "Du möchtest Auskunft darüber, welche Daten wir über dich speichern (Art. 15 DSGVO). Stimmt das?"),
    ((Right.PORTABILITY,), "en", "Your message has been received as request DSR-2026-000001. "
     "You would like to receive your data in a machine-readable format (Art. 20 GDPR). Is that right?"),
])
def test_confirmation_sentence(rights: tuple[Right, ...], form: t.Form, expected: str) -> None:
    article = ", ".join(t.article(r, form) for r in rights)
    text = t.text("confirm", form, reference="DSR-2026-000001", want=t.wants(rights, form), article=article)
    assert text == expected


def test_menu_has_the_nine_rights_in_legal_order() -> None:
    assert len(t.MENU_RIGHTS) == 9
    assert [t.button_label(r, "sie") for r in t.MENU_RIGHTS][-1] == "Entscheidung überprüfen lassen"
