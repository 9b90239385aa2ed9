"""Rules as data for tickets: the state machine, the refusal catalogue and the outcome codes.

Every ticket change a DPO may later have to justify goes through these tables, so that the
console, the CLI and the audit log speak the same vocabulary and an authority can be shown the
legal basis of each refusal (Art. 12(4) GDPR: reasons; § 34(2) BDSG: documented reasons).
"""

from __future__ import annotations

from dataclasses import dataclass

from dsr.intents.rights import Right
from dsr.replies.labels import STATES
from dsr.store.models import TicketState

S = TicketState

# Which state may follow which.  EXTENDED and PAUSED are entered only through `extend()` and
# `pause()` (they change the deadline); CLOSED only after an answer or a refusal, so that no
# request can disappear without a documented result.
TRANSITIONS: dict[TicketState, frozenset[TicketState]] = {
    S.NEW: frozenset({S.AWAITING_IDENTITY, S.IN_PROGRESS, S.ESCALATED, S.EXTENDED, S.ANSWERED, S.REFUSED}),
    S.AWAITING_IDENTITY: frozenset(
        {S.IN_PROGRESS, S.ESCALATED, S.EXTENDED, S.PAUSED, S.ANSWERED, S.REFUSED}
    ),
    S.IN_PROGRESS: frozenset({S.AWAITING_IDENTITY, S.ESCALATED, S.EXTENDED, S.PAUSED, S.ANSWERED, S.REFUSED}),
    S.ESCALATED: frozenset({S.AWAITING_IDENTITY, S.IN_PROGRESS, S.EXTENDED, S.PAUSED, S.ANSWERED, S.REFUSED}),
    S.EXTENDED: frozenset({S.AWAITING_IDENTITY, S.IN_PROGRESS, S.ESCALATED, S.PAUSED, S.ANSWERED, S.REFUSED}),
    # A pause is left only through `resume()`, which adds the paused days to the deadline.
    S.PAUSED: frozenset({S.AWAITING_IDENTITY, S.IN_PROGRESS, S.ESCALATED}),
    # A reply can be contested ("Ihre Auskunft ist unvollständig"): reopen or hand to a human.
    S.ANSWERED: frozenset({S.CLOSED, S.IN_PROGRESS, S.ESCALATED}),
    S.REFUSED: frozenset({S.CLOSED, S.IN_PROGRESS, S.ESCALATED}),
    # A closed request is reopened only through `reopen()`, with a reason (a new message about
    # it, a mistake in the result): it is worked again with its original receipt and deadline.
    S.CLOSED: frozenset({S.IN_PROGRESS}),
}

# States in which the request still has to be answered (the deadline runs).
OPEN_STATES: frozenset[TicketState] = frozenset(
    {S.NEW, S.AWAITING_IDENTITY, S.IN_PROGRESS, S.ESCALATED, S.EXTENDED, S.PAUSED}
)
# Entered (or, for PAUSED, left) only through their dedicated service functions.
GUARDED_TARGETS: dict[TicketState, str] = {S.EXTENDED: "extend()", S.PAUSED: "pause()"}
GUARDED_SOURCES: dict[TicketState, str] = {S.PAUSED: "resume()", S.CLOSED: "reopen()"}

STATE_LABELS_DE: dict[TicketState, str] = {state: STATES[state.value] for state in TicketState}


@dataclass(frozen=True, slots=True)
class RefusalReason:
    """A legal ground for refusing (fully or partly) to act on a request."""

    code: str
    article: str  # cited as is in the reply and the record
    title_de: str
    explanation_de: str
    # The rights this ground can restrict; empty means every right.
    rights: frozenset[Right] = frozenset()


def _r(code: str, article: str, title: str, text: str, *rights: Right) -> RefusalReason:
    return RefusalReason(code, article, title, text, frozenset(rights))


REFUSAL_REASONS: dict[str, RefusalReason] = {
    r.code: r
    for r in (
        _r("manifestly_unfounded", "Art. 12 Abs. 5 S. 2 lit. b DSGVO", "offenkundig unbegründet",
           "Der Antrag ist offenkundig unbegründet; der Verantwortliche trägt die Beweislast."),
        _r("excessive", "Art. 12 Abs. 5 S. 2 lit. b DSGVO", "exzessiv",
           "Der Antrag ist insbesondere wegen häufiger Wiederholung exzessiv (Erwägungsgrund 63)."),
        _r("identity_not_confirmed", "Art. 12 Abs. 6 DSGVO", "Identität nicht bestätigt",
           "Begründete Zweifel an der Identität wurden trotz Nachfrage nicht ausgeräumt."),
        _r("unidentifiable", "Art. 11 Abs. 2 DSGVO", "Identifizierung nicht möglich",
           "Der Verantwortliche kann die betroffene Person nicht identifizieren; die Art. 15 bis 20 "
           "finden keine Anwendung, solange keine identifizierenden Angaben nachgereicht werden.",
           Right.ACCESS, Right.RECTIFICATION, Right.ERASURE, Right.RESTRICTION, Right.PORTABILITY),
        _r("legal_obligation", "Art. 17 Abs. 3 lit. b DSGVO", "rechtliche Verpflichtung",
           "Die Verarbeitung ist zur Erfüllung einer rechtlichen Verpflichtung erforderlich "
           "(z. B. Aufbewahrungspflichten nach § 147 AO, § 257 HGB).", Right.ERASURE),
        _r("legal_claims", "Art. 17 Abs. 3 lit. e DSGVO", "Rechtsansprüche",
           "Die Daten werden zur Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen "
           "benötigt.", Right.ERASURE),
        _r("rights_of_others", "Art. 15 Abs. 4 DSGVO", "Rechte und Freiheiten anderer",
           "Die Kopie würde die Rechte und Freiheiten anderer Personen beeinträchtigen.", Right.ACCESS),
        _r("bdsg_29_secrecy", "§ 29 Abs. 1 S. 2 BDSG", "Geheimhaltungspflicht",
           "Die Auskunft würde Informationen offenbaren, die nach einer Rechtsvorschrift oder ihrem "
           "Wesen nach geheim gehalten werden müssen.", Right.ACCESS),
        _r("bdsg_34_retention_only", "§ 34 Abs. 1 Nr. 2 BDSG", "nur wegen Aufbewahrungspflichten gespeichert",
           "Die Daten sind nur noch wegen gesetzlicher Aufbewahrungsvorschriften oder zur "
           "Datensicherung/Datenschutzkontrolle gespeichert; die Auskunft erforderte einen "
           "unverhältnismäßigen Aufwand und eine andere Verwendung ist technisch-organisatorisch "
           "ausgeschlossen.", Right.ACCESS),
        _r("bdsg_35_disproportionate", "§ 35 Abs. 1 BDSG", "Löschung unverhältnismäßig",
           "Bei nicht automatisierter Verarbeitung ist die Löschung nur mit unverhältnismäßig hohem "
           "Aufwand möglich; an ihre Stelle tritt die Einschränkung der Verarbeitung.", Right.ERASURE),
        _r("bdsg_35_interests", "§ 35 Abs. 2 BDSG", "schutzwürdige Interessen der betroffenen Person",
           "Eine Löschung würde schutzwürdige Interessen der betroffenen Person beeinträchtigen; "
           "an ihre Stelle tritt die Einschränkung der Verarbeitung.", Right.ERASURE),
        _r("bdsg_35_retention", "§ 35 Abs. 3 BDSG", "Aufbewahrungsfristen",
           "Satzungsmäßige oder vertragliche Aufbewahrungsfristen stehen der Löschung entgegen; an "
           "ihre Stelle tritt die Einschränkung der Verarbeitung.", Right.ERASURE),
        _r("compelling_grounds", "Art. 21 Abs. 1 S. 2 DSGVO", "zwingende schutzwürdige Gründe",
           "Der Verantwortliche weist zwingende schutzwürdige Gründe für die Verarbeitung nach, die die "
           "Interessen, Rechte und Freiheiten der betroffenen Person überwiegen, oder die Verarbeitung "
           "dient der Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen.", Right.OBJECTION),
        _r("objection_not_applicable", "Art. 21 Abs. 1 S. 1 DSGVO", "Widerspruchsrecht nicht anwendbar",
           "Die Verarbeitung beruht nicht auf Art. 6 Abs. 1 lit. e oder f DSGVO.", Right.OBJECTION),
        _r("portability_not_applicable", "Art. 20 Abs. 1 DSGVO", "Datenübertragbarkeit nicht anwendbar",
           "Die Verarbeitung beruht weder auf einer Einwilligung noch auf einem Vertrag oder erfolgt "
           "nicht mithilfe automatisierter Verfahren.", Right.PORTABILITY),
        _r("no_automated_decision", "Art. 22 Abs. 1 DSGVO", "keine automatisierte Einzelentscheidung",
           "Es liegt keine ausschließlich automatisierte Entscheidung mit rechtlicher oder ähnlich "
           "erheblicher Wirkung vor.", Right.AUTOMATED_DECISION),
    )
}

OUTCOMES: dict[str, str] = {
    "granted": "Antrag erfüllt",
    "partially_granted": "Antrag teilweise erfüllt (teilweise Ablehnung begründet)",
    "no_data": "Keine personenbezogenen Daten gespeichert (Negativauskunft)",
    "restricted_instead_of_erased": "Einschränkung der Verarbeitung statt Löschung",
    "suppressed": "In die Werbesperrdatei aufgenommen",
    "consent_withdrawn": "Widerruf der Einwilligung umgesetzt",
    "withdrawn": "Anfrage von der betroffenen Person zurückgezogen",
    "forwarded": "An den zuständigen Verantwortlichen verwiesen (wir sind Auftragsverarbeiter)",
    "not_a_request": "Kein Betroffenenrecht (sonstiges Anliegen beantwortet)",
    "duplicate": "Doppelte Anfrage (unter anderem Aktenzeichen bearbeitet)",
    "refused": "Abgelehnt (Begründung und Rechtsbehelfsbelehrung nach Art. 12 Abs. 4 DSGVO)",
}

# Outcomes of an answer that may carry a refusal code for the refused part (EDPB § 193).
PARTIAL_OUTCOMES: frozenset[str] = frozenset({"partially_granted", "restricted_instead_of_erased"})
