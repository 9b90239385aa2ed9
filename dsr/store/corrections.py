"""What the DPO taught the classifier: corrected rights and ignored messages turned into tickets.

Each such decision becomes one labelled record in the corpus format (JSON Lines, the record scheme
of the shared corpus: id, channel, subject, body, labels, acceptable, escalate, lang, note), so that
`dsr classify --score` measures the classifier on the controller's own traffic.  A record holds
the text of the message the request came with (the controller holds it anyway) and nothing else
about the person: no sender, no name, no address; its id is the ticket reference.

Only people's decisions count: rights corrected in the console or through the API, messages the
DPO turned into a ticket, and tickets the DPO answered as "no data-subject request" (labelled
`other`: the negative examples a classifier learns as much from).  When a ticket was decided more
than once, its last decision wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dsr.intents.rights import Right, legal_sort
from dsr.store.models import AuditEvent, Direction, Message, Ticket

CORRECTED = "rights_corrected"
CONVERTED = "ignored_message_converted"
ANSWERED = "state_changed"  # with outcome "not_a_request": the DPO found it was no request at all
NOT_A_REQUEST = "not_a_request"
HUMAN_ACTORS = ("console:%", "api:%")
_VALID = {r.value for r in Right}


@dataclass(frozen=True, slots=True)
class Correction:
    ticket_id: int
    message_id: int | None
    labels: tuple[str, ...]
    at: datetime
    kind: str  # CORRECTED or CONVERTED
    ignored_reason: str = ""  # for CONVERTED: why the message had been set aside


def corrections(session: Session, *, since: datetime | None = None,
                controllers: tuple[str, ...] = ()) -> list[Correction]:
    """The last human decision per ticket, oldest ticket first."""
    query = (select(AuditEvent).where(AuditEvent.action.in_([CORRECTED, CONVERTED, ANSWERED]),
                                      AuditEvent.ticket_id.is_not(None),
                                      or_(*(AuditEvent.actor.like(a) for a in HUMAN_ACTORS)))
             .order_by(AuditEvent.at, AuditEvent.id))
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if controllers:
        query = (query.join(Ticket, Ticket.id == AuditEvent.ticket_id)
                 .where(Ticket.controller.in_(controllers)))
    latest: dict[int, Correction] = {}
    converted_from: dict[int, tuple[int | None, str]] = {}
    for event in session.scalars(query):
        if event.ticket_id is None:  # excluded by the query; narrows the type
            continue
        detail = event.detail or {}
        if event.action == CONVERTED:
            message_id = detail.get("message_id")
            converted_from[event.ticket_id] = (message_id if isinstance(message_id, int) else None,
                                               str(detail.get("ignored_reason", "")))
            labels = _labels(detail.get("rights"))
        elif event.action == ANSWERED:
            labels = (Right.OTHER.value,) if detail.get("outcome") == NOT_A_REQUEST else ()
        else:
            labels = _labels(detail.get("to"))
        if not labels:
            continue
        message_id, ignored = converted_from.get(event.ticket_id, (None, ""))
        latest[event.ticket_id] = Correction(event.ticket_id, message_id, labels, event.at,
                                             CONVERTED if event.ticket_id in converted_from else CORRECTED,
                                             ignored)
    return sorted(latest.values(), key=lambda c: c.ticket_id)


def _labels(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(r.value for r in legal_sort([Right(v) for v in value if isinstance(v, str) and v in _VALID]))


def records(session: Session, found: list[Correction]) -> list[dict[str, Any]]:
    """Corpus records for `found`; a ticket whose message is no longer stored is skipped."""
    out: list[dict[str, Any]] = []
    for item in found:
        ticket = session.get(Ticket, item.ticket_id)
        message = _message(session, item)
        if ticket is None or message is None:
            continue
        special = ticket.breach_due_at is not None or "authority" in ticket.escalation_reasons
        escalate = True if special else None  # otherwise the DPO's decision says nothing about it
        said = _labels((ticket.classification or {}).get("labels"))  # the classifier's reading
        if item.labels == (Right.OTHER.value,):
            note = f"DSB: keine Betroffenenanfrage (Klassifikation: {', '.join(said) or '–'})"
        elif item.kind == CONVERTED:
            note = f"DSB: ignorierte Nachricht ({item.ignored_reason or 'ohne Grund'}) als Anfrage angelegt"
        else:
            note = f"DSB-Korrektur der Rechte (Klassifikation: {', '.join(said) or '–'})"
        out.append({
            "id": f"{ticket.controller}-{ticket.reference}",
            "channel": "telegram" if message.channel == "telegram" else "email",
            "subject": message.subject_line if message.channel != "telegram" else "",
            "body": message.body_text,
            "labels": list(item.labels),
            "acceptable": [],
            "escalate": escalate,
            "lang": ticket.language,
            "note": f"{note}, {item.at:%Y-%m-%d}",
        })
    return out


def _message(session: Session, item: Correction) -> Message | None:
    """The message the request came with: the converted one, else the ticket's first inbound."""
    if item.message_id is not None:
        return session.get(Message, item.message_id)
    return session.scalars(
        select(Message)
        .where(Message.ticket_id == item.ticket_id, Message.direction == Direction.INBOUND.value)
        .order_by(Message.received_at, Message.id).limit(1)).first()
