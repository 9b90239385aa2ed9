"""The ticket page's processor-mode section and its actions (`dsr.console.processor`).

"Daten eines Auftraggebers": the DPO chooses a registered client, sees the forwarding mail and the
note to the person, and confirms (the whole request, or a part split off into a new ticket).  On a
forwarded ticket: record the client's confirmation (closes it), or "Doch unsere eigene Anfrage".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.responses import Response

from dsr.console import processor
from dsr.console.guard import Ctx
from dsr.console.labels import date_de
from dsr.console.views.ticket_actions import run_action, show_preview
from dsr.controllers import ControllerProfile
from dsr.pipeline.forwarding import ProcessorRecord
from dsr.store.models import Ticket


def _split(ctx: Ctx) -> bool:
    return ctx.field("scope") == "part"


def _forward(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    target = processor.forward(
        session, ticket, profile, client_key=ctx.field("client"), split=_split(ctx),
        rights=ctx.fields("rights"), actor=ctx.actor, now=ctx.now,
        overrides_dir=ctx.services.settings.templates_dir)
    record = ProcessorRecord.of(target)
    name = processor.client_name(profile, record.client or "")
    follow_up = f" Nachfassen am {date_de(record.follow_up)}." if record.follow_up else ""
    if target is ticket:
        return (f"An {name} weitergeleitet; der Hinweis an die Person ist im Postausgang, unsere Frist "
                f"ruht.{follow_up}")
    return (f"Teil als {target.reference} abgetrennt und an {name} weitergeleitet.{follow_up} Dieser Vorgang "
            f"bleibt unsere eigene Anfrage mit Frist bis {date_de(ticket.due_date)}.")


def _revert(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    done = processor.take_back(session, ticket, profile, actor=ctx.actor, reason=ctx.field("reason"),
                               now=ctx.now, overrides_dir=ctx.services.settings.templates_dir)
    client = ("Der Auftraggeber erhält die Rücknahme." if done.client_told
              else "Die Weiterleitung war noch nicht versandt und wurde zurückgehalten.")
    person = ("Die Person erhält einen Hinweis, dass wir selbst antworten." if done.person_told
              else "Der Hinweis an die Person war noch nicht versandt und wurde zurückgehalten.")
    return (f"Wieder unsere eigene Anfrage: die Frist läuft ab dem ursprünglichen Eingang, fällig am "
            f"{date_de(done.due)}. {client} {person} Die Identität ist nicht geprüft; "
            "bitte prüfen, bevor Daten herausgehen.")


def _confirm(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    processor.confirm(session, ticket, actor=ctx.actor, note=ctx.field("note"), now=ctx.now)
    return "Bestätigung des Auftraggebers vermerkt; Vorgang abgeschlossen."


def forward_action(ctx: Ctx) -> Response:
    return run_action(ctx, _forward, anchor="processor")


def revert_action(ctx: Ctx) -> Response:
    return run_action(ctx, _revert, anchor="processor")


def confirm_action(ctx: Ctx) -> Response:
    return run_action(ctx, _confirm, anchor="processor")


def _forward_preview(ctx: Ctx, ticket: Ticket, profile: ControllerProfile) -> tuple[str, dict[str, Any]]:
    shown = processor.preview(ticket, profile, client_key=ctx.field("client"), split=_split(ctx),
                              rights=ctx.fields("rights"), now=ctx.now,
                              overrides_dir=ctx.services.settings.templates_dir)
    return "processor_preview.html", {"preview": shown, "scope": ctx.field("scope") or "whole"}


def forward_preview(ctx: Ctx) -> Response:
    """The forwarding mail and the note to the person; nothing changes until the DPO confirms."""
    return show_preview(ctx, _forward_preview, anchor="processor")
