"""What the DPO can do on a ticket.  Each action is one POST, one transaction, one audit trail.

The rules themselves live in the store services (state machine, extension, pause); the console
checks the common cases first so the DPO gets a German explanation, and turns any remaining
`TicketError` into a visible refusal.  Messages to the person go through the outbox in the same
transaction as the decision (an extension is never recorded without its notice, and vice versa).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from dsr.console.extension import plan, reasons_from
from dsr.console.guard import Ctx
from dsr.console.labels import OPEN_STATES, PAUSE_REASONS, date_de, datetime_de, reason_label, rights_names
from dsr.console.operations import (
    RefusedError,
    check_extendable,
    check_outcome,
    close,
    extend_with_notice,
    is_closed,
    queued_id,
    record_outcome,
    reply_problem,
)
from dsr.console.outgoing import PLACEHOLDER_CLOSE, PLACEHOLDER_OPEN, placeholder, send_to_subject
from dsr.console.queries import scoped_ticket
from dsr.console.relationships import person_relationships, relationship_rows
from dsr.console.views.closed import refused
from dsr.console.views.fulfilment import datamaps
from dsr.console.views.ticket import DRAFT_KINDS, VERIFY_LEVELS, default_subject, letter_document
from dsr.controllers import ControllerProfile
from dsr.fulfilment.delivery import delivery_facts
from dsr.fulfilment.letter import letter_context
from dsr.intents.rights import Right
from dsr.pipeline.outbound import POSTAL_LETTER_KIND, is_verified, recipient_problem, reply_context
from dsr.replies import ReplyError, render_reply
from dsr.replies.context import CaseRecipient, ReplyKind, RetainedItem
from dsr.store.models import Direction, IdentityLevel, Message, Ticket, User
from dsr.store.relationships import choose_relationships, effective_profile
from dsr.store.tickets.services import (
    REFUSAL_REASONS,
    TicketError,
    add_note,
    assign,
    audit,
    correct_rights,
    dismiss_escalation_reason,
    flag_breach,
    pause,
    record_identity,
    reopen,
    resume,
)

log = logging.getLogger(__name__)


Action = Callable[[Ctx, Session, Ticket, ControllerProfile], str]


def _keep_draft(ctx: Ctx, ticket_id: int) -> None:
    """A refused send must not lose the DPO's edited text: save it as the draft."""
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ticket_id)
        if ticket is not None and ctx.field("text"):
            ticket.draft_reply = ctx.field("text")
            ticket.updated_at = ctx.now


def _run(ctx: Ctx, action: Action, *, keep_draft: bool = False, anchor: str = "", closed_ok: bool = False
         ) -> Response:
    """Run one action; the redirect returns to the section the DPO worked in (`anchor`).

    On a closed ticket the action is refused with 409 and audited (`dsr.console.views.closed`),
    in the transaction that reads the ticket, unless it is one of the two that a closed ticket
    allows (`closed_ok`: reopening, the breach flag).
    """
    ticket_id = ctx.path_int("ticket_id")
    target = f"/tickets/{ticket_id}"
    if keep_draft or action is _draft_template:
        kind = ctx.field("kind")
        if kind in DRAFT_KINDS:
            target += f"?kind={kind}"
    target += f"#{anchor}" if anchor else ""
    try:
        with ctx.services.sessions.begin() as session:
            ticket = scoped_ticket(session, ctx.scope, ticket_id=ticket_id)
            if ticket is None:
                return ctx.not_found()
            if is_closed(ticket) and not closed_ok:
                return refused(ctx, session, ticket)
            profile = ctx.services.profiles.get(ticket.controller)
            if profile is None:
                raise RefusedError(f"Für den Verantwortlichen {ticket.controller} ist kein Profil geladen.")
            message = action(ctx, session, ticket, profile)
    except ReplyError as exc:
        if keep_draft:
            _keep_draft(ctx, ticket_id)
        return ctx.redirect(target, reply_problem(exc), "error")
    except (RefusedError, TicketError) as exc:
        log.info("console action refused ticket=%s rule=%s", ticket_id, type(exc).__name__)
        if keep_draft:
            _keep_draft(ctx, ticket_id)
        prefix = (
            "" if isinstance(exc, RefusedError) else "Nach den Regeln der Ticketverwaltung nicht möglich: "
        )
        return ctx.redirect(target, f"{prefix}{exc}", "error")
    return ctx.redirect(target, message)


def _required(ctx: Ctx, name: str, what: str) -> str:
    value = ctx.field(name)
    if not value:
        raise RefusedError(f"Bitte {what} angeben.")
    return value


# --- facts --------------------------------------------------------------------------------


def _rights(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    chosen = [c for c in ctx.fields("rights") if c in {r.value for r in Right}]
    if not chosen:
        raise RefusedError("Bitte mindestens ein Recht auswählen.")
    reason = _required(ctx, "reason", "eine Begründung für die Korrektur")
    correct_rights(session, ticket, [Right(c) for c in chosen], actor=ctx.actor, reason=reason, now=ctx.now)
    return f"Rechte korrigiert: {rights_names(ticket.rights)}."


def _identity(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    level = ctx.field("level")
    if level not in VERIFY_LEVELS:
        raise RefusedError("Bitte eine Prüfstufe auswählen.")
    method = _required(ctx, "method", "die Prüfmethode (wie wurde die Identität festgestellt?)")
    record_identity(session, ticket, IdentityLevel(level), method=method, actor=ctx.actor, now=ctx.now)
    return "Identitätsprüfung vermerkt."


def _relationships(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    """The person's relationships with the controller: the access answer states only theirs."""
    if ticket.subject is None:
        raise RefusedError("Der Vorgang ist keiner Person zugeordnet; Beziehungen gelten pro Person.")
    known = {r.key: r.name for r in profile.relationships}
    picked = set(ctx.fields("relationship"))
    keys = [k for k in known if k in picked]  # in the profile's order
    added, removed = choose_relationships(session, ticket.subject, profile, keys, actor=ctx.actor,
                                          now=ctx.now, ticket_id=ticket.id)
    if not added and not removed:
        return "Beziehungen unverändert."
    chosen = "; ".join(known[k] for k in keys) if keys else "keine gewählt"
    return f"Beziehungen gespeichert: {chosen}."


def _assign(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    name = ctx.field("assignee")
    if name:
        user = session.scalar(select(User).where(User.username == name))
        if user is None or user.disabled or user.role != "dpo":
            raise RefusedError("Zuweisen nur an ein aktives DSB-Konto.")
    assign(session, ticket, name or None, actor=ctx.actor, now=ctx.now)
    return f"Zugewiesen an {name}." if name else "Zuweisung aufgehoben."


def _breach(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    reason = _required(ctx, "reason", "worin die Datenpanne besteht")
    due = flag_breach(session, ticket, actor=ctx.actor, reason=reason, now=ctx.now)
    return f"Als Datenpanne markiert: Meldung an die Aufsichtsbehörde prüfen bis {datetime_de(due)} Uhr."


def _note(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    add_note(session, ticket, author=ctx.actor, text=_required(ctx, "text", "einen Notiztext"), now=ctx.now)
    return "Notiz gespeichert."


# --- deadline -----------------------------------------------------------------------------


def _extend(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    check_extendable(ticket, ctx.today)
    reasons = reasons_from(ctx.field("ground"), ctx.field("reason"), reference=ticket.reference)
    new_due = extend_with_notice(
        session,
        ticket,
        profile,
        reason=" ".join(reasons),
        reasons=reasons,
        actor=ctx.actor,
        now=ctx.now,
        overrides_dir=ctx.services.settings.templates_dir,
    )
    return f"Frist verlängert bis {date_de(new_due)}; die Mitteilung an die Person ist im Postausgang."


def _pause(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    if not profile.allow_identity_pause:
        raise RefusedError(
            "Das Profil dieses Verantwortlichen erlaubt keine Fristpause (allow_identity_pause). "
            "Die Frist läuft weiter (Art. 12 Abs. 3 kennt keine Hemmung)."
        )
    code = ctx.field("ground")
    if code not in PAUSE_REASONS:
        raise RefusedError("Bitte einen rechtmäßigen Grund für die Pause auswählen.")
    detail = _required(ctx, "reason", "wann und was angefragt wurde")
    pause(
        session,
        ticket,
        approved_by=ctx.user.username,
        actor=ctx.actor,
        reason=f"{PAUSE_REASONS[code]}: {detail}",
        now=ctx.now,
    )
    return "Frist pausiert. Beenden Sie die Pause, sobald die Antwort vorliegt."


def _resume(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    reason = _required(ctx, "reason", "einen Grund (z. B. Antwort eingegangen)")
    new_due = resume(
        session,
        ticket,
        land=profile.state,
        actor=ctx.actor,
        reason=reason,
        now=ctx.now,
        internal_target_working_days=profile.internal_target_working_days,
    )
    return f"Pause beendet; neue Frist {date_de(new_due)}."


# --- messages -----------------------------------------------------------------------------


def _question(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    text = _required(ctx, "text", "den Text der Rückfrage")
    subject = ctx.field("subject") or "Rückfrage zu Ihrer Anfrage"
    item = queued_id(
        send_to_subject(
            session, ticket, profile, kind="dpo_question", subject=subject, text=text, now=ctx.now
        )
    )
    audit(
        session,
        actor=ctx.actor,
        action="console.question_queued",
        now=ctx.now,
        ticket_id=ticket.id,
        detail={"outbox_id": item},
    )
    return "Rückfrage ist im Postausgang."


def _draft_save(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    ticket.draft_reply = ctx.field("text") or None
    ticket.updated_at = ctx.now
    audit(session, actor=ctx.actor, action="console.draft_saved", now=ctx.now, ticket_id=ticket.id)
    return "Entwurf gespeichert."


# What only the DPO can know; the draft shows these gaps and cannot be sent until they are filled.
# No default statement of fact: not "alles gelöscht", not "keinen Empfängern offengelegt".  A reply
# from the console carries no attachment, so a draft never says "in der Anlage"; a portability
# answer needs the DPO's download link.
TEMPLATE_GAPS: dict[str, object] = {
    "changes": (placeholder("was wurde berichtigt"),),
    "outcome_text": placeholder("Ergebnis der Prüfung in eigenen Worten"),
    "erased": (placeholder("was wurde gelöscht (Datenkategorien, Systeme)"),),
    "retained": (
        RetainedItem(
            placeholder("was wird aufbewahrt, z. B. Rechnungen 2024 – streichen, wenn nichts"),
            placeholder("Grund, z. B. Art. 17 Abs. 3 lit. b DSGVO i. V. m. § 147 Abs. 3 AO, § 14b UStG"),
            placeholder("Ende der Aufbewahrung (Datum)"),
        ),
    ),
    "notified_recipients": (
        placeholder("welche Empfänger wurden informiert (Art. 19) – oder: keine Empfänger"),
    ),
}
KIND_GAPS: dict[str, dict[str, object]] = {
    # C-154/21 and C-203/22: this person's recipients and decisions, not the privacy notice's.
    ReplyKind.ACCESS_ANSWER.value: {
        "case_recipients": (CaseRecipient(placeholder("welche Empfänger haben Daten dieser Person erhalten "
                                                      "(Namen)")),),
        "automated_logic_applied": (
            placeholder("wie die automatisierte Entscheidung bei dieser Person angewendet wurde – "
                        "oder Satz ersetzen: keine getroffen"),
        ),
    },
    # Art. 22(3), Recital 71: the explanation of the decision reached, for this person.
    ReplyKind.AUTOMATED_DECISION_OUTCOME.value: {
        "automated_logic_applied": (
            placeholder("wie das Verfahren bei dieser Person angewendet wurde – oder Satz ersetzen: "
                        "keine getroffen"),
        ),
    },
    ReplyKind.PORTABILITY_ANSWER.value: {
        "copy_link": placeholder("Download-Link zur Datei (eine Antwort aus der Konsole hat keine Anlage)"),
    },
}


# Kinds that state the items of this person's relationships, not the whole privacy notice.
PER_PERSON_KINDS = frozenset({ReplyKind.ACCESS_ANSWER.value, ReplyKind.AUTOMATED_DECISION_OUTCOME.value})


def _draft_template(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    kind = ctx.field("kind")
    if kind not in DRAFT_KINDS:
        raise RefusedError("Bitte eine Vorlage auswählen.")
    extra: dict[str, Any] = {}
    if kind == ReplyKind.REFUSAL_NOTICE.value:
        code = ctx.field("refusal_code")
        if code not in REFUSAL_REASONS:
            raise RefusedError("Für eine Ablehnung bitte den Ablehnungsgrund aus dem Katalog wählen.")
        extra = {"refusal_code": code, "refusal_reasons": REFUSAL_REASONS[code].explanation_de}
    if kind == ReplyKind.CLARIFICATION.value:
        extra = {"readings": tuple(Right(r) for r in ticket.rights)}
    # What fulfilment actually did (erased, kept until, restricted, changed, recipients told)
    # replaces the gaps; what it did not establish stays a gap the DPO must fill.
    delivered = delivery_facts(session, ticket.id)
    copy: dict[str, object] = {} if delivered is None else {
        "copy_link_sent_separately": True, "copy_link_expires": delivered.expires_on, "copy_link": None}
    if kind in PER_PERSON_KINDS:
        # Art. 15(1), Art. 22(3): this person's relationships (the DPO's choice, else what discovery
        # found), never the whole privacy notice.
        rows = relationship_rows(session, ticket, profile, datamaps(ctx).get(ticket.controller))
        relationships = person_relationships(rows)
        if not relationships:
            raise RefusedError(
                f"Für „{DRAFT_KINDS[kind]}“ bitte zuerst die Beziehungen der Person zu uns wählen "
                "(Abschnitt „Beziehungen der Person“); die Suche in den Systemen hat keine gefunden. "
                "Ohne sie gäbe der Brief die ganzen Datenschutzhinweise wieder statt der Angaben zu "
                "dieser Person."
            )
        extra = {**extra, "relationships": relationships}
    gaps = {**TEMPLATE_GAPS, **KIND_GAPS.get(kind, {})}
    extra = {**gaps, **letter_context(session, ticket.id), **copy, **extra}
    context = reply_context(ticket, as_of=ctx.today, **extra)
    rendered = render_reply(
        ReplyKind(kind),
        context,
        # Facts the DPO confirmed are stated; the others stay gaps in the draft.
        effective_profile(session, profile),
        language=ticket.language or "de",
        overrides_dir=ctx.services.settings.templates_dir,
    )
    ticket.draft_reply = rendered.chat if ticket.channel == "telegram" else rendered.text
    ticket.updated_at = ctx.now
    audit(
        session,
        actor=ctx.actor,
        action="console.draft_from_template",
        now=ctx.now,
        ticket_id=ticket.id,
        detail={"kind": kind},
    )
    return f"Entwurf aus der Vorlage „{DRAFT_KINDS[kind]}“ erstellt. Bitte prüfen und anpassen."


def _outcome_fields(ctx: Ctx) -> tuple[str, str | None]:
    outcome, code = ctx.field("outcome"), ctx.field("refusal_code") or None
    if outcome:
        check_outcome(outcome, code)
    return outcome, code


def _send(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    text = _required(ctx, "text", "den Antworttext")
    subject = ctx.field("subject") or "Ihre Anfrage"
    outcome, code = _outcome_fields(ctx)
    item = queued_id(
        send_to_subject(session, ticket, profile, kind="dpo_reply", subject=subject, text=text, now=ctx.now)
    )
    ticket.draft_reply = None
    ticket.updated_at = ctx.now
    audit(
        session,
        actor=ctx.actor,
        action="console.reply_approved",
        now=ctx.now,
        ticket_id=ticket.id,
        reason="Antwort vom DSB geprüft und freigegeben",
        detail={"outbox_id": item, "channel": ticket.channel},
    )
    label = None
    if outcome and ticket.state in OPEN_STATES:
        label = record_outcome(
            session,
            ticket,
            outcome=outcome,
            refusal_code=code,
            actor=ctx.actor,
            reason="Antwort versandt",
            now=ctx.now,
        )
    return "Antwort freigegeben und im Postausgang." + (f" Ergebnis: {label}." if label else "")


def _letter(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    """A postal answer: the approved text is kept as the outbound letter; its PDF is printed."""
    text = _required(ctx, "text", "den Antworttext")
    if PLACEHOLDER_OPEN in text or PLACEHOLDER_CLOSE in text:
        raise RefusedError("Der Text enthält noch Platzhalter (⟦…⟧); bitte ersetzen.")
    if not ticket.postal_address:
        raise RefusedError("Für diesen Vorgang ist keine Postanschrift hinterlegt.")
    # A printed letter leaves the house like a mail: the door's check for a disclosing answer.
    refused = recipient_problem(ticket, kind=POSTAL_LETTER_KIND, recipient=ticket.postal_address)
    if refused is not None:
        raise RefusedError(refused)
    outcome, code = _outcome_fields(ctx)
    letter = Message(
        controller=ticket.controller,
        channel="letter",
        direction=Direction.OUTBOUND.value,
        dedupe_key=f"letter:{uuid4().hex}",
        sender=profile.from_address,
        recipient=ticket.postal_address.splitlines()[0][:300],
        subject_line=ctx.field("subject") or default_subject(ticket),
        body_text=text,
        received_at=ctx.now,
        ticket_id=ticket.id,
    )
    session.add(letter)
    session.flush()
    # The PDF as approved: its digest is checked at every download (views.ticket.letter_pdf).
    name, pdf = letter_document(ticket, letter, profile.short_name)
    digest = hashlib.sha256(pdf).hexdigest()
    recorded: list[Any] = [{"name": name, "content_type": "application/pdf", "size": len(pdf),
                            "sha256": digest}]
    letter.attachments = recorded
    ticket.draft_reply = None
    ticket.updated_at = ctx.now
    audit(session, actor=ctx.actor, action="letter_printed", now=ctx.now, ticket_id=ticket.id,
          reason="Antwort als Brief freigegeben", detail={"message_id": letter.id, "sha256": digest})
    label = None
    if outcome and ticket.state in OPEN_STATES:
        label = record_outcome(session, ticket, outcome=outcome, refusal_code=code, actor=ctx.actor,
                               reason="Antwort per Brief", now=ctx.now)
    return "Brief freigegeben: bitte im Verlauf als PDF herunterladen, drucken und versenden." + (
        f" Ergebnis: {label}." if label else ""
    )


def _close(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    outcome, code = _outcome_fields(ctx)
    close(
        session,
        ticket,
        outcome=outcome or None,
        refusal_code=code,
        actor=ctx.actor,
        reason=ctx.field("reason"),
        now=ctx.now,
    )
    return "Ticket abgeschlossen."


# --- routes ---------------------------------------------------------------------------------


def _reopen(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    reason = ctx.field("reason")
    if len(reason) < 10:
        raise RefusedError("Bitte den Grund für das Wiederöffnen angeben (mindestens 10 Zeichen).")
    reopen(session, ticket, actor=ctx.actor, reason=reason, now=ctx.now)
    return "Vorgang wieder geöffnet; er ist wieder in Bearbeitung."


def _dismiss_reason(ctx: Ctx, session: Session, ticket: Ticket, profile: ControllerProfile) -> str:
    code = ctx.field("code")
    note = ctx.field("note")
    if len(note) < 10:
        raise RefusedError("Bitte kurz vermerken, warum der Grund nicht zutrifft (mindestens 10 Zeichen).")
    if code not in ticket.escalation_reasons:
        raise RefusedError("Dieser Grund ist für den Vorgang nicht (mehr) gesetzt.")
    dismiss_escalation_reason(session, ticket, code, actor=ctx.actor, note=note, now=ctx.now)
    return f"Grund verworfen: {reason_label(code)}."


# The runner, shared with the processor-mode actions (`dsr.console.views.processor`).
run_action = _run


def correct_rights_action(ctx: Ctx) -> Response:
    return _run(ctx, _rights, anchor="classification")


def identity_action(ctx: Ctx) -> Response:
    return _run(ctx, _identity, anchor="identity")


def relationships_action(ctx: Ctx) -> Response:
    return _run(ctx, _relationships, anchor="relationships")


def assign_action(ctx: Ctx) -> Response:
    return _run(ctx, _assign, anchor="handling")


def breach_action(ctx: Ctx) -> Response:
    # A breach the closed ticket's message reported can still be recognised later (Art. 33).
    return _run(ctx, _breach, closed_ok=True)


def note_action(ctx: Ctx) -> Response:
    return _run(ctx, _note, anchor="notes")


def extend_action(ctx: Ctx) -> Response:
    return _run(ctx, _extend, anchor="deadline")


def pause_action(ctx: Ctx) -> Response:
    return _run(ctx, _pause, anchor="deadline")


def resume_action(ctx: Ctx) -> Response:
    return _run(ctx, _resume, anchor="deadline")


def question_action(ctx: Ctx) -> Response:
    return _run(ctx, _question, anchor="question")


def draft_save_action(ctx: Ctx) -> Response:
    return _run(ctx, _draft_save, anchor="reply")


def draft_template_action(ctx: Ctx) -> Response:
    return _run(ctx, _draft_template, anchor="reply")


def send_action(ctx: Ctx) -> Response:
    return _run(ctx, _send, keep_draft=True, anchor="reply")


def close_action(ctx: Ctx) -> Response:
    return _run(ctx, _close, anchor="handling")


def letter_action(ctx: Ctx) -> Response:
    return _run(ctx, _letter, keep_draft=True, anchor="conversation")


def reopen_action(ctx: Ctx) -> Response:
    return _run(ctx, _reopen, closed_ok=True)


def dismiss_reason_action(ctx: Ctx) -> Response:
    return _run(ctx, _dismiss_reason, anchor="classification")


# A preview: the template and its values (besides the ticket) for the ticket and its profile.
Preview = Callable[[Ctx, Ticket, ControllerProfile], tuple[str, dict[str, Any]]]


def show_preview(ctx: Ctx, build: Preview, *, anchor: str) -> Response:
    """A preview page; nothing changes until the DPO confirms.  A refusal returns to `anchor`."""
    ticket_id = ctx.path_int("ticket_id")
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ticket_id)
        if ticket is None:
            return ctx.not_found()
        if is_closed(ticket):
            return refused(ctx, session, ticket)
        profile = ctx.services.profiles.get(ticket.controller)
        try:
            if profile is None:
                raise RefusedError(f"Für den Verantwortlichen {ticket.controller} ist kein Profil geladen.")
            template, values = build(ctx, ticket, profile)
        except (RefusedError, ReplyError) as exc:
            message = reply_problem(exc) if isinstance(exc, ReplyError) else str(exc)
            return ctx.redirect(f"/tickets/{ticket_id}#{anchor}", message, "error")
        return ctx.render(template, ticket=ticket, **values)


def _extension_preview(ctx: Ctx, ticket: Ticket, profile: ControllerProfile) -> tuple[str, dict[str, Any]]:
    planned = plan(ticket, profile, code=ctx.field("ground"), detail=ctx.field("reason"), today=ctx.today)
    values = {"plan": planned, "neutral": not is_verified(ticket), "ground": ctx.field("ground"),
              "detail": ctx.field("reason")}
    return "extend_preview.html", values


def extend_preview(ctx: Ctx) -> Response:
    """Show the notice and the new dates; nothing changes until the DPO confirms."""
    return show_preview(ctx, _extension_preview, anchor="deadline")
