"""Facts recorded on a ticket by people or the pipeline: identity, rights, assignee, notes.

None of these changes the state; each writes one audit event so that the record shows who
established which fact and why (Art. 5(2) GDPR accountability).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from dsr.intents.rights import Right, legal_sort
from dsr.store.audit import audit
from dsr.store.models import IdentityLevel, Ticket, TicketNote
from dsr.store.tickets.common import TicketError, require_text


def record_identity(
    session: Session, ticket: Ticket, level: IdentityLevel, *, method: str, actor: str, now: datetime
) -> None:
    """Record how the requester's identity was checked (docs/LEGAL-NOTES.md 3.5), never the evidence."""
    level = IdentityLevel(level)
    method = require_text(method, "identity method")
    before = ticket.identity_level
    ticket.identity_level = level.value
    ticket.identity_method = method
    ticket.updated_at = now
    audit(session, actor=actor, action="identity_recorded", now=now, ticket_id=ticket.id,
          reason=method, detail={"from": before, "to": level.value})


def correct_rights(
    session: Session, ticket: Ticket, rights: Sequence[Right], *, actor: str, reason: str, now: datetime
) -> None:
    """Replace the classified rights (a human correcting the classifier); audited with before/after."""
    reason = require_text(reason, "reason for correcting the rights")
    ordered = [r.value for r in legal_sort(tuple(Right(r) for r in rights))]
    if not ordered:
        raise TicketError(f"ticket {ticket.reference}: at least one right is required")
    before = list(ticket.rights)
    ticket.rights = ordered
    ticket.updated_at = now
    audit(session, actor=actor, action="rights_corrected", now=now, ticket_id=ticket.id, reason=reason,
          detail={"from": before, "to": ordered})


def assign(session: Session, ticket: Ticket, assignee: str | None, *, actor: str, now: datetime) -> None:
    """Set (or, with None, clear) the person responsible for the ticket."""
    before = ticket.assignee
    ticket.assignee = assignee.strip() if assignee and assignee.strip() else None
    ticket.updated_at = now
    audit(session, actor=actor, action="assigned", now=now, ticket_id=ticket.id,
          detail={"from": before, "to": ticket.assignee})


def add_note(session: Session, ticket: Ticket, *, author: str, text: str, now: datetime) -> TicketNote:
    """Attach an internal note; the audit event records that a note was added, not its text."""
    note = TicketNote(ticket_id=ticket.id, author=require_text(author, "author"),
                      text=require_text(text, "note text"), created_at=now)
    session.add(note)
    session.flush()
    ticket.updated_at = now
    audit(session, actor=author, action="note_added", now=now, ticket_id=ticket.id,
          detail={"note_id": note.id})
    return note
