"""Processor mode (Art. 28(3)(e) GDPR): hand a ticket's request to the client who is its controller.

One forwarding for both ways a ticket gets here: the pipeline recognises a request that names
exactly one registered client, or the DPO marks a ticket (or a part split off it) in the console.
Either way the client gets the request with its receipt date and an offer of support, the person
a neutral note (naming the client only where the register allows it), and the ticket is answered
as `forwarded`: our own clock stops, a follow-up date stays for the scheduler's reminder.

What a ticket records about it lives in `ticket.classification["processor"]`, read and written
only through `ProcessorRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dsr.controllers.profile import ControllerProfile, ProcessorClient
from dsr.pipeline.outbound import berlin_date, queue_internal_mail, reply_context
from dsr.replies.context import ReplyContext, ReplyKind
from dsr.store.audit import audit
from dsr.store.models import Message, OutboxItem, OutboxState, Ticket, TicketState
from dsr.store.tickets.services import transition

RECORD_KEY = "processor"
FORWARDED = "forwarded"  # the ticket's outcome once forwarded
WITHDRAWN = "withdrawn"  # disposition of an outbound message whose outbox item was withdrawn unsent


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


@dataclass(frozen=True, slots=True)
class ProcessorRecord:
    """What a ticket records about processor mode; every field optional."""

    client: str | None = None  # the register key of the client it was forwarded to
    forwarded_on: date | None = None
    follow_up: date | None = None  # when the DPO is reminded unless the client confirmed
    confirmed_on: date | None = None  # the client confirmed that it handles the request
    reverted_on: date | None = None  # the DPO decided: our own request after all
    candidates: tuple[str, ...] = ()  # several clients named (the DPO splits)
    split_from: str | None = None  # reference of the ticket this part was split off
    split_into: tuple[str, ...] = ()  # references of the parts split off this ticket
    forward_item: int | None = None  # the outbox item of the forward to the client

    @classmethod
    def of(cls, ticket: Ticket) -> ProcessorRecord:
        raw = (ticket.classification or {}).get(RECORD_KEY)
        if not isinstance(raw, dict):
            return cls()
        client = raw.get("client")
        split_from = raw.get("split_from")
        return cls(
            client=client if isinstance(client, str) else None,
            forwarded_on=_day(raw.get("forwarded_on")), follow_up=_day(raw.get("follow_up")),
            confirmed_on=_day(raw.get("confirmed_on")), reverted_on=_day(raw.get("reverted_on")),
            candidates=_texts(raw.get("candidates")),
            split_from=split_from if isinstance(split_from, str) else None,
            split_into=_texts(raw.get("split_into")),
            forward_item=raw.get("forward_item") if isinstance(raw.get("forward_item"), int) else None,
        )

    @property
    def forwarded(self) -> bool:
        """Forwarded and not taken back."""
        return self.client is not None and self.forwarded_on is not None and self.reverted_on is None

    @property
    def awaiting_confirmation(self) -> bool:
        return self.forwarded and self.confirmed_on is None

    def to_dict(self) -> dict[str, Any]:
        """Only the fields that are set (dates as ISO strings)."""
        values: dict[str, Any] = {
            "client": self.client, "forwarded_on": self.forwarded_on, "follow_up": self.follow_up,
            "confirmed_on": self.confirmed_on, "reverted_on": self.reverted_on,
            "candidates": list(self.candidates), "split_from": self.split_from,
            "split_into": list(self.split_into), "forward_item": self.forward_item,
        }
        return {key: value.isoformat() if isinstance(value, date) else value
                for key, value in values.items() if value not in (None, [])}

    def store(self, ticket: Ticket) -> None:
        ticket.classification = {**(ticket.classification or {}), RECORD_KEY: self.to_dict()}


def follow_up_date(profile: ControllerProfile, ticket: Ticket, forwarded_on: date) -> date:
    """`processor_follow_up_days` after forwarding, but never after the client's statutory date
    (one month from receipt at our address), by which the person must have the answer."""
    follow_up = forwarded_on + timedelta(days=profile.processor_follow_up_days)
    if ticket.due_date is not None and forwarded_on <= ticket.due_date < follow_up:
        return ticket.due_date
    return follow_up


@dataclass(frozen=True, slots=True)
class Forwarding:
    """The two letters of one forwarding and the follow-up date it sets."""

    client: ProcessorClient
    forward: ReplyContext  # to the client (German, the request itself)
    notice: ReplyContext  # to the person (neutral)
    forwarded_on: date
    follow_up: date


def plan_forwarding(ticket: Ticket, profile: ControllerProfile, client: ProcessorClient, *, text: str,
                    now: datetime, channel: str | None = None) -> Forwarding:
    """What goes to the client and to the person; nothing is written."""
    today = berlin_date(now)
    forward = replace(
        reply_context(ticket, channel="email", verified=False),
        due_date=ticket.due_date, client_name=client.name, client_data=client.data,
        forwarded_date=today, forwarded_text=text)
    notice = reply_context(ticket, channel=channel, verified=False, forwarded_date=today,
                           client_name=client.name if client.may_be_named else None)
    return Forwarding(client, forward, notice, today, follow_up_date(profile, ticket, today))


def queue_forward(session: Session, profile: ControllerProfile, ticket: Ticket, plan: Forwarding, *,
                  now: datetime, overrides_dir: Path | None = None) -> int:
    """The request to the client, only to the address in the profile's register."""
    return queue_internal_mail(session, profile, kind=ReplyKind.PROCESSOR_FORWARD, context=plan.forward,
                               to=str(plan.client.forward_to), now=now, reference=ticket.reference,
                               overrides_dir=overrides_dir)


def record_forwarding(session: Session, ticket: Ticket, plan: Forwarding, *, actor: str, now: datetime,
                      forward_item: int, note: str = "") -> None:
    """Audit the forwarding and answer the ticket as `forwarded`: our own clock stops.

    `forward_item` is the outbox item of the forward (`queue_forward`): a take-back later asks
    whether it went out, so that the client and the person are told only what happened."""
    client = plan.client
    record = ProcessorRecord.of(ticket)
    replace(record, client=client.key, forwarded_on=plan.forwarded_on, follow_up=plan.follow_up,
            confirmed_on=None, reverted_on=None, candidates=(), forward_item=forward_item).store(ticket)
    reason = (f"Anfrage betrifft Daten im Auftrag von {client.name}: weitergeleitet "
              "(Art. 28 Abs. 3 lit. e DSGVO)")
    audit(session, actor=actor, action="forwarded_to_client", now=now, ticket_id=ticket.id,
          reason=f"{reason}; {note}" if note else reason,
          detail={"client": client.key, "follow_up": plan.follow_up.isoformat()})
    transition(session, ticket, TicketState.ANSWERED, actor=actor, now=now, outcome=FORWARDED,
               reason=f"An den Verantwortlichen {client.name} weitergeleitet; Nachfassen am "
                      f"{plan.follow_up:%d.%m.%Y}")


def withdraw_unsent(session: Session, item_id: int | None) -> bool:
    """Withdraw an outbox item that has not left and is not being delivered; True if withdrawn.

    A forwarding taken back before its mails went out: the forward or the note is deleted (the
    caller audits it), so nobody receives a letter that is no longer true.  An item that was
    sent, failed or is claimed by a sender right now (its lease runs) stays: it went out, or may
    have, and the caller tells its recipient.  An unknown id (older records) counts as sent.
    """
    if item_id is None:
        return False
    item = session.get(OutboxItem, item_id, with_for_update=True)
    if item is None or item.state != OutboxState.PENDING.value or item.claimed_by is not None:
        return False
    if item.message_id is not None:
        # The letter stays in the ticket's history, marked as never sent (not as a sent letter).
        session.execute(update(Message).where(Message.id == item.message_id).values(disposition=WITHDRAWN))
    session.delete(item)
    session.flush()
    return True


def latest_item(session: Session, ticket: Ticket, kind: ReplyKind) -> int | None:
    """The id of the ticket's latest outbox item of `kind` (None: there is none)."""
    return session.scalar(select(OutboxItem.id).where(OutboxItem.ticket_id == ticket.id,
                                                      OutboxItem.kind == kind.value)
                          .order_by(OutboxItem.id.desc()).limit(1))
