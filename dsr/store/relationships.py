"""What the DPO established about a person and a controller's profile: relationships and facts.

Relationships (`SubjectRelationship`): which of the profile's relationships a person has with the
controller (partner applicant, newsletter subscriber, craft customer ...), chosen by the DPO; the
access answer states only their items (Art. 15(1)).  Fact confirmations (`FactConfirmation`): a
DPO confirmed a profile fact the privacy notice does not contain, with who and when; from then on
the letters state it (`effective_profile`).  Both are audited; neither edits the profile file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dsr.controllers import ControllerProfile
from dsr.store.audit import audit
from dsr.store.models import DataSubject, FactConfirmation, SubjectRelationship


class UnknownFactError(ValueError):
    """The fact is not one of the profile's assumed facts."""


def chosen_relationships(session: Session, subject_id: int) -> list[SubjectRelationship]:
    query = select(SubjectRelationship).where(SubjectRelationship.subject_id == subject_id)
    return list(session.scalars(query.order_by(SubjectRelationship.id)))


def choose_relationships(session: Session, subject: DataSubject, profile: ControllerProfile,
                         keys: Iterable[str], *, actor: str, now: datetime,
                         ticket_id: int | None = None) -> tuple[list[str], list[str]]:
    """Set the person's relationships to `keys` (known to the profile); return (added, removed)."""
    known = [r.key for r in profile.relationships]
    wanted = [k for k in known if k in set(keys)]
    current = {row.key: row for row in chosen_relationships(session, subject.id)}
    added = [k for k in wanted if k not in current]
    removed = [k for k in current if k not in wanted]
    if removed:
        session.execute(delete(SubjectRelationship).where(SubjectRelationship.subject_id == subject.id,
                                                          SubjectRelationship.key.in_(removed)))
    session.add_all(SubjectRelationship(subject_id=subject.id, controller=subject.controller, key=key,
                                        chosen_by=actor, chosen_at=now) for key in added)
    if added or removed:
        audit(session, actor=actor, action="subject.relationships_chosen", now=now, ticket_id=ticket_id,
              reason="Beziehungen der Person zum Verantwortlichen festgelegt",
              detail={"subject_id": subject.id, "added": added, "removed": removed, "now": wanted})
    return added, removed


def fact_confirmations(session: Session, controller: str) -> dict[str, FactConfirmation]:
    rows = session.scalars(select(FactConfirmation).where(FactConfirmation.controller == controller))
    return {row.fact_id: row for row in rows}


def confirm_fact(session: Session, profile: ControllerProfile, fact_id: str, *, actor: str, now: datetime,
                 note: str = "") -> FactConfirmation:
    """Record that `actor` confirmed the assumed fact `fact_id` of `profile` (audited)."""
    fact = next((f for f in profile.facts() if f.fact_id == fact_id), None)
    if fact is None or not profile.is_assumed(fact_id):
        raise UnknownFactError(fact_id)
    existing = fact_confirmations(session, profile.key).get(fact_id)
    if existing is not None:
        return existing
    row = FactConfirmation(controller=profile.key, fact_id=fact_id, statement=fact.statement,
                           confirmed_by=actor, confirmed_at=now, note=note)
    session.add(row)
    audit(session, actor=actor, action="profile.fact_confirmed", now=now, reason=note,
          detail={"controller": profile.key, "fact_id": fact_id})
    return row


def effective_profile(session: Session, profile: ControllerProfile) -> ControllerProfile:
    """`profile` with the facts the DPO confirmed no longer assumed (letters then state them)."""
    return profile.with_confirmed(fact_confirmations(session, profile.key))
