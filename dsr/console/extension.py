"""The extension dialog: a lawful reason, the DPO's own words, and the letter before it goes out.

Art. 12(3) s. 2-3 GDPR allows two more months "where necessary, taking into account the
complexity and number of the requests", and the person must be told the reasons.  A bare "zu
komplex" tells them nothing, so the DPO picks a reason from this catalogue (the sentence the
person reads) and adds what concretely takes longer in this case (at least MIN_DETAIL characters,
checked by `dsr.console.free_text`: no placeholders, no contact or account details, real words).
The preview renders the exact letter with the new date and the moved internal target without
changing anything; only the confirmed form extends and queues the notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dsr.console.free_text import reason_problem
from dsr.console.operations import RefusedError, check_extendable
from dsr.controllers import ControllerProfile
from dsr.deadlines import compute_deadline, working_days_before
from dsr.pipeline.outbound import reply_context
from dsr.replies import render_reply
from dsr.replies.context import ReplyKind
from dsr.store.models import Ticket

MIN_DETAIL = 30

EXTENSION_REASONS: dict[str, str] = {
    "complexity": "Ihre Anfrage ist umfangreich: Die Daten liegen in mehreren Systemen und müssen "
    "zusammengeführt und geprüft werden.",
    "third_parties": "Die Unterlagen enthalten Angaben über andere Personen, die wir vor der Herausgabe "
    "schützen (schwärzen) müssen (Art. 15 Abs. 4 DSGVO).",
    "processors": "Ein Teil der Daten liegt bei Dienstleistern, die in unserem Auftrag arbeiten; wir "
    "müssen ihn dort anfordern.",
    "volume": "Die Menge der gespeicherten Daten ist groß (zum Beispiel viele Jahre Korrespondenz), "
    "so dass die Zusammenstellung mehr Zeit braucht.",
    "number": "Sie haben mehrere Anfragen gestellt, die wir zusammen und vollständig beantworten wollen.",
}


@dataclass(frozen=True, slots=True)
class ExtensionPlan:
    reasons: tuple[str, ...]
    new_due: date
    internal_target: date
    subject: str
    text: str


def reasons_from(code: str, detail: str, *, reference: str = "") -> tuple[str, ...]:
    if code not in EXTENSION_REASONS:
        raise RefusedError("Bitte einen Grund aus der Liste wählen.")
    detail = " ".join(detail.split())
    if len(detail) < MIN_DETAIL:
        raise RefusedError(
            f"Bitte konkret beschreiben, was in diesem Fall länger dauert (mindestens {MIN_DETAIL} Zeichen); "
            "der Text geht an die Person."
        )
    problem = reason_problem(detail, reference=reference)
    if problem is not None:
        raise RefusedError(problem)
    return (EXTENSION_REASONS[code], detail)


def plan(ticket: Ticket, profile: ControllerProfile, *, code: str, detail: str, today: date) -> ExtensionPlan:
    """The letter and dates an extension would produce now, without changing the ticket."""
    check_extendable(ticket, today)
    reasons = reasons_from(code, detail, reference=ticket.reference)
    deadline = compute_deadline(ticket.received_at, profile.state, paused_days=ticket.paused_days)
    target = working_days_before(
        deadline.extended_due, profile.internal_target_working_days, profile.state, not_before=today
    )
    context = reply_context(
        ticket, as_of=today, extended_due_date=deadline.extended_due, extension_reasons=reasons
    )
    rendered = render_reply(ReplyKind.EXTENSION_NOTICE, context, profile, language=ticket.language or "de")
    text = rendered.chat if ticket.channel == "telegram" else rendered.text
    return ExtensionPlan(reasons, deadline.extended_due, target, rendered.subject, text)
