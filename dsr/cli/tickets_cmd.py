"""`dsr tickets list|show`: the due list and one ticket's full record, for the DPO on a terminal.

The list never shows message bodies; `show` adds the deadline trail, identity, escalation
reasons and the audit history (who did what, when and why), still without bodies.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.cli import common
from dsr.intents.rights import RIGHTS, Right
from dsr.replies.labels import action_label, actor_label, reasons_text
from dsr.store.models import AuditEvent, Message, Ticket, TicketState
from dsr.store.tickets.catalogue import OPEN_STATES, OUTCOMES, REFUSAL_REASONS, STATE_LABELS_DE
from dsr.store.tickets.common import BERLIN, berlin_date
from dsr.store.tickets.queries import due_tickets, effective_due, find_by_reference

tickets_app = typer.Typer(help="Tickets and their deadlines.", no_args_is_help=True)
_CONFIG = typer.Option(None, "--config", help="TOML settings file.")
_SPAN = re.compile(r"^\s*(\d{1,4})\s*([dw]?)\s*$")


def parse_span(text: str) -> int:
    """"7d", "2w" or "10" -> days."""
    match = _SPAN.match(text.lower())
    if not match:
        raise common.CliError(f"--due-within: expected days such as 7d or 2w, got {text!r}")
    number, unit = int(match.group(1)), match.group(2)
    return number * 7 if unit == "w" else number


def _fmt(day: date | None) -> str:
    return day.strftime("%d.%m.%Y") if day else "-"


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _local(moment: datetime | None) -> str:
    return moment.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M") if moment else "-"


def _rights_de(ticket: Ticket) -> str:
    return ", ".join(RIGHTS[Right(r)].name_de for r in ticket.rights) or "-"


def _row(ticket: Ticket, today: date) -> dict[str, Any]:
    due = effective_due(ticket, today)
    return {
        "reference": ticket.reference,
        "controller": ticket.controller,
        "state": ticket.state,
        "rights": list(ticket.rights),
        "received_at": ticket.received_at.isoformat(),
        "due": due.isoformat() if due else None,
        "days_left": (due - today).days if due else None,
        "overdue": bool(due and due < today and TicketState(ticket.state) in OPEN_STATES),
        "extended": ticket.extended_due_date is not None,
        "escalation_reasons": list(ticket.escalation_reasons),
        "identity_level": ticket.identity_level,
        "assignee": ticket.assignee,
    }


@tickets_app.command("list")
def list_cmd(
    overdue: bool = typer.Option(False, "--overdue", help="Only tickets past their due date."),
    due_within: str | None = typer.Option(
        None, "--due-within", help="Due within e.g. 7d or 2w (overdue included)."
    ),
    controller: str | None = typer.Option(None, "--controller", help="Only this controller."),
    include_done: bool = typer.Option(False, "--all", help="Also answered, refused and closed tickets."),
    as_json: bool = typer.Option(False, "--json", help="JSON array instead of a table."),
    config: Path | None = _CONFIG,
) -> None:
    """Open tickets ordered by due date (no message contents)."""
    cfg = common.settings(config)
    today = berlin_date(datetime.now(UTC))
    within = parse_span(due_within) if due_within is not None else None
    with common.session(cfg) as session:
        tickets = due_tickets(session, today=today, overdue_only=overdue, within_days=within,
                              controller=controller)
        if include_done and not overdue and within is None:
            done = select(Ticket).where(Ticket.state.not_in([s.value for s in OPEN_STATES]))
            if controller is not None:
                done = done.where(Ticket.controller == controller)
            tickets += list(session.scalars(done.order_by(Ticket.received_at)))
        rows = [_row(t, today) for t in tickets]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("keine Tickets")
        return
    typer.echo(f"{'Aktenzeichen':<16} {'Verantw.':<8} {'Status':<18} {'fällig':<10} {'Tage':>5}  Rechte")
    for row in rows:
        due = date.fromisoformat(row["due"]) if row["due"] else None
        flag = "!" if row["overdue"] else ("*" if row["escalation_reasons"] else " ")
        days = "" if row["days_left"] is None else str(row["days_left"])
        rights = ", ".join(RIGHTS[Right(r)].name_de for r in row["rights"])
        state = STATE_LABELS_DE[TicketState(row["state"])]
        typer.echo(f"{row['reference']:<16} {row['controller']:<8} {state:<18} {_fmt(due):<10} "
                   f"{days:>5}{flag} {rights}")
    typer.echo(f"{len(rows)} Ticket(s); ! überfällig, * eskaliert", err=True)


def _details(session: Session, ticket: Ticket, today: date) -> dict[str, Any]:
    events = session.scalars(select(AuditEvent).where(AuditEvent.ticket_id == ticket.id)
                             .order_by(AuditEvent.at, AuditEvent.id)).all()
    messages = session.execute(
        select(Message.received_at, Message.direction, Message.channel)
        .where(Message.ticket_id == ticket.id).order_by(Message.received_at)
    ).all()
    refusal = REFUSAL_REASONS.get(ticket.refusal_code or "")
    return {
        **_row(ticket, today),
        "state_de": STATE_LABELS_DE[TicketState(ticket.state)],
        "rights_de": _rights_de(ticket),
        "channel": ticket.channel,
        "due_date": _iso(ticket.due_date),
        "internal_target_date": _iso(ticket.internal_target_date),
        "extended_due_date": _iso(ticket.extended_due_date),
        "extension_reason": ticket.extension_reason,
        "paused_days": ticket.paused_days,
        "due_trail": ticket.due_trail,
        "identity_method": ticket.identity_method,
        "outcome": ticket.outcome,
        "outcome_de": OUTCOMES.get(ticket.outcome or ""),
        "refusal_code": ticket.refusal_code,
        "refusal_article": refusal.article if refusal else None,
        "closed_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
        "messages": [{"at": at.isoformat(), "direction": d, "channel": c} for at, d, c in messages],
        "audit": [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "reason": e.reason}
                  for e in events],
    }


@tickets_app.command("show")
def show_cmd(
    reference: str = typer.Argument(..., help="Reference, e.g. DSR-2026-000123."),
    as_json: bool = typer.Option(False, "--json", help="JSON object instead of text."),
    config: Path | None = _CONFIG,
) -> None:
    """One ticket: rights, state, dates with their trail, identity, escalation, audit history."""
    cfg = common.settings(config)
    today = berlin_date(datetime.now(UTC))
    with common.session(cfg) as session:
        ticket = find_by_reference(session, reference)
        if ticket is None:
            raise common.CliError(f"no ticket {reference.strip()!r}")
        info = _details(session, ticket, today)
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    lines = [
        f"{info['reference']}  ({info['controller']}, {info['channel']})",
        f"Status:        {info['state_de']} [{info['state']}]",
        f"Rechte:        {info['rights_de']}",
        f"Eingang:       {_local(ticket.received_at)}",
        f"Frist:         {_fmt(ticket.due_date)}  (intern: {_fmt(ticket.internal_target_date)})",
    ]
    if ticket.extended_due_date:
        lines.append(f"Verlängert:    {_fmt(ticket.extended_due_date)}  Grund: {ticket.extension_reason}")
    if ticket.paused_days or ticket.paused_since:
        lines.append(f"Pausiert:      {ticket.paused_days} Tag(e)"
                     + (f", seit {_local(ticket.paused_since)}" if ticket.paused_since else ""))
    lines.append("Fristberechnung:")
    lines += [f"  {part}" for part in ticket.due_trail.splitlines()]
    lines.append(f"Identität:     {ticket.identity_level}" + (f" ({ticket.identity_method})"
                                                             if ticket.identity_method else ""))
    if ticket.escalation_reasons:
        lines.append(f"Eskalation:    {reasons_text(ticket.escalation_reasons)}")
    lines.append(f"Zuständig:     {ticket.assignee or '-'}")
    if ticket.outcome:
        lines.append(f"Ergebnis:      {info['outcome_de'] or ticket.outcome}"
                     + (f" ({info['refusal_article']})" if info["refusal_article"] else ""))
    lines.append(f"Nachrichten:   {len(info['messages'])}")
    lines.append("Verlauf:")
    for event in info["audit"]:
        at = _local(datetime.fromisoformat(event["at"]))
        # German like the console (one label table), the code in brackets for the operator.
        what = f"{action_label(event['action'])} [{event['action']}]"
        lines.append(f"  {at}  {actor_label(event['actor']):<12} {what:<48} {event['reason']}".rstrip())
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.add_typer(tickets_app, name="tickets")
