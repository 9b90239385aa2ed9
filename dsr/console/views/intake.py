""""Neue Anfrage erfassen": the form for requests that did not arrive by our e-mail or chat.

One POST route serves the form's three buttons: "Person suchen" and "Rechte vorschlagen" show the
form again with candidates and suggested rights (nothing is stored), "Anfrage anlegen" records
it (`dsr.console.intake.create`).  Names and addresses travel only in POST bodies.
"""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response

from dsr.console.guard import Ctx
from dsr.console.intake import (
    INTAKE_CHANNELS,
    INTAKE_IDENTITY,
    MAX_DOCUMENT_BYTES,
    IntakeForm,
    Upload,
    create,
    find_people,
    suggested_rights,
)
from dsr.console.labels import BERLIN
from dsr.console.operations import RefusedError
from dsr.console.outgoing import send_to_subject
from dsr.console.queries import scoped_quarantine
from dsr.controllers import ControllerProfile
from dsr.intents.rights import Right
from dsr.pipeline.outbound import reply_context
from dsr.replies import ReplyError, render_reply
from dsr.replies.context import ReplyKind
from dsr.store.models import QuarantinedMessage, Ticket

log = logging.getLogger(__name__)
TEXT_FIELDS = (
    "controller", "channel", "received_date", "received_time", "subject_line", "text", "person_query",
    "person_id", "name", "email", "customer_number", "postal_address", "reply_by", "identity",
    "identity_method", "quarantine_id",
)


def _form(ctx: Ctx) -> IntakeForm:
    form = IntakeForm(rights=ctx.fields("rights"))
    for name in TEXT_FIELDS:
        setattr(form, name, ctx.field(name))
    return form


def _render(ctx: Ctx, form: IntakeForm, *, people: list[object] | None = None) -> Response:
    """The form (again): refusals are shown as a message above it, with what was entered kept."""
    channels = dict(INTAKE_CHANNELS, email="E-Mail") if form.quarantine_id else INTAKE_CHANNELS
    return ctx.render(
        "intake.html",
        form=form,
        channels=channels,
        identities=INTAKE_IDENTITY,
        controllers=ctx.scope.pick(sorted(ctx.services.profiles)),
        rights=[r.value for r in Right],
        people=people,
    )


def intake_form(ctx: Ctx) -> Response:
    now = ctx.now.astimezone(BERLIN)
    allowed = ctx.scope.pick(sorted(ctx.services.profiles))
    form = IntakeForm(
        controller=allowed[0] if allowed else "",
        received_date=now.date().isoformat(),
        received_time=now.strftime("%H:%M"),
    )
    quarantined = ctx.request.query_params.get("quarantine", "")
    if quarantined.isdigit():
        with ctx.services.sessions() as session:
            item = scoped_quarantine(session, ctx.scope, int(quarantined))
            if item is None or item.state != "open":
                return ctx.not_found()
            _prefill_from_quarantine(form, item)
    return _render(ctx, form)


def _prefill_from_quarantine(form: IntakeForm, item: QuarantinedMessage) -> None:
    """Receipt time, channel and readable text of a quarantined message (the DPO checks them)."""
    received = item.received_at.astimezone(BERLIN)
    form.quarantine_id = str(item.id)
    form.controller = item.controller
    form.channel = "email" if item.channel == "email" else "other_mailbox"
    form.received_date, form.received_time = received.date().isoformat(), received.strftime("%H:%M")
    try:
        msg = message_from_bytes(item.raw, policy=policy.default)
        form.subject_line = str(msg.get("Subject", "") or "")
        body = msg.get_body(preferencelist=("plain",)) if isinstance(msg, EmailMessage) else None
        form.text = body.get_content() if body is not None else ""
    except Exception:  # damaged input is why it is in quarantine: the DPO types the text
        form.text = ""
    if not form.text:
        form.text = item.raw[:20_000].decode("utf-8", errors="replace").split("\n\n", 1)[-1]
    form.email = envelope_sender(item.raw)
    form.reply_by = "email" if form.email else "letter"


def envelope_sender(raw: bytes) -> str:
    """The Return-Path of raw mail (added by the delivering server, or by our SMTP endpoint)."""
    head = raw[:20_000].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.decode("utf-8", errors="replace").splitlines():
        if line.lower().startswith("return-path:"):
            return line.split(":", 1)[1].strip().strip("<>").strip()
    return ""


def _upload(ctx: Ctx) -> Upload | None:
    """The uploaded scan (read from the spooled file; one byte more than allowed shows "too big")."""
    value = ctx.form.get("scan")
    if isinstance(value, UploadFile) and value.filename:
        value.file.seek(0)
        return Upload(name=value.filename, data=value.file.read(MAX_DOCUMENT_BYTES + 1))
    return None


def _confirm_receipt(session: Session, ticket: Ticket, profile: ControllerProfile, ctx: Ctx) -> str:
    """The receipt confirmation by e-mail, as the pipeline sends it; a letter is the DPO's to print."""
    if not ticket.reply_to:
        return " Die Eingangsbestätigung bitte als Brief senden (Antwort-Editor, „Brief (PDF)“)."
    try:
        context = reply_context(ticket, as_of=ctx.today)
        rendered = render_reply(
            ReplyKind.RECEIPT_CONFIRMATION, context, profile, language=ticket.language or "de",
            overrides_dir=ctx.services.settings.templates_dir,
        )
    except ReplyError as exc:
        log.warning(
            "intake receipt confirmation not rendered ticket=%s (%s)", ticket.reference, type(exc).__name__
        )
        return " Eingangsbestätigung nicht erstellt; bitte von Hand antworten."
    send_to_subject(
        session, ticket, profile, kind=ReplyKind.RECEIPT_CONFIRMATION.value, subject=rendered.subject,
        text=rendered.text, html_body=rendered.html, now=ctx.now,
    )
    return " Die Eingangsbestätigung ist im Postausgang."


def intake_submit(ctx: Ctx) -> Response:
    form = _form(ctx)
    profile = ctx.services.profiles.get(form.controller) if ctx.scope.allows(form.controller) else None
    if profile is None:
        ctx.flash("Bitte den Verantwortlichen wählen.", "error")
        return _render(ctx, form)
    step = ctx.field("step")
    if step == "search":
        with ctx.services.sessions() as session:
            people = find_people(session, profile.key, form.person_query)
            if len(form.person_query.strip()) < 3:
                ctx.flash("Bitte mindestens drei Zeichen für die Personensuche eingeben.", "warn")
            elif not people:
                ctx.flash("Keine Person gefunden; bitte als neue Person erfassen.", "warn")
            return _render(ctx, form, people=list(people))
    if step == "suggest":
        form.rights = suggested_rights(form)
        if not form.rights:
            ctx.flash("Aus dem Text war kein Recht zu erkennen; bitte von Hand wählen.", "warn")
        else:
            ctx.flash("Rechte aus dem Text vorgeschlagen; bitte prüfen.")
        return _render(ctx, form)
    upload = _upload(ctx)
    try:
        with ctx.services.sessions.begin() as session:
            ticket = create(
                session, form, profile, upload=upload, actor=ctx.actor, now=ctx.now, scope=ctx.scope
            )
            note = _confirm_receipt(session, ticket, profile, ctx)
            ticket_id, reference, due = ticket.id, ticket.reference, ticket.due_date
    except RefusedError as exc:
        ctx.flash(str(exc), "error")
        return _render(ctx, form)
    due_text = due.strftime("%d.%m.%Y") if due else "–"
    return ctx.redirect(f"/tickets/{ticket_id}", f"Anfrage {reference} angelegt; Frist {due_text}.{note}")
