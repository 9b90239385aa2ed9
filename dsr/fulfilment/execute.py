"""Carry out an approved plan: per system one transaction, then proof, holds and Art. 19 notices.

The proof (`ErasureProof`) names system, category, action, rows affected, a statement, the time
and who approved it; it holds no personal data and stays after the person's data is gone.  Rows
kept under a retention duty are restricted in the system and get a `RetentionHold` each; the
fulfilment worker erases them after their end date (`holds`).  Recipients in the map are told
under Art. 19 (one mail each, logged).  What was actually done is stored on the case
(`FulfilmentCase.outcome`) and is what the letter may state (`outcome_facts`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from dsr.controllers import ControllerProfile
from dsr.datamap import Category, DataMap, System
from dsr.fulfilment.connectors import ConnectorError, Step, open_connector
from dsr.fulfilment.plan import STEP_OF, PlanAction, PlanItem
from dsr.fulfilment.texts import art19_notice, plain_html
from dsr.mail.compose import compose_mail
from dsr.pipeline.outbound import Outgoing, send
from dsr.replies.labels import counted
from dsr.store.audit import audit
from dsr.store.models import (
    DataSubject,
    ErasureProof,
    FulfilmentCase,
    FulfilmentState,
    RetentionHold,
    Ticket,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SystemRun:
    system: str
    counts: tuple[int, ...]  # rows per plan item of this system, in plan order
    error: str | None = None
    rechecked: bool = False  # carried out again and checked after a crash (`journal.recover`)


def run_plan(plan: Sequence[PlanItem], env: Mapping[str, str]) -> dict[str, SystemRun]:
    """Execute the automatic items, one transaction per system; manual items are not touched here."""
    by_system: dict[str, list[PlanItem]] = {}
    for item in plan:
        if item.action is not PlanAction.MANUAL:
            by_system.setdefault(item.system.key, []).append(item)
    runs: dict[str, SystemRun] = {}
    for key, items in by_system.items():
        # Children before parents: a database may cascade a parent's deletion to its children,
        # and then the rows counted for the children would be wrong (and no longer provable).
        order = sorted(range(len(items)), key=lambda i: -_depth(items[i].system, items[i].category))
        steps = [Step(items[i].category, STEP_OF[items[i].action], items[i].keys, items[i].values)
                 for i in order]
        try:
            connector = open_connector(items[0].system, env)
            try:
                executed = connector.execute(steps)
            finally:
                connector.close()
            counts = [0] * len(items)
            for position, index in enumerate(order):
                counts[index] = executed[position]
            runs[key] = SystemRun(key, tuple(counts))
        except ConnectorError as exc:
            runs[key] = SystemRun(key, (), error=str(exc))
            log.warning("execution failed system=%s: %s", key, exc)
    return runs


def _depth(system: System, category: Category) -> int:
    depth = 0
    while category.parent and depth < len(system.categories):
        category = system.category(category.parent)
        depth += 1
    return depth


def _statement(item: PlanItem, rows: int) -> str:
    name = f"{item.category.name} ({item.system.name})"
    entries = counted(rows, "Eintrag", "Einträge")
    if item.action is PlanAction.ERASE:
        return f"{entries} „{name}“ gelöscht."
    if item.action is PlanAction.ANONYMISE:
        return f"{entries} „{name}“ anonymisiert (Felder: {', '.join(item.values)})."
    if item.action is PlanAction.RETAIN:
        until = item.until.strftime("%d.%m.%Y") if item.until else "?"
        return (f"{entries} „{name}“ gesperrt und aufbewahrt bis längstens {until} ({item.ground}); "
                "Löschung danach automatisch.")
    if item.action is PlanAction.RESTRICT:
        return f"{entries} „{name}“ in der Verarbeitung eingeschränkt (gesperrt)."
    if item.action is PlanAction.UPDATE:
        return f"{entries} „{name}“ berichtigt (Felder: {', '.join(item.values)})."
    return f"„{name}“ von Hand erledigt."


def record_execution(session: Session, case: FulfilmentCase, ticket: Ticket, *, profile: ControllerProfile,
                     datamap: DataMap, plan: Sequence[PlanItem], runs: Mapping[str, SystemRun],
                     manual_done: set[tuple[str, str]], approver: str, now: datetime) -> dict[str, object]:
    """Proofs, holds, Art. 19 notices and the case outcome for what `run_plan` did (caller commits)."""
    positions: dict[str, int] = {}
    done: list[tuple[PlanItem, int]] = []
    failed: list[dict[str, str]] = []
    open_by_hand: list[str] = []
    for item in plan:
        if item.action is PlanAction.MANUAL:
            if (item.system.key, item.category.key) in manual_done:
                done.append((item, item.rows))
            else:
                open_by_hand.append(f"{item.category.name} ({item.system.name})")
            continue
        run = runs.get(item.system.key)
        if run is None or run.error is not None:
            failed.append({"system": item.system.key, "category": item.category.key,
                           "error": run.error if run and run.error else "nicht ausgeführt"})
            continue
        index = positions.get(item.system.key, 0)
        positions[item.system.key] = index + 1
        done.append((item, run.counts[index]))
    for item, rows in done:
        statement = _statement(item, rows)
        run = runs.get(item.system.key)
        if run is not None and run.rechecked:
            statement += (" Nach einem Neustart geprüft: keiner der Einträge ist mehr vorhanden."
                          if item.action is PlanAction.ERASE else " Nach einem Neustart erneut ausgeführt.")
        session.add(ErasureProof(
            ticket_id=ticket.id, reference=ticket.reference, controller=ticket.controller,
            system=item.system.key, category=item.category.key, action=item.action.value, rows=rows,
            statement=statement, retained_until=item.until, legal_ground=item.ground, approved_by=approver,
            executed_at=now))
        for key, until in item.holds:
            session.add(RetentionHold(controller=ticket.controller, reference=ticket.reference,
                                      system=item.system.key, category=item.category.key, item_key=str(key),
                                      until=until, legal_ground=item.ground, created_at=now))
    notified = _notify_recipients(session, ticket, profile=profile, datamap=datamap, done=done, now=now)
    outcome: dict[str, object] = {
        "erased": _names(done, PlanAction.ERASE),
        "anonymised": _names(done, PlanAction.ANONYMISE),
        "retained": [{"category": i.category.name, "legal_basis": i.ground,
                      "until": i.until.isoformat() if i.until else None}
                     for i, _ in done if i.action is PlanAction.RETAIN],
        "restricted": _names(done, PlanAction.RESTRICT),
        "changed": [f"{i.category.name}: {', '.join(i.values)}"
                    for i, _ in done if i.action is PlanAction.UPDATE],
        "by_hand": _names(done, PlanAction.MANUAL),
        "open_by_hand": open_by_hand,
        "failed": failed,
        "notified": notified,
        "executed_at": now.isoformat(),
        "approved_by": approver,
    }
    case.outcome = outcome
    if not failed:
        case.state = FulfilmentState.EXECUTED.value
    case.updated_at = now
    audit(session, actor=approver, action="fulfilment.executed", now=now, ticket_id=ticket.id,
          detail={"items": [{"system": i.system.key, "category": i.category.key, "action": i.action.value,
                             "rows": rows} for i, rows in done],
                  "failed": failed, "open_by_hand": len(open_by_hand), "notified": len(notified)})
    log.info("plan executed ticket=%s items=%d failed=%d notified=%d", ticket.reference, len(done),
             len(failed), len(notified))
    return outcome


def _names(done: list[tuple[PlanItem, int]], action: PlanAction) -> list[str]:
    return list(dict.fromkeys(i.category.name for i, _ in done if i.action is action))


def _identification(subject: DataSubject | None) -> str:
    if subject is None:
        return "siehe Aktenzeichen"
    if subject.customer_number:
        return f"{subject.name}, Kundennummer {subject.customer_number}"
    return f"{subject.name}, E-Mail-Adresse {subject.email or ''}".strip()


def _notify_recipients(session: Session, ticket: Ticket, *, profile: ControllerProfile, datamap: DataMap,
                       done: list[tuple[PlanItem, int]], now: datetime) -> list[str]:
    """One Art. 19 notice per recipient of the changed categories; returns the recipients' names."""
    lines: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    addresses: dict[str, str] = {}
    for item, rows in done:
        if rows <= 0 or item.action is PlanAction.MANUAL:
            continue
        for recipient in datamap.recipients_of(item.system, item.category):
            names[recipient.key] = recipient.name
            addresses[recipient.key] = str(recipient.email)
            lines.setdefault(recipient.key, []).append(f"{item.category.name}: {item.label}"
                                                       + (f" ({', '.join(item.values)})"
                                                          if item.action is PlanAction.UPDATE else ""))
    for key, action_lines in lines.items():
        subject, text = art19_notice(controller=profile.legal_name, recipient=names[key],
                                     reference=ticket.reference, action_lines=action_lines,
                                     identification=_identification(ticket.subject))
        mail = compose_mail(from_address=profile.from_address, from_name=profile.short_name,
                            to=addresses[key], subject=subject, text=text, html=plain_html(text), now=now,
                            reference=ticket.reference, auto_submitted="auto-generated")
        queued = send(session, Outgoing(controller=ticket.controller, kind="art19_notice",
                                        recipient=addresses[key], message=mail), now=now,
                      profile=profile, datamap=datamap)
        audit(session, actor="system:fulfilment", action="fulfilment.art19_notified", now=now,
              ticket_id=ticket.id, detail={"recipient": key, "outbox_id": queued,
                                           "categories": len(action_lines)})
    return [names[k] for k in lines]


@dataclass(frozen=True, slots=True)
class RetainedFact:
    category: str
    legal_basis: str
    until: date | None


@dataclass(frozen=True, slots=True)
class ExecutionFacts:
    """What the letter to the person may state: only what was actually done."""

    erased: tuple[str, ...]
    anonymised: tuple[str, ...]
    retained: tuple[RetainedFact, ...]
    restricted: tuple[str, ...]
    changed: tuple[str, ...]
    notified: tuple[str, ...]
    complete: bool  # nothing failed and nothing is left to do by hand


def outcome_facts(case: FulfilmentCase | None) -> ExecutionFacts | None:
    if case is None or not case.outcome:
        return None
    out = case.outcome

    def strings(name: str) -> tuple[str, ...]:
        value = out.get(name, [])
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    retained = tuple(
        RetainedFact(str(r.get("category", "")), str(r.get("legal_basis", "")),
                     date.fromisoformat(r["until"]) if r.get("until") else None)
        for r in out.get("retained", []) if isinstance(r, dict))
    return ExecutionFacts(erased=strings("erased") + strings("anonymised") + strings("by_hand"),
                          anonymised=strings("anonymised"), retained=retained,
                          restricted=strings("restricted"), changed=strings("changed"),
                          notified=strings("notified"),
                          complete=not out.get("failed") and not out.get("open_by_hand"))
