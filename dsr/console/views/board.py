"""The managers' deadline board, the CSV export, the weekly digest and the calendar subscription.

Managers get metadata only (need-to-know, Art. 5(1)(c) and 25): references, rights, states and
dates.  Names, addresses and message bodies never reach these pages, the CSV or the digest.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from starlette.responses import Response

from dsr.console.charts import on_time_chart
from dsr.console.digest import queue_digest
from dsr.console.guard import Ctx
from dsr.console.ical import REMINDER_CHOICES
from dsr.console.labels import (
    channel_label,
    counted,
    date_de,
    identity_label,
    reason_label,
    right_name,
    state_label,
)
from dsr.console.metrics import answered_dates, compute
from dsr.console.queries import TicketRow, load_rows, sort_by_due
from dsr.console.users import create_token
from dsr.controllers import ControllerProfile
from dsr.intents.rights import Right
from dsr.store.tickets.services import OUTCOMES, audit

# The export is for people (Excel): German headers and words, German dates; the JSON API keeps
# the codes for machines.
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("reference", "Aktenzeichen"),
    ("controller", "Verantwortlicher"),
    ("channel", "Eingangsweg"),
    ("rights", "Rechte"),
    ("state", "Status"),
    ("received_date", "Eingang"),
    ("due_date", "Frist"),
    ("original_due_date", "Ursprüngliche Frist"),
    ("internal_target_date", "Interne Zielmarke"),
    ("extended", "Verlängert"),
    ("escalated", "Eskaliert"),
    ("escalation_reasons", "Eskalationsgründe"),
    ("identity_level", "Identität"),
    ("assignee", "Zuständig"),
    ("outcome", "Ergebnis"),
    ("closed_date", "Abgeschlossen"),
)


@dataclass(frozen=True, slots=True)
class DigestTarget:
    key: str
    controller: str
    address: str
    label: str


def digest_targets(profiles: dict[str, ControllerProfile]) -> list[DigestTarget]:
    """Internal recipients from the profiles (DPO, privacy contact, notification addresses), no free input."""
    targets: list[DigestTarget] = []
    for key in sorted(profiles):
        profile = profiles[key]
        seen: set[str] = set()
        candidates = []
        if profile.dpo is not None and profile.dpo.email:
            candidates.append((profile.dpo.email, "Datenschutzbeauftragte(r)"))
        candidates.append((str(profile.contact_email), "Datenschutzkontakt"))
        # Listed after the two above so that their keys stay stable when addresses are added.
        candidates += [(str(a), "Benachrichtigungsadresse") for a in profile.notification_addresses]
        for address, role in candidates:
            if address.lower() in seen:
                continue
            seen.add(address.lower())
            targets.append(
                DigestTarget(f"{key}:{len(seen)}", key, address, f"{profile.short_name}: {role} ({address})")
            )
    return targets


def board_page(ctx: Ctx) -> Response:
    with ctx.services.sessions() as session:
        rows = load_rows(session, scope=ctx.scope, today=ctx.today)
        answered = answered_dates(session, [r.id for r in rows if not r.is_open])
    figures = compute(rows, answered, today=ctx.today)
    rights_seen = sorted(
        {r for counts in figures.matrix.values() for r in counts},
        key=lambda code: list(Right).index(Right(code)) if code in set(Right) else 99,
    )
    return ctx.render(
        "board.html",
        f=figures,
        chart=on_time_chart(figures.months),
        rights_seen=rights_seen,
        targets=digest_targets({k: p for k, p in ctx.services.profiles.items() if ctx.scope.allows(k)}),
        open_count=sum(1 for r in rows if r.is_open),
    )


def _csv_value(row: TicketRow, key: str) -> str:
    values: dict[str, str] = {
        "reference": row.reference,
        "controller": row.controller,
        "channel": channel_label(row.channel),
        "rights": ", ".join(right_name(r) for r in row.rights),
        "state": state_label(row.state),
        "received_date": date_de(row.received),
        "due_date": date_de(row.due) if row.due else "",
        "original_due_date": date_de(row.original_due) if row.original_due else "",
        "internal_target_date": date_de(row.internal_target) if row.internal_target else "",
        "extended": "ja" if row.extended else "nein",
        "escalated": "ja" if row.escalated else "nein",
        "escalation_reasons": "; ".join(reason_label(c) for c in row.reasons),
        "identity_level": identity_label(row.identity_level),
        "assignee": row.assignee or "",
        "outcome": OUTCOMES.get(row.outcome or "", row.outcome or ""),
        "closed_date": date_de(row.closed) if row.closed else "",
    }
    return values[key]


def _csv_row(row: TicketRow) -> list[str]:
    return [_csv_value(row, key) for key, _ in CSV_COLUMNS]


def export_csv(ctx: Ctx) -> Response:
    with ctx.services.sessions.begin() as session:
        rows = sort_by_due(load_rows(session, scope=ctx.scope, today=ctx.today))
        audit(
            session, actor=ctx.actor, action="console.csv_exported", now=ctx.now, detail={"rows": len(rows)}
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([header for _, header in CSV_COLUMNS])
    for row in rows:
        writer.writerow(_csv_row(row))
    # Excel opens UTF-8 with a BOM correctly; semicolons are the German list separator.
    body = "\ufeff" + buffer.getvalue()
    name = f"dsr-tickets-{ctx.today.isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def send_digest(ctx: Ctx) -> Response:
    """Queue the weekly digest (open tickets by due date, metadata only) to an internal address."""
    profiles = {k: p for k, p in ctx.services.profiles.items() if ctx.scope.allows(k)}
    targets = {t.key: t for t in digest_targets(profiles)}
    target = targets.get(ctx.field("target"))
    if target is None:
        return ctx.redirect("/board", "Bitte einen Empfänger aus der Liste wählen.", "error")
    profile = ctx.services.profiles[target.controller]
    with ctx.services.sessions.begin() as session:
        queued = queue_digest(
            session,
            profile,
            to=target.address,
            today=ctx.today,
            now=ctx.now,
            overrides_dir=ctx.services.settings.templates_dir,
        )
        audit(
            session,
            actor=ctx.actor,
            action="console.digest_queued",
            now=ctx.now,
            detail={"outbox_id": queued.item, "controller": target.controller, "rows": queued.rows},
        )
    rows = counted(queued.rows, "offene Anfrage", "offene Anfragen")
    return ctx.redirect("/board", f"Wochenübersicht ({rows}) an {target.label} ist im Postausgang.")


def calendar_subscribe(ctx: Ctx) -> Response:
    """Create a calendar-only token and show the subscription URL once."""
    with ctx.services.sessions.begin() as session:
        created = create_token(session, name=f"calendar:{ctx.user.username}", role="calendar", now=ctx.now,
                               user_id=ctx.user.user_id)
        if not isinstance(created, tuple):
            return ctx.redirect("/board", created.message, "error")
        token, plain = created
        audit(
            session,
            actor=ctx.actor,
            action="console.calendar_token_created",
            now=ctx.now,
            detail={"token_id": token.id},
        )
    base = str(ctx.request.base_url).rstrip("/")
    url = f"{base}/calendar/{plain}.ics"
    webcal = "webcal://" + url.split("://", 1)[1]
    reminders = [
        (label, f"{url}?erinnerung={days}", f"reminder-{days}") for days, label in REMINDER_CHOICES.items()
    ]
    response = ctx.render("calendar_token.html", url=url, webcal=webcal, reminders=reminders)
    response.headers["Cache-Control"] = "no-store"
    return response
