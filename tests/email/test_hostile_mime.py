"""Issue 18: a seeded run of hostile mail through our real SMTP endpoint and the real pipeline, on
SQLite and PostgreSQL.  Every message is answered 250 and ends as a ticket, as a message ignored
with its reason, or in the quarantine: none vanishes, none is answered 4xx (the sender would
retry it for days, then give up).  10,000 of them with timings run in `make bench`."""

from __future__ import annotations

import asyncio
import smtplib
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.controllers.profile import ControllerProfile
from dsr.pipeline.core import Pipeline
from dsr.store.models import Message, QuarantinedMessage
from tests.servers.fixtures import SmtpEndpointFactory
from tests.servers.hostile_mime import KINDS, KMB2, hostile_messages

COUNT = 170  # every kind ten times
SEED = 18


def _deliver(host: str, port: int, raw: bytes) -> int:
    try:
        with smtplib.SMTP(host, port, timeout=120) as client:
            client.sendmail("fuzzer@example.org", [KMB2], raw)
        return 250
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code


@pytest.mark.slow
async def test_hostile_mail_is_stored_ignored_or_quarantined_never_refused(
        sessions: sessionmaker[Session], reference_profiles: dict[str, ControllerProfile],
        smtp_endpoint: SmtpEndpointFactory) -> None:
    clock = lambda: datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # noqa: E731
    pipeline = Pipeline(sessions=sessions, profiles=reference_profiles, clock=clock, settings=Settings())
    host, port = await smtp_endpoint(pipeline, clock=clock)
    messages = list(hostile_messages(COUNT, SEED))
    assert {kind for _, kind, _ in messages} == set(KINDS)
    replies = {token: await asyncio.to_thread(_deliver, host, port, raw) for token, _, raw in messages}
    refused = {token: code for token, code in replies.items() if code != 250}
    assert refused == {}, f"answered other than 250: {refused}"

    with sessions() as s:
        stored = s.execute(select(Message.subject_line, Message.ticket_id, Message.disposition)
                           .where(Message.direction == "in")).all()
        quarantined = list(s.scalars(select(QuarantinedMessage.raw)))
    outcomes: Counter[str] = Counter()
    vanished = []
    for token, kind, _raw in messages:
        rows = [r for r in stored if token in r.subject_line]
        kept = [q for q in quarantined if token.encode() in q]
        if len(rows) + len(kept) != 1:
            vanished.append((token, kind, len(rows), len(kept)))
        elif kept:
            outcomes["quarantined"] += 1
        elif rows[0].ticket_id is not None:
            outcomes["ticket"] += 1
        elif rows[0].disposition:
            outcomes[f"ignored:{rows[0].disposition}"] += 1
        else:
            vanished.append((token, kind, "stored without ticket or reason"))
    assert vanished == [], f"not accounted for: {vanished}; others: {dict(outcomes)}"
    assert outcomes["ticket"] and outcomes["quarantined"]
