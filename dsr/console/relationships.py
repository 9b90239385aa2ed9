"""A person's relationships with the controller: shown on the ticket page, used by the access answer.

The DPO chooses them on the ticket page (stored per person, `dsr.store.relationships`); where the
DPO has chosen none, the relationships whose data categories fulfilment discovery found for this
person are proposed (marked as found, with the categories).  With neither, an access answer
cannot be drafted: it would be the whole privacy notice, not information about this person.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from dsr.controllers import ControllerProfile
from dsr.controllers.profile import Relationship
from dsr.datamap import DataMap
from dsr.fulfilment.review import case_for, results_of
from dsr.replies.context import PersonRelationship
from dsr.store.models import SubjectRelationship, Ticket
from dsr.store.relationships import chosen_relationships


@dataclass(frozen=True, slots=True)
class FoundCategory:
    """A data map category in which discovery found records of the person."""

    name: str
    name_en: str
    profile_categories: frozenset[str]


@dataclass(frozen=True, slots=True)
class RelationshipRow:
    """One of the profile's relationships on the ticket page."""

    relationship: Relationship
    chosen: SubjectRelationship | None
    found_in: tuple[FoundCategory, ...]

    @property
    def proposed(self) -> bool:
        return bool(self.found_in)


def found_categories(session: Session, ticket: Ticket, datamap: DataMap | None) -> list[FoundCategory]:
    """The categories of the data map in which discovery found records for this ticket."""
    case = case_for(session, ticket.id)
    if case is None or datamap is None:
        return []
    found: list[FoundCategory] = []
    for result in results_of(session, case):
        for key, records in (result.found or {}).items():
            if not records:
                continue
            try:
                category = datamap.system(result.system).category(key)
            except KeyError:
                continue  # the data map changed since the search; nothing to propose from it
            found.append(FoundCategory(category.name, category.name_en or category.name,
                                       frozenset(category.profile_categories)))
    return found


def relationship_rows(session: Session, ticket: Ticket, profile: ControllerProfile,
                      datamap: DataMap | None) -> list[RelationshipRow]:
    chosen = ({row.key: row for row in chosen_relationships(session, ticket.subject_id)}
              if ticket.subject_id is not None else {})
    found = found_categories(session, ticket, datamap)
    return [RelationshipRow(rel, chosen.get(rel.key),
                            tuple(c for c in found if c.profile_categories & set(rel.data_categories)))
            for rel in profile.relationships]


def person_relationships(rows: list[RelationshipRow]) -> tuple[PersonRelationship, ...]:
    """The relationships an access answer states: the DPO's choice, else what discovery found."""
    chosen = [row for row in rows if row.chosen is not None]
    use = chosen or [row for row in rows if row.proposed]
    return tuple(
        PersonRelationship(row.relationship.key, origin="dpo" if row.chosen is not None else "discovery",
                           found_in=tuple(dict.fromkeys(c.name for c in row.found_in)),
                           found_in_en=tuple(dict.fromkeys(c.name_en for c in row.found_in)))
        for row in use
    )
