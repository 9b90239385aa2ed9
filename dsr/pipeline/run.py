"""What the pipeline's steps work on: one message's run inside its single transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dsr.controllers.profile import ControllerProfile, ProcessorClient
from dsr.inbound import InboundMessage
from dsr.intents.model import Classification
from dsr.pipeline.outbound import ReplyQueue


@dataclass(frozen=True, slots=True)
class Site:
    """What every step may know of this service: its own addresses and its trust settings."""

    own_addresses: frozenset[str]  # the request addresses of every profile, lower-case
    own_domains: frozenset[str]  # their domains (our Message-IDs end in one of them)
    trusted_authserv_id: str | None  # RFC 8601: whose Authentication-Results count


@dataclass(slots=True)
class StoredInbound:
    """The inbound message's row: its id and the two columns the pipeline fills in afterwards
    (written with one UPDATE just before the commit)."""

    id: int
    ticket_id: int | None = None
    disposition: str = ""  # why no ticket was touched (loop guard, held, ...); "" when processed
    disposition_reason: str = ""  # for an ignored message: the non-privacy reading, e.g. "invoice"


@dataclass(slots=True)
class Run:
    """Everything one `Pipeline.handle` call works on, inside its single transaction."""

    session: Session
    profile: ControllerProfile
    msg: InboundMessage
    stored: StoredInbound  # the inbound message as stored
    now: datetime
    replies: ReplyQueue
    classification: Classification  # intents.classify of the message, computed before the transaction
    site: Site
    # The processor clients the message names (`controllers.processor`), also read before the
    # transaction: text work on a long body does not hold the write lock.
    named_clients: tuple[ProcessorClient, ...] = ()
