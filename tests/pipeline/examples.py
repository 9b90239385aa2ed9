"""The messages quoted in issue 13 (and a few like them), shared by the pipeline, e2e and chat tests."""

from __future__ import annotations

# (subject, body) of e-mails a person wrote; none may be ignored.
MAIL_EXAMPLES = {
    "no_subject_out_of_system": ("", "Hallo, bitte nehmen Sie mich aus Ihrem System. Danke"),
    "out_of_the_files": ("", "Ich will raus aus Ihrer Kartei."),
    "dialect_delete_everything": ("", "moin, macht ma meine daten wech bei euch, alles. danke"),
    "other_customers_invoice": (
        "Falsche Rechnung",
        "Guten Tag,\nich habe heute mit der Post eine Rechnung bekommen, die gar nicht an mich gerichtet "
        "ist, sondern an einen anderen Kunden von Ihnen, mit seinem Namen, seiner Anschrift und den "
        "Auftragsdaten. Was soll ich damit machen?\nGruß"),
    "authority_letter": (
        "Ihr Zeichen: – Unser Aktenzeichen: LfD-2026-0815",
        "Sehr geehrte Damen und Herren,\n\nbei der Landesbeauftragten für den Datenschutz Niedersachsen ist "
        "eine Beschwerde über die Verarbeitung personenbezogener Daten durch Ihr Unternehmen eingegangen "
        "(Aktenzeichen LfD-2026-0815). Wir bitten Sie, zu dem Vorgang bis zum 12.03.2026 Stellung zu "
        "nehmen und uns die Rechtsgrundlage der Verarbeitung mitzuteilen.\n\nMit freundlichen Grüßen\n"
        "Im Auftrag\nDie Landesbeauftragte für den Datenschutz Niedersachsen"),
    "abmeldung_with_erasure_body": (
        "Abmeldung",
        "Bitte löschen Sie mein Kundenkonto und alle Daten, die Sie über mich gespeichert haben."),
}
CHAT_EXAMPLE = "ey macht mal alles wech was ihr von mir habt"
BREACH_REPORT = (
    "Datenpanne bei Ihnen?",
    "Hallo,\nich habe heute eine E-Mail von Ihnen bekommen, die an den falschen Empfänger ging: im Anhang "
    "die Rechnung eines anderen Kunden mit Name, Adresse und Telefonnummer. Das ist doch ein Datenleck.\n"
    "Viele Grüße")
INVOICE_DISPUTE = ("Rechnung 4711", "Ich widerspreche der Rechnung 4711, der Betrag ist falsch berechnet.")
# A weak reading the classifier offers readings for (a clarification question first).
UNCLEAR_ACCOUNT = ("hab ich bei euch überhaupt ein konto? bekomm dauernd mails von euch obwohl ich da nie "
                   "was gemacht hab")
