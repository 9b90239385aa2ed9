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
from dsr.console.metrics import answered_dates, compute
from dsr.console.queries import TicketRow, load_rows, sort_by_due
from dsr.console.users import create_token
from dsr.controllers import ControllerProfile
from dsr.intents.rights import Right
from dsr.store.tickets.services import audit

CSV_COLUMNS = (
    "reference",
    "controller",
    "channel",
    "rights",
    "state",
    "received_date",
    "due_date",
    "original_due_date",
    "internal_target_date",
    "extended",
    "escalated",
    "escalation_reasons",
    "identity_level",
    "assignee",
    "outcome",
    "closed_date",
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


def _csv_row(row: TicketRow) -> list[str]:
    data = row.as_json()
    return [
        "|".join(row.rights)
        if key == "rights"
        else "|".join(row.reasons)
        if key == "escalation_reasons"
        else ""
        if data.get(key) is None
        else str(data.get(key)).lower()
        if isinstance(data.get(key), bool)
        else str(data.get(key))
        for key in CSV_COLUMNS
    ]


def export_csv(ctx: Ctx) -> Response:
    with ctx.services.sessions.begin() as session:
        rows = sort_by_due(load_rows(session, scope=ctx.scope, today=ctx.today))
        audit(
            session, actor=ctx.actor, action="console.csv_exported", now=ctx.now, detail={"rows": len(rows)}
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
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
    return ctx.redirect(
        "/board", f"Wochenübersicht ({queued.rows} offene Anfragen) an {target.label} ist im Postausgang."
    )


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
    response = ctx.render("calendar_token.html", url=url, webcal=webcal)
    response.headers["Cache-Control"] = "no-store"
    return response
