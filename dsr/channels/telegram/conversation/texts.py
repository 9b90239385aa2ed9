"""Short texts of the Telegram conversation that are not replies about a ticket.

Statutory content (receipt with due date, marketing confirmation, escalation notice, code mail)
comes from `replies`; this module only holds the conversational glue: welcome, help, the
one-sentence "did I understand you" question, button labels and polite refusals.  Each text
exists in three forms: German "Sie" (default), German "Du" (when the controller profile says
so) and English (when the person writes English), so that a data subject is never addressed
inconsistently (Art. 12(1): clear and plain language).
"""

from __future__ import annotations

from typing import Literal

from dsr.intents.rights import RIGHTS, Right

Form = Literal["sie", "du", "en"]

# The nine rights offered on /start, in legal order, with their short button labels.
MENU_RIGHTS: tuple[Right, ...] = (
    Right.ACCESS, Right.RECTIFICATION, Right.ERASURE, Right.RESTRICTION, Right.PORTABILITY,
    Right.OBJECTION, Right.MARKETING_OBJECTION, Right.CONSENT_WITHDRAWAL, Right.AUTOMATED_DECISION,
)

_BUTTON_DE: dict[Right, str] = {
    Right.ACCESS: "Auskunft",
    Right.RECTIFICATION: "Berichtigung",
    Right.ERASURE: "Löschung",
    Right.RESTRICTION: "Einschränkung",
    Right.PORTABILITY: "Datenübertragbarkeit",
    Right.OBJECTION: "Widerspruch",
    Right.MARKETING_OBJECTION: "Werbewiderspruch",
    Right.CONSENT_WITHDRAWAL: "Einwilligung widerrufen",
    Right.AUTOMATED_DECISION: "Entscheidung überprüfen lassen",
}
_BUTTON_EN: dict[Right, str] = {
    Right.ACCESS: "Access",
    Right.RECTIFICATION: "Rectification",
    Right.ERASURE: "Erasure",
    Right.RESTRICTION: "Restriction",
    Right.PORTABILITY: "Data portability",
    Right.OBJECTION: "Objection",
    Right.MARKETING_OBJECTION: "Stop marketing",
    Right.CONSENT_WITHDRAWAL: "Withdraw consent",
    Right.AUTOMATED_DECISION: "Review a decision",
}

# "Sie möchten …" / "Du möchtest …" / "You would like …": what each right asks us to do.
_WANT: dict[Right, tuple[str, str, str]] = {
    Right.ACCESS: ("Auskunft darüber, welche Daten wir über Sie speichern",
                   "Auskunft darüber, welche Daten wir über dich speichern",
                   "to know which data we hold about you"),
    Right.RECTIFICATION: ("dass wir unrichtige Daten über Sie berichtigen",
                          "dass wir unrichtige Daten über dich berichtigen",
                          "us to correct inaccurate data about you"),
    Right.ERASURE: ("dass wir Ihre Daten löschen", "dass wir deine Daten löschen",
                    "us to erase your data"),
    Right.RESTRICTION: ("dass wir die Verarbeitung Ihrer Daten einschränken",
                        "dass wir die Verarbeitung deiner Daten einschränken",
                        "us to restrict the processing of your data"),
    Right.PORTABILITY: ("Ihre Daten in einem maschinenlesbaren Format erhalten",
                        "deine Daten in einem maschinenlesbaren Format erhalten",
                        "to receive your data in a machine-readable format"),
    Right.OBJECTION: ("der Verarbeitung Ihrer Daten widersprechen",
                      "der Verarbeitung deiner Daten widersprechen",
                      "to object to the processing of your data"),
    Right.MARKETING_OBJECTION: ("keine Werbung mehr von uns erhalten",
                                "keine Werbung mehr von uns erhalten",
                                "to receive no more marketing from us"),
    Right.CONSENT_WITHDRAWAL: ("Ihre Einwilligung widerrufen", "deine Einwilligung widerrufen",
                               "to withdraw your consent"),
    Right.AUTOMATED_DECISION: ("dass ein Mensch eine automatisierte Entscheidung überprüft",
                               "dass ein Mensch eine automatisierte Entscheidung überprüft",
                               "a person to review an automated decision"),
    Right.COMPLAINT: ("sich über den Umgang mit Ihren Daten beschweren",
                      "dich über den Umgang mit deinen Daten beschweren",
                      "to complain about how your data is handled"),
    Right.OTHER: ("etwas anderes", "etwas anderes", "something else"),
}

_TEXTS: dict[str, tuple[str, str, str]] = {
    "welcome": (
        "Willkommen beim Datenschutz-Assistenten von {controller}.\n"
        "Hier können Sie Ihre Rechte nach der DSGVO geltend machen: Auskunft, Berichtigung, "
        "Löschung und mehr. Schreiben Sie Ihr Anliegen einfach in eigenen Worten oder wählen Sie "
        "unten ein Recht.{notice}\n/status zeigt Ihre offenen Anfragen, /hilfe erklärt alles.",
        "Willkommen beim Datenschutz-Assistenten von {controller}.\n"
        "Hier kannst du deine Rechte nach der DSGVO geltend machen: Auskunft, Berichtigung, "
        "Löschung und mehr. Schreib dein Anliegen einfach in eigenen Worten oder wähle unten "
        "ein Recht.{notice}\n/status zeigt deine offenen Anfragen, /hilfe erklärt alles.",
        "Welcome to the data protection assistant of {controller}.\n"
        "Here you can exercise your rights under the GDPR: access, rectification, erasure and "
        "more. Write your request in your own words or choose a right below.{notice}\n"
        "/status shows your open requests, /hilfe explains everything.",
    ),
    "notice": ("\nDatenschutzhinweise: {url}", "\nDatenschutzhinweise: {url}",
               "\nPrivacy notice: {url}"),
    "help": (
        "So funktioniert es:\n• Schreiben Sie Ihr Anliegen, z. B. „Was speichern Sie über mich?“ "
        "oder „Keine Werbung mehr“.\n• Ich bestätige, was ich verstanden habe, und nenne Ihnen "
        "Aktenzeichen und Frist.\n• Für Auskünfte bestätigen Sie einmalig Ihre Identität mit einem "
        "Code an Ihre bei uns hinterlegte E-Mail-Adresse.\n/start – Übersicht der Rechte\n"
        "/status – Ihre offenen Anfragen\n/abbrechen – aktuelle Eingabe verwerfen\n"
        "/abmelden – Verknüpfung dieses Chats mit Ihrem Kundenkonto aufheben\n"
        "Bitte senden Sie keine Ausweiskopien oder Fotos. Per E-Mail erreichen Sie uns unter {email}.",
        "So funktioniert es:\n• Schreib dein Anliegen, z. B. „Was speichert ihr über mich?“ "
        "oder „Keine Werbung mehr“.\n• Ich bestätige, was ich verstanden habe, und nenne dir "
        "Aktenzeichen und Frist.\n• Für Auskünfte bestätigst du einmalig deine Identität mit einem "
        "Code an deine bei uns hinterlegte E-Mail-Adresse.\n/start – Übersicht der Rechte\n"
        "/status – deine offenen Anfragen\n/abbrechen – aktuelle Eingabe verwerfen\n"
        "/abmelden – Verknüpfung dieses Chats mit deinem Kundenkonto aufheben\n"
        "Bitte sende keine Ausweiskopien oder Fotos. Per E-Mail erreichst du uns unter {email}.",
        "How it works:\n• Write your request, e.g. \"What data do you have on me?\" or "
        "\"No more marketing\".\n• I confirm what I understood and give you a reference and the "
        "deadline.\n• For access requests you confirm your identity once with a code sent to the "
        "e-mail address we hold for you.\n/start – overview of your rights\n"
        "/status – your open requests\n/abbrechen – discard the current input\n"
        "/abmelden – unlink this chat from your customer account\n"
        "Please do not send ID copies or photos. By e-mail you reach us at {email}.",
    ),
    "confirm": ("Ihre Nachricht ist als Anfrage {reference} eingegangen. Sie möchten{want} ({article}). "
                "Stimmt das?",
                "Deine Nachricht ist als Anfrage {reference} eingegangen. Du möchtest{want} ({article}). "
                "Stimmt das?",
                "Your message has been received as request {reference}. You would like{want} ({article}). "
                "Is that right?"),
    "thanks_confirmed": ("Danke für die Bestätigung.", "Danke für die Bestätigung.",
                         "Thank you for confirming."),
    # What happens next, by where the ticket stands (after every confirmation).
    "next_identity": ("Als Nächstes prüfen wir, ob die Anfrage wirklich von Ihnen stammt; erst danach "
                      "beginnen wir mit der Bearbeitung.",
                      "Als Nächstes prüfen wir, ob die Anfrage wirklich von dir stammt; erst danach "
                      "beginnen wir mit der Bearbeitung.",
                      "Next we check that the request really comes from you; only then do we start "
                      "working on it."),
    "next_working": ("Als Nächstes bearbeiten wir Ihre Anfrage; die Antwort erhalten Sie spätestens am "
                     "{due}.",
                     "Als Nächstes bearbeiten wir deine Anfrage; die Antwort bekommst du spätestens am "
                     "{due}.",
                     "Next we work on your request; you will receive the answer by {due} at the latest."),
    "next_person": ("Als Nächstes sieht sich eine Person aus unserem Datenschutz-Team Ihre Anfrage an; die "
                    "Antwort erhalten Sie spätestens am {due}.",
                    "Als Nächstes sieht sich eine Person aus unserem Datenschutz-Team deine Anfrage an; die "
                    "Antwort bekommst du spätestens am {due}.",
                    "Next a person from our data protection team looks at your request; you will receive "
                    "the answer by {due} at the latest."),
    "next_paused": ("Die Frist ist angehalten, bis wir von Ihnen hören; sie endet sonst am {due}.",
                    "Die Frist ist angehalten, bis wir von dir hören; sie endet sonst am {due}.",
                    "The deadline is paused until we hear from you; otherwise it ends on {due}."),
    "next_done": ("Ihre Anfrage ist erledigt; weiter ist nichts zu tun.",
                  "Deine Anfrage ist erledigt; weiter ist nichts zu tun.",
                  "Your request is settled; nothing else needs to be done."),
    # A message about an open ticket that the pipeline did not answer itself.
    "noted": ("Danke, Ihre Nachricht ist bei Ihrer Anfrage {reference} vermerkt.",
              "Danke, deine Nachricht ist bei deiner Anfrage {reference} vermerkt.",
              "Thank you, your message has been added to your request {reference}."),
    "status_identity": ("Stand: Wir warten noch auf die Bestätigung Ihrer Identität; erst danach beginnen "
                        "wir mit der Bearbeitung. Die Frist läuft bis {due}.",
                        "Stand: Wir warten noch auf die Bestätigung deiner Identität; erst danach beginnen "
                        "wir mit der Bearbeitung. Die Frist läuft bis {due}.",
                        "Status: we are still waiting for your identity to be confirmed; only then do we "
                        "start working on it. The deadline is {due}."),
    "status_working": ("Stand: Ihre Anfrage ist in Bearbeitung; die Antwort erhalten Sie spätestens am "
                       "{due}.",
                       "Stand: Deine Anfrage ist in Bearbeitung; die Antwort bekommst du spätestens am "
                       "{due}.",
                       "Status: your request is being worked on; you will receive the answer by {due} at "
                       "the latest."),
    "status_person": ("Stand: Eine Person aus unserem Datenschutz-Team bearbeitet Ihre Anfrage; die Antwort "
                      "erhalten Sie spätestens am {due}.",
                      "Stand: Eine Person aus unserem Datenschutz-Team bearbeitet deine Anfrage; die Antwort "
                      "bekommst du spätestens am {due}.",
                      "Status: a person from our data protection team is handling your request; you will "
                      "receive the answer by {due} at the latest."),
    "status_paused": ("Stand: Die Frist ist angehalten, bis wir von Ihnen hören; sie endet sonst am {due}.",
                      "Stand: Die Frist ist angehalten, bis wir von dir hören; sie endet sonst am {due}.",
                      "Status: the deadline is paused until we hear from you; otherwise it ends on {due}."),
    "status_done": ("Stand: Ihre Anfrage ist erledigt.", "Stand: Deine Anfrage ist erledigt.",
                    "Status: your request is settled."),
    "choose": ("Ich bin nicht sicher, was Sie meinen. Ihre Nachricht ist als Anfrage {reference} "
               "eingegangen; die Frist läuft ab ihrem Eingang. Welches Anliegen haben Sie? Tippen Sie "
               "darauf, oder beschreiben Sie es in eigenen Worten.",
               "Ich bin nicht sicher, was du meinst. Deine Nachricht ist als Anfrage {reference} "
               "eingegangen; die Frist läuft ab ihrem Eingang. Welches Anliegen hast du? Tipp darauf, "
               "oder beschreib es in eigenen Worten.",
               "I am not sure what you mean. Your message has been received as request {reference}; "
               "the deadline runs from its receipt. Which of these is your request? Tap it, or "
               "describe it in your own words."),
    "choose_any_open": ("Ihre Nachricht ist als Anfrage {reference} eingegangen. Wenn Sie möchten, "
                        "wählen Sie hier, worum es geht, oder beschreiben Sie es genauer.",
                        "Deine Nachricht ist als Anfrage {reference} eingegangen. Wenn du möchtest, "
                        "wähl hier, worum es geht, oder beschreib es genauer.",
                        "Your message has been received as request {reference}. If you like, choose "
                        "here what it is about, or describe it in more detail."),
    "no_right": ("Ich habe darin kein Datenschutz-Anliegen erkannt. Wählen Sie bitte ein Recht oder "
                 "beschreiben Sie Ihr Anliegen genauer.",
                 "Ich habe darin kein Datenschutz-Anliegen erkannt. Wähle bitte ein Recht oder "
                 "beschreib dein Anliegen genauer.",
                 "I did not recognise a data protection request. Please choose a right or describe "
                 "your request in more detail."),
    "describe": ("{right}: Beschreiben Sie bitte kurz Ihr Anliegen (z. B. welche Angaben falsch sind) "
                 "oder senden Sie es gleich ab.",
                 "{right}: Beschreib bitte kurz dein Anliegen (z. B. welche Angaben falsch sind) "
                 "oder sende es gleich ab.",
                 "{right}: please describe your request briefly (e.g. which details are wrong) or "
                 "submit it right away."),
    "chosen": ("✓ {right}", "✓ {right}", "✓ {right}"),
    "ask_email": ("Oder einfacher: Nennen Sie hier die E-Mail-Adresse, die Sie bei uns verwenden. Wir "
                  "senden Ihnen dorthin einen Code – aber nur, wenn die Adresse bei uns hinterlegt ist.",
                  "Oder einfacher: Nenne hier die E-Mail-Adresse, die du bei uns verwendest. Wir senden "
                  "dir dorthin einen Code – aber nur, wenn die Adresse bei uns hinterlegt ist.",
                  "Or, simpler: tell us here the e-mail address you use with us. We will send you a code "
                  "there – but only if that address is on file with us."),
    "not_an_email": ("Das sieht nicht wie eine E-Mail-Adresse aus. Bitte noch einmal, oder /abbrechen.",
                     "Das sieht nicht wie eine E-Mail-Adresse aus. Bitte noch einmal, oder /abbrechen.",
                     "That does not look like an e-mail address. Please try again, or /abbrechen."),
    "code_sent": ("Falls diese Adresse bei uns hinterlegt ist, erhalten Sie in wenigen Minuten einen "
                  "achtstelligen Code (gültig {hours} Stunden). Bitte geben Sie ihn hier ein.",
                  "Falls diese Adresse bei uns hinterlegt ist, bekommst du in wenigen Minuten einen "
                  "achtstelligen Code (gültig {hours} Stunden). Bitte gib ihn hier ein.",
                  "If this address is on file with us, you will receive an eight-character code within "
                  "a few minutes (valid for {hours} hours). Please enter it here."),
    "code_wrong": ("Der Code stimmt nicht. Sie haben noch {left} Versuch(e).",
                   "Der Code stimmt nicht. Du hast noch {left} Versuch(e).",
                   "The code is not correct. {left} attempt(s) left."),
    "code_failed": ("Die Bestätigung ist fehlgeschlagen. Ihre Anfrage bleibt bestehen; wir melden uns "
                    "auf anderem Weg. Sie erreichen uns auch per E-Mail unter {email}.",
                    "Die Bestätigung ist fehlgeschlagen. Deine Anfrage bleibt bestehen; wir melden uns "
                    "auf anderem Weg. Du erreichst uns auch per E-Mail unter {email}.",
                    "The confirmation failed. Your request remains open; we will contact you in "
                    "another way. You can also e-mail us at {email}."),
    "bound": ("Dieser Chat ist jetzt mit Ihrem Kundenkonto verknüpft; weitere Anfragen von hier gelten "
              "als bestätigt. /abmelden hebt die Verknüpfung auf.",
              "Dieser Chat ist jetzt mit deinem Kundenkonto verknüpft; weitere Anfragen von hier gelten "
              "als bestätigt. /abmelden hebt die Verknüpfung auf.",
              "This chat is now linked to your customer account; further requests from here count as "
              "confirmed. /abmelden removes the link."),
    "unbound": ("Die Verknüpfung dieses Chats mit Ihrem Kundenkonto ist aufgehoben.",
                "Die Verknüpfung dieses Chats mit deinem Kundenkonto ist aufgehoben.",
                "This chat is no longer linked to your customer account."),
    "not_bound": ("Dieser Chat ist mit keinem Kundenkonto verknüpft.",
                  "Dieser Chat ist mit keinem Kundenkonto verknüpft.",
                  "This chat is not linked to a customer account."),
    "cancelled": ("Abgebrochen. Sie können jederzeit neu beginnen.",
                  "Abgebrochen. Du kannst jederzeit neu beginnen.",
                  "Cancelled. You can start again at any time."),
    "nothing_to_cancel": ("Es gibt nichts abzubrechen.", "Es gibt nichts abzubrechen.",
                          "There is nothing to cancel."),
    "status_none": ("Sie haben keine offenen Anfragen.", "Du hast keine offenen Anfragen.",
                    "You have no open requests."),
    "status_head": ("Ihre offenen Anfragen:", "Deine offenen Anfragen:", "Your open requests:"),
    "status_line": ("• {reference}: {rights}, Frist {due}", "• {reference}: {rights}, Frist {due}",
                    "• {reference}: {rights}, due {due}"),
    "status_no_due": ("sofort wirksam", "sofort wirksam", "effective immediately"),
    "escalated": ("Ihr Anliegen ({reference}) bearbeitet eine Person aus unserem Datenschutz-Team. "
                  "Sie erhalten eine Antwort spätestens am {due}.",
                  "Dein Anliegen ({reference}) bearbeitet eine Person aus unserem Datenschutz-Team. "
                  "Du bekommst eine Antwort spätestens am {due}.",
                  "A person from our data protection team will handle your request ({reference}). "
                  "You will receive an answer by {due} at the latest."),
    "non_text": ("Bitte schreiben Sie uns Ihr Anliegen als Text. Bilder, Dateien und Sticker "
                 "verarbeiten und speichern wir hier nicht – bitte senden Sie uns insbesondere "
                 "keine Ausweiskopien.",
                 "Bitte schreib uns dein Anliegen als Text. Bilder, Dateien und Sticker verarbeiten "
                 "und speichern wir hier nicht – bitte sende uns insbesondere keine Ausweiskopien.",
                 "Please write your request as text. We do not process or store pictures, files or "
                 "stickers here – in particular, please do not send ID copies."),
    "too_long": ("Ihre Nachricht ist zu lang ({limit} Zeichen höchstens). Bitte kürzer, oder per "
                 "E-Mail an {email}.",
                 "Deine Nachricht ist zu lang ({limit} Zeichen höchstens). Bitte kürzer, oder per "
                 "E-Mail an {email}.",
                 "Your message is too long (at most {limit} characters). Please shorten it or "
                 "e-mail {email}."),
    "slow_down": ("Sie schreiben sehr schnell, daher antworte ich in der nächsten Minute nicht "
                  "automatisch. Ihre weiteren Nachrichten gehen nicht verloren: Wir bewahren sie auf, "
                  "und unser Datenschutz-Team liest sie und antwortet Ihnen.",
                  "Du schreibst sehr schnell, daher antworte ich in der nächsten Minute nicht "
                  "automatisch. Deine weiteren Nachrichten gehen nicht verloren: Wir bewahren sie auf, "
                  "und unser Datenschutz-Team liest sie und antwortet dir.",
                  "You are writing very fast, so I will not answer automatically for the next "
                  "minute. Your further messages are not lost: we keep them, and our data protection "
                  "team will read them and answer you."),
    "stale_button": ("Diese Auswahl ist nicht mehr aktuell.", "Diese Auswahl ist nicht mehr aktuell.",
                     "This choice is no longer current."),
    "try_later": ("Entschuldigung, gerade gibt es ein technisches Problem. Ihre Nachricht ist nicht "
                  "verloren; bitte versuchen Sie es später noch einmal.",
                  "Entschuldigung, gerade gibt es ein technisches Problem. Deine Nachricht ist nicht "
                  "verloren; bitte versuch es später noch einmal.",
                  "Sorry, there is a technical problem right now. Your message is not lost; please "
                  "try again later."),
    "held": ("Ihre Nachricht ist eingegangen. Eine Person aus unserem Datenschutz-Team sieht sie sich an.",
             "Deine Nachricht ist eingegangen. Eine Person aus unserem Datenschutz-Team sieht sie sich an.",
             "Your message has been received. A person from our data protection team will look at it."),
    "fix_choose": ("Was meinen Sie stattdessen? Wählen Sie bitte, oder beschreiben Sie es in eigenen "
                   "Worten. Ihre Anfrage {reference} bleibt bestehen; wir passen sie an.",
                   "Was meinst du stattdessen? Wähl bitte, oder beschreib es in eigenen Worten. "
                   "Deine Anfrage {reference} bleibt bestehen; wir passen sie an.",
                   "What do you mean instead? Please choose, or describe it in your own words. Your "
                   "request {reference} stays open; we will adjust it."),
    "fix_unclear": ("Das habe ich nicht sicher verstanden. Bitte wählen Sie, was Sie meinen:",
                    "Das habe ich nicht sicher verstanden. Bitte wähl, was du meinst:",
                    "I did not understand that for sure. Please choose what you mean:"),
    "fixed": ("Danke, korrigiert: Ihre Anfrage {reference} betrifft jetzt {rights}.",
              "Danke, korrigiert: Deine Anfrage {reference} betrifft jetzt {rights}.",
              "Thank you, corrected: your request {reference} now concerns {rights}."),
    "precised": ("Danke. Ihre Anfrage {reference} betrifft jetzt {rights}.",
                 "Danke. Deine Anfrage {reference} betrifft jetzt {rights}.",
                 "Thank you. Your request {reference} now concerns {rights}."),
    "due_stays": ("Die Frist bleibt der {due}.", "Die Frist bleibt der {due}.",
                  "The deadline stays {due}."),
    "not_a_request": ("Danke für den Hinweis. Wir haben vermerkt, dass Sie kein Datenschutz-Anliegen "
                      "haben; gelöscht wird dadurch nichts. Eine Person aus unserem Datenschutz-Team "
                      "sieht sich Ihre Nachricht ({reference}) an.",
                      "Danke für den Hinweis. Wir haben vermerkt, dass du kein Datenschutz-Anliegen "
                      "hast; gelöscht wird dadurch nichts. Eine Person aus unserem Datenschutz-Team "
                      "sieht sich deine Nachricht ({reference}) an.",
                      "Thank you. We have noted that this is not a data protection request; nothing "
                      "is deleted because of it. A person from our data protection team will look at "
                      "your message ({reference})."),
    "button_yes": ("Stimmt", "Stimmt", "Yes, correct"),
    "button_no": ("Nein, etwas anderes", "Nein, etwas anderes", "No, something else"),
    "button_send": ("Ohne weitere Angaben absenden", "Ohne weitere Angaben absenden", "Submit as is"),
    "button_both": ("Beides", "Beides", "Both"),
    "button_all": ("Alle davon", "Alle davon", "All of these"),
    "button_other": ("Etwas anderes", "Etwas anderes", "Something else"),
    "button_not_a_request": ("Kein Datenschutz-Anliegen", "Kein Datenschutz-Anliegen",
                             "Not a data protection request"),
}


def form_for(language: str, address_form: str) -> Form:
    """English for English writers; otherwise the controller's German form of address."""
    if language == "en":
        return "en"
    return "du" if address_form == "Du" else "sie"


def text(key: str, form: Form, **values: object) -> str:
    """The text `key` in `form`, with `values` filled in (a missing value is an error)."""
    variants = _TEXTS[key]
    template = variants[("sie", "du", "en").index(form)]
    return template.format(**values)


def button_label(right: Right, form: Form) -> str:
    return (_BUTTON_EN if form == "en" else _BUTTON_DE).get(right, RIGHTS[right].name_de)


def want_phrase(right: Right, form: Form) -> str:
    return _WANT[right][("sie", "du", "en").index(form)]


def wants(rights: list[Right] | tuple[Right, ...], form: Form) -> str:
    """What the person wants, to follow "Sie möchten": a comma before a "dass" clause."""
    joined = (" and " if form == "en" else " und ").join(want_phrase(r, form) for r in rights)
    return f", {joined}" if joined.startswith("dass ") else f" {joined}"


def article(right: Right, form: Form) -> str:
    info = RIGHTS[right]
    return info.article_en if form == "en" else info.article
