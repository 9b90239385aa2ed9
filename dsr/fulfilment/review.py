"""Review: the DPO sees what discovery found, leaves items out with a reason, and approves.

Exclusions are for Art. 15(4) (other people's rights, trade secrets) and are recorded with
reason and actor; the copy says that records were left out and why, not what they were.
Approval needs every system answered: nothing pending, nothing failing, manual items confirmed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.datamap import DataMap
from dsr.fulfilment.package import Source
from dsr.store.audit import audit
from dsr.store.models import (
    DiscoveryResult,
    DiscoveryState,
    FulfilmentCase,
    FulfilmentState,
    ReviewExclusion,
)


def case_for(session: Session, ticket_id: int) -> FulfilmentCase | None:
    return session.scalar(select(FulfilmentCase).where(FulfilmentCase.ticket_id == ticket_id))


def results_of(session: Session, case: FulfilmentCase) -> list[DiscoveryResult]:
    return list(session.scalars(select(DiscoveryResult).where(DiscoveryResult.case_id == case.id)
                                .order_by(DiscoveryResult.id)))


def exclusions_of(session: Session, case: FulfilmentCase) -> list[ReviewExclusion]:
    return list(session.scalars(select(ReviewExclusion).where(ReviewExclusion.case_id == case.id)
                                .order_by(ReviewExclusion.id)))


def exclude(session: Session, case: FulfilmentCase, *, system: str, category: str, item_key: str,
            reason: str, actor: str, now: datetime) -> str | None:
    """Leave one found item out of the copy; returns a German problem or None."""
    if not reason.strip():
        return "Bitte einen Grund angeben (z. B. Daten Dritter, Geschäftsgeheimnis – Art. 15 Abs. 4 DSGVO)."
    if case.state not in (FulfilmentState.REVIEW.value, FulfilmentState.DISCOVERING.value):
        return "Nach der Freigabe lässt sich nichts mehr ausnehmen."
    result = session.scalar(select(DiscoveryResult).where(DiscoveryResult.case_id == case.id,
                                                          DiscoveryResult.system == system))
    keys = [str(k) for k in (result.found.get(category, []) if result is not None else [])]
    if item_key not in keys:
        return "Diesen Eintrag hat die Suche nicht gefunden."
    exists = session.scalar(select(ReviewExclusion).where(
        ReviewExclusion.case_id == case.id, ReviewExclusion.system == system,
        ReviewExclusion.category == category, ReviewExclusion.item_key == item_key))
    if exists is not None:
        return None
    session.add(ReviewExclusion(case_id=case.id, system=system, category=category, item_key=item_key,
                                reason=reason.strip(), actor=actor, created_at=now))
    audit(session, actor=actor, action="fulfilment.item_excluded", now=now, ticket_id=case.ticket_id,
          reason=reason.strip(), detail={"system": system, "category": category})
    return None


def include_again(session: Session, case: FulfilmentCase, exclusion_id: int, *, actor: str,
                  now: datetime) -> None:
    exclusion = session.get(ReviewExclusion, exclusion_id)
    if exclusion is not None and exclusion.case_id == case.id and case.state == FulfilmentState.REVIEW.value:
        session.delete(exclusion)
        audit(session, actor=actor, action="fulfilment.item_included", now=now, ticket_id=case.ticket_id,
              detail={"system": exclusion.system, "category": exclusion.category})


def confirm_manual(session: Session, case: FulfilmentCase, *, system: str, found: bool, note: str,
                   actor: str, now: datetime) -> str | None:
    """The DPO's answer for a manual item (a paper archive): found or not, and what."""
    result = session.scalar(select(DiscoveryResult).where(DiscoveryResult.case_id == case.id,
                                                          DiscoveryResult.system == system))
    if result is None or result.state not in (DiscoveryState.MANUAL.value, DiscoveryState.CONFIRMED.value):
        return "Das ist kein manuell zu prüfendes System."
    if found and not note.strip():
        return "Bitte beschreiben, was gefunden wurde (ohne Inhalte, z. B. „2 Auftragsmappen 2023“)."
    result.state = DiscoveryState.CONFIRMED.value
    result.manual_note = note.strip() if found else ""
    result.found = {"_manual": ["found"]} if found else {}
    result.finished_at = now
    audit(session, actor=actor, action="fulfilment.manual_confirmed", now=now, ticket_id=case.ticket_id,
          detail={"system": system, "found": found})
    from dsr.fulfilment.discovery import update_case_state

    session.flush()
    update_case_state(session, case.id, now=now)
    return None


def approval_problem(session: Session, case: FulfilmentCase) -> str | None:
    """Why the case cannot be approved yet (German), or None."""
    if case.state in (FulfilmentState.APPROVED.value, FulfilmentState.EXECUTING.value,
                      FulfilmentState.EXECUTED.value):
        return "Bereits freigegeben."
    for result in results_of(session, case):
        if result.state == DiscoveryState.PENDING.value:
            return f"System „{result.system}“ wird noch durchsucht."
        if result.state == DiscoveryState.FAILED.value:
            return f"System „{result.system}“ ist nicht erreichbar ({result.error}); bitte erneut versuchen."
        if result.state == DiscoveryState.MANUAL.value:
            return f"System „{result.system}“ muss von Hand geprüft und bestätigt werden."
    return None


def approve(session: Session, case: FulfilmentCase, *, actor: str, now: datetime) -> str | None:
    problem = approval_problem(session, case)
    if problem is not None:
        return problem
    case.state = FulfilmentState.APPROVED.value
    case.approved_by = actor
    case.approved_at = now
    case.updated_at = now
    audit(session, actor=actor, action="fulfilment.approved", now=now, ticket_id=case.ticket_id)
    return None


def sources(session: Session, case: FulfilmentCase, datamap: DataMap) -> list[Source]:
    """What goes into the copy: found keys per system and category minus the exclusions."""
    excluded: dict[tuple[str, str], list[ReviewExclusion]] = {}
    for exclusion in exclusions_of(session, case):
        excluded.setdefault((exclusion.system, exclusion.category), []).append(exclusion)
    out: list[Source] = []
    for result in results_of(session, case):
        try:
            system = datamap.system(result.system)
        except KeyError:
            continue
        manual = result.state == DiscoveryState.CONFIRMED.value and bool(result.found.get("_manual"))
        for category in system.categories:
            # A manual item the DPO found counts as one record per category: done by hand.
            keys = ["manual"] if manual else result.found.get(category.key, [])
            left_out = excluded.get((system.key, category.key), [])
            skip = {e.item_key for e in left_out}
            kept = tuple(k for k in keys if str(k) not in skip)
            out.append(Source(system, category, kept, excluded=len(keys) - len(kept),
                              exclusion_reasons=tuple(dict.fromkeys(e.reason for e in left_out))))
    return out
