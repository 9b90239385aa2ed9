"""Processor mode in the console: the DPO decides that a request (or part of it) is a client's.

The same forwarding as the pipeline's automatic one (`dsr.pipeline.forwarding`): the request to
the client's register address, the neutral note to the person, the ticket answered as
`forwarded` with its follow-up date.  Added here: the DPO can split a mixed request (one part
forwarded in a new ticket with the original receipt, the rest answered in the controller's own
name with its own deadline), take a forwarding back ("doch unsere eigene Anfrage": the
controller's clock runs again from the original receipt) and record the client's confirmation,
which closes the ticket.  Every step is audited and written in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsr.console.labels import rights_names
from dsr.console.operations import RefusedError, queued_id
from dsr.console.outgoing import send_to_subject
from dsr.console.queries import ControllerScope
from dsr.controllers import ControllerProfile
from dsr.controllers.profile import ProcessorClient
from dsr.intents.rights import Right, legal_sort
from dsr.pipeline.forwarding import (
    FORWARDED,
    Forwarding,
    ProcessorRecord,
    latest_item,
    plan_forwarding,
    queue_forward,
    record_forwarding,
    withdraw_unsent,
)
from dsr.pipeline.outbound import berlin_date, queue_internal_mail, reply_context
from dsr.replies import render_reply
from dsr.replies.context import ReplyKind
from dsr.store.audit import audit
from dsr.store.models import Direction, Ticket, TicketState
from dsr.store.tickets.catalogue import OPEN_STATES
from dsr.store.tickets.services import open_ticket, transition

# Inbound messages that are part of the request (not bounces, machine mail or held messages).
_REQUEST_DISPOSITIONS = frozenset({"", "follow_up"})


@dataclass(frozen=True, slots=True)
class Letter:
    recipient: str
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class ForwardPreview:
    """What the DPO sees before confirming; nothing is written."""

    client: ProcessorClient
    rights: tuple[Right, ...]  # the rights that are the client's (the part forwarded)
    split: bool  # True: a new ticket for that part, this one stays ours
    forward: Letter  # to the client
    notice: Letter  # to the person
    follow_up: date


def processor_clients(profile: ControllerProfile) -> list[ProcessorClient]:
    """The clients the DPO can choose from (none while processor mode is off)."""
    return list(profile.processor_clients) if profile.may_act_as_processor else []


def chosen_client(profile: ControllerProfile, key: str) -> ProcessorClient:
    client = profile.processor_client(key) if profile.may_act_as_processor else None
    if client is None:
        raise RefusedError("Bitte einen Auftraggeber aus dem Verzeichnis des Verantwortlichen wählen.")
    return client


def request_text(ticket: Ticket) -> str:
    """The person's own words in this ticket (what the client receives)."""
    texts = [m.body_text.strip() for m in ticket.messages
             if m.direction == Direction.INBOUND.value and m.disposition in _REQUEST_DISPOSITIONS
             and m.body_text.strip()]
    return "\n\n---\n\n".join(texts)


def _check_forwardable(ticket: Ticket) -> None:
    if ticket.state not in OPEN_STATES:
        raise RefusedError("Nur ein offener Vorgang kann an einen Auftraggeber weitergeleitet werden.")
    if ticket.state == TicketState.PAUSED.value:
        raise RefusedError("Die Frist ist pausiert; bitte zuerst die Pause beenden.")
    if not ticket.reply_to:
        raise RefusedError("Für diesen Vorgang ist keine Antwortadresse hinterlegt; der Hinweis an die "
                           "Person kann nicht gesendet werden.")


def _split_rights(ticket: Ticket, codes: list[str]) -> tuple[Right, ...]:
    own = {Right(code) for code in ticket.rights}
    chosen = {Right(code) for code in codes if code in {r.value for r in Right}}
    if not chosen:
        raise RefusedError("Bitte angeben, welche Anliegen die Daten des Auftraggebers betreffen.")
    if not chosen <= own:
        raise RefusedError("Abtrennen lassen sich nur Anliegen, die der Vorgang enthält.")
    return legal_sort(tuple(chosen))


def _letters(ticket: Ticket, profile: ControllerProfile, plan: Forwarding, *,
             overrides_dir: Path | None) -> tuple[Letter, Letter]:
    forward = render_reply(ReplyKind.PROCESSOR_FORWARD, plan.forward, profile, language="de",
                           overrides_dir=overrides_dir, only="mail")
    notice = render_reply(ReplyKind.PROCESSOR_NOTICE, plan.notice, profile, language=ticket.language or "de",
                          overrides_dir=overrides_dir)
    text = notice.chat if ticket.channel == "telegram" else notice.text
    return (Letter(str(plan.client.forward_to), forward.subject, forward.text),
            Letter(ticket.reply_to or "", notice.subject, text))


def _plan(ticket: Ticket, profile: ControllerProfile, client: ProcessorClient, rights: tuple[Right, ...],
          text: str, now: datetime, *, part: bool) -> Forwarding:
    plan = plan_forwarding(ticket, profile, client, text=text, now=now)
    if not part:
        return plan
    # The part split off: the letters name only its rights, and the person learns that we answer
    # the rest ourselves.
    return replace(plan, forward=replace(plan.forward, rights=rights),
                   notice=replace(plan.notice, rights=rights, forwarded_part=True))


def preview(ticket: Ticket, profile: ControllerProfile, *, client_key: str, split: bool, rights: list[str],
            now: datetime, overrides_dir: Path | None = None) -> ForwardPreview:
    _check_forwardable(ticket)
    client = chosen_client(profile, client_key)
    text = request_text(ticket)
    if not text:
        raise RefusedError("Der Vorgang enthält keine Nachricht der Person, die weitergeleitet werden "
                           "könnte.")
    chosen = _split_rights(ticket, rights) if split else tuple(Right(r) for r in ticket.rights)
    plan = _plan(ticket, profile, client, chosen, text, now, part=split)
    forward, notice = _letters(ticket, profile, plan, overrides_dir=overrides_dir)
    return ForwardPreview(client, chosen, split, forward, notice, plan.follow_up)


def forward(session: Session, ticket: Ticket, profile: ControllerProfile, *, client_key: str, split: bool,
            rights: list[str], actor: str, now: datetime, overrides_dir: Path | None = None) -> Ticket:
    """Forward the ticket, or the part of it split off into a new ticket; returns the forwarded one."""
    shown = preview(ticket, profile, client_key=client_key, split=split, rights=rights, now=now,
                    overrides_dir=overrides_dir)
    text = request_text(ticket)
    target = _split_off(session, ticket, profile, shown, actor=actor, now=now) if split else ticket
    plan = _plan(target, profile, shown.client, shown.rights, text, now, part=split)
    forward_item = queue_forward(session, profile, target, plan, now=now, overrides_dir=overrides_dir)
    notice = render_reply(ReplyKind.PROCESSOR_NOTICE, plan.notice, profile, language=target.language or "de",
                          overrides_dir=overrides_dir)
    item = queued_id(send_to_subject(session, target, profile, kind=ReplyKind.PROCESSOR_NOTICE.value,
                                     subject=notice.subject, text=notice.text, html_body=notice.html,
                                     chat_text=notice.chat, now=now))
    record_forwarding(session, target, plan, actor=actor, now=now, forward_item=forward_item,
                      note="von der Datenschutzstelle in der Konsole zugeordnet")
    audit(session, actor=actor, action="reply_queued", now=now, ticket_id=target.id,
          reason=ReplyKind.PROCESSOR_NOTICE.value, detail={"outbox_id": item})
    return target


def _split_off(session: Session, ticket: Ticket, profile: ControllerProfile, shown: ForwardPreview, *,
               actor: str, now: datetime) -> Ticket:
    """A new ticket for the client's part, with the original receipt (and so the same dates)."""
    part = open_ticket(
        session, controller=ticket.controller, land=profile.state, channel=ticket.channel,
        received_at=ticket.received_at, rights=shown.rights, now=now, subject_id=ticket.subject_id,
        reply_to=ticket.reply_to, postal_address=ticket.postal_address, language=ticket.language,
        classification={"split_from": ticket.reference}, actor=actor,
        internal_target_working_days=profile.internal_target_working_days)
    ProcessorRecord(split_from=ticket.reference).store(part)
    record = ProcessorRecord.of(ticket)
    replace(record, split_into=(*record.split_into, part.reference)).store(ticket)
    names = rights_names(r.value for r in shown.rights)
    audit(session, actor=actor, action="ticket_split", now=now, ticket_id=ticket.id,
          reason=f"Teil „{names}“ betrifft Daten von {shown.client.name}: als {part.reference} abgetrennt "
                 "und weitergeleitet; dieser Vorgang bleibt unsere eigene Anfrage mit Frist ab Eingang",
          detail={"part": part.reference, "rights": [r.value for r in shown.rights]})
    audit(session, actor=actor, action="ticket_split", now=now, ticket_id=part.id,
          reason=f"Abgetrennt von {ticket.reference} (gemischte Anfrage): Teil für {shown.client.name}",
          detail={"from": ticket.reference})
    return part


@dataclass(frozen=True, slots=True)
class TakenBack:
    due: date | None  # our own deadline, from the original receipt
    client_told: bool  # False: the forward had not left and was withdrawn
    person_told: bool  # False: the note had not left and was withdrawn


def take_back(session: Session, ticket: Ticket, profile: ControllerProfile, *, actor: str, reason: str,
              now: datetime, overrides_dir: Path | None = None) -> TakenBack:
    """"Doch unsere eigene Anfrage": the forwarding is undone in the record and the ticket is worked
    again with the controller's own deadline from the original receipt.

    Both sides are told only what happened.  The client, if our forward went out, learns that it
    need do nothing (the forward had called it the controller); a forward still waiting in the
    outbox is withdrawn instead.  The person, if our note went out, learns that we answer
    ourselves, by when, and whether the client was told; a note still waiting is withdrawn."""
    record = ProcessorRecord.of(ticket)
    if not (record.forwarded and ticket.state == TicketState.ANSWERED.value and ticket.outcome == FORWARDED):
        raise RefusedError("Dieser Vorgang ist nicht (mehr) an einen Auftraggeber weitergeleitet.")
    if len(reason.strip()) < 10:
        raise RefusedError("Bitte begründen, warum es doch unsere eigene Anfrage ist "
                           "(mindestens 10 Zeichen).")
    client = profile.processor_client(record.client or "")
    if client is None:
        raise RefusedError(f"Der Auftraggeber {record.client} steht nicht mehr im Verzeichnis; die "
                           "Rücknahme kann ihm nicht mitgeteilt werden.")
    client_item: int | None = None
    client_told = not withdraw_unsent(session, record.forward_item)
    if client_told:
        withdrawn = reply_context(ticket, channel="email", verified=False, client_name=client.name,
                                  forwarded_date=record.forwarded_on)
        client_item = queue_internal_mail(session, profile, kind=ReplyKind.PROCESSOR_WITHDRAWN,
                                          context=withdrawn, to=str(client.forward_to), now=now,
                                          reference=ticket.reference, overrides_dir=overrides_dir)
    replace(record, reverted_on=berlin_date(now)).store(ticket)
    transition(session, ticket, TicketState.IN_PROGRESS, actor=actor, now=now,
               reason=f"Doch unsere eigene Anfrage: {reason.strip()}")
    ticket.outcome = None
    due = ticket.extended_due_date or ticket.due_date
    person_item = _tell_person(session, ticket, profile, record, client, client_told=client_told, due=due,
                               now=now, overrides_dir=overrides_dir)
    due_text = f", fällig am {due:%d.%m.%Y}" if due else ""
    received = f"{berlin_date(ticket.received_at):%d.%m.%Y}"
    told = ("Rücknahme an den Auftraggeber gesendet" if client_told
            else "Weiterleitung war noch nicht versandt und wurde zurückgehalten")
    person = ("die Person erhält einen Hinweis" if person_item is not None
              else "der Hinweis an die Person war noch nicht versandt und wurde zurückgehalten")
    audit(session, actor=actor, action="processor_reverted", now=now, ticket_id=ticket.id,
          reason=f"Nicht mehr als Anfrage für {client.name} behandelt ({told}; {person}); unsere Frist "
                 f"läuft ab dem ursprünglichen Eingang ({received}){due_text}",
          detail={"client": record.client, "due": due.isoformat() if due else None, "note": reason.strip(),
                  "outbox_id": client_item, "client_told": client_told, "person_outbox_id": person_item})
    return TakenBack(due, client_told, person_item is not None)


def _tell_person(session: Session, ticket: Ticket, profile: ControllerProfile, record: ProcessorRecord,
                 client: ProcessorClient, *, client_told: bool, due: date | None, now: datetime,
                 overrides_dir: Path | None) -> int | None:
    """The correction of our note to the person, or None where the note had not left (withdrawn)."""
    if withdraw_unsent(session, latest_item(session, ticket, ReplyKind.PROCESSOR_NOTICE)):
        return None
    context = reply_context(ticket, verified=False, as_of=berlin_date(now),
                            client_name=client.name if client.may_be_named else None,
                            forwarded_date=record.forwarded_on, client_told=client_told)
    context = replace(context, due_date=due)
    letter = render_reply(ReplyKind.PROCESSOR_TAKEN_BACK, context, profile, language=ticket.language or "de",
                          overrides_dir=overrides_dir)
    return queued_id(send_to_subject(session, ticket, profile, kind=ReplyKind.PROCESSOR_TAKEN_BACK.value,
                                     subject=letter.subject, text=letter.text, html_body=letter.html,
                                     chat_text=letter.chat, now=now))


def confirm(session: Session, ticket: Ticket, *, actor: str, note: str, now: datetime) -> None:
    """The client confirmed that it handles the request: recorded, and the ticket is closed."""
    record = ProcessorRecord.of(ticket)
    if not (record.awaiting_confirmation and ticket.state == TicketState.ANSWERED.value):
        raise RefusedError("Für diesen Vorgang wird keine Bestätigung eines Auftraggebers erwartet.")
    if len(note.strip()) < 10:
        raise RefusedError("Bitte vermerken, wie und wann der Auftraggeber bestätigt hat "
                           "(mindestens 10 Zeichen).")
    replace(record, confirmed_on=berlin_date(now)).store(ticket)
    audit(session, actor=actor, action="processor_confirmed", now=now, ticket_id=ticket.id,
          reason=f"Auftraggeber hat die Übernahme bestätigt: {note.strip()}",
          detail={"client": record.client})
    transition(session, ticket, TicketState.CLOSED, actor=actor, now=now,
               reason="Auftraggeber bearbeitet die Anfrage selbst (Bestätigung vermerkt)")


# --- the ticket page's section -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Linked:
    id: int
    reference: str
    state: str


@dataclass(frozen=True, slots=True)
class ProcessorSection:
    """What the ticket page shows about processor mode."""

    record: ProcessorRecord
    clients: list[ProcessorClient]  # to choose from (empty: processor mode off)
    client_name: str  # the client forwarded to, by name
    candidates: list[str]  # names of the clients a request named (several)
    split_from: Linked | None
    split_into: list[Linked]
    can_forward: bool
    can_settle: bool  # forwarded, awaiting the client's confirmation


def client_name(profile: ControllerProfile, key: str) -> str:
    client = profile.processor_client(key)
    return client.name if client is not None else key


def _linked(session: Session, scope: ControllerScope, references: list[str]) -> dict[str, Linked]:
    if not references:
        return {}
    rows = session.execute(select(Ticket.id, Ticket.reference, Ticket.state).where(
        Ticket.reference.in_(references), scope.where(Ticket.controller)))
    return {ref: Linked(ticket_id, ref, state) for ticket_id, ref, state in rows}


def processor_section(session: Session, scope: ControllerScope, ticket: Ticket,
                      profile: ControllerProfile | None) -> ProcessorSection | None:
    """The section, or None where the controller has no register and the ticket no record."""
    record = ProcessorRecord.of(ticket)
    clients = processor_clients(profile) if profile is not None else []
    if not clients and record == ProcessorRecord():
        return None
    linked = _linked(session, scope, [r for r in (record.split_from, *record.split_into) if r])
    name = (lambda key: client_name(profile, key)) if profile is not None else (lambda key: key)
    return ProcessorSection(
        record=record, clients=clients, client_name=name(record.client) if record.client else "",
        candidates=[name(key) for key in record.candidates],
        split_from=linked.get(record.split_from) if record.split_from else None,
        split_into=[linked[r] for r in record.split_into if r in linked],
        can_forward=(bool(clients) and ticket.state in OPEN_STATES
                     and ticket.state != TicketState.PAUSED.value),
        can_settle=record.awaiting_confirmation and ticket.state == TicketState.ANSWERED.value,
    )
